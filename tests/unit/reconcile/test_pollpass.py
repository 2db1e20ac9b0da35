"""One EventPoll pass over fakes: which branch applies, exact conditions, delay, Events and status."""

from __future__ import annotations

import dataclasses
import datetime
from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from orchestration_operator import client
from orchestration_operator.api import conditions
from orchestration_operator.reconcile import cursor, eventpoll, pollpass, sinkconfig, sinks
from orchestration_operator.testing.drupal import poll_rules

NOW = 1_750_000_000
UID = "4f1c2a9e-0000-4000-8000-000000000001"
INTERVAL = 30.0
HALF_STEP = 2.5  # failure_delay(1, interval=30) with rng() == 0: half of min(interval, 5 s)
SLOT = 29.050949573516846  # this uid's next slot of a 30 s interval, seen from NOW + 0.25


class Source:
    """The site's poll route over a feed of timestamp items (ascending, inclusive), or failing."""

    def __init__(self, *timestamps: int, error: client.OrchestrationError | None = None) -> None:
        self.feed = poll_rules.PollFeed(variant=poll_rules.Variant(comparison="inclusive", order="ascending"))
        self.feed.add("orders", *(poll_rules.FeedItem(data={"n": ts}, timestamp=ts) for ts in timestamps))
        self.error = error
        self.requests: list[tuple[int | None, str | None]] = []

    async def poll(self, name: str, *, timestamp: int | None = None, id: str | None = None) -> list[Any]:  # noqa: A002
        self.requests.append((timestamp, id))
        if self.error is not None:
            raise self.error
        return [client.PollItem.model_validate(i) for i in self.feed.poll(name, timestamp=timestamp, id=id)]


@dataclasses.dataclass
class Sink:
    name: str
    fail: sinks.SinkError | None = None
    batches: list[list[Any]] = dataclasses.field(default_factory=list)

    async def deliver(self, events: Sequence[cursor.Event]) -> None:
        self.batches.append([e.value for e in events])
        if self.fail is not None:
            raise self.fail


@dataclasses.dataclass
class Builder:
    """Stands in for ``sinkconfig.SinkBuilder``."""

    sinks: tuple[Sink, ...] = ()
    error: sinkconfig.SinkSetupError | None = None
    forgotten: int = 0

    async def build(self, spec: Any, *, owner: sinkconfig.Owner) -> tuple[Sink, ...]:
        assert owner == sinkconfig.Owner(namespace="shop", name="orders-feed", uid=UID)
        if self.error is not None:
            raise self.error
        return self.sinks

    def forget(self) -> None:
        self.forgotten += 1


def spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "connectionRef": {"name": "site"},
        "name": "orders",
        "mode": "timestamp",
        "interval": "30s",
        "sinks": [{"name": "ring", "configMap": {"name": "orders-ring"}}],
    }
    base.update(changes)
    return base


def target(*, generation: int = 2, reset: str | None = None, **spec_changes: Any) -> pollpass.Target:
    return pollpass.Target(
        namespace="shop",
        name="orders-feed",
        uid=UID,
        generation=generation,
        spec=spec(**spec_changes),
        reset_annotation=reset,
    )


def ready(reason: str, *, status: str = "True") -> dict[str, Any]:
    return {
        "type": "Ready",
        "status": status,
        "reason": reason,
        "message": "before",
        "lastTransitionTime": "2025-06-01T00:00:00Z",
        "observedGeneration": 1,
    }


AT_100: Mapping[str, Any] = {
    "cursor": {"timestamp": 100},
    "edgeKeys": ["100:*"],
    "eventsDelivered": 7,
    "observedGeneration": 1,
    "conditions": [ready("Polling")],
    "kopf": {"progress": {}},
}


def connected(source: Source) -> pollpass.Connect:
    async def connect(name: str) -> eventpoll.PollSource:
        assert name == "site"
        return source

    return connect


def unavailable(reason: str, message: str) -> pollpass.Connect:
    async def connect(name: str) -> eventpoll.PollSource:
        raise pollpass.Unavailable(reason, message)

    return connect


