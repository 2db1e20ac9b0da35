"""kopf handlers of EventPoll: one daemon per object running its poll loop, and the hook that wakes it.

Why a daemon (and not ``@kopf.timer``): each EventPoll has its own interval, a backoff after failures,
"again at once" when a batch was cut, and its own phase in the interval so that a thousand EventPolls do
not poll in the same second (``reconcile.eventpoll.next_delay``). A daemon sleeps exactly until it is
due, and is the only writer of its object's status, so nothing races it.

Each pass (``reconcile.pollpass.run``) returns the whole status it wants; the daemon writes the fields
that differ from what the API server holds as ONE merge patch of ``status`` (``handlers.kube``), so a
poll cycle costs one write (none when nothing changed: waiting for a Connection, suspended).

The cursor is safe because:

- it is written only after every sink accepted the batch (``poll_once``), and the status the daemon
  wants is kept in memory: the next pass starts from it, not from the watched body that may lag;
- a failed write (API error, timeout, conflict) is retried with backoff BEFORE any further poll, so at
  most one delivered batch is ever unpersisted; if the operator dies then, the persisted cursor is the
  older one and the batch is delivered again with the same event ids (at least once, never lost);
- a stop (deletion, operator shutdown) cancels a pass in flight: a cancelled pass has written nothing,
  and a finished pass's write is completed before the daemon exits.

The daemon wakes early when the spec (``metadata.generation``) or the reset-cursor annotation changes
(``eventpoll_event``); label and annotation churn from GitOps tools does not wake it. It is subscribed
to its Connection's topic (``reconcile.wakeups``, published by the Connection's handlers) from before
each pass looks at the Connection, so that one that was missing or not Ready and changes is acted upon
at once; it also looks again every interval (an in-memory lookup in the ``connections`` index).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Awaitable, Mapping
from typing import Any, Final, TypeVar

import kopf

from orchestration_operator import metrics, settings
from orchestration_operator.api import conditions, durations, names, validation
from orchestration_operator.api import eventpoll as api
from orchestration_operator.client import cloudevents
from orchestration_operator.handlers import kopfapi, kube, logref, loops, shared
from orchestration_operator.reconcile import eventpoll, pollpass, sinkconfig, sites, spread, wakeups

PLURAL: Final = api.KIND.plural
KIND: Final = api.KIND.kind
LOOP_KEY: Final = "eventpoll_loop"
HTTP_CLIENT_KEY: Final = "eventpoll_http_client"
SECRET_TTL_KEY: Final = "eventpoll_secret_ttl"
SPREAD_KEY: Final = "eventpoll_spread"

CANCELLATION_TIMEOUT: Final = 10.0
"""How long kopf waits for a stopped daemon before cancelling it (it exits at once when idle)."""
WRITE_RETRY_DELAYS: Final = (1.0, 2.0, 5.0, 10.0, 30.0)
"""Seconds before retrying a failed status write (the last one repeats): no poll until it succeeds."""
BUG_RETRY: Final = 10.0
SPEC: Final = "spec"
CONNECTION: Final = "connection"
"""Wake-up reasons: the spec or reset annotation changed; the awaited Connection changed (its topic)."""

T = TypeVar("T")
_log = logging.getLogger("orchestration_operator.handlers.eventpoll")


@dataclasses.dataclass
class PollLoop:
    """One EventPoll's loop state, kept in kopf's per-object memo (shared with the event hook)."""

    waker: wakeups.Waker = dataclasses.field(default_factory=wakeups.Waker)
    seen: tuple[int | None, str | None] | None = None
    """The (generation, reset annotation) the last pass read: a change wakes the loop."""
    hints: tuple[str, ...] = ()
    builder: sinkconfig.SinkBuilder | None = None


def loop_of(memo: kopf.Memo) -> PollLoop:
    loop: PollLoop | None = memo.get(LOOP_KEY)
    if loop is None:
        loop = PollLoop()
        memo[LOOP_KEY] = loop
    return loop


def triggers(body: Mapping[str, Any]) -> tuple[int | None, str | None]:
    """What a pass depends on besides time: the spec's generation and the reset-cursor annotation."""
    metadata = body.get("metadata") or {}
    return metadata.get("generation"), (metadata.get("annotations") or {}).get(names.RESET_CURSOR_ANNOTATION)


