"""One EventPoll cycle as a plain async function, and when to run the next one.

:func:`poll_once` polls the site from the cursor (``cursor.request_for``), keeps the new items
(``cursor.absorb``), hands the batch to every sink in order (``sinks``), and returns a
:class:`PollOutcome`: the cursor state to persist, the conditions to set, and the status fields. It
touches nothing itself: the collaborators (the site, the sinks, the clock) are injected, and the handlers
layer writes the status. The cursor moves only when every sink accepted the batch; a failing sink holds
it, and the next cycle delivers the same events again (same ids).

Scheduling: :func:`first_delay` and :func:`next_delay` place each EventPoll on its own phase of its
interval (a hash of its uid), so a thousand EventPolls of one interval spread evenly instead of firing in
the same second, whenever the operator started; :func:`failure_delay` backs off after failures.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import math
import random
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal, Protocol

from orchestration_operator import client
from orchestration_operator.api import conditions
from orchestration_operator.api import eventpoll as api
from orchestration_operator.reconcile import cursor
from orchestration_operator.reconcile import sinks as sinks_  # ``poll_once`` has a parameter ``sinks``

Clock = Callable[[], float]
"""Unix time in seconds (``time.time`` in production)."""

MIN_FAILURE_DELAY: Final = 1.0
MAX_FAILURE_DELAY: Final = 300.0


class PollSource(Protocol):
    """The site's poll route (``client.OrchestrationClient`` fits)."""

    async def poll(
        self,
        name: str,
        *,
        timestamp: int | None = None,
        id: str | None = None,  # noqa: A002 (the route's own name)
    ) -> Sequence[cursor.PollItemLike]: ...


# --- where a cycle starts --------------------------------------------------------------------------------


def start_from(spec: api.EventPollSpec) -> cursor.StartFrom:
    """The cursor's starting point from ``spec.startFrom``."""
    start = spec.start_from
    if start.timestamp is not None:
        return cursor.parse_start_from(cursor.TIMESTAMP, start.timestamp)
    if start.id is not None:
        return cursor.parse_start_from(cursor.ID, start.id)
    return cursor.BEGINNING if start.position == api.StartPosition.BEGINNING else cursor.NOW


def parse_reset(mode: cursor.Mode, annotation: str) -> cursor.StartFrom:
    """The reset-cursor annotation: ``now``, ``beginning`` or a cursor value, optionally followed by
    whitespace and a free note (so the same target can be applied again: ``now 2nd try``).
    :class:`cursor.CursorError` when the target is not valid for ``mode``."""
    target = annotation.strip().split(maxsplit=1)
    if not target:
        raise cursor.CursorError("the reset-cursor annotation is empty: use now, beginning or a cursor value")
    return cursor.parse_start_from(mode, target[0])


@dataclasses.dataclass(frozen=True, kw_only=True)
class Start:
    """The state a cycle starts from, and the reset annotation value it applies (if any)."""

    state: cursor.CursorState
    reset: str | None = None
    """Pass to :meth:`PollOutcome.status_patch` as ``cursor_reset``: recorded once the cycle commits."""


def starting_state(
    spec: api.EventPollSpec,
    status: api.EventPollStatus,
    *,
    reset_annotation: str | None = None,
    config: cursor.CursorConfig = cursor.DEFAULT_CONFIG,
) -> Start:
    """The cursor state from the persisted status, or a reset when the reset-cursor annotation holds a
    value not applied yet (``status.cursorReset``). Raises :class:`cursor.CursorError` for an invalid
    annotation (an ``InvalidSpec`` verdict: the person who set it must fix it)."""
    mode: cursor.Mode = cursor.TIMESTAMP if spec.mode == api.PollMode.TIMESTAMP else cursor.ID
    if reset_annotation is not None and reset_annotation != status.cursor_reset:
        target = parse_reset(mode, reset_annotation)
        return Start(state=cursor.initial_state(mode, target, config=config), reset=reset_annotation)
    persisted = status.to_dict()
    return Start(
        state=cursor.CursorState.from_status(persisted, mode=mode, start=start_from(spec), config=config)
    )


