"""The ServiceRun state machine: execute a Drupal service at most once, and say exactly what happened.

:func:`reconcile` is one plain async function over a :class:`Run` (the object as the handler saw it) and
injected collaborators (:class:`Deps`: the site, Secrets/ConfigMaps, owned objects, the start-marker
writer, a clock). It returns a :class:`Step`: a merge patch for ``status`` (the handler lets kopf write
it), events, and whether to wait or come back later. This module holds the flow (what to do next, and
the calls); :mod:`runsteps` builds what each step writes; ``handlers/servicerun.py`` is the kopf side.

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
import random
import time
from collections.abc import Awaitable, Callable, Hashable, Mapping
from typing import Any, Final, Protocol

import pydantic

from orchestration_operator import client
from orchestration_operator.api import conditions, durations, names, servicerun, validation
from orchestration_operator.reconcile import (
    ports,
    runconfig,
    runoutcomes,
    runresults,
    runstate,
    runsteps,
    runvalidation,
)

#: A service missing from a cached catalog triggers a refetch when the catalog is older than this.
MISSING_SERVICE_REFRESH: Final = 30.0
WAIT_INITIAL: Final = runsteps.WAIT_INITIAL
WAIT_MAX: Final = runsteps.WAIT_MAX
CONFLICT_DELAY: Final = runsteps.CONFLICT_DELAY

# The types of the state machine's input and output (defined with the steps that build them).
Run = runsteps.Run
Step = runsteps.Step
Event = runsteps.Event
Outcome = runsteps.Outcome
execution_id = runsteps.execution_id


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


# --- the state machine ---------------------------------------------------------------------------------


async def reconcile(run: Run, deps: Deps) -> Step:
    """One pass of the state machine over ``run``; see the module docstring for the writes."""
    now = deps.clock()
    try:
        status = servicerun.ServiceRunStatus.model_validate(dict(run.status))
    except pydantic.ValidationError:
        return runsteps.unreadable_status(run, now)
    wanted = run.annotations.get(names.RERUN_ANNOTATION)
    new_execution = wanted is not None and wanted != status.rerun
    if not new_execution and status.phase is not None and status.phase.finished:
        return runsteps.already_finished(run, status)
    rerun = wanted if new_execution else status.rerun
    ctx = runsteps.Context(
        run=run,
        random=deps.random,
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
            return runsteps.found_in_flight(ctx, None)
        return runsteps.refused(ctx, conditions.INVALID_SPEC, error.message)

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
                return runsteps.found_in_flight(ctx, spec)
            attempts = status.started_attempt  # the lost call counts; retry.unknownOutcome: Retry

    return await _proceed(ctx, deps, spec, attempts=attempts, events=events)


async def _proceed(
    ctx: runsteps.Context, deps: Deps, spec: servicerun.ServiceRunSpec, *, attempts: int, events: list[Event]
) -> Step:
    run = ctx.run
    connection = spec.connection_ref.name
    try:
        site = await deps.site(connection)
    except Unavailable as unavailable:
        return runsteps.waiting(ctx, unavailable.reason, unavailable.message, connection, attempts, events)
    try:
        config = await runconfig.resolve(spec, namespace=run.namespace, sources=deps.sources)
    except runconfig.SourceMissing as missing:
        return runsteps.waiting(ctx, missing.reason, missing.message, connection, attempts, events)
    except runconfig.SourceInvalid as invalid:
        return runsteps.refused(ctx, invalid.reason, invalid.message, events=events)
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
        return runsteps.waiting(ctx, conditions.CONNECTION_NOT_READY, message, connection, attempts, events)
    if service is None:
        message = runvalidation.missing_service(
            spec.service_id, catalog.services, connection=spec.connection_ref.name
        )
        return runsteps.refused(ctx, conditions.SERVICE_NOT_FOUND, message, events=events)
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
        return runsteps.refused(ctx, conditions.VALIDATION_FAILED, message, events=events)
    attempt = attempts + 1
    if findings.unknown and attempt == 1:
        events.append(
            Event(
                "Warning",
                conditions.UNKNOWN_CONFIG_KEYS,
                f"{findings.unknown_message}; executing anyway (unknownKeys: Warn)",
            )
        )
    return await _execute(ctx, deps, spec, site, config, attempt=attempt, events=events)


async def _execute(
    ctx: runsteps.Context,
    deps: Deps,
    spec: servicerun.ServiceRunSpec,
    site: Site,
    config: runconfig.Config,
    *,
    attempt: int,
    events: list[Event],
) -> Step:
    run = ctx.run
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
        marker["startTime"] = runsteps.timestamp(ctx.now)
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
        step = await _succeeded(after, deps, spec, result, attempt=attempt, seconds=seconds, events=events)
    else:
        assert failure is not None
        step = runsteps.failed_attempt(after, spec, failure, attempt=attempt, seconds=seconds, events=events)
    deps.ledger.finished(key, step)
    return step


async def _succeeded(
    ctx: runsteps.Context,
    deps: Deps,
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
        owned=deps.owned,
    )
    message = f'"{spec.service_id}" returned {placement.note} in {seconds:.2f}s'
    if attempt > 1:
        message += f" (attempt {attempt})"
    reported = result.reported_error
    # "Run finished" for people watching Events (as a Job's Completed): what ran, for how long, where the
    # result went; never the result or the text the service reported.
    announced = message if reported is None else message + '; the result reports "success": false'
    events = [*events, Event("Normal", conditions.SUCCEEDED, announced)]
    if reported is not None:
        shown = "see the result Secret" if spec.result.sensitive else repr(runoutcomes.shorten(reported, 200))
        message += f'. Note: the site answered 200 but the result reports "success": false ({shown})'
    status = {
        **ctx.common(),
        **placement.status,
        "phase": servicerun.Phase.SUCCEEDED.value,
        "startedAttempt": attempt,
        "attempts": attempt,
        "completionTime": runsteps.timestamp(ctx.now),
        "error": None,
        "conditions": ctx.conditions(conditions.mark_ready, reason=conditions.SUCCEEDED, message=message),
    }
    return runsteps.finish(
        ctx, spec, status, servicerun.Phase.SUCCEEDED, conditions.SUCCEEDED, seconds, events
    )
