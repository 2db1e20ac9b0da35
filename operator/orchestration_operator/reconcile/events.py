"""Kubernetes Events that reconcile steps ask for, and the condition helpers every kind shares.

Reconcile steps do not post anything: they return :class:`Event` values and the handlers post them
(through kopf) after the status is written. Events are for state changes only (connected, registered,
refused, unregistered), never one per probe or resync: a healthy resource stays silent.
"""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Sequence
from typing import Literal

from orchestration_operator.api import conditions
from orchestration_operator.reconcile import failures

EventType = Literal["Normal", "Warning"]


@dataclasses.dataclass(frozen=True)
class Event:
    """One Kubernetes Event about the reconciled object."""

    type: EventType
    reason: str
    message: str


def failed(
    current: Sequence[conditions.Condition],
    failure: failures.Failure,
    *,
    now: datetime.datetime,
    generation: int | None,
) -> list[conditions.Condition]:
    """The conditions after ``failure``: ``Stalled`` when only a person can help, else ``Reconciling``."""
    if failure.stalled:
        return conditions.mark_stalled(
            current, reason=failure.reason, message=failure.message, now=now, generation=generation
        )
    return conditions.mark_reconciling(
        current, reason=failure.reason, message=failure.message, now=now, generation=generation
    )


def ready_changed(
    before: Sequence[conditions.Condition], after: Sequence[conditions.Condition]
) -> conditions.Condition | None:
    """The new ``Ready`` condition when its status or reason differs from before, else None."""
    new = conditions.find(after, conditions.READY)
    if new is None:
        return None
    old = conditions.find(before, conditions.READY)
    if old is not None and (old.status, old.reason) == (new.status, new.reason):
        return None
    return new
