"""ServiceRun handlers' process state.

- Shutdown: wake-ups in flight (a run woken outside kopf, mid-execute) finish before the sites' clients
  close; wake-ups not yet under way do nothing; the grace period bounds the wait. While peering pauses
  the operator, wake-ups wait too.
- Events: the success Event follows the SUCCESS_EVENTS setting; the others are always posted.
"""

from __future__ import annotations

import asyncio
import functools
import types
from typing import Any

import kopf
import pytest
from kopf._cogs.aiokits import aioenums  # the stop flag kopf hands to daemons; no public constructor

from orchestration_operator.handlers import kopfapi, servicerun, shared
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


@pytest.fixture
def fetched(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The runs a wake-up fetched (``kopfapi.get_object``, answering "gone")."""
    names: list[str] = []

    async def get_object(**kwargs: Any) -> None:
        names.append(kwargs["name"])

    monkeypatch.setattr(kopfapi, "get_object", get_object)
    return names


async def test_stop_waits_for_the_wake_up_in_flight_and_later_ones_fetch_nothing(fetched: list[str]) -> None:
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
    assert runs.lifecycle.stopping


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


EXITING = kopf.DaemonStoppingReason.OPERATOR_EXITING


@pytest.mark.parametrize(
    ("reason", "stopping", "paused"),
    [
        (None, False, False),  # still running
        (kopf.DaemonStoppingReason.RESOURCE_DELETED, False, False),  # one Connection deleted
        (kopf.DaemonStoppingReason.OPERATOR_PAUSING, False, True),  # a peer of higher priority took over
        (kopf.DaemonStoppingReason.OPERATOR_EXITING, True, False),
        (
            kopf.DaemonStoppingReason.OPERATOR_EXITING | kopf.DaemonStoppingReason.DAEMON_SIGNALLED,
            True,
            False,
        ),
    ],
)
async def test_the_lifecycle_follows_why_a_daemon_stopped(
    reason: kopf.DaemonStoppingReason | None, stopping: bool, paused: bool
) -> None:
    setter: aioenums.FlagSetter[kopf.DaemonStoppingReason] = aioenums.FlagSetter()
    if reason is not None:
        setter.set(reason)
    lifecycle = shared.Lifecycle()
    lifecycle.daemon_stopped(setter.async_waiter)
    assert (lifecycle.stopping, lifecycle.paused) == (stopping, paused)
    assert lifecycle.remaining(25.0) == (pytest.approx(25.0, abs=0.5) if stopping else 25.0)
    lifecycle.daemon_started()  # kopf starts daemons again only when the operator works again
    assert lifecycle.paused is False


async def test_the_budget_left_counts_from_the_start_of_the_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [100.0]
    monkeypatch.setattr(shared.time, "monotonic", lambda: now[0])
    lifecycle = shared.Lifecycle()
    setter: aioenums.FlagSetter[kopf.DaemonStoppingReason] = aioenums.FlagSetter()
    setter.set(kopf.DaemonStoppingReason.OPERATOR_EXITING)
    lifecycle.daemon_stopped(setter.async_waiter)
    now[0] = 118.0  # kopf's own handlers took 18 s to finish
    lifecycle.daemon_stopped(setter.async_waiter)  # a later daemon does not move the start
    assert lifecycle.remaining(25.0) == 7.0
    now[0] = 200.0
    assert lifecycle.remaining(25.0) == 0.0


@pytest.mark.parametrize(
    ("stopping_since", "paused", "parked_again"),
    [
        (1.0, False, False),  # SIGTERM was seen, the cleanup has not started: the next operator goes on
        (None, True, True),  # a peer works now: this replica tries again later, without touching the run
    ],
)
async def test_wake_ups_do_nothing_while_the_operator_stops_or_stands_by(
    fetched: list[str], stopping_since: float | None, paused: bool, parked_again: bool
) -> None:
    runs = run_memory()
    runs.lifecycle.stopping_since = stopping_since
    runs.lifecycle.paused = paused
    servicerun._wake(runs, runstate.Parked(uid="u-3", namespace="team", name="late"))
    async with asyncio.timeout(5):
        await asyncio.gather(*runs.tasks)
    assert fetched == []
    assert ("u-3" in runs.waiting) is parked_again
    runs.waiting.clear()
