"""The object reference of log lines that handlers write outside a kopf handler's own logger.

kopf's lines about an object carry its reference (``--log-format json`` prints it under ``object``, the
text format as a ``[namespace/name]`` prefix). Lines logged through a plain ``logging`` logger, from
timers and retried status writes that run outside a handler call, pass ``extra=logref.extra(...)`` to
carry the same reference, so a log pipeline can group every line about an object.
"""

from __future__ import annotations

from typing import Any

from orchestration_operator.api import kinds, names


def extra(plural: str, *, namespace: str, name: str, uid: str | None = None) -> dict[str, Any]:
    """``extra=`` for a ``logging`` call about our object ``namespace/name`` of resource ``plural``
    (``uid`` when known: a site's client knows its Connection by name only)."""
    kind = next(candidate.kind for candidate in kinds.ALL if candidate.plural == plural)
    reference = {
        "apiVersion": f"{names.GROUP}/{names.VERSION}",
        "kind": kind,
        "name": name,
        "uid": uid,
        "namespace": namespace,
    }
    if uid is None:
        del reference["uid"]
    return {"k8s_ref": reference}
