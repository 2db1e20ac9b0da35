"""When in its interval each EventPoll polls: the least crowded second, so a thousand never fire at once.

A hash of the uid alone (``eventpoll.phase``) spreads EventPolls like dice: with 1,000 EventPolls of a
30 s interval, some second gets about 50 polls where the mean is 33, and a second twice as busy as the
mean is not rare. :class:`Spread` instead hands each EventPoll of an interval the slot (one second of
the interval, at most :data:`MAX_SLOTS` slots) that fewest EventPolls of that interval hold, starting
the search at the uid's hashed slot; inside its slot an EventPoll sits at its hashed fraction. So the
slots of an interval never differ by more than one EventPoll, whatever the order of creation.

One :class:`Spread` serves the whole operator (phases are per process: a restarted operator hands them
out again, in the order its daemons start). Memory: one entry per EventPoll and one list of counters per
interval in use, dropped when its last EventPoll goes.
"""

from __future__ import annotations

from typing import Final

from orchestration_operator.reconcile import eventpoll

MAX_SLOTS: Final = 3600
"""Most slots per interval (longer intervals get slots longer than a second)."""


def slots_for(interval: float) -> int:
    return max(1, min(int(interval), MAX_SLOTS))


class Spread:
    """Phases (fractions of the interval) for EventPolls, evenly filling each interval's slots."""

    def __init__(self) -> None:
        self._counts: dict[float, list[int]] = {}
        self._held: dict[str, tuple[float, int]] = {}

    def phase(self, uid: str, interval: float) -> float:
        """The EventPoll's phase in [0, 1): the same for as long as it keeps this interval."""
        held = self._held.get(uid)
        if held is None or held[0] != interval:
            self.release(uid)
            held = (interval, self._take(uid, interval))
            self._held[uid] = held
        slots = slots_for(interval)
        return (held[1] + eventpoll.phase(uid)) / slots

    def release(self, uid: str) -> None:
        """The EventPoll is gone (or changes its interval): free its slot."""
        held = self._held.pop(uid, None)
        if held is None:
            return
        counts = self._counts[held[0]]
        counts[held[1]] -= 1
        if not any(counts):
            del self._counts[held[0]]

    def _take(self, uid: str, interval: float) -> int:
        counts = self._counts.setdefault(interval, [0] * slots_for(interval))
        fewest = min(counts)
        start = int(eventpoll.phase(uid) * len(counts))
        try:
            slot = counts.index(fewest, start)
        except ValueError:
            slot = counts.index(fewest)
        counts[slot] += 1
        return slot

    def load(self, interval: float) -> list[int]:
        """EventPolls per slot of ``interval`` (for tests and diagnostics)."""
        return list(self._counts.get(interval, ()))

    def __len__(self) -> int:
        return len(self._held)