@kopf.on.startup()
async def create_eventpoll_state(memo: kopf.Memo, **_: Any) -> None:
    # One pooled client for every HTTP sink of the process (senders differ by URL and headers only),
    # and one Spread placing every EventPoll in the least crowded second of its interval.
    memo[HTTP_CLIENT_KEY] = cloudevents.new_http_client()
    memo[SPREAD_KEY] = spread.Spread()
    memo[SECRET_TTL_KEY] = settings.current().secret_cache_seconds


async def close(memo: kopf.Memo) -> None:
    """Close the sinks' HTTP client (called by ``handlers.all.shutdown``; the poll daemons are gone)."""
    http: cloudevents.HttpClient | None = memo.get(HTTP_CLIENT_KEY)
    if http is not None:
        await http.aclose()


@kopf.on.event(names.GROUP, names.VERSION, PLURAL)  # type: ignore[arg-type]
async def eventpoll_event(
    event: kopf.RawEvent, body: kopf.Body, memo: kopf.Memo, namespace: str, name: str, **_: Any
) -> None:
    if event.get("type") == "DELETED":
        forget_metrics(namespace=namespace, name=name)
        return
    loop: PollLoop | None = memo.get(LOOP_KEY)
    if loop is not None and loop.seen is not None and triggers(body) != loop.seen:
        loop.waker.wake(reason=SPEC)


class StatusWriter:
    """Writes an EventPoll's status as merge patches of the fields that differ from the server's."""

    def __init__(self, *, namespace: str, name: str, current: Mapping[str, Any], uid: str = "") -> None:
        self.namespace = namespace
        self.name = name
        self.uid = uid
        self.written = pollpass.model_fields(current)
        self.failures = 0

    def pending(self, desired: Mapping[str, Any]) -> bool:
        return bool(pollpass.status_diff(self.written, desired))

    async def write(self, desired: Mapping[str, Any]) -> bool:
        """Write what differs; False (and a later :meth:`retry_delay`) when the API refused or failed.
        :class:`kube.Gone` when the object no longer exists."""
        patch = pollpass.status_diff(self.written, desired)
        if not patch:
            return True
        try:
            result = await kopfapi.patch_status(
                resource=PLURAL, namespace=self.namespace, name=self.name, status=patch, retry=False
            )
        except kube.Gone:
            raise
        except Exception as exc:  # API server down, timeout, 409/5xx: kept in memory, retried
            self.failures += 1
            _log.warning(
                "writing the status of EventPoll %s/%s failed (%s); retrying before the next poll",
                self.namespace,
                self.name,
                _why(exc),
                extra=logref.extra(PLURAL, namespace=self.namespace, name=self.name, uid=self.uid),
            )
            return False
        del result  # what the server holds now is what was asked: keep our own objects (less memory)
        self.failures = 0
        written = {**self.written, **patch}
        self.written = {key: value for key, value in written.items() if value is not None}
        return True

    def retry_delay(self) -> float:
        return WRITE_RETRY_DELAYS[min(max(self.failures, 1), len(WRITE_RETRY_DELAYS)) - 1]


def _why(exc: Exception) -> str:
    """A short cause: the HTTP status of an API error (its text repeats the whole answer), else the type."""
    status, reason = getattr(exc, "status", None), getattr(exc, "reason", None)
    if isinstance(status, int):
        return f"HTTP {status} {reason or ''}".strip()
    return type(exc).__name__


