"""kopf handlers of ServiceRun: the thin side of ``reconcile.servicerun``.

One handler for creation, updates and resuming (all go through the same state machine, which decides
from status and the rerun annotation what to do; a label change on a finished run does nothing). Per
execution the run gets two Kubernetes writes: the start marker (``reconcile`` writes it through
:class:`StartMarker`, a conditional status patch, before the call) and the outcome (this handler puts it
in kopf's ``patch``; kopf's own progress and diff-base ride along, as they live in ``status.kopf``).
The start marker goes through kopf's own API client (``kopfapi``), not a thread.

- No finalizer: nothing has to happen when a run is deleted (its result ConfigMap or Secret goes by
  owner garbage collection), and a finalizer would cost two more writes per run.
- Waiting (connection not Ready, Secret or ConfigMap missing, catalog unreachable) writes ``Pending``
  once and parks the run in a ``runstate.WaitingRoom``: no write and no log line while it waits. It is
  woken after its delay (growing to 30 s) or at once when its Connection turns Ready (an ``on.event``
  handler on Connections); the wake-up fetches the run and goes through the same state machine, under
  the same per-run lock as the kopf handler. Another attempt after a backoff (the last one provably
  did not run) is a ``kopf.TemporaryError``.
- ``ttlSecondsAfterFinished``: a timer in this process deletes the run when due (also for runs found
  finished at startup, through the resume handler).
- Events for what a person should look at: refusals, failures, unknown outcomes, unknown keys, and a
  ``Normal Succeeded`` per finished run ("run finished", as a Job's ``Completed``; off with the setting
  ``SUCCESS_EVENTS=false``). Results and service error texts are never logged and never put in events.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import functools
import logging
import weakref
from collections.abc import Mapping
from typing import Any

import kopf

from orchestration_operator import metrics, settings
from orchestration_operator.api import conditions, names, servicerun
from orchestration_operator.handlers import kopfapi, kube, logref, shared
from orchestration_operator.reconcile import runstate, sites
from orchestration_operator.reconcile import servicerun as reconcile

PLURAL = servicerun.KIND.plural
MIN_EXPIRY_DELAY = 1.0
#: Wake-ups in progress at once (each fetches its run): a connection that recovers may free thousands.
WAKE_CONCURRENCY = 32
log = logging.getLogger("orchestration_operator.servicerun")


class StartMarker:
    """``reconcile.StartWriter`` for one run: a status patch conditional on the run's resourceVersion."""

    def __init__(
        self,
        *,
        resource: kopf.Resource,
        namespace: str,
        name: str,
        logger: logging.Logger | logging.LoggerAdapter[Any],
    ) -> None:
        self.resource = resource
        self.namespace = namespace
        self.name = name
        self.logger = logger

    async def write_start(self, status: Mapping[str, Any], *, resource_version: str | None) -> None:
        try:
            await kopfapi.patch_status(
                resource=self.resource,
                namespace=self.namespace,
                name=self.name,
                status=status,
                resource_version=resource_version,
                logger=self.logger,
            )
        except kube.Conflict as error:
            raise reconcile.StartConflict(str(error)) from error
        except kube.Gone as error:
            raise reconcile.RunGone(str(error)) from error


#: Seconds before deleting an expired run again after a failed attempt (403, 5xx, timeout); the last repeats.
EXPIRY_RETRY_DELAYS = (5.0, 30.0, 300.0)


class Expiries:
    """Deletes finished runs when their ``ttlSecondsAfterFinished`` is due (one timer per run).

    A failed deletion is logged (with the run's reference, as kopf's own lines) and tried again later.
    """

    def __init__(self) -> None:
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False

    def __len__(self) -> int:
        return len(self._timers)

    def schedule(self, *, uid: str, namespace: str, name: str, at: datetime.datetime) -> None:
        if uid in self._timers:
            return
        loop = asyncio.get_running_loop()
        # At least a moment: the outcome (written by kopf after the handler returns) lands first.
        delay = max(MIN_EXPIRY_DELAY, (at - datetime.datetime.now(datetime.UTC)).total_seconds())
        self._timers[uid] = loop.call_later(delay, self._expire, uid, namespace, name)

    def _expire(self, uid: str, namespace: str, name: str, failures: int = 0) -> None:
        self._timers.pop(uid, None)
        task = asyncio.ensure_future(self._delete(uid, namespace, name, failures))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _delete(self, uid: str, namespace: str, name: str, failures: int) -> None:
        try:
            await kube.delete_object(plural=PLURAL, namespace=namespace, name=name)
        except Exception as error:
            delay = EXPIRY_RETRY_DELAYS[min(failures, len(EXPIRY_RETRY_DELAYS) - 1)]
            status = getattr(error, "status", None)  # the kubernetes client's ApiException has one
            why = f"HTTP {status}" if isinstance(status, int) else type(error).__name__
            log.warning(
                "Deleting the expired run failed (%s); trying again in %g s.",
                why,
                delay,
                extra=logref.extra(PLURAL, namespace=namespace, name=name, uid=uid),
            )
            if not self._stopped and uid not in self._timers:
                loop = asyncio.get_running_loop()
                self._timers[uid] = loop.call_later(delay, self._expire, uid, namespace, name, failures + 1)

    def cancel_all(self) -> None:
        self._stopped = True
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


