"""One EventPoll cycle over fakes: outcomes, exact conditions, the status patch, and scheduling."""

from __future__ import annotations

import collections
import dataclasses
import datetime
import random
import uuid
from collections.abc import Sequence
from typing import Any

import pytest

from orchestration_operator import client
from orchestration_operator.api import conditions
from orchestration_operator.api import eventpoll as api
from orchestration_operator.reconcile import cursor, eventpoll, sinks
from orchestration_operator.testing.drupal import poll_rules

NAME = "orders"
NOW = 1_750_000_000
NOW_DT = datetime.datetime.fromtimestamp(NOW, tz=datetime.UTC)


class Source:
    """The site's poll route over a simulated feed, or failing with ``error``."""

    def __init__(self, *items: poll_rules.FeedItem, error: client.OrchestrationError | None = None) -> None:
        self.feed = poll_rules.PollFeed(
            variant=poll_rules.Variant(comparison="inclusive", order="descending")
        )
        self.feed.add(NAME, *items)
        self.error = error
        self.requests: list[tuple[str, int | None, str | None]] = []

    async def poll(
        self,
        name: str,
        *,
        timestamp: int | None = None,
        id: str | None = None,  # noqa: A002
    ) -> list[client.PollItem]:
        self.requests.append((name, timestamp, id))
        if self.error is not None:
            raise self.error
        return [
            client.PollItem.model_validate(item) for item in self.feed.poll(name, timestamp=timestamp, id=id)
        ]


@dataclasses.dataclass
class Sink:
    name: str
    fail: sinks.SinkError | None = None
    batches: list[list[str]] = dataclasses.field(default_factory=list)

    async def deliver(self, events: Sequence[cursor.Event]) -> None:
        self.batches.append([e.id for e in events])
        if self.fail is not None:
            raise self.fail


def item(ts: int, data: Any = None) -> poll_rules.FeedItem:
    return poll_rules.FeedItem(data=data, timestamp=ts)


def failing(name: str, *, permanent: bool) -> Sink:
    reason = "HTTPStatus"
    message = f"sink {name}: receiver https://r.example answered {404 if permanent else 503} (attempt 5)"
    return Sink(name, fail=sinks.SinkError(message, sink=name, reason=reason, permanent=permanent))


BEGIN = cursor.initial_state("timestamp", cursor.BEGINNING)
AT_100 = cursor.initial_state("timestamp", cursor.StartFrom("cursor", 100))
UNPRIMED = cursor.CursorState(mode="timestamp")


