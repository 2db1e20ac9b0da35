"""The ServiceRun state machine: execute a Drupal service at most once, and say exactly what happened.

:func:`reconcile` is one plain async function over a :class:`Run` (the object as the handler saw it) and
injected collaborators (:class:`Deps`: the site, Secrets/ConfigMaps, owned objects, the start-marker
writer, a clock). It returns a :class:`Step`: a merge patch for ``status`` (the handler lets kopf write
it), events, and whether to come back later. ``handlers/servicerun.py`` is the thin kopf side.

Status writes per execution (``startedAttempt > attempts`` means "a call started, outcome unknown"):

1. **Start marker** (written here, before the call, conditional on the body's ``resourceVersion``, so a
   newer version of the run wins): ``phase: Running``, ``executionId``, ``rerun``, ``startTime``,
   ``startedAttempt = attempts + 1``, ``Reconciling=True/Executing``, ``Ready=Unknown/Executing``.
2. **Outcome** (the returned step, written by kopf together with its own bookkeeping):
   ``attempts = startedAttempt`` and one of ``Succeeded`` (``Ready=True``), ``Failed`` (``Stalled=True``
   with ``ServiceFailed``, ``RequestRejected``, ``InvalidResponse``, or the reason the last attempt did
   not reach the site), ``Unknown`` (``Stalled=True/OutcomeUnknown``), or ``Running`` + ``Retrying``
   when another attempt is allowed (``spec.retry``).

A run found with a started call and no outcome that this process did not start (the operator was killed
mid-call) ends ``Unknown`` without calling again, unless ``retry.unknownOutcome: Retry``. A run refused
before any call (unknown service, invalid config) gets one write: ``Failed``, ``Stalled=True``. A run
waiting for its connection, a Secret or the catalog gets ``Pending`` + ``Reconciling=True`` and comes
back later; nothing is called meanwhile.

Each value of the ``drupal-orchestration.io/rerun`` annotation is one execution (``status.rerun``
records the value handled); a value already handled never executes again.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import random
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, Final, Protocol

import pydantic

from orchestration_operator import client
from orchestration_operator.api import conditions, durations, names, retrying, servicerun, validation
from orchestration_operator.reconcile import (
    ports,
    runconfig,
    runoutcomes,
    runresults,
    runstate,
    runvalidation,
)

#: A service missing from a cached catalog triggers a refetch when the catalog is older than this.
MISSING_SERVICE_REFRESH: Final = 30.0
#: Waiting for a connection, a Secret or the catalog: first delay, doubling up to the cap.
WAIT_INITIAL: Final = 2.0
WAIT_MAX: Final = 30.0
#: The run changed between the handler's read and the start marker: handle its newer version soon.
CONFLICT_DELAY: Final = 1.0


# --- collaborators ------------------------------------------------------------------------------------


class Executor(Protocol):
    async def execute(
        self,
        service_id: str,
        config: Mapping[str, Any] | None = None,
        *,
        read_timeout: float | None = None,
    ) -> client.ExecuteResult: ...


class Catalog(Protocol):
    @property
    def services(self) -> Mapping[str, client.Service]: ...


class SiteConfig(Protocol):
    @property
    def max_concurrent_requests(self) -> int: ...


class Site(Protocol):
    """What a run needs of ``reconcile.sites.Site``: its key, bound, client and cached catalog."""

    @property
    def key(self) -> Hashable: ...

    @property
    def config(self) -> SiteConfig: ...

    @property
    def client(self) -> Executor: ...

    async def catalog(self, *, max_age: float | None = None) -> Catalog: ...


class Unavailable(Exception):
    """The run's connection cannot be used now (missing, not Ready, its Secret missing): wait."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class StartConflict(Exception):
    """The start marker was refused: the run changed since it was read (HTTP 409)."""


class RunGone(Exception):
    """The run no longer exists."""


class StartWriter(Protocol):
    async def write_start(self, status: Mapping[str, Any], *, resource_version: str | None) -> None:
        """Merge ``status`` into the run's status if it is still at ``resource_version``.

        Raises :class:`StartConflict` or :class:`RunGone`; anything else is an error to retry.
        """
        ...


