"""The EventPoll cursor: which remote poll items are new, in which order, and what to remember.

Pure functions over plain values, no I/O, no clock (callers pass ``now``). ``eventpoll`` runs one poll
cycle with them; the handlers layer persists :meth:`CursorState.to_status` in the EventPoll's status.

The remote route (``POST /orchestration/poll``) stores nothing, promises no order, and the site decides
whether it returns items ``> cursor``, ``>= cursor`` or everything. Timestamps have one-second
resolution, and an item may appear *later* with the same second as the newest item already delivered.

The algorithm
-------------
The state is a cursor value ``C`` (the newest value delivered; a timestamp or an id) and an *edge*: for
each value of the *window* (timestamp mode: the ``window_seconds`` newest seconds ``[C-W+1, C]``; id
mode: the value ``C`` itself), the keys of the items already delivered there, or the mark ``CLOSED``
meaning "treat every item with this value as delivered".

- :func:`request_for` asks for ``timestamp = L - 1`` where ``L`` is the lowest window second that is not
  closed (``C`` when all are), so that even a strict ``>`` site returns every item of the open window
  seconds; in id mode it asks for ``id = C``. One key only, integers for timestamps, never below 0.
- :func:`absorb` classifies each returned item by its value ``v``: below the window it is *stale*
  (delivered before, or later than the window allows); inside the window it is a *duplicate* when its
  key is remembered or its value closed; otherwise (inside the window, or above ``C``) it is *new*. New
  items are ordered ascending by value (stable: ties keep the site's order) and become :class:`Event`\\ s.
  The next state has ``C' = max(C, newest delivered value)`` and an edge restricted to ``window(C')``:
  the old entries that are still in the window plus the keys of the events just delivered.
- The caller commits the next state only after every sink accepted the batch. Until then the old state
  stands, the next poll returns the same items, and they become the same events again, with the same
  ids (at least once, never silently skipped).

Keys and event ids
------------------
An event's id is its edge key: the first 32 hex digits of the SHA-256 of a canonical JSON array.

- timestamp mode: ``["v1", poll name, "timestamp", timestamp, data, n]``: the item has no identity of
  its own, so its content is part of it; ``n`` numbers identical ``(timestamp, data)`` items of one
  answer (0, 1, ...) so that two equal items are two events, and the same two items polled again map to
  the same two ids.
- id mode: ``["v1", poll name, "id", id, n]``: the id *is* the item's identity. Content is left out on
  purpose: a site's model computes ``data`` on every poll, and an item whose data changed between a
  failed delivery and its retry must keep its event id, and must not come back as new just because the
  site returns ``>=``. ``n`` numbers items that share an id (a broken site), ordered by content.

``data`` is canonical JSON (sorted keys, no whitespace). The ids do not depend on the order of the answer,
on the site's ``>``/``>=`` choice, on the state, or on the process: a re-delivery carries the same ids.

Starting points
---------------
- ``now``: the state has no value yet. The first poll is a *priming* poll (timestamp mode asks for
  ``now - prime_lookback``, id mode for ``"0"``) whose answer is remembered but not delivered: the cursor
  becomes the newest value seen (the site's clock, not ours, so clock skew loses nothing), the window's
  items seen are remembered and the window seconds the priming request could not see are closed.
- ``beginning``: the explicit cursor ``0`` (timestamp) or ``"0"`` (id).
- an explicit cursor ``X``: everything ``<= X`` counts as delivered (the window below ``X`` is closed);
  items ``> X`` are delivered. This matches the route's intended contract ("newer than the cursor").

Invariants (property-tested in ``tests/unit/reconcile/test_cursor_properties.py``)
------------------------------------------------------------------------------
1. Exactly once: if every item appears with a value ``>= (newest value visible at any earlier poll) -
   (W - 1)`` (timestamp; id mode: above that value), each item is delivered in exactly one committed
   batch, whatever the site's comparison and order, across restarts (state through a status dict) and
   crashes between delivery and commit (the uncommitted batch comes back with the same ids).
2. Order: each batch is ascending by value; the first event of a committed batch is at most ``W - 1``
   seconds below the newest value of the previous committed batches (late arrivals in the window); in
   id mode batches never go backwards.
3. Never doubled: an item delivered in a committed batch is never in a later committed batch, even when
   the edge overflows (below).
4. Bounded memory: the edge holds at most ``edge_capacity`` entries (a closed value counts as one), and a
   batch at most ``max_batch`` events unless a single value holds more (values are never split).

Overflow: when more than ``edge_capacity`` keys would be remembered, the oldest window values are closed
(ascending; values whose items wait for a later batch go last) until the edge fits. A closed value is
never delivered again, so nothing is doubled; the price is that an item arriving *later* with a closed
value is not delivered. :attr:`Absorbed.closed` lists the values closed, so that the caller can log it
and suggest a larger capacity.

``window_seconds`` may be lowered at any time; raising it while a cursor exists makes the newly covered
seconds look unremembered, so their items may be delivered once more (with the same event ids).

Values are compared as numbers in timestamp mode. Ids compare as numbers when they are all ASCII digits,
otherwise as strings; numeric ids sort before non-numeric ones (a total order; a site mixing both kinds
is not supported by the route's contract either). An item without a usable value for the mode is
*ignored* (counted). A timestamp more than ``max_future_skew`` seconds ahead of ``now`` is *deferred*
(counted, neither delivered nor allowed to move the cursor) so that one bogus far-future item cannot
push the cursor past every real item to come.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Final, Literal, Protocol

Mode = Literal["timestamp", "id"]
Value = int | str

TIMESTAMP: Final = "timestamp"
ID: Final = "id"
MODES: Final = (TIMESTAMP, ID)

CLOSED: Final = "*"
"""The edge mark for "every item with this value counts as delivered"."""

_CLOSED_SET: Final = frozenset({CLOSED})
KEY_LENGTH: Final = 32
_KEY_RE: Final = re.compile(r"[0-9a-f]{32}\Z")
_DIGITS_RE: Final = re.compile(r"[0-9]+\Z")
EVENT_ID_VERSION: Final = "v1"


class CursorError(ValueError):
    """A cursor value that cannot be used: a bad ``startFrom``, reset annotation or configuration."""


class PollItemLike(Protocol):
    """What the cursor reads from one poll item (the client's ``PollItem`` fits)."""

    @property
    def timestamp(self) -> int | None: ...

    @property
    def id(self) -> str | None: ...

    @property
    def data(self) -> Any: ...


@dataclasses.dataclass(frozen=True, kw_only=True)
class CursorConfig:
    """Tuning of the algorithm; the defaults suit the route's documented behaviour."""

    window_seconds: int = 1
    """Timestamp mode: how many newest seconds are polled again and remembered (1 = the cursor's own
    second, which is what the route's same-second late arrivals need; more tolerates slow writers)."""
    edge_capacity: int = 256
    """At most this many edge entries (keys of delivered items, closed values) are remembered."""
    max_batch: int = 1000
    """At most this many events per batch, cut between values; the rest waits for the next poll."""
    prime_lookback: int = 3600
    """Timestamp mode, start ``now``: how far back the priming poll looks (seconds)."""
    max_future_skew: int | None = 3600
    """Timestamp mode: items further ahead of ``now`` than this are deferred; None accepts any."""

    def __post_init__(self) -> None:
        if self.window_seconds < 1:
            raise CursorError("window_seconds must be at least 1")
        if self.edge_capacity < self.window_seconds:
            raise CursorError("edge_capacity must be at least window_seconds")
        if self.max_batch < 1:
            raise CursorError("max_batch must be at least 1")
        if self.prime_lookback < 0:
            raise CursorError("prime_lookback must be >= 0")
        if self.max_future_skew is not None and self.max_future_skew < 0:
            raise CursorError("max_future_skew must be >= 0 or None")


DEFAULT_CONFIG: Final = CursorConfig()


@dataclasses.dataclass(frozen=True)
class PollRequest:
    """The cursor arguments of one poll call: exactly one of ``timestamp`` and ``id``."""

    timestamp: int | None = None
    id: str | None = None

    def __post_init__(self) -> None:
        if (self.timestamp is None) == (self.id is None):
            raise CursorError("a poll request carries exactly one of timestamp and id")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Event:
    """One new item, ready for the sinks. ``id`` is stable across re-deliveries (see the module doc)."""

    id: str
    value: Value
    """The cursor value: the timestamp (timestamp mode) or the item id (id mode)."""
    timestamp: int | None
    item_id: str | None
    data: Any

    @property
    def subject(self) -> str:
        """The cursor value as text (the CloudEvent ``subject``)."""
        return str(self.value)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CursorState:
    """Where an EventPoll stands. ``value`` None means "not established yet": the next poll primes."""

    mode: Mode
    value: Value | None = None
    edge: Mapping[Value, frozenset[str]] = dataclasses.field(default_factory=dict)
    """Per window value: the keys delivered with that value, or ``{CLOSED}``."""

    @property
    def established(self) -> bool:
        return self.value is not None

    def edge_size(self) -> int:
        """Entries the edge holds (what ``edge_capacity`` bounds)."""
        return sum(len(keys) for keys in self.edge.values())

    def to_status(self) -> dict[str, Any]:
        """The status fields: ``{"cursor": {"timestamp": int} | {"id": str} | None, "edgeKeys": [...]}``.

        ``edgeKeys`` entries are ``"<timestamp>:<key>"`` (timestamp mode) or ``"<key>"`` (id mode, all at
        the cursor's id); ``<key>`` is 32 hex digits or ``*`` for a closed value. Sorted, so that an
        unchanged state writes an unchanged status.
        """
        if self.value is None:
            return {"cursor": None, "edgeKeys": []}
        if self.mode == TIMESTAMP:
            entries = [
                f"{value}:{key}" for value in sorted(self.edge, key=_ts) for key in sorted(self.edge[value])
            ]
            return {"cursor": {TIMESTAMP: self.value}, "edgeKeys": entries}
        keys = self.edge.get(self.value, frozenset())
        return {"cursor": {ID: self.value}, "edgeKeys": sorted(keys)}

    @classmethod
    def from_status(
        cls,
        status: Mapping[str, Any] | None,
        *,
        mode: Mode,
        start: StartFrom,
        config: CursorConfig = DEFAULT_CONFIG,
    ) -> CursorState:
        """The state persisted in ``status``, or the spec's starting point when there is none for ``mode``.

        A cursor of the other mode (the spec's mode changed) is a different stream: start over from
        ``start``. Edge entries that cannot be read are skipped (they were written by this module; a hand
        edit could at worst cause a re-delivery at the edge).
        """
        cursor = (status or {}).get("cursor")
        if not isinstance(cursor, Mapping) or mode not in cursor:
            return initial_state(mode, start, config=config)
        value = parse_value(mode, cursor[mode])
        edge: dict[Value, set[str]] = {}
        for entry in (status or {}).get("edgeKeys") or ():
            parsed = _parse_entry(mode, value, entry)
            if parsed is not None:
                edge.setdefault(parsed[0], set()).add(parsed[1])
        return cls(mode=mode, value=value, edge={v: _normalize(keys) for v, keys in edge.items()})


@dataclasses.dataclass(frozen=True)
class StartFrom:
    """Where a new cursor starts: ``kind`` is ``now``, ``beginning`` or ``cursor`` (with ``value``)."""

    kind: Literal["now", "beginning", "cursor"]
    value: Value | None = None


NOW: Final = StartFrom("now")
BEGINNING: Final = StartFrom("beginning")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Absorbed:
    """What :func:`absorb` made of one poll answer."""

    events: tuple[Event, ...]
    """New events in delivery order (ascending by value)."""
    state: CursorState
    """The state to commit once every sink accepted ``events``."""
    primed: bool = False
    """This was the priming poll of a ``now`` start: nothing delivered, the cursor established."""
    more: bool = False
    """``max_batch`` cut the batch: more new items wait; poll again soon."""
    duplicates: int = 0
    stale: int = 0
    ignored: int = 0
    deferred: int = 0
    closed: tuple[Value, ...] = ()
    """Values the edge closed on overflow during this absorb (a hint to raise ``edge_capacity``)."""


# --- values ----------------------------------------------------------------------------------------------


def id_order(item_id: str) -> tuple[Any, ...]:
    """Sort key of an id: all-digit ids by number (no int conversion: any length), before other ids."""
    if _DIGITS_RE.match(item_id):
        digits = item_id.lstrip("0")
        return (0, len(digits), digits, item_id)
    return (1, item_id)


def order_key(value: Value) -> tuple[Any, ...]:
    """Sort key of a cursor value of either mode."""
    if isinstance(value, int):
        return (value,)
    return id_order(value)


def _ts(value: Value) -> int:
    assert isinstance(value, int)
    return value


def parse_value(mode: Mode, raw: Any) -> Value:
    """A cursor value of ``mode`` from spec, status or annotation text; :class:`CursorError` if unusable."""
    if mode == TIMESTAMP:
        if isinstance(raw, str) and _DIGITS_RE.match(raw.strip()):
            raw = int(raw.strip())
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            raise CursorError(f"a timestamp cursor must be a whole number of seconds >= 0, not {raw!r:.40}")
        return raw
    if mode == ID:
        if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
            return str(raw)
        if not isinstance(raw, str) or not raw:
            raise CursorError(f"an id cursor must be a non-empty string, not {raw!r:.40}")
        return raw
    raise CursorError(f"unknown mode {mode!r:.20}: expected timestamp or id")


def parse_start_from(mode: Mode, raw: Any) -> StartFrom:
    """``startFrom`` of the spec or the reset annotation: ``now``, ``beginning``, a cursor value, or a
    mapping ``{"timestamp": N}`` / ``{"id": "X"}``. :class:`CursorError` says what is wrong."""
    if raw is None or raw == "now":
        return NOW
    if raw == "beginning":
        return BEGINNING
    if isinstance(raw, Mapping):
        if set(raw) != {mode}:
            raise CursorError(f"startFrom for mode {mode} must be now, beginning or {{{mode}: ...}}")
        raw = raw[mode]
    return StartFrom("cursor", parse_value(mode, raw))


def initial_state(mode: Mode, start: StartFrom, *, config: CursorConfig = DEFAULT_CONFIG) -> CursorState:
    """A new cursor at ``start`` (see the module doc for what each starting point means)."""
    if mode not in MODES:
        raise CursorError(f"unknown mode {mode!r:.20}: expected timestamp or id")
    if start.kind == "now":
        return CursorState(mode=mode)
    value = (0 if mode == TIMESTAMP else "0") if start.kind == "beginning" else start.value
    value = parse_value(mode, value)
    # Everything up to and including the starting value counts as delivered: close the whole window.
    window = _window(mode, value, config.window_seconds)
    return CursorState(mode=mode, value=value, edge={v: _CLOSED_SET for v in window})


def _window(mode: Mode, value: Value, window_seconds: int) -> list[Value]:
    """The values of the window at cursor ``value``, ascending (there are no negative timestamps)."""
    if mode == ID:
        return [value]
    top = _ts(value)
    return list(range(max(0, top - window_seconds + 1), top + 1))


def _in_window(mode: Mode, value: Value, cursor: Value, window_seconds: int) -> bool:
    if mode == ID:
        return value == cursor
    return _ts(cursor) - window_seconds < _ts(value) <= _ts(cursor)


# --- requests --------------------------------------------------------------------------------------------


def request_for(state: CursorState, *, now: int, config: CursorConfig = DEFAULT_CONFIG) -> PollRequest:
    """The arguments of the next poll for ``state`` (one key; integer timestamps; never negative)."""
    if state.value is None:
        if state.mode == TIMESTAMP:
            return PollRequest(timestamp=max(0, int(now) - config.prime_lookback))
        return PollRequest(id="0")
    if state.mode == ID:
        return PollRequest(id=str(state.value))
    cursor = _ts(state.value)
    lowest_open = next(
        (
            s
            for s in range(cursor - config.window_seconds + 1, cursor + 1)
            if CLOSED not in state.edge.get(s, ())
        ),
        None,
    )
    asked = cursor if lowest_open is None else lowest_open - 1
    return PollRequest(timestamp=max(0, asked))


# --- event ids -------------------------------------------------------------------------------------------


def canonical_json(data: Any) -> str:
    """Canonical JSON text of ``data``: sorted keys, no whitespace, unicode kept."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def event_id(poll_name: str, mode: Mode, value: Value, occurrence: int, *, data: Any = None) -> str:
    """The stable id of an item (see the module doc); ``data`` counts in timestamp mode only."""
    parts: list[Any] = [EVENT_ID_VERSION, poll_name, mode, value]
    if mode == TIMESTAMP:
        parts.append(data)
    parts.append(occurrence)
    digest = hashlib.sha256(canonical_json(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return digest[:KEY_LENGTH]


def _events(poll_name: str, mode: Mode, candidates: Sequence[tuple[Value, PollItemLike]]) -> list[Event]:
    """Events (with ids) for ``candidates``, in the given order."""
    occurrence: dict[Any, int] = {}
    ids: list[str] = []
    if mode == TIMESTAMP:
        for value, item in candidates:
            group = (value, canonical_json(item.data))
            n = occurrence.get(group, 0)
            occurrence[group] = n + 1
            ids.append(event_id(poll_name, mode, value, n, data=item.data))
    else:
        # Items sharing an id are numbered by content, so that the numbering does not depend on order.
        by_id: dict[Value, list[int]] = {}
        for index, (value, _item) in enumerate(candidates):
            by_id.setdefault(value, []).append(index)
        rank = [0] * len(candidates)
        for indexes in by_id.values():
            if len(indexes) > 1:
                ordered = sorted(indexes, key=lambda i: canonical_json(candidates[i][1].data))
                for n, index in enumerate(ordered):
                    rank[index] = n
        ids = [event_id(poll_name, mode, value, rank[i]) for i, (value, _item) in enumerate(candidates)]
    return [
        Event(
            id=ids[i],
            value=value,
            timestamp=value if isinstance(value, int) else None,
            item_id=value if isinstance(value, str) else None,
            data=item.data,
        )
        for i, (value, item) in enumerate(candidates)
    ]


# --- absorbing an answer ---------------------------------------------------------------------------------


def _item_value(mode: Mode, item: PollItemLike) -> Value | None:
    if mode == TIMESTAMP:
        raw: Any = item.timestamp
        if isinstance(raw, float) and raw == raw and abs(raw) != float("inf"):
            raw = int(raw)
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
            return None
        return raw
    raw = item.id
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if not isinstance(raw, str) or not raw:
        return None
    return raw


def absorb(
    state: CursorState,
    items: Sequence[PollItemLike],
    *,
    poll_name: str,
    asked: PollRequest,
    now: int,
    config: CursorConfig = DEFAULT_CONFIG,
) -> Absorbed:
    """Classify one poll answer: the new events in delivery order, and the state to commit after them.

    ``asked`` is the request that produced ``items`` (from :func:`request_for`); ``now`` is the
    operator's clock in whole seconds.
    """
    mode = state.mode
    usable: list[tuple[Value, PollItemLike]] = []
    ignored = deferred = 0
    horizon = None if config.max_future_skew is None else int(now) + config.max_future_skew
    for item in items:
        value = _item_value(mode, item)
        if value is None:
            ignored += 1
        elif horizon is not None and mode == TIMESTAMP and _ts(value) > horizon:
            deferred += 1
        else:
            usable.append((value, item))

    if state.value is None:
        primed = _prime(state, usable, poll_name=poll_name, asked=asked, config=config)
        return dataclasses.replace(primed, ignored=ignored, deferred=deferred)

    cursor = state.value
    cursor_key = order_key(cursor)
    window_low = order_key(cursor - config.window_seconds + 1) if isinstance(cursor, int) else cursor_key
    stale = 0
    candidates: list[tuple[Value, PollItemLike]] = []
    for value, item in usable:
        if order_key(value) < window_low:
            stale += 1
        else:
            candidates.append((value, item))
    # Keys are computed only for items at or above the window: an "everything" site's history is skipped.
    duplicates = 0
    new: list[Event] = []
    for event in _events(poll_name, mode, candidates):
        if order_key(event.value) <= cursor_key:
            remembered = state.edge.get(event.value, frozenset())
            if CLOSED in remembered or event.id in remembered:
                duplicates += 1
                continue
        new.append(event)
    new.sort(key=lambda e: order_key(e.value))  # stable: ties keep the site's order

    pending: list[Event] = []
    if len(new) > config.max_batch:
        cut = _cut(new, config.max_batch)
        new, pending = new[:cut], new[cut:]

    next_cursor = cursor
    if new and order_key(new[-1].value) > cursor_key:
        next_cursor = new[-1].value
    edge: dict[Value, frozenset[str]] = {
        v: keys for v, keys in state.edge.items() if _in_window(mode, v, next_cursor, config.window_seconds)
    }
    for event in new:
        if _in_window(mode, event.value, next_cursor, config.window_seconds):
            keys = edge.get(event.value, frozenset())
            if CLOSED not in keys:
                edge[event.value] = keys | {event.id}
    closed = _fit(edge, config.edge_capacity, waiting={e.value for e in pending})
    return Absorbed(
        events=tuple(new),
        state=CursorState(mode=mode, value=next_cursor, edge=edge),
        more=bool(pending),
        duplicates=duplicates,
        stale=stale,
        ignored=ignored,
        deferred=deferred,
        closed=closed,
    )


def _cut(events: Sequence[Event], max_batch: int) -> int:
    """Where to cut a sorted batch longer than ``max_batch``: between two values, never inside one (a
    value's items are delivered together); a first value larger than ``max_batch`` goes out whole."""
    boundary = order_key(events[max_batch].value)
    cut = next(i for i, e in enumerate(events) if order_key(e.value) == boundary)
    if cut == 0:
        cut = next((i for i, e in enumerate(events) if order_key(e.value) > boundary), len(events))
    return cut


def _fit(edge: dict[Value, frozenset[str]], capacity: int, *, waiting: set[Value]) -> tuple[Value, ...]:
    """Close values (oldest first) until the edge holds at most ``capacity`` entries; return those closed.

    Values with items waiting for the next batch are closed last: closing them loses those items, which
    only happens when more than ``max_batch`` late arrivals meet a full edge.
    """
    size = sum(len(keys) for keys in edge.values())
    closed: list[Value] = []
    for last_resort in (False, True):
        for value in sorted(edge, key=order_key):
            if size <= capacity:
                return tuple(closed)
            keys = edge[value]
            if len(keys) < 2 or (value in waiting and not last_resort):
                continue
            size -= len(keys) - 1
            edge[value] = _CLOSED_SET
            closed.append(value)
    return tuple(closed)


def _prime(
    state: CursorState,
    usable: Sequence[tuple[Value, PollItemLike]],
    *,
    poll_name: str,
    asked: PollRequest,
    config: CursorConfig,
) -> Absorbed:
    """The priming poll of a ``now`` start: remember the answer as history, deliver nothing."""
    mode = state.mode
    floor: Value = (asked.timestamp or 0) if mode == TIMESTAMP else (asked.id or "0")
    cursor = max([floor, *(value for value, _ in usable)], key=order_key)
    in_window = [(v, item) for v, item in usable if _in_window(mode, v, cursor, config.window_seconds)]
    edge: dict[Value, frozenset[str]] = {}
    for event in _events(poll_name, mode, in_window):
        edge[event.value] = edge.get(event.value, frozenset()) | {event.id}
    # Window values the priming request could not see (at or below what it asked) are history: close them.
    for value in _window(mode, cursor, config.window_seconds):
        if order_key(value) <= order_key(floor) and (mode == TIMESTAMP or value not in edge):
            edge[value] = _CLOSED_SET
    closed = _fit(edge, config.edge_capacity, waiting=set())
    return Absorbed(
        events=(), state=CursorState(mode=mode, value=cursor, edge=edge), primed=True, closed=closed
    )


def _normalize(keys: set[str]) -> frozenset[str]:
    return _CLOSED_SET if CLOSED in keys else frozenset(keys)


def _parse_entry(mode: Mode, cursor: Value, entry: Any) -> tuple[Value, str] | None:
    if not isinstance(entry, str):
        return None
    if mode == TIMESTAMP:
        head, sep, key = entry.partition(":")
        if not sep or not _DIGITS_RE.match(head):
            return None
        value: Value = int(head)
    else:
        value, key = cursor, entry
    if key != CLOSED and not _KEY_RE.match(key):
        return None
    return value, key
