"""ServiceRun handlers' process state.

- Shutdown: wake-ups in flight (a run woken outside kopf, mid-execute) finish before the sites' clients
  close; wake-ups not yet under way do nothing; the grace period bounds the wait.
- Events: the success Event follows the SUCCESS_EVENTS setting; the others are always posted.
"""

from __future__ import annotations

import asyncio
import functools
import types
from typing import Any

import pytest

from orchestration_operator.handlers import kopfapi, servicerun
from orchestration_operator.reconcile import runstate


def run_memory() -> servicerun.RunMemory:
    runs = servicerun.RunMemory()
    runs.room = runstate.WaitingRoom(wake=functools.partial(servicerun._wake, runs))
    runs.resource = object()  # type: ignore[assignment]  # only checked for presence before a fetch
    return runs


def spawn(runs: servicerun.RunMemory, coro: Any) -> asyncio.Task[None]:
    task = asyncio.ensure_future(coro)
    runs.tasks.add(task)
    task.add_done_callback(runs.tasks.discard)
    return task


async def test_stop_waits_for_the_wake_up_in_flight_and_later_ones_fetch_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fetched: list[str] = []

    async def get_object(**kwargs: Any) -> None:
        fetched.append(kwargs["name"])

    monkeypatch.setattr(kopfapi, "get_object", get_object)
    runs = run_memory()
    gate = asyncio.Event()
    outcome: list[str] = []

    async def mid_execute() -> None:
        await gate.wait()
        outcome.append("recorded")

    spawn(runs, mid_execute())
    stopping = asyncio.ensure_future(servicerun.stop(types.SimpleNamespace(serviceruns=runs), grace=5))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    assert not stopping.done()  # still waiting for the call in flight
    servicerun._wake(runs, runstate.Parked(uid="u-2", namespace="team", name="late"))
    gate.set()
    async with asyncio.timeout(5):
        await stopping
        await asyncio.gather(*runs.tasks)
    assert outcome == ["recorded"]
    assert fetched == []  # the late wake-up did not start a run during shutdown
    assert runs.stopping


async def test_stop_gives_up_after_the_grace_period() -> None:
    runs = run_memory()
    hung = spawn(runs, asyncio.Event().wait())
    async with asyncio.timeout(5):
        await servicerun.stop(types.SimpleNamespace(serviceruns=runs), grace=0.05)  # type: ignore[arg-type]
    assert not hung.done()
    hung.cancel()


@pytest.mark.parametrize(
    ("success_events", "posted"),
    [
        (True, [("Warning", "UnknownConfigKeys"), ("Normal", "Succeeded")]),
        (False, [("Warning", "UnknownConfigKeys")]),  # ORCHESTRATION_OPERATOR_SUCCESS_EVENTS=false
    ],
)
def test_the_success_event_follows_the_setting(
    monkeypatch: pytest.MonkeyPatch, success_events: bool, posted: list[tuple[str, str]]
) -> None:
    seen: list[tuple[str, str]] = []

    def event(body: Any, **fields: str) -> None:
        seen.append((fields["type"], fields["reason"]))

    monkeypatch.setattr(servicerun.kopf, "event", event)
    runs = run_memory()
    runs.success_events = success_events
    body = {"metadata": {"namespace": "team", "name": "welcome", "uid": "u-1"}}
    step = servicerun.reconcile.Step(
        events=(
            servicerun.reconcile.Event("Warning", "UnknownConfigKeys", "config key x is not declared"),
            servicerun.reconcile.Event("Normal", "Succeeded", '"eca::x" returned an object in 0.05s'),
        )
    )
    servicerun._after(runs, body, step)
    assert seen == posted
