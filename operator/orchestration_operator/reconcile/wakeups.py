"""Waking a resource's reconcile loop early: per-object wakers and topics they subscribe to.

Each Connection and Webhook is reconciled by one long-lived loop (a kopf daemon, see
``handlers/loops.py``) that sleeps until its next due time (``probeInterval``, ``resyncInterval``, a
retry delay). Some changes must not wait for that time:

* its own spec changed (a new ``metadata.generation``): the handler's watch-event hook wakes it;
* the Connection a webhook waits for became Ready: the Connection's hook publishes its topic;
* a webhook key changed hands (its owner was deleted or moved to another key): the webhook hook
  publishes the key's topic so the next claimant takes over at once.

:class:`Waker` is what a loop sleeps on; :class:`Topics` fans one publication out to every waker
subscribed to a topic. Plain asyncio, no kopf: one event loop, no locks needed. Memory is bounded by
the live subscriptions (a topic without subscribers holds nothing).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Hashable, Iterable

Topic = Hashable


class Waker:
    """An edge-triggered wake-up for one loop: ``wake()`` from anywhere, ``wait()`` in the loop.

    A wake that arrives while the loop is busy is not lost: the next ``wait`` returns at once. The
    reasons given to ``wake`` are collected until the loop takes them (``take_reasons``), so a loop can
    tell "my spec changed" from "my connection recovered" when it needs to.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._reasons: set[str] = set()

    def wake(self, *, reason: str = "") -> None:
        if reason:
            self._reasons.add(reason)
        self._event.set()

    @property
    def pending(self) -> bool:
        return self._event.is_set()

    def take_reasons(self) -> frozenset[str]:
        """The reasons of the wakes since the last call, and clear the wake."""
        reasons, self._reasons = frozenset(self._reasons), set()
        self._event.clear()
        return reasons

    async def wait(self) -> None:
        """Sleep until woken (at once if a wake is pending). Bound it with ``asyncio.timeout``."""
        await self._event.wait()


class Topics:
    """Wakers by topic: ``publish(topic)`` wakes every waker subscribed to it."""

    def __init__(self) -> None:
        self._subscribers: dict[Topic, set[Waker]] = collections.defaultdict(set)
        self._topics_of: dict[Waker, frozenset[Topic]] = {}

    def subscribe(self, waker: Waker, topics: Iterable[Topic]) -> None:
        """Make ``topics`` the exact set ``waker`` listens to (replacing what it listened to before)."""
        wanted = frozenset(topics)
        current = self._topics_of.get(waker, frozenset())
        for topic in current - wanted:
            self._discard(topic, waker)
        for topic in wanted - current:
            self._subscribers[topic].add(waker)
        if wanted:
            self._topics_of[waker] = wanted
        else:
            self._topics_of.pop(waker, None)

    def unsubscribe(self, waker: Waker) -> None:
        self.subscribe(waker, ())

    def publish(self, topic: Topic, *, reason: str = "", exclude: Waker | None = None) -> int:
        """Wake every subscriber of ``topic`` but ``exclude`` (the publisher's own loop); returns how
        many were woken."""
        woken = 0
        for waker in self._subscribers.get(topic, ()):
            if waker is not exclude:
                waker.wake(reason=reason)
                woken += 1
        return woken

    def subscribers(self, topic: Topic) -> int:
        return len(self._subscribers.get(topic, ()))

    def __len__(self) -> int:
        """How many topics have subscribers (for tests: it must drop back to zero)."""
        return len(self._subscribers)

    def _discard(self, topic: Topic, waker: Waker) -> None:
        subscribers = self._subscribers.get(topic)
        if subscribers is not None:
            subscribers.discard(waker)
            if not subscribers:
                del self._subscribers[topic]


def connection_topic(namespace: str, name: str) -> Topic:
    """Published when a Connection's readiness, spec or existence changes."""
    return ("connection", namespace, name)


def webhook_key_topic(namespace: str, connection: str, key: str) -> Topic:
    """Published when the set of webhooks claiming a key of a connection changes."""
    return ("webhook-key", namespace, connection, key)