def utcnow() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Deps:
    """Everything :func:`reconcile` talks to."""

    site: Callable[[str], Awaitable[Site]]  # connection name -> Site, or Unavailable
    sources: runconfig.ConfigSources
    owned: ports.OwnedObjects
    writer: StartWriter
    ledger: runstate.Ledger
    gates: runstate.Gates
    clock: Callable[[], datetime.datetime] = utcnow
    monotonic: Callable[[], float] = time.monotonic
    random: Callable[[], float] = random.random


# --- input and output ---------------------------------------------------------------------------------


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
    retry: int = 0  # how many times the handler was retried for this cause (waiting backoff)

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


# --- the state machine ---------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Context:
    """What every step of one reconcile shares."""

    run: Run
    deps: Deps
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


async def reconcile(run: Run, deps: Deps) -> Step:
    """One pass of the state machine over ``run``; see the module docstring for the writes."""
    now = deps.clock()
    try:
        status = servicerun.ServiceRunStatus.model_validate(dict(run.status))
    except pydantic.ValidationError:
        return _unreadable_status(run, now)
    wanted = run.annotations.get(names.RERUN_ANNOTATION)
    new_execution = wanted is not None and wanted != status.rerun
    if not new_execution and status.phase is not None and status.phase.finished:
        return _already_finished(run, status)
    rerun = wanted if new_execution else status.rerun
    ctx = _Context(
        run=run,
        deps=deps,
        status=status,
        rerun=rerun,
        execution=execution_id(run.uid, rerun),
        new_execution=new_execution,
        now=now,
    )
    try:
        spec = validation.parse_spec(servicerun.ServiceRunSpec, run.spec)
    except validation.InvalidSpecError as error:
        if status.in_flight and not new_execution:
            return _found_in_flight(ctx, None)
        return _refused(ctx, conditions.INVALID_SPEC, error.message)

    events: list[Event] = []
    attempts = 0 if new_execution else status.attempts
    if status.in_flight:
        marker = (run.uid, status.execution_id or "", status.started_attempt)
        entry = deps.ledger.lookup(marker)
        if entry is not None and not new_execution:
            if entry.outcome is None:  # our own call, still in flight: cannot be, but never call twice
                return Step(retry_after=CONFLICT_DELAY, retry_message="an execute call is in flight")
            replay: Step = entry.outcome
            return dataclasses.replace(replay, outcome=None, events=())
        if entry is None and new_execution:
            events.append(
                Event(
                    "Warning",
                    conditions.OUTCOME_UNKNOWN,
                    f"execute call {status.started_attempt} of the previous execution was in flight when "
                    "the operator stopped; its outcome stays unknown. Starting the execution for "
                    f"{names.RERUN_ANNOTATION}={rerun!r}.",
                )
            )
        if not new_execution:
            if spec.retry.unknown_outcome is not servicerun.UnknownOutcome.RETRY or (
                status.started_attempt >= spec.retry.max_attempts
            ):
                return _found_in_flight(ctx, spec)
            attempts = status.started_attempt  # the lost call counts; retry.unknownOutcome: Retry

    return await _proceed(ctx, spec, attempts=attempts, events=events)