def triples(status: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["type"], c["status"], c["reason"]) for c in status["conditions"]]


async def run(
    t: pollpass.Target,
    status: Mapping[str, Any],
    *,
    connect: pollpass.Connect,
    builder: Builder,
    config: cursor.CursorConfig = cursor.DEFAULT_CONFIG,
) -> pollpass.Pass:
    return await pollpass.run(
        t, status, connect=connect, builder=builder, clock=lambda: NOW + 0.25, config=config, rng=lambda: 0.0
    )


FAILING = sinks.SinkError(
    "sink web: receiver http://r:1 answered 503 (attempt 5)", sink="web", reason="HTTPStatus", permanent=False
)
REFUSING = sinks.SinkError(
    "sink web: receiver http://r:1 answered 404 (attempt 1)", sink="web", reason="HTTPStatus", permanent=True
)


@pytest.mark.parametrize(
    ("t", "status", "source", "builder", "expect"),
    [
        pytest.param(
            target(sinks=[]),
            AT_100,
            Source(101),
            Builder(),
            {
                "conditions": [("Ready", "False", "InvalidSpec"), ("Stalled", "True", "InvalidSpec")],
                "message": "spec.sinks: List should have at least 1 item after validation, not 0",
                "delay": None,
                "events": [("Warning", "InvalidSpec")],
                "polls": 0,
            },
            id="invalid spec: stalled, waits for a change",
        ),
        pytest.param(
            target(suspend=True),
            AT_100,
            Source(101),
            Builder((Sink("ring"),)),
            {
                "conditions": [("Ready", "True", "Suspended")],
                "message": "spec.suspend is true: not polling",
                "delay": None,
                "events": [("Normal", "Suspended")],
                "polls": 0,
            },
            id="suspended: no poll, waits for a change",
        ),
        pytest.param(
            target(),
            AT_100,
            None,
            Builder((Sink("ring"),)),
            {
                "conditions": [
                    ("Ready", "False", "ConnectionNotFound"),
                    ("Reconciling", "True", "ConnectionNotFound"),
                ],
                "message": 'OrchestrationConnection "site" not found in namespace "shop"',
                "delay": 30.0,
                "events": [],
                "polls": 0,
            },
            id="connection missing: its topic wakes the loop, else look again after the interval",
        ),
        pytest.param(
            target(interval="2s"),
            AT_100,
            None,
            Builder((Sink("ring"),)),
            {
                "conditions": [
                    ("Ready", "False", "ConnectionNotFound"),
                    ("Reconciling", "True", "ConnectionNotFound"),
                ],
                "message": 'OrchestrationConnection "site" not found in namespace "shop"',
                "delay": 2.0,
                "events": [],
                "polls": 0,
            },
            id="connection missing, short interval",
        ),
        pytest.param(
            target(reset="yesterday"),
            AT_100,
            Source(101),
            Builder((Sink("ring"),)),
            {
                "conditions": [("Ready", "False", "InvalidSpec"), ("Stalled", "True", "InvalidSpec")],
                "message": "annotation drupal-orchestration.io/reset-cursor: a timestamp cursor must be a "
                "whole number of seconds >= 0, not 'yesterday'",
                "delay": None,
                "events": [("Warning", "InvalidSpec")],
                "polls": 0,
            },
            id="invalid reset annotation",
        ),
        pytest.param(
            target(),
            AT_100,
            Source(101),
            Builder(error=sinkconfig.SinkSetupError("SecretNotFound", 'sink web: Secret "hook" not found')),
            {
                "conditions": [("Ready", "False", "SecretNotFound"), ("Stalled", "True", "SecretNotFound")],
                "message": 'sink web: Secret "hook" not found',
                "delay": HALF_STEP,
                "events": [("Warning", "SecretNotFound")],
                "polls": 0,
                "consecutiveFailures": 1,
            },
            id="sink Secret missing: stalled, retried with backoff",
        ),
        pytest.param(
            target(),
            AT_100,
            Source(101),
            Builder(
                error=sinkconfig.SinkSetupError("SinkFailing", "sink web: reading failed", stalled=False)
            ),
            {
                "conditions": [("Ready", "False", "SinkFailing"), ("Reconciling", "True", "SinkFailing")],
                "message": "sink web: reading failed",
                "delay": HALF_STEP,
                "events": [("Warning", "SinkFailing")],
                "polls": 0,
                "consecutiveFailures": 1,
            },
            id="sink Secret unreadable: reconciling",
        ),
        pytest.param(
            target(),
            AT_100,
            Source(100, 101, 102),
            Builder((Sink("ring"),)),
            {
                "conditions": [("Ready", "True", "Polling")],
                "message": "delivered 2 event(s); cursor at timestamp 102",
                "delay": SLOT,
                "events": [],
                "polls": 1,
                "cursor": {"timestamp": 102},
                "eventsDelivered": 9,
            },
            id="delivered: next slot",
        ),
        pytest.param(
            target(),
            AT_100,
            Source(error=client.ServerError("the site answered 503", status=503)),
            Builder((Sink("ring"),)),
            {
                "conditions": [("Ready", "False", "PollFailed"), ("Reconciling", "True", "PollFailed")],
                "message": "polling 'orders' failed (ServerError): the site answered 503; the cursor is "
                "unchanged",
                "delay": HALF_STEP,
                "events": [("Warning", "PollFailed")],
                "polls": 1,
                "cursor": {"timestamp": 100},
                "consecutiveFailures": 1,
            },
            id="poll failed: backoff",
        ),
        pytest.param(
            target(),
            AT_100,
            Source(101),
            Builder((Sink("ring"), Sink("web", fail=FAILING))),
            {
                "conditions": [("Ready", "False", "SinkFailing"), ("Reconciling", "True", "SinkFailing")],
                "message": "sink web: receiver http://r:1 answered 503 (attempt 5); the cursor is held at "
                "timestamp 100; 1 event(s) wait",
                "delay": HALF_STEP,
                "events": [("Warning", "SinkFailing")],
                "polls": 1,
                "cursor": {"timestamp": 100},
                "eventsDelivered": 7,
                "consecutiveFailures": 1,
                "forgotten": 1,
            },
            id="sink failing: cursor held, backoff",
        ),
        pytest.param(
            target(),
            AT_100,
            Source(101),
            Builder((Sink("web", fail=REFUSING),)),
            {
                "conditions": [("Ready", "False", "SinkFailing"), ("Stalled", "True", "SinkFailing")],
                "message": "sink web: receiver http://r:1 answered 404 (attempt 1); the cursor is held at "
                "timestamp 100; 1 event(s) wait",
                "delay": HALF_STEP,
                "events": [("Warning", "SinkFailing")],
                "polls": 1,
                "cursor": {"timestamp": 100},
                "consecutiveFailures": 1,
                "forgotten": 1,
            },
            id="sink refusing: stalled, still retried",
        ),
        pytest.param(
            target(),
            {**AT_100, "conditions": [ready("SinkFailing", status="False")], "consecutiveFailures": 4},
            Source(101),
            Builder((Sink("ring"),)),
            {
                "conditions": [("Ready", "True", "Polling")],
                "message": "delivered 1 event(s); cursor at timestamp 101",
                "delay": SLOT,
                "events": [("Normal", "SinkRecovered")],
                "polls": 1,
                "cursor": {"timestamp": 101},
                "consecutiveFailures": 0,
            },
            id="sink recovered",
        ),
        pytest.param(
            target(),
            {**AT_100, "conditions": [ready("SinkFailing", status="False")], "consecutiveFailures": 4},
            Source(101),
            Builder((Sink("web", fail=FAILING),)),
            {
                "conditions": [("Ready", "False", "SinkFailing"), ("Reconciling", "True", "SinkFailing")],
                "message": "sink web: receiver http://r:1 answered 503 (attempt 5); the cursor is held at "
                "timestamp 100; 1 event(s) wait",
                "delay": 40.0,  # 5 s doubled 4 times, halved by the jitter
                "events": [],
                "polls": 1,
                "consecutiveFailures": 5,
                "forgotten": 1,
            },
            id="sink still failing: no new Event, longer backoff",
        ),
        pytest.param(
            target(reset="150"),
            AT_100,
            Source(100, 150, 151),
            Builder((Sink("ring"),)),
            {
                "conditions": [("Ready", "True", "Polling")],
                "message": "delivered 1 event(s); cursor at timestamp 151",
                "delay": SLOT,
                "events": [("Normal", "CursorReset")],
                "polls": 1,
                "cursor": {"timestamp": 151},
                "cursorReset": "150",
            },
            id="reset to a value",
        ),
        pytest.param(
            target(reset="150"),
            {**AT_100, "cursorReset": "150"},
            Source(100, 150, 151),
            Builder((Sink("ring"),)),
            {
                "conditions": [("Ready", "True", "Polling")],
                "message": "delivered 2 event(s); cursor at timestamp 151",
                "delay": SLOT,
                "events": [],
                "polls": 1,
                "cursor": {"timestamp": 151},
                "cursorReset": "150",
            },
            id="reset already applied: ignored",
        ),
        pytest.param(
            target(reset="150"),
            AT_100,
            Source(151),
            Builder((Sink("web", fail=FAILING),)),
            {
                "conditions": [("Ready", "False", "SinkFailing"), ("Reconciling", "True", "SinkFailing")],
                "message": "sink web: receiver http://r:1 answered 503 (attempt 5); the cursor is held at "
                "timestamp 150; 1 event(s) wait",
                "delay": HALF_STEP,
                "events": [("Warning", "SinkFailing")],
                "polls": 1,
                "cursor": {"timestamp": 100},
                "cursorReset": None,
                "forgotten": 1,
            },
            id="reset not committed: asked again next pass",
        ),
        pytest.param(
            target(reset="now 2nd try"),
            {**AT_100, "cursorReset": "now"},
            Source(100, NOW - 20, NOW - 3),
            Builder((Sink("ring"),)),
            {
                "conditions": [("Ready", "True", "Polling")],
                "message": f"cursor established at timestamp {NOW - 3}; events from now on will be delivered",
                "delay": SLOT,
                "events": [("Normal", "CursorReset")],
                "polls": 1,
                "cursor": {"timestamp": NOW - 3},
                "cursorReset": "now 2nd try",
                "eventsDelivered": 7,
            },
            id="reset to now: primes, delivers nothing",
        ),
    ],
)
async def test_pass(
    t: pollpass.Target,
    status: Mapping[str, Any],
    source: Source | None,
    builder: Builder,
    expect: dict[str, Any],
) -> None:
    connect = (
        connected(source)
        if source is not None
        else unavailable("ConnectionNotFound", 'OrchestrationConnection "site" not found in namespace "shop"')
    )
    done = await run(t, status, connect=connect, builder=builder)
    assert sorted(triples(done.status)) == sorted(expect["conditions"])
    assert {c["message"] for c in done.status["conditions"]} == {expect["message"]}
    assert {c["observedGeneration"] for c in done.status["conditions"]} == {2}
    assert done.status["observedGeneration"] == 2
    assert done.delay == (pytest.approx(expect["delay"]) if expect["delay"] is not None else None)
    assert [(e.type, e.reason) for e in done.events] == expect["events"]
    assert len(source.requests if source is not None else []) == expect["polls"]
    assert "kopf" not in done.status  # kopf's own storage is never part of what a pass writes
    for key in ("cursor", "eventsDelivered", "consecutiveFailures", "cursorReset"):
        if key in expect:
            assert done.status.get(key) == expect[key], key
    assert builder.forgotten == expect.get("forgotten", 0)
    assert done.waiting_for == ("site" if source is None else None)


