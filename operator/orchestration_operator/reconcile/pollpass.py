"""One pass of an EventPoll's loop: from its spec, status and annotation to the status to write next.

``handlers/eventpoll.py`` runs one pass per wake-up of an EventPoll's daemon and writes the status the
pass returns; this module decides, in order (the first that applies wins):

1. the spec does not parse: ``Stalled`` ``InvalidSpec``, wait for a change of spec;
2. ``spec.suspend``: ``Ready`` ``Suspended``, no poll, wait for a change of spec;
3. the Connection is missing or not Ready (``connect`` raises :class:`Unavailable`): ``Reconciling``
   with its reason; the loop waits for the Connection to change (:attr:`Pass.waiting_for`), looking
   again after the interval (:data:`CONNECTION_RECHECK` at most);
4. the starting state (``eventpoll.starting_state``: the persisted cursor, or a reset asked by the
   annotation) cannot be made: ``Stalled`` ``InvalidSpec``, wait for a change;
5. a sink cannot be built (``sinkconfig``): ``Stalled`` ``InvalidSpec`` / ``SecretNotFound``, or
   ``Reconciling`` when a Secret could not be read; retried with backoff (a Secret may appear);
6. otherwise one ``eventpoll.poll_once`` cycle, its ``status_patch``, and the next delay: at once when
   more events wait, ``failure_delay`` after a failed cycle, else the EventPoll's next slot.

A pass never writes anything: it returns the whole status it wants (:attr:`Pass.status`, the model's
fields only) and the Kubernetes Events that mark a change of state (a sink failing or recovering, the
cursor reset, an invalid spec): never one per poll.
"""

from __future__ import annotations

import dataclasses
import datetime
import random
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final, Literal

import pydantic

from orchestration_operator.api import conditions, durations, validation
from orchestration_operator.api import eventpoll as api
from orchestration_operator.reconcile import cursor, eventpoll, sinkconfig

CONNECTION_RECHECK: Final = 60.0
"""Most seconds between two looks at a Connection that is missing or not Ready (the Connection's topic
wakes the loop as soon as it changes; this is the fallback)."""
EVENT_MESSAGE_LENGTH: Final = 1024

EventType = Literal["Normal", "Warning"]


