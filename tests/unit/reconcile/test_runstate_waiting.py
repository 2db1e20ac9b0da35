"""The waiting room: runs wake after their delay, or at once when their connection changes."""

from __future__ import annotations

import asyncio

from orchestration_operator.reconcile import runstate


def parked(uid: str, namespace: str = "team") -> runstate.Parked:
    return runstate.Parked(uid=uid, namespace=namespace, name=f"run-{uid}")


async def test_a_parked_run_wakes_after_its_delay_once() -> None:
    woken: list[str] = []
    room = runstate.WaitingRoom(wake=lambda run: woken.append(run.uid))
    room.park(parked("a"), delay=0.01)
    assert "a" in room
    deadline = asyncio.get_running_loop().time() + 5
    while not woken:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.005)
    assert woken == ["a"]
    assert "a" not in room
    assert room.rounds("a") == 1  # the backoff remembers it waited


async def test_a_ready_connection_wakes_its_runs_at_once_and_only_them() -> None:
    woken: list[str] = []
    room = runstate.WaitingRoom(wake=lambda run: woken.append(run.uid))
    room.park(parked("a"), delay=60, connection="site")
    room.park(parked("b"), delay=60, connection="site")
    room.park(parked("c"), delay=60, connection="other")
    room.park(parked("d", namespace="elsewhere"), delay=60, connection="site")
    assert room.connection_changed("team", "site") == 2
    assert sorted(woken) == ["a", "b"]
    assert len(room) == 2
    assert room.connection_changed("team", "site") == 0
    room.clear()
    assert len(room) == 0


async def test_parking_again_replaces_the_timer_and_counts_rounds() -> None:
    woken: list[str] = []
    room = runstate.WaitingRoom(wake=lambda run: woken.append(run.uid))
    room.park(parked("a"), delay=0.01, connection="site")
    room.park(parked("a"), delay=60, connection="other")
    room.park(parked("b"), delay=0.02)  # fires after a's first timer would have
    deadline = asyncio.get_running_loop().time() + 5
    while not woken:
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.005)
    assert woken == ["b"]
    assert room.rounds("a") == 2
    assert room.connection_changed("team", "site") == 0
    assert room.connection_changed("team", "other") == 1
    room.leave("a")
    assert room.rounds("a") == 0