def test_the_slot_in_the_table_is_the_uid_phase() -> None:
    assert eventpoll.phase(UID) * INTERVAL == pytest.approx((NOW + 0.25 + SLOT) % INTERVAL)


async def test_a_cut_batch_polls_again_at_once() -> None:
    source = Source(101, 102, 103)
    done = await run(
        target(),
        AT_100,
        connect=connected(source),
        builder=Builder((Sink("ring"),)),
        config=cursor.CursorConfig(max_batch=2),
    )
    assert (done.delay, done.status["cursor"], done.outcome and done.outcome.more) == (
        0.0,
        {"timestamp": 102},
        True,
    )


async def test_a_new_eventpoll_starts_without_status() -> None:
    source = Source(NOW - 10, NOW - 3)
    ring = Sink("ring")
    done = await run(target(), {}, connect=connected(source), builder=Builder((ring,)))
    assert done.status["cursor"] == {"timestamp": NOW - 3}
    assert ring.batches == []  # start "now": the priming poll delivers nothing
    assert triples(done.status) == [("Ready", "True", "Polling")]
    assert done.events == ()


async def test_a_pass_keeps_fields_it_does_not_own_out_and_its_own_in() -> None:
    status = {**AT_100, "lagSeconds": 5, "unknownField": 1}
    done = await run(target(suspend=True), status, connect=connected(Source()), builder=Builder())
    assert done.status["lagSeconds"] == 5
    assert "unknownField" not in done.status