@dataclasses.dataclass
class RunMemory:
    """Process-wide state of the ServiceRun handlers (in ``memo.serviceruns``).

    ``resource``, ``connections``, ``kube`` and ``sites`` are what the wake-up path needs outside a
    kopf handler call; the first handler call fills them in.
    """

    ledger: runstate.Ledger = dataclasses.field(default_factory=runstate.Ledger)
    gates: runstate.Gates = dataclasses.field(default_factory=runstate.Gates)
    expiries: Expiries = dataclasses.field(default_factory=Expiries)
    room: runstate.WaitingRoom | None = None
    locks: weakref.WeakValueDictionary[str, asyncio.Lock] = dataclasses.field(
        default_factory=weakref.WeakValueDictionary
    )
    resource: kopf.Resource | None = None
    connections: kopf.Index[tuple[str, str], Any] | None = None
    kube: Any = None
    sites: sites.SiteRegistry | None = None
    wakes: asyncio.Semaphore = dataclasses.field(default_factory=lambda: asyncio.Semaphore(WAKE_CONCURRENCY))
    tasks: set[asyncio.Task[None]] = dataclasses.field(default_factory=set)
    lifecycle: shared.Lifecycle = dataclasses.field(default_factory=shared.Lifecycle)  # paused, stopping
    success_events: bool = True  # settings.SUCCESS_EVENTS: a Normal Succeeded Event per successful run

    def lock(self, uid: str) -> asyncio.Lock:
        """One lock per run: a kopf handler call and a wake-up never work on the same run at once."""
        lock = self.locks.get(uid)
        if lock is None:
            lock = self.locks[uid] = asyncio.Lock()
        return lock

    @property
    def waiting(self) -> runstate.WaitingRoom:
        assert self.room is not None  # created at startup
        return self.room


@kopf.on.startup()
async def create_run_memory(memo: kopf.Memo, **_: Any) -> None:
    runs = RunMemory(success_events=settings.current().success_events, lifecycle=shared.lifecycle_of(memo))
    runs.room = runstate.WaitingRoom(wake=functools.partial(_wake, runs))
    memo.serviceruns = runs


async def stop(memo: kopf.Memo, *, grace: float) -> None:
    """Stop the timers and let wake-ups in flight finish (up to ``grace`` s); start no new ones.

    Called by ``handlers.all.shutdown`` before the sites' clients are closed: a run woken outside kopf
    (its Connection turned Ready) may be in the middle of its execute call, and a graceful stop must let
    it record the outcome, as kopf lets its own handlers finish (``queueing.exit_timeout``).
    """
    runs: RunMemory | None = getattr(memo, "serviceruns", None)
    if runs is None:
        return
    runs.lifecycle.begin_stopping()  # when no Connection daemon heard it first
    runs.expiries.cancel_all()
    runs.waiting.clear()
    if runs.tasks:
        await asyncio.wait(set(runs.tasks), timeout=grace)


@kopf.on.resume(names.GROUP, names.VERSION, PLURAL, backoff=5)
@kopf.on.create(names.GROUP, names.VERSION, PLURAL, backoff=5)
@kopf.on.update(names.GROUP, names.VERSION, PLURAL, backoff=5)  # type: ignore[arg-type]
async def servicerun_handler(
    body: kopf.Body,
    patch: kopf.Patch,
    resource: kopf.Resource,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    memo: kopf.Memo,
    connections: kopf.Index[tuple[str, str], Any],
    **_: Any,
) -> None:
    runs: RunMemory = memo.serviceruns
    runs.resource, runs.connections, runs.kube, runs.sites = resource, connections, memo.kube, memo.sites
    uid = body.metadata.uid or ""
    async with runs.lock(uid):
        runs.waiting.leave(uid)  # a newer version of the run: decide afresh
        step = await _reconcile(runs, body, logger=logger)
    if step.status:
        patch.status.update(step.status)
    _after(runs, body, step)
    if step.retry_after is not None and not step.waiting:
        # Another attempt after a backoff (the last one provably did not run): kopf's retry.
        raise kopf.TemporaryError(step.retry_message, delay=step.retry_after)


@kopf.on.event(names.GROUP, names.VERSION, shared.CONNECTIONS)  # type: ignore[arg-type]
async def wake_runs_of_a_ready_connection(
    event: kopf.RawEvent, body: kopf.Body, namespace: str, name: str, memo: kopf.Memo, **_: Any
) -> None:
    """A Connection changed and is Ready: runs waiting for it try again now, not after their delay."""
    runs: RunMemory | None = getattr(memo, "serviceruns", None)
    if runs is None or event.get("type") == "DELETED":
        return
    ready = any(
        c.get("type") == conditions.READY and c.get("status") == conditions.TRUE
        for c in body.status.get("conditions") or []
    )
    if ready:
        runs.waiting.connection_changed(namespace, name)


