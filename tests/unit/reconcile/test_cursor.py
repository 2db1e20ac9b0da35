"""Example-based tests of the cursor: requests, starting points, ids, status shape and the corner cases."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from orchestration_operator.reconcile import cursor

NAME = "orders"
NOW = 1_750_000_000


@dataclasses.dataclass(frozen=True)
class Item:
    timestamp: int | None = None
    id: str | None = None
    data: Any = None


def ts_state(value: int, edge: dict[int, set[str]] | None = None) -> cursor.CursorState:
    return cursor.CursorState(
        mode="timestamp", value=value, edge={v: frozenset(k) for v, k in (edge or {}).items()}
    )


def key(value: cursor.Value, n: int = 0, *, data: Any = None, mode: cursor.Mode = "timestamp") -> str:
    return cursor.event_id(NAME, mode, value, n, data=data)


def absorb(
    state: cursor.CursorState, items: list[Item], *, config: cursor.CursorConfig = cursor.DEFAULT_CONFIG
) -> cursor.Absorbed:
    request = cursor.request_for(state, now=NOW, config=config)
    return cursor.absorb(state, items, poll_name=NAME, asked=request, now=NOW, config=config)


@pytest.mark.parametrize(
    ("state", "config", "expected"),
    [
        (
            cursor.CursorState(mode="timestamp"),
            cursor.DEFAULT_CONFIG,
            cursor.PollRequest(timestamp=NOW - 3600),
        ),
        (cursor.CursorState(mode="id"), cursor.DEFAULT_CONFIG, cursor.PollRequest(id="0")),
        (ts_state(100), cursor.DEFAULT_CONFIG, cursor.PollRequest(timestamp=99)),
        (ts_state(100, {100: {cursor.CLOSED}}), cursor.DEFAULT_CONFIG, cursor.PollRequest(timestamp=100)),
        (ts_state(100), cursor.CursorConfig(window_seconds=3), cursor.PollRequest(timestamp=97)),
        (
            ts_state(100, {98: {cursor.CLOSED}}),
            cursor.CursorConfig(window_seconds=3),
            cursor.PollRequest(timestamp=98),
        ),
        (ts_state(0), cursor.CursorConfig(window_seconds=3), cursor.PollRequest(timestamp=0)),
        (cursor.CursorState(mode="id", value="17"), cursor.DEFAULT_CONFIG, cursor.PollRequest(id="17")),
    ],
)
def test_request_for(
    state: cursor.CursorState, config: cursor.CursorConfig, expected: cursor.PollRequest
) -> None:
    assert cursor.request_for(state, now=NOW, config=config) == expected


@pytest.mark.parametrize(
    ("mode", "raw", "expected"),
    [
        ("timestamp", None, cursor.NOW),
        ("timestamp", "now", cursor.NOW),
        ("id", "beginning", cursor.BEGINNING),
        ("timestamp", "1750000000", cursor.StartFrom("cursor", 1_750_000_000)),
        ("timestamp", 5, cursor.StartFrom("cursor", 5)),
        ("timestamp", {"timestamp": 5}, cursor.StartFrom("cursor", 5)),
        ("id", "abc", cursor.StartFrom("cursor", "abc")),
        ("id", 17, cursor.StartFrom("cursor", "17")),
        ("id", {"id": "17"}, cursor.StartFrom("cursor", "17")),
    ],
)
def test_parse_start_from(mode: cursor.Mode, raw: Any, expected: cursor.StartFrom) -> None:
    assert cursor.parse_start_from(mode, raw) == expected


@pytest.mark.parametrize(
    ("mode", "raw", "message"),
    [
        ("timestamp", "-1", "whole number of seconds >= 0"),
        ("timestamp", "yesterday", "whole number of seconds >= 0"),
        ("timestamp", True, "whole number of seconds >= 0"),
        ("timestamp", 1.5, "whole number of seconds >= 0"),
        ("timestamp", {"id": "3"}, "must be now, beginning or {timestamp: ...}"),
        ("id", "", "non-empty string"),
        ("id", {"id": "1", "timestamp": 2}, "must be now, beginning or {id: ...}"),
    ],
)
def test_parse_start_from_refuses(mode: cursor.Mode, raw: Any, message: str) -> None:
    with pytest.raises(cursor.CursorError, match=message.replace("{", r"\{").replace("}", r"\}")):
        cursor.parse_start_from(mode, raw)


@pytest.mark.parametrize(
    ("mode", "start", "status"),
    [
        ("timestamp", cursor.NOW, {"cursor": None, "edgeKeys": []}),
        ("timestamp", cursor.BEGINNING, {"cursor": {"timestamp": 0}, "edgeKeys": ["0:*"]}),
        ("id", cursor.BEGINNING, {"cursor": {"id": "0"}, "edgeKeys": ["*"]}),
        ("timestamp", cursor.StartFrom("cursor", 500), {"cursor": {"timestamp": 500}, "edgeKeys": ["500:*"]}),
        ("id", cursor.StartFrom("cursor", "x7"), {"cursor": {"id": "x7"}, "edgeKeys": ["*"]}),
    ],
)
def test_initial_state_status(mode: cursor.Mode, start: cursor.StartFrom, status: dict[str, Any]) -> None:
    assert cursor.initial_state(mode, start).to_status() == status


def test_explicit_start_closes_the_whole_window() -> None:
    config = cursor.CursorConfig(window_seconds=3)
    state = cursor.initial_state("timestamp", cursor.StartFrom("cursor", 500), config=config)
    assert state.to_status()["edgeKeys"] == ["498:*", "499:*", "500:*"]
    assert cursor.request_for(state, now=NOW, config=config) == cursor.PollRequest(timestamp=500)
    got = absorb(state, [Item(timestamp=499), Item(timestamp=500), Item(timestamp=501)], config=config)
    assert [e.value for e in got.events] == [501]
    assert got.duplicates == 2


def test_event_id_recipe_is_frozen() -> None:
    # Receivers de-duplicate on these ids across operator upgrades: the recipe must never change. It is
    # sha256 of the canonical JSON ["v1","orders","timestamp",1750000000,{"a":[1,"é"],"b":1},0], cut to 32.
    assert cursor.event_id(NAME, "timestamp", 1_750_000_000, 0, data={"b": 1, "a": [1, "é"]}) == (
        "55884b5f6550d6da8483b5a716975bf5"
    )
    assert cursor.event_id(NAME, "id", "17", 0, data={"ignored": True}) == cursor.event_id(
        NAME, "id", "17", 0
    )


def test_event_ids_depend_on_name_value_content_and_occurrence_only() -> None:
    base = cursor.event_id(NAME, "timestamp", 5, 0, data={"a": 1, "b": 2})
    assert cursor.event_id(NAME, "timestamp", 5, 0, data={"b": 2, "a": 1}) == base
    others = {
        cursor.event_id("other", "timestamp", 5, 0, data={"a": 1, "b": 2}),
        cursor.event_id(NAME, "timestamp", 6, 0, data={"a": 1, "b": 2}),
        cursor.event_id(NAME, "timestamp", 5, 1, data={"a": 1, "b": 2}),
        cursor.event_id(NAME, "timestamp", 5, 0, data={"a": 1, "b": 3}),
        cursor.event_id(NAME, "id", "5", 0),
    }
    assert base not in others
    assert len(others) == 5
    assert len(base) == 32
    assert int(base, 16) >= 0


@pytest.mark.parametrize(
    ("smaller", "larger"),
    [
        ("9", "10"),
        ("2", "10"),
        ("007", "8"),
        ("010", "10"),
        ("99999999999999999999", "100000000000000000000"),
        ("99", "a"),
        ("a10", "a9"),
        ("-1", "abc"),
        ("10", "1a"),
    ],
)
def test_id_order(smaller: str, larger: str) -> None:
    assert cursor.id_order(smaller) < cursor.id_order(larger)


def test_id_order_handles_digit_strings_beyond_int_conversion_limits() -> None:
    assert cursor.id_order("9" * 5000) < cursor.id_order("1" + "0" * 5000)


def test_same_second_late_arrival_is_delivered_and_identical_items_are_two_events() -> None:
    state = cursor.initial_state("timestamp", cursor.BEGINNING)
    first = absorb(state, [Item(timestamp=100, data="x"), Item(timestamp=100, data="x")])
    assert [e.data for e in first.events] == ["x", "x"]
    assert [e.id for e in first.events] == [key(100, 0, data="x"), key(100, 1, data="x")]
    assert first.state.to_status() == {
        "cursor": {"timestamp": 100},
        "edgeKeys": sorted(f"100:{key(100, n, data='x')}" for n in (0, 1)),
    }
    # An inclusive site returns both again plus a third identical one created later in the same second.
    again = absorb(first.state, [Item(timestamp=100, data="x")] * 3 + [Item(timestamp=99, data="old")])
    assert [e.id for e in again.events] == [key(100, 2, data="x")]
    assert (again.duplicates, again.stale) == (2, 1)


def test_new_events_are_ascending_and_ties_keep_the_site_order() -> None:
    state = cursor.initial_state("id", cursor.BEGINNING)
    items = [Item(id="10", data="c"), Item(id="9", data="b"), Item(id="10", data="d"), Item(id="2", data="a")]
    got = absorb(state, items)
    assert [(e.item_id, e.data) for e in got.events] == [("2", "a"), ("9", "b"), ("10", "c"), ("10", "d")]
    assert [e.timestamp for e in got.events] == [None] * 4
    # Two items sharing an id are numbered by content, whatever the order of the answer.
    assert got.events[2].id == key("10", 0, mode="id")
    assert got.events[3].id == key("10", 1, mode="id")
    assert got.state.to_status() == {"cursor": {"id": "10"}, "edgeKeys": sorted(e.id for e in got.events[2:])}
    reordered = absorb(state, list(reversed(items)))
    assert {(e.id, e.data) for e in reordered.events} == {(e.id, e.data) for e in got.events}


def test_id_mode_content_change_keeps_the_event_id() -> None:
    state = cursor.initial_state("id", cursor.BEGINNING)
    before = absorb(state, [Item(id="5", data={"title": "old"})])
    # The delivery failed (not committed); the model recomputed the data; the retry has the same id.
    retry = absorb(state, [Item(id="5", data={"title": "new"})])
    assert retry.events[0].id == before.events[0].id
    # And once committed, an inclusive site returning the changed item does not make it new again.
    assert absorb(before.state, [Item(id="5", data={"title": "new"})]).events == ()


def test_priming_delivers_nothing_and_closes_what_it_could_not_see() -> None:
    config = cursor.CursorConfig(window_seconds=3, prime_lookback=10)
    state = cursor.CursorState(mode="timestamp")
    asked = NOW - 10
    items = [Item(timestamp=asked - 1), Item(timestamp=asked), Item(timestamp=asked + 1, data="seen")]
    got = absorb(state, items, config=config)
    assert got.primed
    assert got.events == ()
    assert got.state.value == asked + 1
    assert got.state.to_status()["edgeKeys"] == [
        f"{asked - 1}:*",
        f"{asked}:*",
        f"{asked + 1}:{key(asked + 1, data='seen')}",
    ]
    late = absorb(
        got.state, [Item(timestamp=asked, data="late"), Item(timestamp=asked + 1, data="late")], config=config
    )
    assert [(e.value, e.data) for e in late.events] == [(asked + 1, "late")]


def test_priming_without_items_starts_at_the_lookback_and_trusts_the_site_clock() -> None:
    config = cursor.CursorConfig(prime_lookback=10)
    got = absorb(cursor.CursorState(mode="timestamp"), [], config=config)
    assert got.state.to_status() == {"cursor": {"timestamp": NOW - 10}, "edgeKeys": [f"{NOW - 10}:*"]}
    # A site whose clock is behind ours still gets its next item delivered.
    assert [e.value for e in absorb(got.state, [Item(timestamp=NOW - 5)], config=config).events] == [NOW - 5]


@pytest.mark.parametrize(
    ("items", "cursor_value", "edge_keys"),
    [
        ([], "0", ["*"]),
        ([Item(id="3"), Item(id="12"), Item(id="9")], "12", [key("12", mode="id")]),
    ],
)
def test_priming_in_id_mode(items: list[Item], cursor_value: str, edge_keys: list[str]) -> None:
    got = absorb(cursor.CursorState(mode="id"), items)
    assert (got.primed, got.events) == (True, ())
    assert got.state.to_status() == {"cursor": {"id": cursor_value}, "edgeKeys": edge_keys}


def test_unusable_items_are_ignored_and_far_future_ones_deferred() -> None:
    state = cursor.initial_state("timestamp", cursor.BEGINNING)
    items = [
        Item(id="1"),
        Item(timestamp=-5),
        Item(timestamp=True),  # type: ignore[arg-type]
        Item(timestamp=NOW + 3601),
        Item(timestamp=NOW + 3600, data="edge of skew"),
    ]
    got = absorb(state, items)
    assert (got.ignored, got.deferred) == (3, 1)
    assert [e.data for e in got.events] == ["edge of skew"]
    assert got.state.value == NOW + 3600


def test_max_batch_cuts_between_values_and_never_inside_one() -> None:
    config = cursor.CursorConfig(max_batch=2)
    state = cursor.initial_state("timestamp", cursor.BEGINNING, config=config)
    items = [Item(timestamp=t, data=n) for n, t in enumerate([5, 5, 5, 6, 7, 7, 8])]
    first = absorb(state, items, config=config)
    assert ([e.value for e in first.events], first.more) == ([5, 5, 5], True)
    second = absorb(first.state, items, config=config)
    assert ([e.value for e in second.events], second.more) == ([6], True)
    third = absorb(second.state, items, config=config)
    assert ([e.value for e in third.events], third.more) == ([7, 7], True)
    fourth = absorb(third.state, items, config=config)
    assert ([e.value for e in fourth.events], fourth.more) == ([8], False)


def test_overflow_closes_old_values_before_values_with_waiting_items() -> None:
    config = cursor.CursorConfig(window_seconds=3, edge_capacity=4, max_batch=1)
    state = ts_state(
        10, {9: {key(9, data="b"), key(9, data="c")}, 10: {key(10, data="d"), key(10, data="e")}}
    )
    items = [
        Item(timestamp=t, data=d) for t, d in [(9, "b"), (9, "c"), (10, "d"), (10, "e"), (8, "x"), (9, "y")]
    ]
    got = absorb(state, items, config=config)
    assert [e.data for e in got.events] == ["x"]
    assert got.more
    assert got.closed == (10,)  # not 9: an item of 9 waits for the next batch
    assert got.state.edge_size() == 4
    following = absorb(got.state, items, config=config)
    assert [e.data for e in following.events] == ["y"]


def test_status_round_trip_and_tolerance() -> None:
    state = ts_state(100, {99: {cursor.CLOSED}, 100: {key(100, data=1)}})
    status = state.to_status()
    assert status == {"cursor": {"timestamp": 100}, "edgeKeys": ["99:*", f"100:{key(100, data=1)}"]}
    assert cursor.CursorState.from_status(status, mode="timestamp", start=cursor.NOW) == state
    # Unreadable entries are skipped; a cursor of the other mode starts over from startFrom.
    damaged = {**status, "edgeKeys": [*status["edgeKeys"], "x:y", 7, "100:nothex"]}
    assert cursor.CursorState.from_status(damaged, mode="timestamp", start=cursor.NOW) == state
    assert cursor.CursorState.from_status(status, mode="id", start=cursor.BEGINNING) == cursor.initial_state(
        "id", cursor.BEGINNING
    )
    assert cursor.CursorState.from_status(None, mode="id", start=cursor.NOW) == cursor.CursorState(mode="id")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"window_seconds": 0},
        {"window_seconds": 3, "edge_capacity": 2},
        {"max_batch": 0},
        {"prime_lookback": -1},
        {"max_future_skew": -1},
    ],
)
def test_config_is_validated(kwargs: dict[str, int]) -> None:
    with pytest.raises(cursor.CursorError):
        cursor.CursorConfig(**kwargs)


def test_a_request_carries_exactly_one_key() -> None:
    with pytest.raises(cursor.CursorError):
        cursor.PollRequest()
    with pytest.raises(cursor.CursorError):
        cursor.PollRequest(timestamp=1, id="1")