@kopf.daemon(names.GROUP, names.VERSION, PLURAL, cancellation_timeout=CANCELLATION_TIMEOUT)  # type: ignore[arg-type]
async def eventpoll_daemon(
    stopped: kopf.DaemonStopped,
    body: kopf.Body,
    memo: kopf.Memo,
    logger: kopf.Logger,
    connections: kopf.Index[tuple[str, str], Any],
    **_: Any,
) -> None:
    loop = loop_of(memo)
    namespace = body.metadata.namespace or "default"
    name = body.metadata.name or ""
    uid = body.metadata.uid or ""
    writer = StatusWriter(namespace=namespace, name=name, current=dict(body.status), uid=uid)
    builder = loop.builder = sinkconfig.SinkBuilder(
        secrets=memo.kube,
        store=memo.kube,
        http_client=memo[HTTP_CLIENT_KEY],
        cache_seconds=memo.get(SECRET_TTL_KEY, sinkconfig.DEFAULT_CACHE_SECONDS),
    )
    registry: sites.SiteRegistry = memo.sites
    phases: spread.Spread = memo[SPREAD_KEY]

    async def connect(connection: str) -> eventpoll.PollSource:
        try:
            conn = shared.find_connection(connections, namespace=namespace, name=connection)
        except shared.ConnectionUnavailable as error:
            raise pollpass.Unavailable(error.reason, error.message) from None
        try:
            site = await registry.site_for(conn)
        except sites.SiteConfigError as error:
            raise pollpass.Unavailable(
                conditions.CONNECTION_NOT_READY, f'OrchestrationConnection "{connection}": {error.message}'
            ) from None
        return site.client

    topics = loops.topics_of(memo)
    try:
        await _run(
            stopped,
            body,
            loop,
            logger,
            writer=writer,
            builder=builder,
            connect=connect,
            phase=phases.phase,
            topics=topics,
        )
    finally:
        phases.release(uid)
        topics.unsubscribe(loop.waker)


async def _run(
    stopped: kopf.DaemonStopped,
    body: kopf.Body,
    loop: PollLoop,
    logger: kopf.Logger,
    *,
    writer: StatusWriter,
    builder: sinkconfig.SinkBuilder,
    connect: pollpass.Connect,
    phase: pollpass.Phase,
    topics: wakeups.Topics,
) -> None:
    namespace, name, uid = writer.namespace, writer.name, body.metadata.uid or ""
    desired: dict[str, Any] = dict(writer.written)
    loop.seen = triggers(body)
    await _sleep(stopped, loop, body, _first_delay(body, uid, desired, phase=phase))
    while not stopped:
        if writer.pending(desired) and not await _write(writer, desired):
            await _sleep(stopped, loop, body, writer.retry_delay())
            continue
        target = _target(body, namespace=namespace, name=name, uid=uid)
        loop.seen = (target.generation, target.reset_annotation)
        # Subscribed BEFORE the pass looks at its Connection: a change published while the pass runs
        # (it became Ready just after the lookup) is then pending when the pass ends, not missed.
        topics.subscribe(loop.waker, _connection_topics(namespace, target.spec))
        loop.waker.take_reasons()
        try:
            done = await _unless_stopped(
                stopped,
                pollpass.run(target, desired, connect=connect, builder=builder, clock=time.time, phase=phase),
            )
        except Exception:  # a bug: keep the loop (and the cursor in memory) alive, and say so loudly
            logger.exception("EventPoll pass failed unexpectedly; retrying in %.0fs", BUG_RETRY)
            await _sleep(stopped, loop, body, BUG_RETRY)
            continue
        if done is None:
            break  # stopped mid-pass: nothing was committed, the cursor stays where it is persisted
        desired = done.status
        try:
            written = await _write(writer, desired)
        except kube.Gone:
            break
        _report(body, done, loop=loop, logger=logger, namespace=namespace, name=name)
        delay = done.delay if written else writer.retry_delay()
        waiting = done.waiting_for is not None
        del done  # the batch and its events are not kept while sleeping: memory stays bounded
        await _sleep(stopped, loop, body, delay, connection_matters=waiting)
    # A finished pass whose write failed: one last try, so a clean stop loses no committed cursor.
    if writer.pending(desired):
        with contextlib.suppress(kube.Gone):
            await _write(writer, desired)


async def _write(writer: StatusWriter, desired: Mapping[str, Any]) -> bool:
    # Shielded: a cancellation (kopf's, after cancellation_timeout) must not cut a write of a cursor
    # whose batch the sinks already accepted.
    return await asyncio.shield(writer.write(desired))


def _target(body: kopf.Body, *, namespace: str, name: str, uid: str) -> pollpass.Target:
    generation, reset = triggers(body)
    return pollpass.Target(
        namespace=namespace,
        name=name,
        uid=uid,
        generation=generation,
        spec=dict(body.spec),
        reset_annotation=reset,
    )