@pytest.mark.parametrize(
    ("raw", "cursor_", "events_delivered"),
    [
        ({"cursor": {"timestamp": 5}, "eventsDelivered": 3}, {"timestamp": 5}, 3),
        ({"cursor": {"timestamp": 5}, "eventsDelivered": -3}, {"timestamp": 5}, 0),
        ({"cursor": {"timestamp": 5}, "conditions": "garbage", "polls": "x"}, {"timestamp": 5}, 0),
        ({}, None, 0),
    ],
)
def test_parse_status_drops_only_the_bad_fields(
    raw: dict[str, Any], cursor_: dict[str, Any] | None, events_delivered: int
) -> None:
    parsed = pollpass.parse_status(raw)
    assert (parsed.cursor.to_dict() if parsed.cursor else None) == cursor_
    assert parsed.events_delivered == events_delivered


@pytest.mark.parametrize(
    ("current", "desired", "patch"),
    [
        ({"cursor": {"timestamp": 1}}, {"cursor": {"timestamp": 1}}, {}),
        ({"cursor": {"timestamp": 1}}, {"cursor": {"timestamp": 2}}, {"cursor": {"timestamp": 2}}),
        ({"cursor": {"timestamp": 1}}, {"cursor": None}, {"cursor": None}),
        ({"cursor": {"timestamp": 1}}, {}, {"cursor": None}),
        ({}, {"cursor": None, "edgeKeys": []}, {"edgeKeys": []}),
        ({"kopf": {"a": 1}}, {"kopf": {"a": 2}}, {}),
        ({"polls": 1, "lastPollTime": "t1"}, {"polls": 2, "lastPollTime": "t1"}, {"polls": 2}),
    ],
)
def test_status_diff(current: dict[str, Any], desired: dict[str, Any], patch: dict[str, Any]) -> None:
    assert pollpass.status_diff(current, desired) == patch


@pytest.mark.parametrize(
    ("observed", "generation", "expected"),
    [
        (None, 1, 0.0),  # never handled: at once
        (1, 2, 0.0),  # the spec changed while the operator was away: at once
        (2, 2, SLOT + 0.25),  # handled before: the next slot
    ],
)
def test_first_delay(observed: int | None, generation: int, expected: float) -> None:
    status = pollpass.parse_status({"observedGeneration": observed} if observed is not None else {})
    delay = pollpass.first_delay(target(generation=generation), status, interval=INTERVAL, now=NOW)
    assert delay == pytest.approx(expected)


def test_transition_events_only_on_a_change_of_reason() -> None:
    now = datetime.datetime.fromtimestamp(NOW, tz=datetime.UTC)
    failing = eventpoll.Verdict(kind="reconciling", reason=conditions.SINK_FAILING, message="m")
    before = failing.apply([], now=now)
    assert pollpass.transition_events(before, failing) == ()
    polling = eventpoll.Verdict(kind="ready", reason=conditions.POLLING, message="ok")
    assert pollpass.transition_events(before, polling) == (pollpass.Event("Normal", "SinkRecovered", "ok"),)
    assert pollpass.transition_events([], polling) == ()
