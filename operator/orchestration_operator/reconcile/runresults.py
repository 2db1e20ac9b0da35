"""Where a ServiceRun's result is kept: ``status.result``, or an owned ConfigMap or Secret.

A result up to ``spec.result.maxStatusBytes`` (JSON as the site sent it) goes into ``status.result``.
A larger one goes whole, verbatim, into a ConfigMap owned by the run; a ``sensitive`` result always goes
into a Secret owned by the run and never into status. Either way status keeps ``resultBytes`` and
``resultDigest`` (``sha256:`` of the body exactly as received), so a reader can check what they fetch.
Owned objects go with the run (owner garbage collection), also when ``ttlSecondsAfterFinished`` deletes
it.

The result is never logged; :func:`shape` describes it (kind and size) for messages.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from typing import Any, Final

from orchestration_operator import client
from orchestration_operator.api import servicerun
from orchestration_operator.reconcile import ports

RESULT_KEY: Final = "result.json"
#: ConfigMaps and Secrets are limited to 1 MiB in all; keep room for metadata.
MAX_STORED_BYTES: Final = 1_000_000
_SUFFIX: Final = "-result"
_MAX_NAME: Final = 253
_UTF8_BOM: Final = b"\xef\xbb\xbf"


@dataclasses.dataclass(frozen=True)
class Placement:
    """The status fields describing the result, and a phrase for the condition message."""

    status: dict[str, Any]
    note: str


def object_name(run_name: str) -> str:
    """The name of the run's result ConfigMap or Secret: ``<run>-result``, shortened with a hash if long."""
    name = run_name + _SUFFIX
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(run_name.encode()).hexdigest()[:8]
    keep = _MAX_NAME - len(_SUFFIX) - len(digest) - 1
    return f"{run_name[:keep].rstrip('-.')}-{digest}{_SUFFIX}"


def digest(raw: bytes) -> str:
    return "sha256:" + hashlib.sha256(raw).hexdigest()


def shape(value: Any) -> str:
    """What kind of value the service returned, without showing it."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'' if len(value) == 1 else 's'}"
    if value == "undefined":
        return 'the string "undefined" (the service returned nothing)'
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number"


def _text(result: client.ExecuteResult) -> str:
    try:
        return result.raw.removeprefix(_UTF8_BOM).decode("utf-8")
    except UnicodeDecodeError:  # JSON in UTF-16/32: store the same value as UTF-8 JSON
        return json.dumps(result.value, ensure_ascii=False, separators=(",", ":"))


async def place(
    result: client.ExecuteResult,
    policy: servicerun.ResultPolicy,
    *,
    run_name: str,
    namespace: str,
    owner: Mapping[str, Any],
    owned: ports.OwnedObjects,
) -> Placement:
    """Put the result where ``policy`` says, writing the owned object if needed; never raises for it.

    A failure to write the owned object does not undo the execution: status then says the result was
    not stored (with its size and digest) and the run still succeeds.
    """
    size = len(result.raw)
    fields: dict[str, Any] = {
        "result": None,
        "resultRef": None,
        "resultTruncated": size > policy.max_status_bytes,
        "resultBytes": size,
        "resultDigest": digest(result.raw),
    }
    if not policy.sensitive and size <= policy.max_status_bytes:
        fields["result"] = result.value
        return Placement(fields, f"{shape(result.value)} ({size} bytes) in status.result")
    kind = "Secret" if policy.sensitive else "ConfigMap"
    why = "sensitive" if policy.sensitive else f"over maxStatusBytes ({policy.max_status_bytes})"
    if size > MAX_STORED_BYTES:
        return Placement(
            fields,
            f"{shape(result.value)} of {size} bytes, {why}, too large to store in a {kind} "
            f"(limit {MAX_STORED_BYTES} bytes): only its digest is kept",
        )
    name = object_name(run_name)
    text = _text(result)
    try:
        if policy.sensitive:
            await owned.put_secret(
                namespace=namespace, name=name, data={RESULT_KEY: text.encode()}, owner=owner
            )
        else:
            await owned.put_configmap(namespace=namespace, name=name, data={RESULT_KEY: text}, owner=owner)
    except Exception as error:  # the Kubernetes client's errors; the service already ran
        return Placement(
            fields,
            f"{shape(result.value)} of {size} bytes, {why}; storing it in {kind} {name!r} failed "
            f"({type(error).__name__}): only its digest is kept",
        )
    fields["resultRef"] = {"kind": kind, "name": name, "key": RESULT_KEY}
    return Placement(fields, f"{shape(result.value)} ({size} bytes, {why}) in {kind} {name!r}")
