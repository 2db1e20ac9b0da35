"""kstatus's rules for custom resources, in Python: what Flux, kpt and cli-utils conclude from a status.

kstatus (sigs.k8s.io/cli-utils/pkg/kstatus/status) computes one of Current / InProgress / Failed /
Terminating for an object. For a custom resource it applies only its generic rules, in this order
(``checkGenericProperties`` in generic.go, then the fallback of ``Compute`` in status.go):

1. ``metadata.deletionTimestamp`` set: Terminating;
2. ``status.observedGeneration`` present and different from ``metadata.generation``: InProgress;
3. the first of the conditions ``Reconciling=True`` (InProgress) or ``Stalled=True`` (Failed), in
   the order they are listed;
4. otherwise Current: kstatus does not read ``Ready`` for custom resources.

Rule 4 is why the operator's conventions matter: a resource that is ``Ready=False`` while work is
still going on must also say ``Reconciling=True``, or kstatus (and so ``flux``'s health checks and
``kpt live status``) reports it Current. :func:`convention_problems` names such gaps; the GitOps tests
run both over the same status objects as the Argo CD health checks. Built-in kinds, for which kstatus
has type-specific rules (Deployment, Job, ...), are out of scope.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping, Sequence
from typing import Any


class Status(enum.StrEnum):
    IN_PROGRESS = "InProgress"
    FAILED = "Failed"
    CURRENT = "Current"
    TERMINATING = "Terminating"


@dataclasses.dataclass(frozen=True, kw_only=True)
class Result:
    status: Status
    message: str


def compute(obj: Mapping[str, Any]) -> Result:
    """kstatus's status of a custom resource, with kstatus's own messages."""
    metadata = obj.get("metadata") or {}
    status = obj.get("status") or {}
    if metadata.get("deletionTimestamp"):
        return Result(status=Status.TERMINATING, message="Resource scheduled for deletion")
    generation = metadata.get("generation")
    observed = status.get("observedGeneration")
    if generation is not None and observed is not None and observed != generation:
        return Result(
            status=Status.IN_PROGRESS,
            message=(
                f"{obj.get('kind')} generation is {generation}, but latest observed generation is {observed}"
            ),
        )
    for condition in _conditions(status):
        if condition.get("type") == "Reconciling" and condition.get("status") == "True":
            return Result(status=Status.IN_PROGRESS, message=str(condition.get("message", "")))
        if condition.get("type") == "Stalled" and condition.get("status") == "True":
            return Result(status=Status.FAILED, message=str(condition.get("message", "")))
    return Result(status=Status.CURRENT, message="Resource is current")


def convention_problems(obj: Mapping[str, Any]) -> list[str]:
    """Where a status breaks the conventions that make kstatus (and Argo CD) conclude correctly."""
    status = obj.get("status")
    if not status:
        return []  # not observed yet: nothing written, nothing contradictory
    found = []
    if status.get("observedGeneration") is None:
        found.append("status.observedGeneration is missing: a stale status cannot be told from a current one")
    by_type = {condition.get("type"): condition.get("status") for condition in _conditions(status)}
    ready, reconciling, stalled = by_type.get("Ready"), by_type.get("Reconciling"), by_type.get("Stalled")
    if ready is None:
        found.append("no Ready condition: Ready is the summary every consumer reads first")
    if ready == "False" and reconciling != "True" and stalled != "True":
        found.append(
            "Ready=False without Reconciling=True or Stalled=True: kstatus reports Current; "
            "set Reconciling while work goes on, Stalled when only a change of spec can help"
        )
    if ready == "True" and "True" in (reconciling, stalled):
        found.append("Ready=True together with Reconciling=True or Stalled=True")
    observed = status.get("observedGeneration")
    for condition in _conditions(status):
        written_for = condition.get("observedGeneration")
        if observed is not None and written_for is not None and written_for != observed:
            found.append(
                f"condition {condition.get('type')} is of generation {written_for}, the status of {observed}"
            )
    if reconciling == "True" and stalled == "True":
        found.append("Reconciling=True and Stalled=True at once: kstatus takes whichever is listed first")
    return found


def _conditions(status: Mapping[str, Any]) -> Sequence[Mapping[str, Any]]:
    conditions = status.get("conditions") or []
    return [condition for condition in conditions if isinstance(condition, Mapping)]
