"""What the operator process remembers about ServiceRuns between handler calls (never persisted).

* :class:`Ledger`: the execute calls this process started, and the outcome it computed for each. The
  durable truth is the run's status (``startedAttempt`` / ``attempts``); the ledger only guards against
  reading an older copy of it. kopf may hand a handler a stale body (an event from before the outcome
  was written arrives after it, or kopf's consistency wait times out under load): without the ledger
  such a body, showing a started call without an outcome, would end a succeeded run ``Unknown``. With
  it, the handler re-applies the outcome it already knows. Entries expire after a few minutes; a
  restarted process has none, which is exactly when "started without an outcome" means "unknown".
* :class:`WaitingRoom`: runs waiting for their connection, a Secret or a retry, woken by a timer or at
  once when their connection changes; waiting costs no write and no log line.
* :class:`Gates`: per site, how many runs may hold a start marker without an outcome at once. The site's
  client bounds requests in flight (``maxConcurrentRequests``); a run records its start marker just
  before it queues for one of those slots. Without a gate a burst of 1,000 runs would all be marked
  started and then wait for the 20 slots, and an operator crash would leave all 1,000 ``Unknown``
  although 980 never went out. The gate keeps that number to the bound plus a small headroom (the
  headroom hides the marker write's latency, so no slot idles).
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import time
from collections.abc import Callable, Hashable
from typing import Any, Final

DEFAULT_KEEP_SECONDS: Final = 600.0
DEFAULT_MAX_ENTRIES: Final = 50_000

Attempt = tuple[str, str, int]  # (run uid, execution id, attempt number)


@dataclasses.dataclass
class Entry:
    """One execute call started by this process; ``outcome`` is None while it is in flight."""

    started_at: float
    outcome: Any = None
    finished_at: float | None = None


class Ledger:
    """Execute calls this process started and the outcomes it computed, bounded in time and size."""

    def __init__(
        self,
        *,
        keep_seconds: float = DEFAULT_KEEP_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keep = keep_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: collections.OrderedDict[Attempt, Entry] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def started(self, attempt: Attempt) -> None:
        self._entries[attempt] = Entry(started_at=self._clock())
        self._entries.move_to_end(attempt)
        self._expire()

    def finished(self, attempt: Attempt, outcome: Any) -> None:
        entry = self._entries.get(attempt)
        if entry is None:
            entry = self._entries[attempt] = Entry(started_at=self._clock())
        entry.outcome = outcome
        entry.finished_at = self._clock()
        self._entries.move_to_end(attempt)

    def lookup(self, attempt: Attempt) -> Entry | None:
        self._expire()
        return self._entries.get(attempt)

    def _expire(self) -> None:
        now = self._clock()
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            too_many = len(self._entries) > self._max
            # An entry in flight can expire too: its handler call is still running, so no stale body of
            # the run is read meanwhile, and finishing re-creates the entry.
            expired = now - (entry.finished_at or entry.started_at) > self._keep
            if not (too_many or expired):
                break
            del self._entries[key]


def default_headroom(limit: int) -> int:
    """Runs that may wait, start marker written, for one of ``limit`` request slots."""
    return max(2, limit // 2)


class Gates:
    """One admission semaphore per site, sized from the site's ``maxConcurrentRequests``."""

    def __init__(self, *, headroom: Callable[[int], int] = default_headroom) -> None:
        self._headroom = headroom
        self._gates: dict[Hashable, tuple[int, asyncio.Semaphore]] = {}

    def gate(self, key: Hashable, limit: int) -> asyncio.Semaphore:
        """The gate of site ``key``; a new one when ``limit`` changed (runs holding the old one finish)."""
        known = self._gates.get(key)
        if known is None or known[0] != limit:
            known = (limit, asyncio.Semaphore(limit + self._headroom(limit)))
            self._gates[key] = known
        return known[1]

    def forget(self, key: Hashable) -> None:
        self._gates.pop(key, None)


@dataclasses.dataclass(frozen=True)
class Parked:
    """A run waiting for something outside itself."""

    uid: str
    namespace: str
    name: str


class WaitingRoom:
    """Runs that wait (for their connection, a Secret, the catalog, a retry's backoff), held in memory.

    A waiting run costs no Kubernetes write and no log line: it is woken after its delay, or at once
    when the connection it waits for changes (:meth:`connection_changed`). ``wake`` is called on the
    event loop with the parked run, which has left the room by then (waiting again parks it anew).
    """

    def __init__(self, wake: Callable[[Parked], None]) -> None:
        self._wake = wake
        self._timers: dict[str, tuple[Parked, asyncio.TimerHandle, tuple[str, str] | None]] = {}
        self._by_connection: dict[tuple[str, str], set[str]] = {}
        self._rounds: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._timers)

    def __contains__(self, uid: object) -> bool:
        return uid in self._timers

    def rounds(self, uid: str) -> int:
        """How many times in a row the run was parked (the waiting backoff grows with it)."""
        return self._rounds.get(uid, 0)

    def park(self, run: Parked, *, delay: float, connection: str | None = None) -> None:
        """Wake ``run`` after ``delay`` seconds, or when its ``connection`` (same namespace) changes."""
        self._remove(run.uid)
        key = None if connection is None else (run.namespace, connection)
        timer = asyncio.get_running_loop().call_later(delay, self._fire, run.uid)
        self._timers[run.uid] = (run, timer, key)
        self._rounds[run.uid] = self._rounds.get(run.uid, 0) + 1
        if key is not None:
            self._by_connection.setdefault(key, set()).add(run.uid)

    def leave(self, uid: str) -> None:
        """The run does not wait anymore (it proceeded, finished, or is gone)."""
        self._remove(uid)
        self._rounds.pop(uid, None)

    def connection_changed(self, namespace: str, name: str) -> int:
        """Wake every run waiting for this connection now; returns how many."""
        uids = list(self._by_connection.get((namespace, name), ()))
        for uid in uids:
            self._fire(uid)
        return len(uids)

    def clear(self) -> None:
        for _, timer, _ in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._by_connection.clear()
        self._rounds.clear()

    def _fire(self, uid: str) -> None:
        entry = self._timers.get(uid)
        if entry is None:
            return
        self._remove(uid)
        self._wake(entry[0])

    def _remove(self, uid: str) -> None:
        entry = self._timers.pop(uid, None)
        if entry is None:
            return
        _, timer, key = entry
        timer.cancel()
        if key is not None:
            waiting = self._by_connection.get(key)
            if waiting is not None:
                waiting.discard(uid)
                if not waiting:
                    del self._by_connection[key]
