"""Property tests of the EventPoll cursor against simulated sites of every variant.

A scenario is drawn step by step: items appear over time (late arrivals in the window included), the
operator polls a site (``testing.drupal.poll_rules``: strict / inclusive / everything, insertion /
ascending / descending / shuffled), sometimes crashes after delivering and before committing, and always
restarts from the status dict it committed (JSON round trip). At the end it polls until drained.

The sinks are modelled by the list of batches: a de-duplicating sink keeps the first event of each id, a
raw sink keeps everything.
"""

from __future__ import annotations

import collections
import json
import random
from typing import Any

import hypothesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestration_operator.reconcile import cursor
from orchestration_operator.testing.drupal import poll_rules

NAME = "orders"
CLOCK0 = 1_750_000_000


def _key(mode: cursor.Mode, value: cursor.Value, data: Any) -> tuple[Any, ...]:
    return (value, cursor.canonical_json(data)) if mode == cursor.TIMESTAMP else (value,)


class Scenario:
    """One simulated EventPoll against one simulated site."""

    def __init__(self, data: st.DataObject, *, small_edge: bool) -> None:
        draw = data.draw
        self.draw = draw
        self.mode: cursor.Mode = draw(st.sampled_from(cursor.MODES), label="mode")
        self.numeric = draw(st.booleans(), label="numeric ids")
        variant = poll_rules.Variant(
            comparison=draw(st.sampled_from(poll_rules.COMPARISONS), label="comparison"),
            order=draw(st.sampled_from(poll_rules.ORDERS), label="order"),
        )
        self.feed = poll_rules.PollFeed(variant=variant, seed=draw(st.integers(0, 2**32), label="seed"))
        window = draw(st.integers(1, 3), label="window") if self.mode == cursor.TIMESTAMP else 1
        capacity = draw(st.integers(window, window + 2), label="capacity") if small_edge else 256
        self.config = cursor.CursorConfig(
            window_seconds=window,
            edge_capacity=capacity,
            max_batch=draw(st.sampled_from([1, 2, 3, 1000]), label="max batch"),
        )
        self.clock = CLOCK0
        self.next_numeric = draw(st.sampled_from([1, 8, 98, 9_999]), label="first id")
        # Values and items of the site, what counts as expected, and the late-arrival bound.
        self.items: list[poll_rules.FeedItem] = []
        self.expected: list[tuple[Any, ...]] = []  # keys of items that must be delivered exactly once
        self.optional: list[tuple[Any, ...]] = []  # late arrivals into a closed value (small edge only)
        self.seen_max: cursor.Value | None = None  # newest value existing at any poll so far
        self.floor: cursor.Value | None = None  # items must be at or above this (exclusive for ids)

        kind = draw(st.sampled_from(["now", "beginning", "cursor"]), label="start")
        self.history_counts = kind == "beginning"
        self.start = cursor.NOW if kind == "now" else cursor.BEGINNING
        self.primed = kind != "now"
        self.status_json: str | None = None
        self.committed: list[tuple[cursor.Event, ...]] = []
        self.crashed: list[tuple[cursor.Event, ...]] = []
        self.max_edge = 0

        for _ in range(draw(st.integers(0, 4), label="history")):
            self.add(history=True)
        if kind == "cursor":
            explicit = self.new_value(history=True)
            self.start = cursor.StartFrom("cursor", explicit)
            for index, item in enumerate(self.items):
                if cursor.order_key(self._value(item)) > cursor.order_key(explicit):
                    self.expected.append(self._item_key(index))
            self.floor_explicit: cursor.Value | None = explicit
            self.history_counts = False
            self.seen_max = (
                explicit if self.seen_max is None else max(self.seen_max, explicit, key=cursor.order_key)
            )
        else:
            self.floor_explicit = None
            if self.history_counts:
                self.expected.extend(self._item_key(i) for i in range(len(self.items)))

    # --- the site ---------------------------------------------------------------------------------------

    def _value(self, item: poll_rules.FeedItem) -> cursor.Value:
        value = item.timestamp if self.mode == cursor.TIMESTAMP else item.id
        assert value is not None
        return value

    def _item_key(self, index: int) -> tuple[Any, ...]:
        item = self.items[index]
        return _key(self.mode, self._value(item), item.data)

    def new_value(self, *, history: bool) -> cursor.Value:
        draw = self.draw
        if self.mode == cursor.TIMESTAMP:
            if history or self.seen_max is None:
                return draw(st.integers(self.clock - 10, self.clock), label="timestamp")
            low = max(self.clock - 10, int(self.seen_max) - self.config.window_seconds + 1)
            if draw(st.booleans(), label="late arrival"):
                # Within the window of the newest value polled: the case a "> newest" client loses.
                return draw(st.integers(low, max(low, int(self.seen_max))), label="timestamp")
            return draw(st.integers(low, self.clock), label="timestamp")
        existing = {item.id for item in self.items}
        while True:
            if self.numeric:
                base = (
                    int(self.seen_max) if (self.seen_max is not None and not history) else self.next_numeric
                )
                value: str = str(base + draw(st.integers(1, 12), label="id gap"))
            else:
                base_text = str(self.seen_max) if (self.seen_max is not None and not history) else "ev-"
                suffix = draw(st.text("abz", min_size=1, max_size=2), label="id suffix")
                value = base_text + suffix
            if value not in existing:
                return value

    def add(self, *, history: bool = False) -> None:
        value = self.new_value(history=history)
        data = self.draw(st.integers(0, 2), label="data")  # small: identical items happen
        if self.mode == cursor.TIMESTAMP:
            item = poll_rules.FeedItem(data={"n": data}, timestamp=int(value))
        else:
            item = poll_rules.FeedItem(data={"n": data}, id=str(value))
        self.items.append(item)
        self.feed.add(NAME, item)
        if history or not self.primed:
            return  # before the priming poll of a "now" start committed, an item is history
        key = self._item_key(len(self.items) - 1)
        explicit = self.floor_explicit
        if explicit is not None and cursor.order_key(value) <= cursor.order_key(explicit):
            return  # never expected: at or below the explicit start
        late = self.seen_max is not None and cursor.order_key(value) <= cursor.order_key(self.seen_max)
        (self.optional if (late and self.config.edge_capacity < 256) else self.expected).append(key)

    # --- the operator -----------------------------------------------------------------------------------

    def state(self) -> cursor.CursorState:
        status = None if self.status_json is None else json.loads(self.status_json)
        return cursor.CursorState.from_status(status, mode=self.mode, start=self.start, config=self.config)

    def poll(self, *, crash: bool) -> cursor.Absorbed:
        state = self.state()
        request = cursor.request_for(state, now=self.clock, config=self.config)
        assert isinstance(request.timestamp, int) or isinstance(request.id, str)
        assert (request.timestamp is None) != (request.id is None)
        answer = self.feed.poll(NAME, timestamp=request.timestamp, id=request.id)
        items = [
            poll_rules.FeedItem(data=a["data"], timestamp=a.get("timestamp"), id=a.get("id")) for a in answer
        ]
        for item in self.items:
            value = self._value(item)
            if self.seen_max is None or cursor.order_key(value) > cursor.order_key(self.seen_max):
                self.seen_max = value
        absorbed = cursor.absorb(
            state, items, poll_name=NAME, asked=request, now=self.clock, config=self.config
        )
        events = absorbed.events
        self.check_batch(events)
        # Labels for --hypothesis-show-statistics: the schedules must reach the interesting cases.
        if absorbed.closed:
            hypothesis.event("edge overflow closed a value")
        if absorbed.more:
            hypothesis.event("batch cut by max_batch")
        if absorbed.duplicates:
            hypothesis.event("site returned remembered edge items")
        if crash and events:
            hypothesis.event("crash after a non-empty delivery")
        self.max_edge = max(self.max_edge, absorbed.state.edge_size())
        assert absorbed.state.edge_size() <= self.config.edge_capacity
        if crash:
            self.crashed.append(events)
            return absorbed
        if absorbed.primed:
            assert events == ()
            self.primed = True
        self.committed.append(events)
        status = absorbed.state.to_status()
        self.status_json = json.dumps(status)
        assert self.state() == absorbed.state  # the status dict holds the whole state
        return absorbed

    def check_batch(self, events: tuple[cursor.Event, ...]) -> None:
        keys = [cursor.order_key(e.value) for e in events]
        assert keys == sorted(keys)
        if len(events) > self.config.max_batch:
            assert len(set(keys)) == 1, "only a single value may exceed max_batch"

    def drain(self) -> None:
        for _ in range(500):
            absorbed = self.poll(crash=False)
            if not absorbed.events and not absorbed.more and not absorbed.primed:
                return
        raise AssertionError("the cursor did not drain")

    # --- the properties ---------------------------------------------------------------------------------

    def check(self) -> None:
        delivered = [e for batch in self.committed for e in batch]
        ids = [e.id for e in delivered]
        assert len(ids) == len(set(ids)), "an event was delivered in two committed batches"

        # One id, one item: every delivery of an id (crashed or committed) carries the same content.
        content: dict[str, tuple[Any, ...]] = {}
        for event in [*delivered, *(e for batch in self.crashed for e in batch)]:
            assert content.setdefault(event.id, _key(self.mode, event.value, event.data)) == _key(
                self.mode, event.value, event.data
            )
            assert _recomputes(self.mode, event), "an event id that its recipe does not give"

        # De-duplicating sink: the distinct ids are exactly the expected items (plus optional ones).
        got = collections.Counter(_key(self.mode, e.value, e.data) for e in delivered)
        want = collections.Counter(self.expected)
        optional = collections.Counter(self.optional)
        assert not (want - got), f"lost: {sorted(want - got)}"
        assert not (got - want - optional), f"unexpected: {sorted(got - want - optional)}"

        # Crashed batches come back: every id of an uncommitted delivery is in a committed batch.
        assert {e.id for batch in self.crashed for e in batch} <= set(ids)

        # Raw sink order: a committed batch never starts below the newest value delivered before it by
        # more than the window (late arrivals within the window); id mode never goes back.
        newest: cursor.Value | None = None
        for batch in self.committed:
            if not batch:
                continue
            if newest is not None:
                first = batch[0].value
                if self.mode == cursor.TIMESTAMP:
                    assert int(first) >= int(newest) - (self.config.window_seconds - 1)
                else:
                    assert cursor.order_key(first) >= cursor.order_key(newest)
            if newest is not None and cursor.order_key(batch[0].value) <= cursor.order_key(newest):
                hypothesis.event("late arrival delivered at or below the newest value")
            last = batch[-1].value
            if newest is None or cursor.order_key(last) > cursor.order_key(newest):
                newest = last


