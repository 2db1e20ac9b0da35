"""The four kinds in one place, for code that handles all of them (CRD generation, handler registration)."""

from __future__ import annotations

from typing import Final

from orchestration_operator.api import connection, eventpoll, names, servicerun, webhook

ALL: Final[tuple[names.Kind, ...]] = (connection.KIND, webhook.KIND, servicerun.KIND, eventpoll.KIND)


def by_kind(kind: str) -> names.Kind:
    """The :class:`~orchestration_operator.api.names.Kind` named ``kind`` (e.g. ``"ServiceRun"``)."""
    for candidate in ALL:
        if candidate.kind == kind:
            return candidate
    raise KeyError(kind)