async def _reconcile(
    runs: RunMemory, body: Mapping[str, Any], *, logger: logging.Logger | logging.LoggerAdapter[Any]
) -> reconcile.Step:
    """One pass of the state machine over ``body`` (from kopf, or fetched by a wake-up)."""
    metadata = body["metadata"]
    namespace = metadata.get("namespace") or "default"
    name = metadata.get("name") or ""
    uid = metadata.get("uid") or ""
    registry = runs.sites
    connections = runs.connections
    assert registry is not None
    assert connections is not None
    assert runs.resource is not None

    async def site(connection_name: str) -> reconcile.Site:
        try:
            conn = shared.find_connection(connections, namespace=namespace, name=connection_name)
        except shared.ConnectionUnavailable as error:
            raise reconcile.Unavailable(error.reason, error.message) from None
        try:
            return await registry.site_for(conn)
        except sites.SiteConfigError as error:
            message = f'OrchestrationConnection "{connection_name}": {error.message}'
            raise reconcile.Unavailable(error.reason, message) from None

    run = reconcile.Run(
        namespace=namespace,
        name=name,
        uid=uid,
        generation=metadata.get("generation"),
        resource_version=metadata.get("resourceVersion"),
        spec=dict(body.get("spec") or {}),
        status=dict(body.get("status") or {}),
        annotations=dict(metadata.get("annotations") or {}),
        retry=runs.waiting.rounds(uid),
    )
    deps = reconcile.Deps(
        site=site,
        sources=runs.kube,
        owned=runs.kube,
        writer=StartMarker(resource=runs.resource, namespace=namespace, name=name, logger=logger),
        ledger=runs.ledger,
        gates=runs.gates,
    )
    return await reconcile.reconcile(run, deps)


def _after(runs: RunMemory, body: Mapping[str, Any], step: reconcile.Step) -> None:
    """Events, metrics, the TTL timer, and parking a waiting run: everything but the status write."""
    metadata = body["metadata"]
    namespace = metadata.get("namespace") or "default"
    name = metadata.get("name") or ""
    uid = metadata.get("uid") or ""
    for event in step.events:
        if event.reason == conditions.SUCCEEDED and not runs.success_events:
            continue
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)  # type: ignore[arg-type]
    if step.outcome is not None:
        outcome = step.outcome
        metrics.SERVICE_RUNS.labels(namespace, outcome.phase.value, outcome.reason).inc()
        if outcome.seconds is not None:
            metrics.SERVICE_RUN_DURATION.labels(outcome.phase.value).observe(outcome.seconds)
    if step.expires_at is not None:
        runs.expiries.schedule(uid=uid, namespace=namespace, name=name, at=step.expires_at)
    if step.waiting and step.retry_after is not None:
        parked = runstate.Parked(uid=uid, namespace=namespace, name=name)
        runs.waiting.park(parked, delay=step.retry_after, connection=step.connection)
    elif not step.waiting:
        runs.waiting.leave(uid)


def _wake(runs: RunMemory, parked: runstate.Parked) -> None:
    task = asyncio.ensure_future(_wake_up(runs, parked))
    runs.tasks.add(task)
    task.add_done_callback(runs.tasks.discard)


async def _wake_up(runs: RunMemory, parked: runstate.Parked) -> None:
    """Reconcile a waiting run outside kopf: fetch it, run the state machine, write its status."""
    resource = runs.resource
    assert resource is not None
    try:
        async with runs.wakes, runs.lock(parked.uid):
            if runs.lifecycle.stopping:
                return  # the next operator finds the run where it is (Pending) and goes on
            if runs.lifecycle.paused:  # a peer works now; this replica stands by and tries again later
                runs.waiting.park(parked, delay=reconcile.WAIT_MAX)
                return
            if parked.uid in runs.waiting:  # a kopf handler call parked it again meanwhile
                return
            body = await kopfapi.get_object(
                resource=resource, namespace=parked.namespace, name=parked.name, logger=log
            )
            if body is None or body["metadata"].get("uid") != parked.uid:
                runs.waiting.leave(parked.uid)  # deleted (or replaced by a namesake)
                return
            step = await _reconcile(runs, body, logger=log)
            if step.status:
                await kopfapi.patch_status(
                    resource=resource,
                    namespace=parked.namespace,
                    name=parked.name,
                    status=step.status,
                    resource_version=None,
                    logger=log,
                )
            if step.retry_after is not None and not step.waiting:
                # A retry after a backoff, outside kopf: the room is the timer.
                step = dataclasses.replace(step, waiting=True, connection=None)
            _after(runs, body, step)
    except Exception:
        log.exception(
            "waking the ServiceRun %s/%s failed; trying again later",
            parked.namespace,
            parked.name,
            extra=logref.extra(PLURAL, namespace=parked.namespace, name=parked.name, uid=parked.uid),
        )
        runs.waiting.park(parked, delay=reconcile.WAIT_MAX)