def _connection_topics(namespace: str, spec: Mapping[str, Any]) -> list[wakeups.Topic]:
    reference = spec.get("connectionRef")
    name = reference.get("name") if isinstance(reference, Mapping) else None
    return [wakeups.connection_topic(namespace, name)] if isinstance(name, str) and name else []


def _first_delay(body: kopf.Body, uid: str, status: Mapping[str, Any], *, phase: pollpass.Phase) -> float:
    try:
        spec = validation.parse_spec(api.EventPollSpec, dict(body.spec))
    except validation.InvalidSpecError:
        return 0.0  # the first pass says what is wrong
    if spec.suspend:
        return 0.0
    target = _target(body, namespace="", name="", uid=uid)
    return pollpass.first_delay(
        target,
        pollpass.parse_status(status),
        interval=durations.seconds(spec.interval),
        now=time.time(),
        phase=phase,
    )


async def _unless_stopped(stopped: kopf.DaemonStopped, work: Awaitable[T]) -> T | None:
    """``work``'s result, or None when the daemon is stopped first (``work`` is then cancelled)."""
    task = asyncio.ensure_future(work)
    stop = asyncio.ensure_future(stopped.wait())
    try:
        await asyncio.wait({task, stop}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stop.cancel()
        if not task.done():
            task.cancel()
        await asyncio.gather(task, stop, return_exceptions=True)
    if task.cancelled():
        return None
    return task.result()


async def _sleep(
    stopped: kopf.DaemonStopped,
    loop: PollLoop,
    body: kopf.Body,
    delay: float | None,
    *,
    connection_matters: bool = False,
) -> None:
    """Sleep ``delay`` seconds (None: until woken); return early when stopped, when the spec or the reset
    annotation changed since the last pass, or, if ``connection_matters`` (the last pass waited for it),
    when the Connection changed (its topic). Other wakes go back to sleep."""
    deadline = None if delay is None else time.monotonic() + max(delay, 0.0)
    while not stopped:
        if triggers(body) != loop.seen:
            return
        if loop.waker.pending:
            if CONNECTION in loop.waker.take_reasons() and connection_matters:
                return
            continue
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            return
        await loops.sleep(stopped, loop.waker, remaining)


def _report(
    body: kopf.Body, done: pollpass.Pass, *, loop: PollLoop, logger: kopf.Logger, namespace: str, name: str
) -> None:
    """Events on changes of state, hint logs when they change, metrics every pass."""
    for event in done.events:
        kopf.event(body, type=event.type, reason=event.reason, message=event.message)
        (logger.info if event.type == "Normal" else logger.warning)(f"{event.reason}: {event.message}")
    outcome = done.outcome
    hints = outcome.hints if outcome is not None else ()
    if hints != loop.hints:
        loop.hints = hints
        for hint in hints:
            logger.warning(hint)
    if outcome is not None:
        if outcome.polled:
            metrics.EVENTS_POLLED.labels(namespace, name).inc(len(outcome.events))
        if outcome.delivered:
            metrics.EVENTS_DELIVERED.labels(namespace, name).inc(outcome.delivered)
        lag = done.status.get("lagSeconds")
        if outcome.committed and isinstance(lag, int):
            metrics.POLL_LAG.labels(namespace, name).set(lag)
    found = {c.get("type"): c.get("status") for c in done.status.get("conditions") or ()}
    for type_ in conditions.TYPES:
        default = conditions.UNKNOWN if type_ == conditions.READY else conditions.FALSE
        metrics.set_condition(
            kind=KIND, namespace=namespace, name=name, type_=type_, status=found.get(type_) or default
        )


def forget_metrics(*, namespace: str, name: str) -> None:
    """Drop a deleted EventPoll's series, so that the metrics' memory stays bounded."""
    for family in (metrics.EVENTS_POLLED, metrics.EVENTS_DELIVERED, metrics.POLL_LAG):
        with contextlib.suppress(KeyError):
            family.remove(namespace, name)
    metrics.forget_resource(kind=KIND, namespace=namespace, name=name, types=conditions.TYPES)