async def _proceed(
    ctx: _Context, spec: servicerun.ServiceRunSpec, *, attempts: int, events: list[Event]
) -> Step:
    run, deps = ctx.run, ctx.deps
    connection = spec.connection_ref.name
    try:
        site = await deps.site(connection)
    except Unavailable as unavailable:
        return _waiting(ctx, unavailable.reason, unavailable.message, connection, attempts, events)
    try:
        config = await runconfig.resolve(spec, namespace=run.namespace, sources=deps.sources)
    except runconfig.SourceMissing as missing:
        return _waiting(ctx, missing.reason, missing.message, connection, attempts, events)
    except runconfig.SourceInvalid as invalid:
        return _refused(ctx, invalid.reason, invalid.message, events=events)
    try:
        catalog = await site.catalog()
        service = catalog.services.get(spec.service_id)
        if service is None:
            catalog = await site.catalog(max_age=MISSING_SERVICE_REFRESH)
            service = catalog.services.get(spec.service_id)
    except client.OrchestrationError as error:
        message = (
            f"the service catalog could not be fetched ({error.reason}): {runoutcomes.shorten(error.message)}"
        )
        return _waiting(ctx, conditions.CONNECTION_NOT_READY, message, connection, attempts, events)
    if service is None:
        message = runvalidation.missing_service(
            spec.service_id, catalog.services, connection=spec.connection_ref.name
        )
        return _refused(ctx, conditions.SERVICE_NOT_FOUND, message, events=events)
    findings = runvalidation.check(service, config)
    problems = list(findings.problems)
    if findings.unknown and spec.unknown_keys is servicerun.UnknownKeys.REFUSE:
        problems.append(findings.unknown_message + " (unknownKeys: Refuse)")
    if problems:
        message = (
            f'the config does not match the catalog entry of "{spec.service_id}": '
            + "; ".join(problems)
            + ". Fix spec.config or spec.configFrom in a new ServiceRun (the spec is immutable). "
            "Execute was not called."
        )
        return _refused(ctx, conditions.VALIDATION_FAILED, message, events=events)
    attempt = attempts + 1
    if findings.unknown and attempt == 1:
        events.append(
            Event(
                "Warning",
                conditions.UNKNOWN_CONFIG_KEYS,
                f"{findings.unknown_message}; executing anyway (unknownKeys: Warn)",
            )
        )
    return await _execute(ctx, spec, site, config, attempt=attempt, events=events)


async def _execute(
    ctx: _Context,
    spec: servicerun.ServiceRunSpec,
    site: Site,
    config: runconfig.Config,
    *,
    attempt: int,
    events: list[Event],
) -> Step:
    run, deps = ctx.run, ctx.deps
    max_attempts = spec.retry.max_attempts
    timeout = durations.seconds(spec.timeout)
    executing = ctx.mark(
        conditions.mark_reconciling,
        reason=conditions.EXECUTING,
        message=f'calling "{spec.service_id}" (attempt {attempt} of {max_attempts})',
        ready=conditions.UNKNOWN,
    )
    marker = {
        **ctx.common(),
        "phase": servicerun.Phase.RUNNING.value,
        "startedAttempt": attempt,
        "attempts": attempt - 1,
        "error": None,
        "conditions": [condition.to_dict() for condition in executing],
    }
    if attempt == 1 or ctx.status.start_time is None:
        marker["startTime"] = _time(ctx.now)
    key = (run.uid, ctx.execution, attempt)
    async with deps.gates.gate(site.key, site.config.max_concurrent_requests):
        try:
            await deps.writer.write_start(marker, resource_version=run.resource_version)
        except StartConflict:
            return Step(
                retry_after=CONFLICT_DELAY,
                retry_message="the run changed before its start was recorded; handling its newer version",
                events=tuple(events),
            )
        except RunGone:
            return Step(events=tuple(events))
        deps.ledger.started(key)
        started = deps.monotonic()
        result: client.ExecuteResult | None = None
        failure: runoutcomes.Failure | None = None
        try:
            result = await site.client.execute(spec.service_id, config.values, read_timeout=timeout)
        except Exception as error:  # every failure is classified; none may escape past the marker
            failure = runoutcomes.classify(error, timeout=timeout)
        seconds = deps.monotonic() - started
    # The status as the start marker left it (for condition transition times).
    as_marked = ctx.status.model_copy(update={"conditions": executing})
    after = dataclasses.replace(ctx, now=deps.clock(), new_execution=False, status=as_marked)

    if result is not None:
        step = await _succeeded(after, spec, result, attempt=attempt, seconds=seconds, events=events)
    else:
        assert failure is not None
        step = _failed_attempt(after, spec, failure, attempt=attempt, seconds=seconds, events=events)
    deps.ledger.finished(key, step)
    return step


