"""EventPoll across operator deaths: a SIGKILL in the middle of a batch, and a graceful stop during one.

Nothing is lost and re-deliveries carry the same event ids: the cursor in status moves only after the
whole batch was accepted, so a restarted operator delivers the interrupted batch again. These tests kill
the operator, so they have a stack of their own (``eventpoll_stack.OwnStack``), not the session's.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from eventpoll_stack import OwnStack, Polls, http_sink, running_receiver

from conftest import eventually
from orchestration_operator.testing import background

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnStack]:
    with running_receiver() as receiver, background.BackgroundLoop(name="eventpoll-crash") as loop:
        found = OwnStack(tmp_path_factory.mktemp("eventpoll-crash"), loop, receiver)
        try:
            found.set_up()
            yield found
        finally:
            found.close()


def ids_by_data(polls: Polls, path: str) -> dict[object, set[str]]:
    found: dict[object, set[str]] = {}
    for delivery in polls.receiver.deliveries(path):
        found.setdefault(delivery.event["data"], set()).add(delivery.event["id"])
    return found


def test_sigkill_in_the_middle_of_a_batch_loses_nothing(own: OwnStack) -> None:
    polls = own.polls
    receiver = polls.receiver
    url = receiver.endpoint("/crash", "block", accept_first=2)
    polls.emulator.add_poll_items("crash", "id", [{"id": str(n), "data": n} for n in range(1, 6)])
    polls.apply(
        "crash",
        poll="crash",
        mode="id",
        startFrom={"position": "beginning"},
        sinks=[http_sink("web", url, timeout="60s")],
    )
    eventually(lambda: receiver.blocked == 1, what="the third event held by the receiver")
    assert [d.event["data"] for d in receiver.deliveries("/crash")] == [1, 2]
    assert "cursor" not in polls.status("crash")

    own.kill_operator()  # SIGKILL: no cleanup, the batch is half delivered
    receiver.set_mode("/crash", "accept")
    receiver.release()  # the receiver got event 3; the operator never saw the answer
    assert "cursor" not in polls.status("crash")

    own.start_operator()
    polls.wait_status("crash", "the cursor at the last event", cursor={"id": "5"})
    assert [d.event["data"] for d in receiver.deliveries("/crash")] == [1, 2, 3, 1, 2, 3, 4, 5]
    ids = ids_by_data(polls, "/crash")
    assert all(len(found) == 1 for found in ids.values())  # a re-delivery carries the same id
    assert len(set.union(*ids.values())) == 5
    assert polls.status("crash")["eventsDelivered"] == 5


def test_a_graceful_stop_during_a_batch_commits_nothing(own: OwnStack) -> None:
    polls = own.polls
    receiver = polls.receiver
    url = receiver.endpoint("/stop", "block", accept_first=1)
    polls.emulator.add_poll_items("stop", "id", [{"id": "10", "data": 10}, {"id": "11", "data": 11}])
    blocked = receiver.blocked
    polls.apply(
        "stop", poll="stop", mode="id", startFrom={"id": "9"}, sinks=[http_sink("web", url, timeout="60s")]
    )
    eventually(lambda: receiver.blocked == blocked + 1, what="the second event held by the receiver")
    assert own.operator is not None
    started = time.monotonic()
    assert own.operator.stop(timeout=8) == 0  # SIGINT: the pass in flight is cancelled, the operator exits
    assert time.monotonic() - started < 5  # promptly, not after kopf's cancellation timeout
    assert [d.event["data"] for d in receiver.deliveries("/stop")] == [10]  # 11 is still held
    assert "cursor" not in polls.status("stop")

    receiver.set_mode("/stop", "accept")
    receiver.release()
    own.start_operator()
    polls.wait_status("stop", "the cursor at the last event", cursor={"id": "11"})
    assert [d.event["data"] for d in receiver.deliveries("/stop")] == [10, 11, 10, 11]
    assert all(len(found) == 1 for found in ids_by_data(polls, "/stop").values())