# --- conditions ------------------------------------------------------------------------------------------

VerdictKind = Literal["ready", "reconciling", "stalled"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Verdict:
    """The conditions a cycle leads to, applied with ``api.conditions.mark_<kind>``."""

    kind: VerdictKind
    reason: str
    message: str

    def apply(
        self,
        previous: Sequence[conditions.Condition],
        *,
        now: datetime.datetime,
        generation: int | None = None,
    ) -> list[conditions.Condition]:
        mark = {
            "ready": conditions.mark_ready,
            "reconciling": conditions.mark_reconciling,
            "stalled": conditions.mark_stalled,
        }[self.kind]
        return mark(previous, reason=self.reason, message=self.message, now=now, generation=generation)


def invalid_spec(message: str) -> Verdict:
    """A spec (or reset annotation) that cannot be polled with: Stalled until a person changes it."""
    return Verdict(kind="stalled", reason=conditions.INVALID_SPEC, message=message)


def waiting_for_connection(reason: str, message: str) -> Verdict:
    """The connection is missing (``ConnectionNotFound``) or not Ready (``ConnectionNotReady``)."""
    return Verdict(kind="reconciling", reason=reason, message=message)


def suspended() -> Verdict:
    return Verdict(kind="ready", reason=conditions.SUSPENDED, message="spec.suspend is true: not polling")


# --- one cycle -------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class PollOutcome:
    """What one cycle did, and what the status should say about it."""

    state: cursor.CursorState
    """The cursor state to persist: the next one when ``committed``, else the one polled from."""
    committed: bool
    """The poll answered and every sink accepted the batch (or there was nothing to deliver)."""
    verdict: Verdict
    poll_time: datetime.datetime
    events: tuple[cursor.Event, ...] = ()
    """The batch: delivered to every sink when ``committed``."""
    accepted_by: tuple[str, ...] = ()
    """The sinks that accepted the batch (all when ``committed``; those before the failing one else)."""
    failed_sink: str | None = None
    failure: str | None = None
    """Why the poll or a sink failed (safe to show: no secrets, no URL paths)."""
    permanent: bool = False
    retry_after: float | None = None
    """The site's or receiver's own hint, in seconds, when it gave one."""
    absorbed: cursor.Absorbed | None = None
    """The cursor's view of the answer (None when the poll failed)."""

    @property
    def polled(self) -> bool:
        return self.absorbed is not None

    @property
    def more(self) -> bool:
        """More new items wait (the batch was cut): poll again right away."""
        return self.committed and self.absorbed is not None and self.absorbed.more

    @property
    def delivered(self) -> int:
        return len(self.events) if self.committed else 0

    @property
    def hints(self) -> tuple[str, ...]:
        """Things worth a log line or Warning event (not per poll when all is well)."""
        absorbed = self.absorbed
        if absorbed is None:
            return ()
        hints = []
        if absorbed.closed:
            values = ", ".join(str(v) for v in absorbed.closed[:5])
            hints.append(
                f"more items share the cursor's edge than the edge memory holds; closed {values}: later "
                "arrivals with these values will not be delivered (raise the edge capacity)"
            )
        if absorbed.ignored:
            hints.append(
                f"{absorbed.ignored} item(s) without a usable {self.state.mode}: is spec.mode right for "
                "this poll?"
            )
        if absorbed.deferred:
            hints.append(
                f"{absorbed.deferred} item(s) far in the future deferred: is the site's clock right?"
            )
        return tuple(hints)

    def status_patch(
        self,
        previous: api.EventPollStatus,
        *,
        sink_names: Sequence[str],
        now: datetime.datetime | None = None,
        generation: int | None = None,
        cursor_reset: str | None = None,
    ) -> dict[str, Any]:
        """The status fields to merge-patch (camelCase, JSON types), from the previous status.

        Cursor and edge are written only when ``committed`` (a failed cycle keeps what is persisted);
        ``cursor_reset`` (the reset annotation's value applied this cycle) likewise. ``sink_names`` are the
        spec's sinks in order: status keeps one entry per sink, dropping removed ones.
        """
        now = now or self.poll_time
        patch: dict[str, Any] = {"lastPollTime": _time(self.poll_time)}
        absorbed = self.absorbed
        if self.committed:
            patch.update(self.state.to_status())
            if cursor_reset is not None:
                patch["cursorReset"] = cursor_reset
            patch["lastSuccessTime"] = _time(now)
            patch["lastBatchSize"] = len(self.events)
            patch["eventsDelivered"] = previous.events_delivered + len(self.events)
            patch["consecutiveFailures"] = 0
            last_event = previous.last_event_time
            if self.events:
                newest = self.events[-1].timestamp
                last_event = _from_unix(newest) if newest is not None else now
                patch["lastEventTime"] = _time(last_event)
            if self.state.mode == cursor.TIMESTAMP and last_event is not None:
                patch["lagSeconds"] = max(0, int((now - last_event).total_seconds()))
        else:
            patch["consecutiveFailures"] = previous.consecutive_failures + 1
        if absorbed is not None:
            patch["polls"] = previous.polls + 1
            if self.committed:
                patch["duplicatesSkipped"] = (
                    previous.duplicates_skipped + absorbed.duplicates + absorbed.stale
                )
        patch["sinks"] = self._sink_statuses(previous, sink_names, now)
        patch["conditions"] = [
            c.to_dict() for c in self.verdict.apply(previous.conditions, now=now, generation=generation)
        ]
        if generation is not None:
            patch["observedGeneration"] = generation
        return patch

    def _sink_statuses(
        self, previous: api.EventPollStatus, names: Sequence[str], now: datetime.datetime
    ) -> list[dict[str, Any]]:
        known = {s.name: s for s in previous.sinks}
        out = []
        for name in names:
            entry = known.get(name) or api.SinkStatus(name=name)
            update: dict[str, Any] = {}
            if name in self.accepted_by:
                update["consecutive_failures"] = 0
                update["last_error"] = None
                if self.events:
                    update["events_delivered"] = entry.events_delivered + len(self.events)
                    update["last_delivery_time"] = now
            elif name == self.failed_sink:
                update["consecutive_failures"] = entry.consecutive_failures + 1
                update["last_error"] = (self.failure or "")[:512]
            out.append(entry.model_copy(update=update).to_dict())
        return out


def _time(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _from_unix(seconds: float) -> datetime.datetime:
    try:
        return datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError):
        return datetime.datetime.max.replace(tzinfo=datetime.UTC)


async def poll_once(
    *,
    poll_name: str,
    state: cursor.CursorState,
    source: PollSource,
    sinks: Sequence[sinks_.Sink],
    clock: Clock,
    config: cursor.CursorConfig = cursor.DEFAULT_CONFIG,
) -> PollOutcome:
    """One cycle: poll from ``state``, deliver the new events to every sink in order, say what happened.

    Failures of the site (any ``client.OrchestrationError``) and of sinks (``sinks.SinkError``) become the
    outcome; anything else is a bug and propagates.
    """
    started = clock()
    poll_time = _from_unix(started)
    request = cursor.request_for(state, now=int(started), config=config)
    try:
        items = await source.poll(poll_name, timestamp=request.timestamp, id=request.id)
    except client.OrchestrationError as exc:
        return PollOutcome(
            state=state,
            committed=False,
            verdict=Verdict(
                kind="reconciling",
                reason=conditions.POLL_FAILED,
                message=f"polling {poll_name!r} failed ({exc.reason}): {exc}; the cursor is unchanged",
            ),
            poll_time=poll_time,
            failure=f"{exc.reason}: {exc}",
            retry_after=exc.retry_after,
        )
    absorbed = cursor.absorb(
        state, items, poll_name=poll_name, asked=request, now=int(started), config=config
    )
    events = absorbed.events
    accepted: list[str] = []
    if events:
        for sink in sinks:
            try:
                await sink.deliver(events)
            except sinks_.SinkError as exc:
                held = f"the cursor is held at {_describe(state)}"
                return PollOutcome(
                    state=state,
                    committed=False,
                    verdict=Verdict(
                        kind="stalled" if exc.permanent else "reconciling",
                        reason=conditions.SINK_FAILING,
                        message=f"{exc.message}; {held}; {len(events)} event(s) wait",
                    ),
                    poll_time=poll_time,
                    events=events,
                    accepted_by=tuple(accepted),
                    failed_sink=sink.name,
                    failure=exc.message,
                    permanent=exc.permanent,
                    retry_after=exc.retry_after,
                    absorbed=absorbed,
                )
            accepted.append(sink.name)
    else:
        accepted = [sink.name for sink in sinks]
    return PollOutcome(
        state=absorbed.state,
        committed=True,
        verdict=Verdict(kind="ready", reason=conditions.POLLING, message=_summary(absorbed)),
        poll_time=poll_time,
        events=events,
        accepted_by=tuple(accepted),
        absorbed=absorbed,
    )


def _describe(state: cursor.CursorState) -> str:
    if state.value is None:
        return "its start (not established yet)"
    return f"{state.mode} {state.value}"


def _summary(absorbed: cursor.Absorbed) -> str:
    position = _describe(absorbed.state)
    if absorbed.primed:
        return f"cursor established at {position}; events from now on will be delivered"
    if not absorbed.events:
        return f"no new events; cursor at {position}"
    more = " (more waiting)" if absorbed.more else ""
    return f"delivered {len(absorbed.events)} event(s){more}; cursor at {position}"


# --- scheduling ------------------------------------------------------------------------------------------


def phase(uid: str) -> float:
    """A fraction in [0, 1) fixed for ``uid`` and spread uniformly over uids."""
    return int.from_bytes(hashlib.sha256(uid.encode()).digest()[:8], "big") / 2**64


def first_delay(uid: str, interval: float) -> float:
    """Seconds before an EventPoll's first poll: its phase of the interval (deterministic per uid)."""
    return phase(uid) * interval


def next_delay(uid: str, interval: float, now: float) -> float:
    """Seconds from ``now`` to the EventPoll's next slot: the times ``k * interval + phase * interval``
    (on the Unix clock), so polls keep their spread however long cycles take or when the operator
    restarted. In (0, interval]."""
    return delay_to_phase(phase(uid), interval, now)


def delay_to_phase(fraction: float, interval: float, now: float) -> float:
    """Seconds from ``now`` to the next time ``k * interval + fraction * interval`` on the Unix clock.
    In (0, interval]. ``spread.Spread`` gives fractions that fill an interval evenly."""
    offset = fraction * interval
    slot = (math.floor((now - offset) / interval) + 1) * interval + offset
    return max(slot - now, 1e-3)


def failure_delay(
    failures: int,
    *,
    interval: float,
    retry_after: float | None = None,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds before retrying after ``failures`` (>= 1) failed cycles in a row: exponential from
    ``min(interval, 5s)`` up to ``max(interval, 5m)``, jittered (between half and all of the step), and
    never sooner than the peer's ``Retry-After``."""
    base = max(MIN_FAILURE_DELAY, min(interval, 5.0))
    growth: float = 2.0 ** min(max(failures, 1) - 1, 30)
    step = min(base * growth, max(interval, MAX_FAILURE_DELAY))
    delay = step / 2 + rng() * step / 2
    return max(delay, retry_after or 0.0)
