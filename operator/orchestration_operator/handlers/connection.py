"""kopf handlers of OrchestrationConnection: the probe loop, its wake-ups, and deletion.

- ``connection_loop`` (a daemon, see ``handlers/loops.py``): one probe per pass
  (``reconcile.connection.probe``), the status written once per pass when it changed, Events on a
  change of state only; sleeps until the next probe. After an operator restart a Connection that was
  probed recently waits for its due time instead of probing at once.
- ``connection_event``: wakes the loop on a new generation, and publishes the Connection's topic when
  its readiness (or existence) changes, so that webhooks waiting on it catch up at once.
- ``connection_delete`` (the finalizer): waits, bounded by their own ``unregisterTimeout``, for the
  webhooks of this Connection that are being deleted too (deleting a namespace deletes both, and a
  webhook needs its Connection to unregister), then forgets the site's client.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
from typing import Any, Final

import kopf

from orchestration_operator.api import conditions, connection, durations, names, validation
from orchestration_operator.handlers import loops, shared
from orchestration_operator.reconcile import claims, sites, wakeups
from orchestration_operator.reconcile import connection as reconcile_connection

PLURAL: Final = connection.KIND.plural
KIND: Final = connection.KIND.kind
DELETE_WAIT_SLICE: Final = 30.0
"""The longest a deletion handler blocks before handing back to kopf (which calls it again)."""


def _registry(memo: kopf.Memo) -> sites.SiteRegistry:
    registry: sites.SiteRegistry = memo["sites"]
    return registry


@kopf.daemon(names.GROUP, names.VERSION, PLURAL, cancellation_timeout=loops.CANCELLATION_TIMEOUT)
async def connection_loop(
    stopped: kopf.DaemonStopped, body: kopf.Body, memo: kopf.Memo, logger: kopf.Logger, **_: Any
) -> None:
    lifecycle = shared.lifecycle_of(memo)
    lifecycle.daemon_started()
    loop = loops.loop_of(memo, reconcile_connection.ProbeMemory)
    first = True
    errors = loops.ErrorBackoff()
    while not stopped:
        loop.waker.take_reasons()
        try:
            async with loop.lock:
                delay = await _pass(body, memo, loop, logger=logger, first=first)
        except Exception:  # a bug, or the Kubernetes API failing: logged, retried, the loop lives on
            delay = errors.failed(logger)
        else:
            errors.succeeded()
        first = False
        await loops.sleep(stopped, loop.waker, delay)
    # Every run needs a Connection, so its daemon is there to hear the operator stop or pause.
    lifecycle.daemon_stopped(stopped)


async def _pass(
    body: kopf.Body,
    memo: kopf.Memo,
    loop: loops.Loop[reconcile_connection.ProbeMemory],
    *,
    logger: kopf.Logger,
    first: bool,
) -> float:
    snap = loops.snapshot(body, loop)
    loop.seen_generation = snap.metadata.generation
    now = loops.now()
    current = loops.parse_status(connection.OrchestrationConnectionStatus, snap.status)
    try:
        spec = validation.parse_spec(connection.OrchestrationConnectionSpec, snap.spec)
    except validation.InvalidSpecError as error:
        outcome = reconcile_connection.invalid_spec(
            current, error.message, now=now, generation=snap.metadata.generation
        )
    else:
        conn = connection.OrchestrationConnection(metadata=snap.metadata, spec=spec, status=current)
        wait = _not_yet_due(conn, now) if first else None
        if wait is not None:
            return wait
        outcome = await reconcile_connection.probe(conn, sites_=_registry(memo), memory=loop.memory, now=now)
    written = await loops.write_status(
        plural=PLURAL,
        model=connection.OrchestrationConnectionStatus,
        metadata=snap.metadata,
        loop=loop,
        current=snap.status,
        new=outcome.status,
    )
    if not written:
        return loops.WRITE_RETRY
    loops.post(body, outcome.events)
    for event in outcome.events:
        log = logger.info if event.type == "Normal" else logger.warning
        log(f"{event.reason}: {event.message}")
    loops.export_conditions(kind=KIND, metadata=snap.metadata, found=outcome.status.conditions)
    return outcome.delay


def _not_yet_due(conn: connection.OrchestrationConnection, now: datetime.datetime) -> float | None:
    """After a restart: seconds until a Connection that is Ready and current is due, else None."""
    status = conn.status
    if (
        status.observed_generation != conn.metadata.generation
        or status.last_checked_time is None
        or not conditions.is_true(status.conditions, conditions.READY)
    ):
        return None
    due = status.last_checked_time + datetime.timedelta(seconds=durations.seconds(conn.spec.probe_interval))
    return (due - now).total_seconds() if due > now else None


def _published_state(event_type: str | None, body: kopf.Body) -> tuple[Any, ...] | None:
    if event_type == "DELETED":
        return None
    ready = next(
        (
            c
            for c in body.status.get("conditions") or []
            if isinstance(c, dict) and c.get("type") == conditions.READY
        ),
        {},
    )
    return (
        body.metadata.get("uid"),
        body.metadata.get("generation"),
        ready.get("status"),
        ready.get("reason"),
        ready.get("observedGeneration"),  # a new spec probed: Connected again, but for the new spec
    )


@kopf.on.event(names.GROUP, names.VERSION, PLURAL)  # type: ignore[arg-type]
async def connection_event(
    event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, namespace: str, name: str, **_: Any
) -> None:
    loops.wake_on_generation(memo, body)
    state = _published_state(event.get("type"), body)
    if state != memo.get("published_state"):
        memo["published_state"] = state
        loops.topics_of(memo).publish(wakeups.connection_topic(namespace, name), reason="connection")
    if event.get("type") == "DELETED":
        await _registry(memo).forget((namespace, name))
        loops.forget_metrics(kind=KIND, namespace=namespace, name=name)


@kopf.on.delete(names.GROUP, names.VERSION, PLURAL)  # type: ignore[arg-type]
async def connection_delete(
    namespace: str,
    name: str,
    memo: kopf.Memo,
    webhook_claims: kopf.Index[Any, Any],
    logger: kopf.Logger,
    **_: Any,
) -> None:
    topics = loops.topics_of(memo)
    waker = wakeups.Waker()
    started = asyncio.get_running_loop().time()
    told: list[str] = []
    try:
        while True:
            # Subscribe first, then look: a release published in between is not missed.
            keys = [key for key in webhook_claims if key[:2] == (namespace, name)]
            topics.subscribe(waker, [wakeups.webhook_key_topic(*key) for key in keys])
            waker.take_reasons()
            now = loops.now()
            pending = claims.releasing(webhook_claims.items(), namespace=namespace, connection=name, now=now)
            if not pending:
                break
            waited = asyncio.get_running_loop().time() - started
            if waited >= DELETE_WAIT_SLICE:
                raise kopf.TemporaryError(
                    f"waiting for OrchestrationWebhooks being deleted to unregister: {', '.join(pending)}",
                    delay=1,
                )
            if pending != told:
                told = pending
                logger.info(
                    f"Waiting for OrchestrationWebhooks being deleted to unregister: {', '.join(pending)}"
                )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(min(5.0, DELETE_WAIT_SLICE - waited)):
                    await waker.wait()
    finally:
        topics.unsubscribe(waker)
    await _registry(memo).forget((namespace, name))