@pytest.mark.parametrize(
    ("state", "source", "sink_list", "committed", "conditions_", "message", "delivered_to"),
    [
        pytest.param(
            UNPRIMED,
            Source(item(NOW - 5, "history")),
            [Sink("a")],
            True,
            [("Ready", "True", "Polling")],
            f"cursor established at timestamp {NOW - 5}; events from now on will be delivered",
            {"a": 0},
            id="priming",
        ),
        pytest.param(
            AT_100,
            Source(item(100, "old"), item(101, "x"), item(102, "y")),
            [Sink("a"), Sink("b")],
            True,
            [("Ready", "True", "Polling")],
            "delivered 2 event(s); cursor at timestamp 102",
            {"a": 1, "b": 1},
            id="delivered",
        ),
        pytest.param(
            AT_100,
            Source(item(100, "old")),
            [Sink("a")],
            True,
            [("Ready", "True", "Polling")],
            "no new events; cursor at timestamp 100",
            {"a": 0},
            id="nothing new",
        ),
        pytest.param(
            AT_100,
            Source(error=client.ServerError("the site answered 503", status=503)),
            [Sink("a")],
            False,
            [("Reconciling", "True", "PollFailed"), ("Ready", "False", "PollFailed")],
            "polling 'orders' failed (ServerError): the site answered 503; the cursor is unchanged",
            {"a": 0},
            id="poll failed",
        ),
        pytest.param(
            AT_100,
            Source(item(101, "x")),
            [failing("a", permanent=False), Sink("b")],
            False,
            [("Reconciling", "True", "SinkFailing"), ("Ready", "False", "SinkFailing")],
            "sink a: receiver https://r.example answered 503 (attempt 5); the cursor is held at "
            "timestamp 100; 1 event(s) wait",
            {"a": 1, "b": 0},
            id="sink failing",
        ),
        pytest.param(
            AT_100,
            Source(item(101, "x")),
            [Sink("a"), failing("b", permanent=True)],
            False,
            [("Stalled", "True", "SinkFailing"), ("Ready", "False", "SinkFailing")],
            "sink b: receiver https://r.example answered 404 (attempt 5); the cursor is held at "
            "timestamp 100; 1 event(s) wait",
            {"a": 1, "b": 1},
            id="sink refusing",
        ),
    ],
)
async def test_poll_once(
    state: cursor.CursorState,
    source: Source,
    sink_list: list[Sink],
    committed: bool,
    conditions_: list[tuple[str, str, str]],
    message: str,
    delivered_to: dict[str, int],
) -> None:
    outcome = await eventpoll.poll_once(
        poll_name=NAME, state=state, source=source, sinks=sink_list, clock=lambda: NOW + 0.7
    )
    assert outcome.committed is committed
    applied = outcome.verdict.apply([], now=NOW_DT, generation=3)
    assert [(c.type, c.status, c.reason) for c in applied] == conditions_
    assert {c.message for c in applied} == {message}
    assert {c.observed_generation for c in applied} == {3}
    assert {s.name: len(s.batches) for s in sink_list} == delivered_to
    assert outcome.poll_time == NOW_DT.replace(microsecond=700000)
    assert outcome.state == (outcome.absorbed.state if committed and outcome.absorbed else state)
    assert len(source.requests) == 1


async def test_a_failing_sink_holds_the_cursor_and_the_retry_carries_the_same_ids() -> None:
    source = Source(item(101, "x"), item(101, "y"), item(102, "z"))
    web = failing("web", permanent=False)
    ring = Sink("ring")
    first = await eventpoll.poll_once(
        poll_name=NAME, state=AT_100, source=source, sinks=[ring, web], clock=lambda: NOW
    )
    assert (first.committed, first.accepted_by, first.failed_sink) == (False, ("ring",), "web")
    web.fail = None
    second = await eventpoll.poll_once(
        poll_name=NAME, state=first.state, source=source, sinks=[ring, web], clock=lambda: NOW
    )
    assert second.committed
    assert web.batches[0] == web.batches[1] == ring.batches[0] == ring.batches[1]
    assert [e.data for e in second.events] == [
        "y",
        "x",
        "z",
    ]  # ascending; ties in the site's (descending) order
    third = await eventpoll.poll_once(
        poll_name=NAME, state=second.state, source=source, sinks=[ring, web], clock=lambda: NOW
    )
    assert (third.committed, third.events, len(web.batches)) == (True, (), 2)


def previous_status(**fields: Any) -> api.EventPollStatus:
    return api.EventPollStatus.model_validate(
        {
            "cursor": {"timestamp": 100},
            "edgeKeys": ["100:*"],
            "eventsDelivered": 40,
            "duplicatesSkipped": 3,
            "polls": 9,
            "consecutiveFailures": 2,
            "lastEventTime": "2025-06-15T15:00:00Z",
            "sinks": [
                {"name": "a", "eventsDelivered": 40, "consecutiveFailures": 2, "lastError": "boom"},
                {"name": "gone", "eventsDelivered": 1},
            ],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "False",
                    "reason": "SinkFailing",
                    "message": "boom",
                    "lastTransitionTime": "2025-06-15T14:00:00Z",
                },
                {
                    "type": "Reconciling",
                    "status": "True",
                    "reason": "SinkFailing",
                    "message": "boom",
                    "lastTransitionTime": "2025-06-15T14:00:00Z",
                },
            ],
            **fields,
        }
    )


