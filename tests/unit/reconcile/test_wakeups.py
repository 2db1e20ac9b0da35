"""Wakers and topics: a wake is never lost, publishing reaches exactly the subscribers, memory drains."""

from __future__ import annotations

import asyncio
import functools

import pytest

from orchestration_operator.reconcile import wakeups


async def test_a_wake_before_the_wait_is_not_lost() -> None:
    waker = wakeups.Waker()
    waker.wake(reason="spec")
    async with asyncio.timeout(1):
        await waker.wait()
    assert waker.take_reasons() == {"spec"}
    assert not waker.pending


async def test_a_wait_ends_when_woken_from_another_task() -> None:
    waker = wakeups.Waker()
    asyncio.get_running_loop().call_soon(functools.partial(waker.wake, reason="connection"))
    async with asyncio.timeout(1):
        await waker.wait()
    assert waker.take_reasons() == {"connection"}


async def test_an_unwoken_wait_times_out() -> None:
    waker = wakeups.Waker()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.01):
            await waker.wait()


def test_publish_wakes_subscribers_of_the_topic_only_and_not_the_publisher() -> None:
    topics = wakeups.Topics()
    a, b, c = wakeups.Waker(), wakeups.Waker(), wakeups.Waker()
    key = wakeups.webhook_key_topic("ns", "site", "k")
    topics.subscribe(a, [key])
    topics.subscribe(b, [key, wakeups.connection_topic("ns", "site")])
    topics.subscribe(c, [wakeups.connection_topic("ns", "other")])
    assert topics.publish(key, reason="claims", exclude=a) == 1
    assert (a.pending, b.pending, c.pending) == (False, True, False)
    assert b.take_reasons() == {"claims"}


def test_subscribing_replaces_the_topics_and_memory_drains() -> None:
    topics = wakeups.Topics()
    waker = wakeups.Waker()
    topics.subscribe(waker, ["x", "y"])
    topics.subscribe(waker, ["y", "z"])
    assert (topics.subscribers("x"), topics.subscribers("y"), topics.subscribers("z")) == (0, 1, 1)
    topics.unsubscribe(waker)
    assert len(topics) == 0
    assert topics.publish("y") == 0