class Unavailable(Exception):
    """The EventPoll's Connection cannot be used now; ``reason`` is a condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


Connect = Callable[[str], Awaitable[eventpoll.PollSource]]
"""The poll source (the site's shared client) of the named Connection, or :class:`Unavailable`."""
Phase = Callable[[str, float], float]
"""An EventPoll's phase in its interval from its uid and interval (``spread.Spread.phase`` fills the
interval evenly; :func:`hashed_phase` is the uid's hash alone)."""


def hashed_phase(uid: str, interval: float) -> float:
    del interval
    return eventpoll.phase(uid)


@dataclasses.dataclass(frozen=True)
class Event:
    """One Kubernetes Event about the EventPoll (a change of state)."""

    type: EventType
    reason: str
    message: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class Target:
    """What a pass reads of the EventPoll object, snapshotted at its start."""

    namespace: str
    name: str
    uid: str
    generation: int | None
    spec: Mapping[str, Any]
    reset_annotation: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Pass:
    """What one pass decided."""

    status: dict[str, Any]
    """The whole status the EventPoll should have (the model's fields, camelCase; ``null`` removes)."""
    verdict: eventpoll.Verdict
    delay: float | None
    """Seconds until the next pass; None: until the spec or the reset annotation changes."""
    outcome: eventpoll.PollOutcome | None = None
    """The poll cycle, when one ran."""
    events: tuple[Event, ...] = ()
    interval: float | None = None
    """The spec's interval in seconds (when the spec parsed)."""
    waiting_for: str | None = None
    """The Connection this pass waited for (missing or not Ready): wake the loop when it changes."""


def parse_status(raw: Mapping[str, Any] | None) -> api.EventPollStatus:
    """The status as the model reads it. A field that does not validate (a hand edit) is dropped alone,
    so that one bad counter never costs the cursor."""
    raw = dict(raw or {})
    try:
        return api.EventPollStatus.model_validate(raw)
    except pydantic.ValidationError:
        pass
    kept: dict[str, Any] = {}
    for key, value in raw.items():
        try:
            api.EventPollStatus.model_validate({key: value})
        except pydantic.ValidationError:
            continue
        kept[key] = value
    return api.EventPollStatus.model_validate(kept)


def model_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The entries of a raw status that the EventPoll model owns (kopf's ``status.kopf`` excluded)."""
    return {key: value for key, value in raw.items() if key in _OWNED}


_OWNED: Final = frozenset(
    field.alias or name for name, field in api.EventPollStatus.model_fields.items() if name != "kopf"
)


def status_diff(current: Mapping[str, Any], desired: Mapping[str, Any]) -> dict[str, Any]:
    """The merge patch that turns ``current`` into ``desired`` for the fields the model owns."""
    return {
        key: desired.get(key)
        for key in sorted(_OWNED)
        if current.get(key) != desired.get(key) and (key in desired or key in current)
    }


def first_delay(
    target: Target,
    status: api.EventPollStatus,
    *,
    interval: float,
    now: float,
    phase: Phase = hashed_phase,
) -> float:
    """Seconds before a daemon's first pass: none for an EventPoll whose current spec was never handled
    (new, or changed while the operator was away), else its next slot (so that a restarted operator
    does not poll every EventPoll at once)."""
    if status.observed_generation is None or status.observed_generation != target.generation:
        return 0.0
    return eventpoll.delay_to_phase(phase(target.uid, interval), interval, now)


async def run(
    target: Target,
    raw_status: Mapping[str, Any],
    *,
    connect: Connect,
    builder: sinkconfig.SinkBuilder,
    clock: eventpoll.Clock,
    config: cursor.CursorConfig = cursor.DEFAULT_CONFIG,
    rng: Callable[[], float] = random.random,
    phase: Phase = hashed_phase,
) -> Pass:
    """One pass (see the module doc). Failures of the site and of sinks are outcomes, not exceptions."""
    current = model_fields(raw_status)
    previous = parse_status(current)
    generation = target.generation
    now = _moment(clock())
    interval: float | None = None

    def settle(
        verdict: eventpoll.Verdict, delay: float | None, *, waiting_for: str | None = None, **fields: Any
    ) -> Pass:
        new = {
            **current,
            **fields,
            "conditions": [
                c.to_dict() for c in verdict.apply(previous.conditions, now=now, generation=generation)
            ],
        }
        if generation is not None:
            new["observedGeneration"] = generation
        return Pass(
            status=new,
            verdict=verdict,
            delay=delay,
            events=transition_events(previous.conditions, verdict),
            interval=interval,
            waiting_for=waiting_for,
        )

    try:
        spec = validation.parse_spec(api.EventPollSpec, target.spec)
    except validation.InvalidSpecError as error:
        return settle(eventpoll.invalid_spec(error.message), None)
    interval = durations.seconds(spec.interval)

    if spec.suspend:
        return settle(eventpoll.suspended(), None)

    try:
        source = await connect(spec.connection_ref.name)
    except Unavailable as error:
        recheck = min(interval, CONNECTION_RECHECK)
        verdict = eventpoll.waiting_for_connection(error.reason, error.message)
        return settle(verdict, recheck, waiting_for=spec.connection_ref.name)

    try:
        start = eventpoll.starting_state(
            spec, previous, reset_annotation=target.reset_annotation, config=config
        )
    except cursor.CursorError as error:
        return settle(eventpoll.invalid_spec(_reset_problem(target, previous, error)), None)

    owner = sinkconfig.Owner(namespace=target.namespace, name=target.name, uid=target.uid)
    try:
        sinks = await builder.build(spec, owner=owner)
    except sinkconfig.SinkSetupError as error:
        failures = previous.consecutive_failures + 1
        verdict = eventpoll.Verdict(
            kind="stalled" if error.stalled else "reconciling", reason=error.reason, message=error.message
        )
        delay = eventpoll.failure_delay(failures, interval=interval, rng=rng)
        return settle(verdict, delay, consecutiveFailures=failures)

    outcome = await eventpoll.poll_once(
        poll_name=spec.name, state=start.state, source=source, sinks=sinks, clock=clock, config=config
    )
    patch = outcome.status_patch(
        previous,
        sink_names=sinkconfig.sink_names(spec),
        generation=generation,
        cursor_reset=start.reset,
    )
    if outcome.more:
        delay = 0.0
    elif not outcome.committed:
        if outcome.failed_sink is not None:
            builder.forget()  # the sink's Secret may have been fixed meanwhile: read it again next time
        delay = eventpoll.failure_delay(
            patch["consecutiveFailures"], interval=interval, retry_after=outcome.retry_after, rng=rng
        )
    else:
        delay = eventpoll.delay_to_phase(phase(target.uid, interval), interval, clock())
    events = list(transition_events(previous.conditions, outcome.verdict))
    if start.reset is not None and outcome.committed:
        events.append(
            Event("Normal", CURSOR_RESET, _cut(f"reset-cursor {start.reset!r} applied: {_position(outcome)}"))
        )
    return Pass(
        status={**current, **patch},
        verdict=outcome.verdict,
        delay=delay,
        outcome=outcome,
        events=tuple(events),
        interval=interval,
    )


CURSOR_RESET: Final = "CursorReset"
SINK_RECOVERED: Final = "SinkRecovered"
POLL_RECOVERED: Final = "PollRecovered"

# Entering one of these Ready reasons is worth an Event (Warning unless noted).
_ENTERING: Final[Mapping[str, EventType]] = {
    conditions.SINK_FAILING: "Warning",
    conditions.POLL_FAILED: "Warning",
    conditions.INVALID_SPEC: "Warning",
    conditions.SECRET_NOT_FOUND: "Warning",
    conditions.SUSPENDED: "Normal",
}
# Leaving one of these for Polling is a recovery worth an Event.
_RECOVERED: Final[Mapping[str, str]] = {
    conditions.SINK_FAILING: SINK_RECOVERED,
    conditions.POLL_FAILED: POLL_RECOVERED,
}


def transition_events(
    previous: Sequence[conditions.Condition], verdict: eventpoll.Verdict
) -> tuple[Event, ...]:
    """The Events for a change of the Ready reason (none when it stays the same)."""
    before = conditions.find(previous, conditions.READY)
    old = before.reason if before is not None else None
    if old == verdict.reason:
        return ()
    if verdict.reason in _ENTERING:
        return (Event(_ENTERING[verdict.reason], verdict.reason, _cut(verdict.message)),)
    if verdict.reason == conditions.POLLING and old is not None and old in _RECOVERED:
        return (Event("Normal", _RECOVERED[old], _cut(verdict.message)),)
    return ()


def _position(outcome: eventpoll.PollOutcome) -> str:
    state = outcome.state
    if state.value is None:
        return "the cursor is established by the next poll"
    return f"cursor at {state.mode} {state.value}"


def _reset_problem(target: Target, previous: api.EventPollStatus, error: cursor.CursorError) -> str:
    if target.reset_annotation is not None and target.reset_annotation != previous.cursor_reset:
        return f"annotation drupal-orchestration.io/reset-cursor: {error}"
    return f"the cursor cannot be read: {error}"


def _moment(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(int(seconds), tz=datetime.UTC)


def _cut(message: str) -> str:
    return message if len(message) <= EVENT_MESSAGE_LENGTH else message[: EVENT_MESSAGE_LENGTH - 3] + "..."
