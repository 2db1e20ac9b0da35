"""kopf handlers of ServiceRun: the thin side of ``reconcile.servicerun``.

One handler for creation, updates and resuming (all go through the same state machine, which decides
from status and the rerun annotation what to do; a label change on a finished run does nothing). Per
execution the run gets two Kubernetes writes: the start marker (``reconcile`` writes it through
:class:`StartMarker`, a conditional status patch, before the call) and the outcome (this handler puts it
in kopf's ``patch``; kopf's own progress and diff-base ride along, as they live in ``status.kopf``).
The start marker goes through kopf's own API client (``kopfapi``), not a thread.

- No finalizer: nothing has to happen when a run is deleted (its result ConfigMap or Secret goes by
  owner garbage collection), and a finalizer would cost two more writes per run.
- Waiting (connection not Ready, Secret missing, a retry's backoff) is a ``kopf.TemporaryError`` with
  the delay the state machine chose.
- ``ttlSecondsAfterFinished``: a timer in this process deletes the run when due (also for runs found
  finished at startup, through the resume handler).
- Events only for what a person should look at (refusals, failures, unknown outcomes, unknown keys);
  results and service error texts are never logged and never put in events.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime
import logging
from collections.abc import Mapping
from typing import Any

import kopf

from orchestration_operator import metrics
from orchestration_operator.api import names, servicerun
from orchestration_operator.handlers import kopfapi, kube, shared
from orchestration_operator.reconcile import runstate, sites
from orchestration_operator.reconcile import servicerun as reconcile

PLURAL = servicerun.KIND.plural
MIN_EXPIRY_DELAY = 1.0
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


class Expiries:
    """Deletes finished runs when their ``ttlSecondsAfterFinished`` is due (one timer per run)."""

    def __init__(self) -> None:
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def __len__(self) -> int:
        return len(self._timers)

    def schedule(self, *, uid: str, namespace: str, name: str, at: datetime.datetime) -> None:
        if uid in self._timers:
            return
        loop = asyncio.get_running_loop()
        # At least a moment: the outcome (written by kopf after the handler returns) lands first.
        delay = max(MIN_EXPIRY_DELAY, (at - datetime.datetime.now(datetime.UTC)).total_seconds())
        self._timers[uid] = loop.call_later(delay, self._expire, uid, namespace, name)

    def _expire(self, uid: str, namespace: str, name: str) -> None:
        self._timers.pop(uid, None)
        task = asyncio.ensure_future(self._delete(namespace, name))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _delete(self, namespace: str, name: str) -> None:
        try:
            await kube.delete_object(plural=PLURAL, namespace=namespace, name=name)
        except Exception:
            log.exception("deleting the expired ServiceRun %s/%s failed", namespace, name)

    def cancel_all(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


@dataclasses.dataclass
class RunMemory:
    """Process-wide state of the ServiceRun handlers (in ``memo.serviceruns``)."""

    ledger: runstate.Ledger = dataclasses.field(default_factory=runstate.Ledger)
    gates: runstate.Gates = dataclasses.field(default_factory=runstate.Gates)
    expiries: Expiries = dataclasses.field(default_factory=Expiries)


@kopf.on.startup()
async def create_run_memory(memo: kopf.Memo, **_: Any) -> None:
    memo.serviceruns = RunMemory()


@kopf.on.cleanup()
async def stop_expiries(memo: kopf.Memo, **_: Any) -> None:
    runs: RunMemory | None = getattr(memo, "serviceruns", None)
    if runs is not None:
        runs.expiries.cancel_all()


@kopf.on.resume(names.GROUP, names.VERSION, PLURAL, backoff=5)
@kopf.on.create(names.GROUP, names.VERSION, PLURAL, backoff=5)
@kopf.on.update(names.GROUP, names.VERSION, PLURAL, backoff=5)  # type: ignore[arg-type]
async def servicerun_handler(
    body: kopf.Body,
    patch: kopf.Patch,
    resource: kopf.Resource,
    retry: int,
    logger: logging.Logger | logging.LoggerAdapter[Any],
    memo: kopf.Memo,
    connections: kopf.Index[tuple[str, str], Any],
    **_: Any,
) -> None:
    metadata = body.metadata
    namespace = metadata.namespace or "default"
    name = metadata.name or ""
    runs: RunMemory = memo.serviceruns
    registry: sites.SiteRegistry = memo.sites

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
        uid=metadata.uid or "",
        generation=metadata.get("generation"),
        resource_version=metadata.get("resourceVersion"),
        spec=dict(body.spec),
        status=dict(body.status),
        annotations=dict(metadata.annotations),
        retry=retry,
    )
    deps = reconcile.Deps(
        site=site,
        sources=memo.kube,
        owned=memo.kube,
        writer=StartMarker(resource=resource, namespace=namespace, name=name, logger=logger),
        ledger=runs.ledger,
        gates=runs.gates,
    )
    step = await reconcile.reconcile(run, deps)

    if step.status:
        patch.status.update(step.status)
    for event in step.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
    if step.outcome is not None:
        outcome = step.outcome
        metrics.SERVICE_RUNS.labels(namespace, outcome.phase.value, outcome.reason).inc()
        if outcome.seconds is not None:
            metrics.SERVICE_RUN_DURATION.labels(outcome.phase.value).observe(outcome.seconds)
    if step.expires_at is not None:
        runs.expiries.schedule(uid=run.uid, namespace=namespace, name=name, at=step.expires_at)
    if step.retry_after is not None:
        raise kopf.TemporaryError(step.retry_message, delay=step.retry_after)
