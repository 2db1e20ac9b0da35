"""EventPoll across operator deaths: a SIGKILL in the middle of a batch, and a graceful stop during one.

Nothing is lost and re-deliveries carry the same event ids: the cursor in status moves only after the
whole batch was accepted, so a restarted operator delivers the interrupted batch again.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from eventpoll_stack import (
    Infrastructure,
    Stack,
    eventpoll_manifest,
    http_sink,
    infrastructure,
    stack_with_operator,
    wait_for,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infrastructure]:
    yield from infrastructure(tmp_path_factory.mktemp("eventpoll-crash"))


@pytest.fixture(scope="module")
def stack(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from stack_with_operator(infra, tmp_path_factory.mktemp("operator-logs"))


def ids_by_data(stack: Stack, path: str) -> dict[object, set[str]]:
    found: dict[object, set[str]] = {}
    for delivery in stack.receiver.deliveries(path):
        found.setdefault(delivery.event["data"], set()).add(delivery.event["id"])
    return found


def test_sigkill_in_the_middle_of_a_batch_loses_nothing(stack: Stack) -> None:
    receiver = stack.receiver
    url = receiver.endpoint("/crash", "block", accept_first=2)
    stack.emulator.add_poll_items("crash", "id", [{"id": str(n), "data": n} for n in range(1, 6)])
    stack.kubectl.apply(
        eventpoll_manifest(
            "crash",
            poll="crash",
            mode="id",
            startFrom={"position": "beginning"},
            sinks=[http_sink("web", url, timeout="60s")],
        )
    )
    wait_for("the third event held by the receiver", lambda: receiver.blocked == 1)
    assert [d.event["data"] for d in receiver.deliveries("/crash")] == [1, 2]
    assert "cursor" not in stack.status("crash")

    stack.operator.kill()  # SIGKILL: no cleanup, the batch is half delivered
    receiver.set_mode("/crash", "accept")
    receiver.release()  # the receiver got event 3; the operator never saw the answer
    assert "cursor" not in stack.status("crash")

    stack.operator.start(stack.sandbox)
    wait_for(
        "the cursor at the last event", lambda: stack.status("crash").get("cursor") == {"id": "5"}, timeout=30
    )
    delivered = [d.event["data"] for d in receiver.deliveries("/crash")]
    assert delivered == [1, 2, 3, 1, 2, 3, 4, 5]  # the interrupted batch again, whole and in order
    assert all(len(ids) == 1 for ids in ids_by_data(stack, "/crash").values())  # the same ids again
    assert len({i for ids in ids_by_data(stack, "/crash").values() for i in ids}) == 5
    assert stack.status("crash")["eventsDelivered"] == 5


def test_a_graceful_stop_during_a_batch_commits_nothing(stack: Stack) -> None:
    receiver = stack.receiver
    url = receiver.endpoint("/stop", "block", accept_first=1)
    stack.emulator.add_poll_items("stop", "id", [{"id": "10", "data": 10}, {"id": "11", "data": 11}])
    blocked = receiver.blocked
    stack.kubectl.apply(
        eventpoll_manifest(
            "stop",
            poll="stop",
            mode="id",
            startFrom={"id": "9"},
            sinks=[http_sink("web", url, timeout="60s")],
        )
    )
    wait_for("the second event held by the receiver", lambda: receiver.blocked == blocked + 1)
    proc = stack.operator.proc
    assert proc is not None
    started = time.monotonic()
    assert proc.stop(timeout=8) == 0  # SIGINT: the pass in flight is cancelled, the operator exits
    assert time.monotonic() - started < 5  # promptly, not after kopf's cancellation timeout
    assert [d.event["data"] for d in receiver.deliveries("/stop")] == [10]  # 11 is still held
    assert "cursor" not in stack.status("stop")

    receiver.set_mode("/stop", "accept")
    receiver.release()
    stack.operator.start(stack.sandbox)
    wait_for(
        "the cursor at the last event", lambda: stack.status("stop").get("cursor") == {"id": "11"}, timeout=30
    )
    assert [d.event["data"] for d in receiver.deliveries("/stop")] == [10, 11, 10, 11]
    assert all(len(ids) == 1 for ids in ids_by_data(stack, "/stop").values())