def _recomputes(mode: cursor.Mode, event: cursor.Event) -> bool:
    """The id is the recipe's for some occurrence number (identical items are numbered 0, 1, ...)."""
    return any(cursor.event_id(NAME, mode, event.value, n, data=event.data) == event.id for n in range(50))


def _run(data: st.DataObject, *, small_edge: bool) -> Scenario:
    scenario = Scenario(data, small_edge=small_edge)
    steps = data.draw(
        st.lists(st.sampled_from(["add", "add", "tick", "poll", "crash"]), max_size=30), label="steps"
    )
    for step in steps:
        if step == "add":
            scenario.add()
        elif step == "tick":
            scenario.clock += data.draw(st.integers(0, 2), label="tick")
        else:
            scenario.poll(crash=step == "crash")
    scenario.drain()
    scenario.check()
    return scenario


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_every_item_is_delivered_exactly_once(data: st.DataObject) -> None:
    _run(data, small_edge=False)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_full_edge_stays_bounded_and_never_doubles(data: st.DataObject) -> None:
    scenario = _run(data, small_edge=True)
    assert scenario.max_edge <= scenario.config.edge_capacity


def test_the_simulator_really_exercises_late_arrivals_and_overflow() -> None:
    """Guard against a vacuous property: a fixed schedule with same-second late arrivals and overflow."""
    feed = poll_rules.PollFeed(variant=poll_rules.Variant(comparison="strict", order="shuffled"), seed=1)
    config = cursor.CursorConfig(edge_capacity=2)
    state = cursor.initial_state(cursor.TIMESTAMP, cursor.BEGINNING, config=config)
    delivered: list[cursor.Event] = []
    rng = random.Random(3)

    def poll() -> cursor.Absorbed:
        nonlocal state
        request = cursor.request_for(state, now=CLOCK0, config=config)
        items = [
            poll_rules.FeedItem(data=a["data"], timestamp=a["timestamp"])
            for a in feed.poll(NAME, timestamp=request.timestamp)
        ]
        rng.shuffle(items)
        absorbed = cursor.absorb(state, items, poll_name=NAME, asked=request, now=CLOCK0, config=config)
        delivered.extend(absorbed.events)
        state = absorbed.state
        return absorbed

    feed.add(NAME, poll_rules.FeedItem(data=1, timestamp=100), poll_rules.FeedItem(data=2, timestamp=100))
    assert len(poll().events) == 2
    feed.add(NAME, poll_rules.FeedItem(data=3, timestamp=100))  # a late arrival in the cursor's second
    third = poll()
    assert [e.data for e in third.events] == [3]
    assert third.closed == (100,)  # three keys do not fit in two: the second is closed
    assert state.to_status() == {"cursor": {"timestamp": 100}, "edgeKeys": ["100:*"]}
    feed.add(NAME, poll_rules.FeedItem(data=4, timestamp=100))  # lost by design: the second is closed
    assert poll().events == ()
    assert sorted(e.data for e in delivered) == [1, 2, 3]
