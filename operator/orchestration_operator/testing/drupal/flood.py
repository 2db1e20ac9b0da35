"""Drupal's flood control: failed-login events counted per identifier inside a sliding window.

Event names follow Drupal: ``basic_auth.failed_login_user`` / ``basic_auth.failed_login_ip`` for HTTP
Basic, ``user.http_login`` / ``user.failed_login_ip`` for ``/user/login``. The clock is injectable so
tests never wait for a window to pass; ``reset`` clears everything (a site admin clearing the table).
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable


class Flood:
    """Counts events per (name, identifier); bounded by the window of each event."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._events: dict[tuple[str, str], collections.deque[float]] = {}
        self._lock = threading.Lock()

    def register(self, name: str, *, window: float, identifier: str) -> None:
        now = self._clock()
        with self._lock:
            events = self._events.setdefault((name, identifier), collections.deque(maxlen=10_000))
            self._expire(events, now=now, window=window)
            events.append(now)

    def is_allowed(self, name: str, *, threshold: int, window: float, identifier: str) -> bool:
        now = self._clock()
        with self._lock:
            events = self._events.get((name, identifier))
            if events is None:
                return True
            self._expire(events, now=now, window=window)
            return len(events) < threshold

    def clear(self, name: str, *, identifier: str) -> None:
        with self._lock:
            self._events.pop((name, identifier), None)

    def reset(self) -> None:
        with self._lock:
            self._events.clear()

    def count(self, name: str, *, identifier: str) -> int:
        with self._lock:
            return len(self._events.get((name, identifier), ()))

    @staticmethod
    def _expire(events: collections.deque[float], *, now: float, window: float) -> None:
        while events and events[0] <= now - window:
            events.popleft()