async def test_status_patch_after_success() -> None:
    source = Source(item(100, "old"), item(NOW - 30, "x"), item(NOW - 20, "y"))
    outcome = await eventpoll.poll_once(
        poll_name=NAME, state=AT_100, source=source, sinks=[Sink("a"), Sink("b")], clock=lambda: NOW
    )
    patch = outcome.status_patch(previous_status(), sink_names=["a", "b"], generation=4, cursor_reset="r1")
    edge = outcome.state.to_status()["edgeKeys"]
    assert patch == {
        "lastPollTime": "2025-06-15T15:06:40Z",
        "cursor": {"timestamp": NOW - 20},
        "edgeKeys": edge,
        "cursorReset": "r1",
        "lastSuccessTime": "2025-06-15T15:06:40Z",
        "lastBatchSize": 2,
        "eventsDelivered": 42,
        "consecutiveFailures": 0,
        "lastEventTime": "2025-06-15T15:06:20Z",
        "lagSeconds": 20,
        "polls": 10,
        "duplicatesSkipped": 4,
        "sinks": [
            {
                "name": "a",
                "eventsDelivered": 42,
                "lastDeliveryTime": "2025-06-15T15:06:40Z",
                "consecutiveFailures": 0,
            },
            {
                "name": "b",
                "eventsDelivered": 2,
                "lastDeliveryTime": "2025-06-15T15:06:40Z",
                "consecutiveFailures": 0,
            },
        ],
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Polling",
                "message": f"delivered 2 event(s); cursor at timestamp {NOW - 20}",
                "lastTransitionTime": "2025-06-15T15:06:40Z",
                "observedGeneration": 4,
            }
        ],
        "observedGeneration": 4,
    }
    assert len(edge) == 1
    api.EventPollStatus.model_validate({**previous_status().to_dict(), **patch})  # the patch fits the model


async def test_status_patch_after_a_failed_poll_keeps_the_cursor() -> None:
    outcome = await eventpoll.poll_once(
        poll_name=NAME,
        state=AT_100,
        source=Source(
            error=client.Timeout("the site did not answer within 10s", may_have_reached_server=True)
        ),
        sinks=[Sink("a")],
        clock=lambda: NOW,
    )
    patch = outcome.status_patch(previous_status(), sink_names=["a"])
    assert patch == {
        "lastPollTime": "2025-06-15T15:06:40Z",
        "consecutiveFailures": 3,
        "sinks": [{"name": "a", "eventsDelivered": 40, "consecutiveFailures": 2, "lastError": "boom"}],
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "PollFailed",
                "message": "polling 'orders' failed (Timeout): the site did not answer within 10s; the "
                "cursor is unchanged",
                "lastTransitionTime": "2025-06-15T14:00:00Z",
            },
            {
                "type": "Reconciling",
                "status": "True",
                "reason": "PollFailed",
                "message": "polling 'orders' failed (Timeout): the site did not answer within 10s; the "
                "cursor is unchanged",
                "lastTransitionTime": "2025-06-15T14:00:00Z",
            },
        ],
    }


async def test_status_patch_after_a_sink_failure() -> None:
    outcome = await eventpoll.poll_once(
        poll_name=NAME,
        state=AT_100,
        source=Source(item(101, "x")),
        sinks=[Sink("a"), failing("b", permanent=True)],
        clock=lambda: NOW,
    )
    patch = outcome.status_patch(previous_status(), sink_names=["a", "b"])
    assert "cursor" not in patch
    assert "edgeKeys" not in patch
    assert (patch["consecutiveFailures"], patch["polls"]) == (3, 10)
    assert patch["sinks"] == [
        {
            "name": "a",
            "eventsDelivered": 41,
            "lastDeliveryTime": "2025-06-15T15:06:40Z",
            "consecutiveFailures": 0,
        },
        {
            "name": "b",
            "eventsDelivered": 0,
            "consecutiveFailures": 1,
            "lastError": "sink b: receiver https://r.example answered 404 (attempt 5)",
        },
    ]
    assert [(c["type"], c["status"], c["reason"]) for c in patch["conditions"]] == [
        ("Ready", "False", "SinkFailing"),
        ("Stalled", "True", "SinkFailing"),
    ]


