"""The shared loop machinery: status merge patches, sleeping until due / woken / stopped."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

import kopf
import pytest

from orchestration_operator.api import webhook
from orchestration_operator.handlers import loops
from orchestration_operator.reconcile import wakeups


@pytest.mark.parametrize(
    ("current", "desired", "patch"),
    [
        ({}, {}, {}),
        ({"registeredKey": "a"}, {"registeredKey": "a"}, {}),
        ({"registeredKey": "a"}, {"registeredKey": "b"}, {"registeredKey": "b"}),
        ({"registeredKey": "a", "urlDigest": "x"}, {}, {"registeredKey": None, "urlDigest": None}),
        ({"kopf": {"progress": {}}}, {}, {}),  # kopf's storage is never touched
        ({"somethingElse": 1}, {}, {}),  # nor fields the model does not know
        ({"conditions": [{"type": "Ready"}]}, {"conditions": []}, {"conditions": []}),
    ],
)
def test_status_patch(current: dict[str, Any], desired: dict[str, Any], patch: dict[str, Any]) -> None:
    assert loops.status_patch(webhook.OrchestrationWebhookStatus, current, desired) == patch


class Stopped:
    """A stand-in for kopf's DaemonStopped: truthy once set, ``await stopped.wait()``."""

    def __init__(self) -> None:
        self.event = asyncio.Event()

    def __bool__(self) -> bool:
        return self.event.is_set()

    async def wait(self) -> None:
        await self.event.wait()


async def test_sleep_returns_when_woken() -> None:
    waker, stopped = wakeups.Waker(), Stopped()
    asyncio.get_running_loop().call_later(0.01, functools.partial(waker.wake, reason="spec"))
    async with asyncio.timeout(2):
        await loops.sleep(stopped, waker, None)  # type: ignore[arg-type]
    assert waker.take_reasons() == {"spec"}


async def test_sleep_returns_when_stopped() -> None:
    waker, stopped = wakeups.Waker(), Stopped()
    asyncio.get_running_loop().call_later(0.01, stopped.event.set)
    async with asyncio.timeout(2):
        await loops.sleep(stopped, waker, float("inf"))  # type: ignore[arg-type]
    assert not waker.pending


async def test_sleep_returns_after_the_delay_and_leaves_no_task_behind() -> None:
    waker, stopped = wakeups.Waker(), Stopped()
    before = len(asyncio.all_tasks())
    started = asyncio.get_running_loop().time()
    await loops.sleep(stopped, waker, 0.02)  # type: ignore[arg-type]
    assert asyncio.get_running_loop().time() - started >= 0.02
    assert len(asyncio.all_tasks()) == before


async def test_sleep_with_a_pending_wake_returns_at_once() -> None:
    waker, stopped = wakeups.Waker(), Stopped()
    waker.wake()
    async with asyncio.timeout(0.5):
        await loops.sleep(stopped, waker, 3600)  # type: ignore[arg-type]


def test_unexpected_errors_back_off_and_reset() -> None:
    errors = loops.ErrorBackoff()
    logger = logging.getLogger("test")
    delays = []
    for _ in range(8):
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            delays.append(errors.failed(logger))
    assert delays == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    errors.succeeded()
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        assert errors.failed(logger) == 1.0


@pytest.mark.parametrize(
    ("metadata", "woken"),
    [
        ({"generation": 1}, False),
        ({"generation": 2}, True),
        ({"generation": 2, "deletionTimestamp": "2025-05-01T12:00:00Z"}, False),
    ],
)
def test_a_loop_is_woken_by_a_new_generation_only(metadata: dict[str, Any], woken: bool) -> None:
    memo = kopf.Memo()
    loop = loops.loop_of(memo, dict)
    loop.seen_generation = 1
    loops.wake_on_generation(memo, kopf.Body({"metadata": metadata}))
    assert loop.waker.pending is woken
