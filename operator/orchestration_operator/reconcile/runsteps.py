"""The status a ServiceRun step writes, and the types :mod:`servicerun` (the state machine) returns.

Pure functions over a :class:`Context` (the run, its parsed status, the execution at hand, the time):
no I/O, no clock of their own. Each builder returns a :class:`Step`: the merge patch of ``status``, the
events to post, whether the run waits or comes back later, and, for the step that ends an execution,
its :class:`Outcome` (metrics) and when a TTL deletes it.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
from collections.abc import Callable, Mapping
from typing import Any, Final

from orchestration_operator.api import conditions, durations, names, retrying, servicerun, validation
from orchestration_operator.reconcile import runoutcomes

#: Waiting for a connection, a Secret or the catalog: first delay, doubling up to the cap.
WAIT_INITIAL: Final = 2.0
WAIT_MAX: Final = 30.0
#: The run changed between the handler's read and the start marker: handle its newer version soon.
CONFLICT_DELAY: Final = 1.0


@dataclasses.dataclass(frozen=True, kw_only=True)
class Run:
    """One ServiceRun as the handler received it (raw, as kopf hands it over)."""

    namespace: str
    name: str
    uid: str
    generation: int | None
    resource_version: str | None
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    annotations: Mapping[str, str]
    retry: int = 0  # how many times in a row the run waited (the waiting backoff grows with it)

    @property
    def owner(self) -> dict[str, Any]:
        return {
            "apiVersion": names.API_VERSION,
            "kind": servicerun.KIND.kind,
            "metadata": {"name": self.name, "uid": self.uid},
        }


@dataclasses.dataclass(frozen=True)
class Event:
    type: str  # Normal or Warning
    reason: str
    message: str


@dataclasses.dataclass(frozen=True)
class Outcome:
    """How an execution ended, for metrics: reported once, by the step that ends it."""

    phase: servicerun.Phase
    reason: str
    seconds: float | None


@dataclasses.dataclass(frozen=True)
class Step:
    """What to write and what to do next."""

    status: dict[str, Any] = dataclasses.field(default_factory=dict)  # merge patch of .status
    retry_after: float | None = None  # come back after this many seconds
    retry_message: str = ""
    #: Waiting for something outside the run (its connection, a Secret, the catalog): come back after
    #: ``retry_after`` or as soon as the connection named here changes. Nothing is in flight.
    waiting: bool = False
    connection: str | None = None
    events: tuple[Event, ...] = ()
    outcome: Outcome | None = None  # set by the step that ends an execution
    #: When a finished run is due for deletion (``ttlSecondsAfterFinished``), if it has a TTL.
    expires_at: datetime.datetime | None = None
    finished: bool = False  # the run is finished once this step is written

    def __repr__(self) -> str:  # status may hold a result
        keys = ",".join(sorted(self.status))
        return f"Step(status keys=[{keys}], retry_after={self.retry_after}, outcome={self.outcome})"


def execution_id(uid: str, rerun: str | None) -> str:
    """A stable id per (run, rerun value): the same value always names the same execution."""
    return hashlib.sha256(f"{uid}\0{rerun or ''}".encode()).hexdigest()[:16]


@dataclasses.dataclass(frozen=True)
class Context:
    """What every step of one reconcile shares."""

    run: Run
    random: Callable[[], float]  # jitter of backoffs, injectable
    status: servicerun.ServiceRunStatus
    rerun: str | None
    execution: str
    new_execution: bool
    now: datetime.datetime

    def common(self) -> dict[str, Any]:
        fields: dict[str, Any] = {"executionId": self.execution, "rerun": self.rerun}
        if self.run.generation is not None:
            fields["observedGeneration"] = self.run.generation
        if self.new_execution:  # a new execution starts from a clean slate
            fields.update(
                startTime=None,
                completionTime=None,
                startedAttempt=0,
                attempts=0,
                result=None,
                resultRef=None,
                resultTruncated=False,
                resultBytes=None,
                resultDigest=None,
                error=None,
            )
        return fields

    def mark(
        self, mark: Callable[..., list[conditions.Condition]], **kwargs: Any
    ) -> list[conditions.Condition]:
        return mark(self.status.conditions, now=self.now, generation=self.run.generation, **kwargs)

    def conditions(self, mark: Callable[..., list[conditions.Condition]], **kwargs: Any) -> list[Any]:
        return [condition.to_dict() for condition in self.mark(mark, **kwargs)]


def failed_attempt(
    ctx: Context,
    spec: servicerun.ServiceRunSpec,
    failure: runoutcomes.Failure,
    *,
    attempt: int,
    seconds: float,
    events: list[Event],
) -> Step:
    max_attempts = spec.retry.max_attempts
    retryable = failure.kind is runoutcomes.Kind.NOT_RUN or (
        failure.kind is runoutcomes.Kind.UNKNOWN
        and spec.retry.unknown_outcome is servicerun.UnknownOutcome.RETRY
    )
    error = _error(failure.reason, failure.message, failure.http_status)
    base = {**ctx.common(), "startedAttempt": attempt, "attempts": attempt, "error": error}
    if retryable and attempt < max_attempts:
        delay = _backoff(spec.retry.backoff, attempt, ctx.random, retry_after=failure.retry_after)
        what = (
            "did not reach the service"
            if failure.kind is runoutcomes.Kind.NOT_RUN
            else "has an unknown outcome"
        )
        message = (
            f"attempt {attempt} of {max_attempts} {what} ({failure.reason}: {failure.message}); "
            f"next attempt in {delay:.1f}s"
        )
        status = {
            **base,
            "phase": servicerun.Phase.RUNNING.value,
            "conditions": ctx.conditions(
                conditions.mark_reconciling, reason=conditions.RETRYING, message=message
            ),
        }
        return Step(
            status=status,
            retry_after=delay,
            retry_message=f"attempt {attempt} of {max_attempts} failed ({failure.reason}); retrying",
            events=tuple(events),
        )
    if failure.kind is runoutcomes.Kind.UNKNOWN:
        phase = servicerun.Phase.UNKNOWN
        message = (
            f'the outcome of "{spec.service_id}" is unknown: {failure.message}. It may or may not have run; '
            "it is not called again (retry.unknownOutcome: Stop). Set a new "
            f"{names.RERUN_ANNOTATION} value to run it again."
        )
        if spec.retry.unknown_outcome is servicerun.UnknownOutcome.RETRY:
            message = (
                f'the outcome of "{spec.service_id}" is unknown after {attempt} attempts '
                f"(retry.maxAttempts): {failure.message}"
            )
        headline = f'the outcome of "{spec.service_id}" is unknown (attempt {attempt}); see status'
    else:
        phase = servicerun.Phase.FAILED
        if failure.kind is runoutcomes.Kind.NOT_RUN:
            message = (
                f'"{spec.service_id}" was not run: {attempt} attempt{"s" if attempt > 1 else ""} did not '
                f"reach the service ({failure.reason}): {failure.message}"
            )
        elif failure.reason == conditions.SERVICE_FAILED:
            message = f'"{spec.service_id}" failed (HTTP {failure.http_status}): {failure.message}'
        else:
            message = f'"{spec.service_id}" failed ({failure.reason}): {failure.message}'
        headline = f'"{spec.service_id}" failed ({failure.reason}); see status.error'
    status = {
        **base,
        "phase": phase.value,
        "completionTime": timestamp(ctx.now),
        "conditions": ctx.conditions(conditions.mark_stalled, reason=failure.reason, message=message),
    }
    events.append(Event("Warning", failure.reason, headline))
    return finish(ctx, spec, status, phase, failure.reason, seconds, events)


def finish(
    ctx: Context,
    spec: servicerun.ServiceRunSpec,
    status: dict[str, Any],
    phase: servicerun.Phase,
    reason: str,
    seconds: float | None,
    events: list[Event],
) -> Step:
    expires = None
    if spec.ttl_seconds_after_finished is not None:
        expires = ctx.now + datetime.timedelta(seconds=spec.ttl_seconds_after_finished)
    return Step(
        status=status,
        events=tuple(events),
        outcome=Outcome(phase, reason, seconds),
        expires_at=expires,
        finished=True,
    )


def refused(ctx: Context, reason: str, message: str, *, events: list[Event] | None = None) -> Step:
    """Failed before any call: an invalid spec, an unknown service, a config the catalog refuses."""
    status = {
        **ctx.common(),
        "phase": servicerun.Phase.FAILED.value,
        "completionTime": timestamp(ctx.now),
        "error": _error(reason, message, None),
        "conditions": ctx.conditions(conditions.mark_stalled, reason=reason, message=message),
    }
    all_events = (*(events or ()), Event("Warning", reason, message))
    spec = spec_or_none(ctx.run)
    expires = None
    if spec is not None and spec.ttl_seconds_after_finished is not None:
        expires = ctx.now + datetime.timedelta(seconds=spec.ttl_seconds_after_finished)
    return Step(
        status=status,
        events=all_events,
        outcome=Outcome(servicerun.Phase.FAILED, reason, None),
        expires_at=expires,
        finished=True,
    )


def found_in_flight(ctx: Context, spec: servicerun.ServiceRunSpec | None) -> Step:
    """A call recorded as started, with no outcome, that this process did not make."""
    status = ctx.status
    started = status.start_time.strftime("%Y-%m-%dT%H:%M:%SZ") if status.start_time else "an unknown time"
    message = (
        f"execute call {status.started_attempt} was recorded as started (execution started {started}) but "
        "its outcome never was: the operator stopped during the call. The service may or may not have run; "
        f"it is not called again. Set a new {names.RERUN_ANNOTATION} value to run it again."
    )
    fields = {
        **ctx.common(),
        "phase": servicerun.Phase.UNKNOWN.value,
        "attempts": status.started_attempt,
        "completionTime": timestamp(ctx.now),
        "error": _error(conditions.OUTCOME_UNKNOWN, message, None),
        "conditions": ctx.conditions(
            conditions.mark_stalled, reason=conditions.OUTCOME_UNKNOWN, message=message
        ),
    }
    expires = None
    if spec is not None and spec.ttl_seconds_after_finished is not None:
        expires = ctx.now + datetime.timedelta(seconds=spec.ttl_seconds_after_finished)
    return Step(
        status=fields,
        events=(Event("Warning", conditions.OUTCOME_UNKNOWN, message),),
        outcome=Outcome(servicerun.Phase.UNKNOWN, conditions.OUTCOME_UNKNOWN, None),
        expires_at=expires,
        finished=True,
    )


def waiting(
    ctx: Context, reason: str, message: str, connection: str, attempts: int, events: list[Event]
) -> Step:
    """Nothing can be called now; come back later (or when the connection changes). Nothing in flight.

    Waiting again for the same reason writes nothing.
    """
    phase = servicerun.Phase.PENDING if attempts == 0 else servicerun.Phase.RUNNING
    delay = min(WAIT_MAX, WAIT_INITIAL * 2.0 ** min(ctx.run.retry, 8))
    delay *= 0.8 + 0.4 * ctx.random()
    status = {
        **ctx.common(),
        "phase": phase.value,
        "attempts": attempts,
        "startedAttempt": attempts,
        "conditions": ctx.conditions(
            conditions.mark_reconciling,
            reason=reason,
            message=message + " (the run waits; nothing was called)",
        ),
    }
    return Step(
        status=_unchanged_dropped(ctx.status, status),
        retry_after=delay,
        retry_message=f"waiting ({reason})",
        events=tuple(events),
        waiting=True,
        connection=connection,
    )


def already_finished(run: Run, status: servicerun.ServiceRunStatus) -> Step:
    spec = spec_or_none(run)
    expires = None
    if spec is not None and spec.ttl_seconds_after_finished is not None:
        finished = status.completion_time or status.start_time
        if finished is not None:
            expires = finished + datetime.timedelta(seconds=spec.ttl_seconds_after_finished)
    return Step(expires_at=expires, finished=True)


def unreadable_status(run: Run, now: datetime.datetime) -> Step:
    """A status this operator cannot parse: it may hide a started call, so never call."""
    message = (
        "status cannot be read (edited by hand, or written by an incompatible version); a call may have "
        f"been started, so the service is not called. Set a new {names.RERUN_ANNOTATION} value to run it."
    )
    condition_list = conditions.mark_stalled(
        [], reason=conditions.OUTCOME_UNKNOWN, message=message, now=now, generation=run.generation
    )
    return Step(
        status={
            "phase": servicerun.Phase.UNKNOWN.value,
            "conditions": [c.to_dict() for c in condition_list],
            "error": _error(conditions.OUTCOME_UNKNOWN, message, None),
        },
        events=(Event("Warning", conditions.OUTCOME_UNKNOWN, message),),
        finished=True,
    )


# --- small helpers --------------------------------------------------------------------------------------


def spec_or_none(run: Run) -> servicerun.ServiceRunSpec | None:
    try:
        return validation.parse_spec(servicerun.ServiceRunSpec, run.spec)
    except validation.InvalidSpecError:
        return None


def _error(reason: str, message: str, http_status: int | None) -> dict[str, Any]:
    error: dict[str, Any] = {"reason": reason, "message": runoutcomes.shorten(message)}
    if http_status is not None:
        error["httpStatus"] = http_status
    return error


def timestamp(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _backoff(
    backoff: retrying.Backoff, attempt: int, rand: Callable[[], float], *, retry_after: float | None
) -> float:
    """Delay before attempt ``attempt + 1``: doubling from initialInterval up to maxInterval, jittered."""
    initial = durations.seconds(backoff.initial_interval)
    maximum = durations.seconds(backoff.max_interval)
    step = min(maximum, initial * 2.0 ** min(attempt - 1, 30))
    delay = step / 2 + rand() * step / 2
    if retry_after is not None:
        delay = max(delay, min(retry_after, 3600.0))
    return delay


def _unchanged_dropped(status: servicerun.ServiceRunStatus, fields: dict[str, Any]) -> dict[str, Any]:
    """Leave out fields that already hold these values, so that waiting again writes nothing."""
    current = status.to_dict()
    return {key: value for key, value in fields.items() if current.get(key) != value}