async def test_id_mode_last_event_time_is_the_delivery_time_and_no_lag() -> None:
    source = Source(poll_rules.FeedItem(id="7", data=1))
    state = cursor.initial_state("id", cursor.BEGINNING)
    outcome = await eventpoll.poll_once(
        poll_name=NAME, state=state, source=source, sinks=[Sink("a")], clock=lambda: NOW
    )
    patch = outcome.status_patch(api.EventPollStatus(), sink_names=["a"])
    assert (patch["cursor"], patch["lastEventTime"], "lagSeconds" in patch) == (
        {"id": "7"},
        "2025-06-15T15:06:40Z",
        False,
    )
    assert source.requests == [(NAME, None, "0")]


@pytest.mark.parametrize(
    ("verdict", "expected"),
    [
        (
            eventpoll.invalid_spec("bad"),
            [("Stalled", "True", "InvalidSpec"), ("Ready", "False", "InvalidSpec")],
        ),
        (
            eventpoll.waiting_for_connection(conditions.CONNECTION_NOT_READY, "waiting"),
            [("Reconciling", "True", "ConnectionNotReady"), ("Ready", "False", "ConnectionNotReady")],
        ),
        (eventpoll.suspended(), [("Ready", "True", "Suspended")]),
    ],
)
def test_other_verdicts(verdict: eventpoll.Verdict, expected: list[tuple[str, str, str]]) -> None:
    assert [(c.type, c.status, c.reason) for c in verdict.apply([], now=NOW_DT)] == expected


def test_hints() -> None:
    absorbed = cursor.Absorbed(events=(), state=AT_100, closed=(100,), ignored=2, deferred=1)
    outcome = eventpoll.PollOutcome(
        state=AT_100, committed=True, verdict=eventpoll.suspended(), poll_time=NOW_DT, absorbed=absorbed
    )
    assert outcome.hints == (
        "more items share the cursor's edge than the edge memory holds; closed 100: later arrivals with "
        "these values will not be delivered (raise the edge capacity)",
        "2 item(s) without a usable timestamp: is spec.mode right for this poll?",
        "1 item(s) far in the future deferred: is the site's clock right?",
    )


# --- scheduling ------------------------------------------------------------------------------------------


UIDS = [str(uuid.UUID(int=random.Random(7).getrandbits(128) ^ n)) for n in range(1000)]


@pytest.mark.parametrize("interval", [30.0, 60.0])
def test_first_polls_spread_over_the_interval(interval: float) -> None:
    per_second = collections.Counter(int(eventpoll.first_delay(uid, interval)) for uid in UIDS)
    mean = len(UIDS) / interval
    assert set(per_second) <= set(range(int(interval)))
    assert max(per_second.values()) <= 2 * mean
    assert len(per_second) == int(interval)  # no empty second either


@pytest.mark.parametrize("now", [NOW + 0.0, NOW + 12.345, NOW + 86_399.9])
def test_next_polls_keep_the_spread_whenever_asked(now: float) -> None:
    interval = 30.0
    delays = [eventpoll.next_delay(uid, interval, now) for uid in UIDS]
    assert all(0 < d <= interval for d in delays)
    per_second = collections.Counter(int(now + d) for d in delays)
    assert max(per_second.values()) <= 2 * len(UIDS) / interval
    # A poll that fires at its slot is next due exactly one interval later.
    uid = UIDS[0]
    fired = now + eventpoll.next_delay(uid, interval, now)
    assert eventpoll.next_delay(uid, interval, fired) == pytest.approx(interval)
    assert eventpoll.first_delay(uid, interval) == pytest.approx(fired % interval)


