"""SingleFlight: one operation for every concurrent caller, and a task that never ends in an exception
(kopf re-raises such a task at shutdown, which made the operator exit 1 on SIGTERM)."""

from __future__ import annotations

import asyncio

import pytest

from orchestration_operator.client.singleflight import SingleFlight


class Boom(Exception):
    pass


async def test_concurrent_callers_share_one_call_and_its_result() -> None:
    flight: SingleFlight[int] = SingleFlight()
    calls = 0
    gate = asyncio.Event()

    async def operation() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 42

    waiters = [asyncio.ensure_future(flight.run(operation)) for _ in range(5)]
    await asyncio.sleep(0)
    assert flight.in_flight
    gate.set()
    assert await asyncio.gather(*waiters) == [42] * 5
    assert calls == 1
    assert not flight.in_flight
    assert await flight.run(operation) == 42
    assert calls == 2


async def test_every_caller_raises_the_failure_and_the_shared_task_does_not() -> None:
    flight: SingleFlight[int] = SingleFlight()
    gate = asyncio.Event()

    async def operation() -> int:
        await gate.wait()
        raise Boom("site unreachable")

    before = asyncio.all_tasks()
    waiters = [asyncio.ensure_future(flight.run(operation)) for _ in range(3)]
    await asyncio.sleep(0)
    (shared,) = asyncio.all_tasks() - before - set(waiters) - {asyncio.current_task()}
    gate.set()
    results = await asyncio.gather(*waiters, return_exceptions=True)
    assert [type(r) for r in results] == [Boom] * 3
    assert shared.done()
    assert shared.exception() is None


async def test_a_cancelled_caller_does_not_cancel_the_call_for_the_others() -> None:
    flight: SingleFlight[str] = SingleFlight()
    gate = asyncio.Event()

    async def operation() -> str:
        await gate.wait()
        return "done"

    first = asyncio.ensure_future(flight.run(operation))
    second = asyncio.ensure_future(flight.run(operation))
    await asyncio.sleep(0)
    first.cancel()
    with pytest.raises(asyncio.CancelledError):
        await first
    gate.set()
    assert await second == "done"
