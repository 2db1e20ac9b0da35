"""EventPoll end to end: the operator process, the sandbox, the emulator, kubectl, a CloudEvents receiver.

One operator serves the whole module; each test has its own EventPoll, poll name and receiver path.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
from eventpoll_stack import (
    GROUP,
    NAMESPACE,
    VERSION,
    Infrastructure,
    Stack,
    eventpoll_manifest,
    http_sink,
    infrastructure,
    stack_with_operator,
    wait_for,
)

pytestmark = pytest.mark.e2e

NOW = int(time.time())


@pytest.fixture(scope="module")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infrastructure]:
    yield from infrastructure(tmp_path_factory.mktemp("eventpoll-delivery"))


@pytest.fixture(scope="module")
def stack(infra: Infrastructure, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    yield from stack_with_operator(infra, tmp_path_factory.mktemp("operator-logs"))


def test_events_reach_http_sinks_as_cloudevents_and_the_ring_keeps_the_latest(stack: Stack) -> None:
    receiver, kubectl = stack.receiver, stack.kubectl
    stack.emulator.add_poll_items(
        "orders",
        "timestamp",
        [{"timestamp": NOW - 30, "data": {"order": 1}}, {"timestamp": NOW - 20, "data": {"order": 2}}],
    )
    kubectl.apply(
        [
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": {"name": "hook", "namespace": NAMESPACE},
                "stringData": {"url": receiver.url + "/binary/token-123", "Authorization": "Bearer t0k3n"},
            },
            eventpoll_manifest(
                "orders",
                poll="orders",
                startFrom={"timestamp": NOW - 60},
                sinks=[
                    http_sink("structured", receiver.url + "/structured"),
                    {
                        "name": "binary",
                        "http": {
                            "urlFrom": {"secretKeyRef": {"name": "hook", "key": "url"}},
                            "mode": "binary",
                            "headersFrom": {"secretRef": {"name": "hook"}},
                        },
                    },
                    {"name": "ring", "configMap": {"name": "orders-ring", "maxEvents": 2}},
                ],
            ),
        ]
    )
    status = wait_for(
        "two events delivered",
        lambda: stack.status("orders").get("eventsDelivered") == 2 and stack.status("orders"),
    )
    assert status["cursor"] == {"timestamp": NOW - 20}
    assert stack.ready("orders") == ("True", "Polling")

    structured = [d.event for d in receiver.deliveries("/structured")]
    assert [e["data"] for e in structured] == [{"order": 1}, {"order": 2}]
    first = structured[0]
    assert re.fullmatch(r"[0-9a-f]{32}", first["id"])
    assert first == {
        "specversion": "1.0",
        "id": first["id"],
        "source": f"drupal-orchestration.io/{NAMESPACE}/orders",
        "type": "io.drupal-orchestration.poll.item",
        "subject": str(NOW - 30),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - 30)),
        "datacontenttype": "application/json",
        "pollname": "orders",
        "data": {"order": 1},
    }
    binary = receiver.deliveries("/binary/token-123")
    assert [d.event for d in binary] == [
        {k: v for k, v in e.items() if k != "datacontenttype"} for e in structured
    ]
    assert {d.headers["authorization"] for d in binary} == {"Bearer t0k3n"}
    assert {d.headers["content-type"] for d in binary} == {"application/json"}

    # A late arrival in the newest second is delivered; nothing already delivered comes again.
    stack.emulator.add_poll_items("orders", "timestamp", [{"timestamp": NOW - 20, "data": {"order": 3}}])
    wait_for("the late arrival", lambda: stack.status("orders").get("eventsDelivered") == 3)
    assert [d.event["data"]["order"] for d in receiver.deliveries("/structured")] == [1, 2, 3]
    ring = stack.configmap("orders-ring")
    assert [json.loads(v)["data"] for _, v in sorted(ring.items())] == [{"order": 2}, {"order": 3}]
    owner = stack.sandbox.get_object("", "v1", "configmaps", NAMESPACE, "orders-ring")["metadata"][
        "ownerReferences"
    ]
    assert [(o["kind"], o["name"], o["uid"]) for o in owner] == [
        ("EventPoll", "orders", stack.eventpoll("orders")["metadata"]["uid"])
    ]
    assert stack.events_of("orders") == []  # a healthy EventPoll posts no Event

    # What a person sees first.
    table = kubectl("get", "epoll", "orders").stdout.splitlines()
    assert table[0].split() == ["NAME", "MODE", "CURSOR", "LAST", "POLL", "READY", "REASON", "AGE"]
    row = table[1].split()
    assert row[:2] == ["orders", "timestamp"]
    assert row[2] == str(NOW - 20)
    assert row[-3:-1] == ["True", "Polling"]
    assert re.fullmatch(r"\d+s", row[3])  # the last poll, seconds ago


def test_a_failing_sink_holds_the_cursor_and_recovers(stack: Stack) -> None:
    receiver = stack.receiver
    url = receiver.endpoint("/flaky", "fail")
    stack.emulator.add_poll_items("flaky", "id", [{"id": "7", "data": "seven"}, {"id": "8", "data": "eight"}])
    stack.kubectl.apply(
        eventpoll_manifest(
            "flaky", poll="flaky", mode="id", startFrom={"id": "6"}, sinks=[http_sink("web", url)]
        )
    )
    stack.wait_ready("flaky", "False", "SinkFailing")
    wait_for("two refused attempts", lambda: len(receiver.deliveries("/flaky")) >= 2)
    status = stack.status("flaky")
    assert "cursor" not in status  # never committed: the start (6) holds until a batch is accepted
    assert status["consecutiveFailures"] >= 1
    assert [s["name"] for s in status["sinks"]] == ["web"]
    assert "answered 503" in status["sinks"][0]["lastError"]
    stack.wait_event("flaky", "Warning", "SinkFailing")
    refused = {d.event["id"] for d in receiver.deliveries("/flaky")}

    receiver.set_mode("/flaky", "accept")
    stack.wait_ready("flaky", "True", "Polling", timeout=30)
    accepted = receiver.deliveries("/flaky", accepted=True)
    assert [d.event["data"] for d in accepted] == ["seven", "eight"]
    assert {d.event["id"] for d in accepted} <= refused | {accepted[1].event["id"]}
    assert accepted[0].event["id"] in refused  # the retry carries the same id
    assert stack.status("flaky")["cursor"] == {"id": "8"}
    stack.wait_event("flaky", "Normal", "SinkRecovered")


def test_reset_cursor_redelivers_with_the_same_ids(stack: Stack) -> None:
    receiver = stack.receiver
    url = receiver.endpoint("/reset")
    stack.emulator.add_poll_items("resets", "id", [{"id": str(n), "data": n} for n in range(1, 5)])
    stack.kubectl.apply(
        eventpoll_manifest(
            "resets",
            poll="resets",
            mode="id",
            startFrom={"position": "beginning"},
            sinks=[http_sink("web", url)],
        )
    )
    wait_for("four events", lambda: stack.status("resets").get("cursor") == {"id": "4"})
    first = [d.event["id"] for d in receiver.deliveries("/reset")]
    assert len(first) == 4

    stack.kubectl("annotate", "epoll", "resets", "drupal-orchestration.io/reset-cursor=2")
    wait_for("the reset applied", lambda: stack.status("resets").get("cursorReset") == "2")
    wait_for("the redelivery", lambda: len(receiver.deliveries("/reset")) == 6)
    assert [d.event["id"] for d in receiver.deliveries("/reset")][4:] == first[2:]
    stack.wait_event("resets", "Normal", "CursorReset")

    stack.kubectl("annotate", "--overwrite", "epoll", "resets", "drupal-orchestration.io/reset-cursor=now")
    wait_for("the reset to now", lambda: stack.status("resets").get("cursorReset") == "now")
    stack.emulator.add_poll_items("resets", "id", [{"id": "5", "data": 5}])
    wait_for("the new event", lambda: len(receiver.deliveries("/reset")) == 7)
    assert receiver.deliveries("/reset")[-1].event["data"] == 5

    stack.kubectl("annotate", "--overwrite", "epoll", "resets", "drupal-orchestration.io/reset-cursor=")
    stack.wait_ready("resets", "False", "InvalidSpec")
    stalled = next(c for c in stack.status("resets")["conditions"] if c["type"] == "Stalled")
    assert stalled["message"] == (
        "annotation drupal-orchestration.io/reset-cursor: the reset-cursor annotation is empty: use now, "
        "beginning or a cursor value"
    )


def test_suspend_stops_polling_and_resume_catches_up(stack: Stack) -> None:
    receiver = stack.receiver
    stack.emulator.add_poll_items("paused", "id", [{"id": "1", "data": 1}])
    stack.emulator.add_poll_items("clock", "id", [])
    stack.kubectl.apply(
        [
            eventpoll_manifest(
                "paused",
                poll="paused",
                mode="id",
                startFrom={"position": "beginning"},
                sinks=[http_sink("web", receiver.endpoint("/paused"))],
            ),
            eventpoll_manifest(
                "clock", poll="clock", mode="id", sinks=[http_sink("web", receiver.endpoint("/clock"))]
            ),
        ]
    )
    wait_for("the first event", lambda: len(receiver.deliveries("/paused")) == 1)
    stack.kubectl("patch", "epoll", "paused", "--type=merge", "-p", '{"spec":{"suspend":true}}')
    status = stack.wait_ready("paused", "True", "Suspended")
    assert status["observedGeneration"] == stack.eventpoll("paused")["metadata"]["generation"]
    polls = stack.polls("paused")
    stack.emulator.add_poll_items("paused", "id", [{"id": "2", "data": 2}])
    # Another EventPoll with the same interval is the clock: three of its polls, none of the suspended one.
    clock = stack.polls("clock")
    wait_for("three polls of another EventPoll", lambda: stack.polls("clock") >= clock + 3)
    assert stack.polls("paused") == polls
    stack.wait_event("paused", "Normal", "Suspended")

    stack.kubectl("patch", "epoll", "paused", "--type=merge", "-p", '{"spec":{"suspend":false}}')
    wait_for("the event added while suspended", lambda: len(receiver.deliveries("/paused")) == 2)
    stack.wait_ready("paused", "True", "Polling")


def test_failed_status_writes_lose_nothing(stack: Stack) -> None:
    receiver = stack.receiver
    stack.emulator.add_poll_items("bumpy", "id", [{"id": "1", "data": 1}])
    stack.kubectl.apply(
        eventpoll_manifest(
            "bumpy",
            poll="bumpy",
            mode="id",
            startFrom={"position": "beginning"},
            sinks=[http_sink("web", receiver.endpoint("/bumpy"))],
        )
    )
    wait_for("the first event", lambda: stack.status("bumpy").get("cursor") == {"id": "1"})
    faults = stack.sandbox.faults
    rules = [
        faults.fail(409, times=1, verb="patch", resource="eventpolls", subresource="status", name="bumpy"),
        faults.fail(503, times=1, verb="patch", resource="eventpolls", subresource="status", name="bumpy"),
    ]
    stack.emulator.add_poll_items("bumpy", "id", [{"id": "2", "data": 2}, {"id": "3", "data": 3}])
    wait_for("the cursor persisted", lambda: stack.status("bumpy").get("cursor") == {"id": "3"}, timeout=30)
    assert [rule.hits for rule in rules] == [1, 1]  # then retried after 1 s and 2 s
    assert [d.event["data"] for d in receiver.deliveries("/bumpy")] == [1, 2, 3]
    assert stack.status("bumpy")["eventsDelivered"] == 3


def test_an_eventpoll_waits_for_its_connection_and_is_woken_by_it(stack: Stack) -> None:
    stack.emulator.add_poll_items("late", "id", [{"id": "1", "data": 1}])
    manifest = eventpoll_manifest(
        "late",
        poll="late",
        mode="id",
        interval="30s",  # only the Connection's topic can wake it within the test's deadlines
        startFrom={"position": "beginning"},
        sinks=[http_sink("web", stack.receiver.endpoint("/late"))],
    )
    manifest["spec"]["connectionRef"] = {"name": "late-site"}
    stack.kubectl.apply(manifest)
    stack.wait_ready("late", "False", "ConnectionNotFound")
    assert stack.polls("late") == 0
    connection = stack.sandbox.get_object(GROUP, VERSION, "orchestrationconnections", NAMESPACE, "site")
    assert connection is not None
    stack.kubectl.apply(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "OrchestrationConnection",
            "metadata": {"name": "late-site", "namespace": NAMESPACE},
            "spec": connection["spec"],
        }
    )
    stack.wait_ready("late", "True", "Polling", timeout=15)
    assert [d.event["data"] for d in stack.receiver.deliveries("/late")] == [1]


def test_cleanup(stack: Stack) -> None:
    """Deleting EventPolls releases them (the finalizer goes once the daemon stopped)."""
    stack.kubectl("delete", "epoll", "--all", "--timeout=30s")
    assert stack.sandbox.list_objects("drupal-orchestration.io", "v1alpha1", "eventpolls", NAMESPACE) == []