@pytest.mark.parametrize(
    ("failures", "interval", "rng", "retry_after", "expected"),
    [
        (1, 30.0, 1.0, None, 5.0),
        (2, 30.0, 1.0, None, 10.0),
        (7, 30.0, 1.0, None, 300.0),
        (50, 30.0, 0.0, None, 150.0),
        (1, 2.0, 1.0, None, 2.0),
        (1, 0.5, 1.0, None, 1.0),
        (20, 3600.0, 1.0, None, 3600.0),
        (1, 30.0, 0.0, 42.0, 42.0),
    ],
)
def test_failure_delay(
    failures: int, interval: float, rng: float, retry_after: float | None, expected: float
) -> None:
    assert (
        eventpoll.failure_delay(failures, interval=interval, retry_after=retry_after, rng=lambda: rng)
        == expected
    )


# --- starting state --------------------------------------------------------------------------------------


def spec(mode: str = "timestamp", **start: Any) -> api.EventPollSpec:
    return api.EventPollSpec.model_validate(
        {
            "connectionRef": {"name": "site"},
            "name": NAME,
            "mode": mode,
            "sinks": [{"name": "ring", "configMap": {"name": "events"}}],
            **({"startFrom": start} if start else {}),
        }
    )


@pytest.mark.parametrize(
    ("spec_", "expected"),
    [
        (spec(), cursor.NOW),
        (spec(position="beginning"), cursor.BEGINNING),
        (spec(timestamp=1_700_000_000), cursor.StartFrom("cursor", 1_700_000_000)),
        (spec("id", id="42"), cursor.StartFrom("cursor", "42")),
    ],
)
def test_start_from_spec(spec_: api.EventPollSpec, expected: cursor.StartFrom) -> None:
    assert eventpoll.start_from(spec_) == expected


@pytest.mark.parametrize(
    ("status", "annotation", "expected_status", "reset"),
    [
        ({}, None, {"cursor": None, "edgeKeys": []}, None),
        (
            {"cursor": {"timestamp": 5}, "edgeKeys": ["5:*"]},
            None,
            {"cursor": {"timestamp": 5}, "edgeKeys": ["5:*"]},
            None,
        ),
        ({"cursor": {"timestamp": 5}}, "now", {"cursor": None, "edgeKeys": []}, "now"),
        (
            {"cursor": {"timestamp": 5}, "cursorReset": "now"},
            "now",
            {"cursor": {"timestamp": 5}, "edgeKeys": []},
            None,
        ),
        (
            {"cursor": {"timestamp": 5}, "cursorReset": "now"},
            "now again",
            {"cursor": None, "edgeKeys": []},
            "now again",
        ),
        (
            {"cursor": {"timestamp": 5}},
            " 1700000000 ",
            {"cursor": {"timestamp": 1_700_000_000}, "edgeKeys": ["1700000000:*"]},
            " 1700000000 ",
        ),
        (
            {"cursor": {"timestamp": 5}},
            "beginning",
            {"cursor": {"timestamp": 0}, "edgeKeys": ["0:*"]},
            "beginning",
        ),
    ],
)
def test_starting_state(
    status: dict[str, Any], annotation: str | None, expected_status: dict[str, Any], reset: str | None
) -> None:
    start = eventpoll.starting_state(
        spec(), api.EventPollStatus.model_validate(status), reset_annotation=annotation
    )
    assert (start.state.to_status(), start.reset) == (expected_status, reset)


@pytest.mark.parametrize(
    ("mode", "annotation"), [("timestamp", "yesterday"), ("timestamp", "  "), ("timestamp", "-3")]
)
def test_an_invalid_reset_annotation_is_refused(mode: str, annotation: str) -> None:
    with pytest.raises(cursor.CursorError):
        eventpoll.starting_state(spec(mode), api.EventPollStatus(), reset_annotation=annotation)


async def test_a_reset_is_recorded_once_the_cycle_commits() -> None:
    start = eventpoll.starting_state(spec(), api.EventPollStatus(), reset_annotation="100")
    outcome = await eventpoll.poll_once(
        poll_name=NAME, state=start.state, source=Source(item(101, "x")), sinks=[Sink("a")], clock=lambda: NOW
    )
    patch = outcome.status_patch(api.EventPollStatus(), sink_names=["a"], cursor_reset=start.reset)
    assert (patch["cursor"], patch["cursorReset"]) == ({"timestamp": 101}, "100")