async def _succeeded(
    ctx: _Context,
    spec: servicerun.ServiceRunSpec,
    result: client.ExecuteResult,
    *,
    attempt: int,
    seconds: float,
    events: list[Event],
) -> Step:
    run = ctx.run
    placement = await runresults.place(
        result,
        spec.result,
        run_name=run.name,
        namespace=run.namespace,
        owner=run.owner,
        owned=ctx.deps.owned,
    )
    message = f'"{spec.service_id}" returned {placement.note} in {seconds:.2f}s'
    if attempt > 1:
        message += f" (attempt {attempt})"
    reported = result.reported_error
    if reported is not None:
        shown = "see the result Secret" if spec.result.sensitive else repr(runoutcomes.shorten(reported, 200))
        message += f'. Note: the site answered 200 but the result reports "success": false ({shown})'
    status = {
        **ctx.common(),
        **placement.status,
        "phase": servicerun.Phase.SUCCEEDED.value,
        "startedAttempt": attempt,
        "attempts": attempt,
        "completionTime": _time(ctx.now),
        "error": None,
        "conditions": ctx.conditions(conditions.mark_ready, reason=conditions.SUCCEEDED, message=message),
    }
    return _finish(ctx, spec, status, servicerun.Phase.SUCCEEDED, conditions.SUCCEEDED, seconds, events)


def _failed_attempt(
    ctx: _Context,
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
        delay = _backoff(spec.retry.backoff, attempt, ctx.deps.random, retry_after=failure.retry_after)
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
        "completionTime": _time(ctx.now),
        "conditions": ctx.conditions(conditions.mark_stalled, reason=failure.reason, message=message),
    }
    events.append(Event("Warning", failure.reason, headline))
    return _finish(ctx, spec, status, phase, failure.reason, seconds, events)


def _finish(
    ctx: _Context,
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


def _refused(ctx: _Context, reason: str, message: str, *, events: list[Event] | None = None) -> Step:
    """Failed before any call: an invalid spec, an unknown service, a config the catalog refuses."""
    status = {
        **ctx.common(),
        "phase": servicerun.Phase.FAILED.value,
        "completionTime": _time(ctx.now),
        "error": _error(reason, message, None),
        "conditions": ctx.conditions(conditions.mark_stalled, reason=reason, message=message),
    }
    all_events = (*(events or ()), Event("Warning", reason, message))
    spec = _spec_or_none(ctx.run)
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


def _found_in_flight(ctx: _Context, spec: servicerun.ServiceRunSpec | None) -> Step:
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
        "completionTime": _time(ctx.now),
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


def _waiting(
    ctx: _Context, reason: str, message: str, connection: str, attempts: int, events: list[Event]
) -> Step:
    """Nothing can be called now; come back later (or when the connection changes). Nothing in flight.

    Waiting again for the same reason writes nothing.
    """
    phase = servicerun.Phase.PENDING if attempts == 0 else servicerun.Phase.RUNNING
    delay = min(WAIT_MAX, WAIT_INITIAL * 2.0 ** min(ctx.run.retry, 8))
    delay *= 0.8 + 0.4 * ctx.deps.random()
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


def _already_finished(run: Run, status: servicerun.ServiceRunStatus) -> Step:
    spec = _spec_or_none(run)
    expires = None
    if spec is not None and spec.ttl_seconds_after_finished is not None:
        finished = status.completion_time or status.start_time
        if finished is not None:
            expires = finished + datetime.timedelta(seconds=spec.ttl_seconds_after_finished)
    return Step(expires_at=expires, finished=True)


def _unreadable_status(run: Run, now: datetime.datetime) -> Step:
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


def _spec_or_none(run: Run) -> servicerun.ServiceRunSpec | None:
    try:
        return validation.parse_spec(servicerun.ServiceRunSpec, run.spec)
    except validation.InvalidSpecError:
        return None


def _error(reason: str, message: str, http_status: int | None) -> dict[str, Any]:
    error: dict[str, Any] = {"reason": reason, "message": runoutcomes.shorten(message)}
    if http_status is not None:
        error["httpStatus"] = http_status
    return error


def _time(moment: datetime.datetime) -> str:
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
