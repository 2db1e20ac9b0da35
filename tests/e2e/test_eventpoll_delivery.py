"""EventPoll end to end: the operator process, the sandbox, the emulator, kubectl, a CloudEvents receiver.

The session's operator serves these tests (``conftest.py``); each test has a namespace of its own with
its Connection ``site``, and its own poll names and receiver paths. Covered: CloudEvents with the right
attributes (structured and binary, URL and headers from a Secret), the ConfigMap ring, a late arrival
in the newest second, what ``kubectl get`` shows, a failing sink that holds the cursor and recovers,
reset-cursor, suspend and resume, failed status writes, and waiting for a Connection.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator

import pytest
from eventpoll_stack import Polls, Receiver, http_sink, running_receiver

from conftest import GROUP, VERSION, Stack, condition, connection_yaml, eventually

pytestmark = pytest.mark.e2e

NOW = int(time.time())


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    with running_receiver() as found:
        yield found


@pytest.fixture
def polls(e2e: Stack, namespace: str, receiver: Receiver) -> Polls:
    """EventPolls of the test's namespace, whose Connection ``site`` is Ready."""
    e2e.apply(namespace, connection_yaml(url=e2e.emulator.url))
    e2e.kubectl("wait", "-n", namespace, "--for=condition=Ready", "oconn/site", "--timeout=30s")
    return Polls(e2e.sandbox, e2e.emulator, e2e.kubectl, namespace, receiver)


def test_events_reach_http_sinks_as_cloudevents_and_the_ring_keeps_the_latest(polls: Polls) -> None:
    receiver, kubectl, ns = polls.receiver, polls.kubectl, polls.namespace
    poll = f"{ns}-orders"
    polls.emulator.add_poll_items(
        poll,
        "timestamp",
        [{"timestamp": NOW - 30, "data": {"order": 1}}, {"timestamp": NOW - 20, "data": {"order": 2}}],
    )
    binary_path = f"/{ns}/binary/token-123"
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "hook", "namespace": ns},
            "stringData": {"url": receiver.url + binary_path, "Authorization": "Bearer t0k3n"},
        }
    )
    polls.apply(
        "orders",
        poll=poll,
        startFrom={"timestamp": NOW - 60},
        sinks=[
            http_sink("structured", receiver.endpoint(f"/{ns}/structured")),
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
    )
    status = polls.wait_status("orders", "two events delivered", eventsDelivered=2)
    assert status["cursor"] == {"timestamp": NOW - 20}
    assert polls.ready("orders") == ("True", "Polling")

    structured = [d.event for d in receiver.deliveries(f"/{ns}/structured")]
    assert [e["data"] for e in structured] == [{"order": 1}, {"order": 2}]
    first = structured[0]
    assert re.fullmatch(r"[0-9a-f]{32}", first["id"])
    assert first == {
        "specversion": "1.0",
        "id": first["id"],
        "source": f"drupal-orchestration.io/{ns}/orders",
        "type": "io.drupal-orchestration.poll.item",
        "subject": str(NOW - 30),
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - 30)),
        "datacontenttype": "application/json",
        "pollname": poll,
        "data": {"order": 1},
    }
    binary = receiver.deliveries(binary_path)
    assert [d.event for d in binary] == [
        {k: v for k, v in e.items() if k != "datacontenttype"} for e in structured
    ]
    assert {d.headers["authorization"] for d in binary} == {"Bearer t0k3n"}
    assert {d.headers["content-type"] for d in binary} == {"application/json"}

    # A late arrival in the newest second is delivered; nothing already delivered comes again.
    polls.emulator.add_poll_items(poll, "timestamp", [{"timestamp": NOW - 20, "data": {"order": 3}}])
    polls.wait_status("orders", "the late arrival", eventsDelivered=3)
    assert [d.event["data"]["order"] for d in receiver.deliveries(f"/{ns}/structured")] == [1, 2, 3]
    ring = polls.configmap("orders-ring")
    assert ring is not None
    assert [json.loads(v)["data"] for _, v in sorted(ring["data"].items())] == [{"order": 2}, {"order": 3}]
    assert [(o["kind"], o["name"], o["uid"]) for o in ring["metadata"]["ownerReferences"]] == [
        ("EventPoll", "orders", polls.get("orders")["metadata"]["uid"])
    ]
    assert polls.events_of("orders") == []  # a healthy EventPoll posts no Event

    # What a person sees first.
    table = kubectl("get", "-n", ns, "epoll", "orders").stdout.splitlines()
    assert table[0].split() == ["NAME", "MODE", "CURSOR", "LAST", "POLL", "READY", "REASON", "AGE"]
    row = table[1].split()
    assert row[:3] == ["orders", "timestamp", str(NOW - 20)]
    assert re.fullmatch(r"\d+s", row[3])  # the last poll, seconds ago
    assert row[4:6] == ["True", "Polling"]


def test_a_failing_sink_holds_the_cursor_and_recovers(polls: Polls) -> None:
    receiver, ns = polls.receiver, polls.namespace
    path, poll = f"/{ns}/flaky", f"{ns}-flaky"
    polls.emulator.add_poll_items(poll, "id", [{"id": "7", "data": "seven"}, {"id": "8", "data": "eight"}])
    polls.apply(
        "flaky",
        poll=poll,
        mode="id",
        startFrom={"id": "6"},
        sinks=[http_sink("web", receiver.endpoint(path, "fail"))],
    )
    polls.wait_ready("flaky", "False", "SinkFailing")
    eventually(lambda: len(receiver.deliveries(path)) >= 2, what="two refused attempts")
    status = polls.status("flaky")
    assert "cursor" not in status  # never committed: the start (6) holds until a batch is accepted
    assert status["consecutiveFailures"] >= 1
    assert [s["name"] for s in status["sinks"]] == ["web"]
    assert "answered 503" in status["sinks"][0]["lastError"]
    polls.wait_event("flaky", "Warning", "SinkFailing")
    refused = {d.event["data"]: d.event["id"] for d in receiver.deliveries(path)}

    receiver.set_mode(path, "accept")
    polls.wait_ready("flaky", "True", "Polling", timeout=30)
    accepted = receiver.deliveries(path, accepted=True)
    assert [d.event["data"] for d in accepted] == ["seven", "eight"]
    assert accepted[0].event["id"] == refused["seven"]  # the retry carries the same id
    assert polls.status("flaky")["cursor"] == {"id": "8"}
    polls.wait_event("flaky", "Normal", "SinkRecovered")


def test_reset_cursor_redelivers_with_the_same_ids(polls: Polls) -> None:
    receiver, kubectl, ns = polls.receiver, polls.kubectl, polls.namespace
    path, poll = f"/{ns}/reset", f"{ns}-resets"
    polls.emulator.add_poll_items(poll, "id", [{"id": str(n), "data": n} for n in range(1, 5)])
    polls.apply(
        "resets",
        poll=poll,
        mode="id",
        startFrom={"position": "beginning"},
        sinks=[http_sink("web", receiver.endpoint(path))],
    )
    polls.wait_status("resets", "four events", cursor={"id": "4"})
    first = [d.event["id"] for d in receiver.deliveries(path)]
    assert len(first) == 4

    annotation = "drupal-orchestration.io/reset-cursor"
    kubectl("annotate", "-n", ns, "epoll", "resets", f"{annotation}=2")
    polls.wait_status("resets", "the reset applied", cursorReset="2", cursor={"id": "4"})
    assert [d.event["id"] for d in receiver.deliveries(path)][4:] == first[2:]  # 3 and 4 again, same ids
    polls.wait_event("resets", "Normal", "CursorReset")

    kubectl("annotate", "--overwrite", "-n", ns, "epoll", "resets", f"{annotation}=now")
    polls.wait_status("resets", "the reset to now", cursorReset="now")
    polls.emulator.add_poll_items(poll, "id", [{"id": "5", "data": 5}])
    eventually(lambda: len(receiver.deliveries(path)) == 7, what="the new event")
    assert receiver.deliveries(path)[-1].event["data"] == 5

    kubectl("annotate", "--overwrite", "-n", ns, "epoll", "resets", f"{annotation}=")
    polls.wait_ready("resets", "False", "InvalidSpec")
    assert condition(polls.get("resets"), "Stalled")["message"] == (
        "annotation drupal-orchestration.io/reset-cursor: the reset-cursor annotation is empty: use now, "
        "beginning or a cursor value"
    )


def test_suspend_stops_polling_and_resume_catches_up(polls: Polls) -> None:
    receiver, kubectl, ns = polls.receiver, polls.kubectl, polls.namespace
    path, poll, clock_poll = f"/{ns}/paused", f"{ns}-paused", f"{ns}-clock"
    polls.emulator.add_poll_items(poll, "id", [{"id": "1", "data": 1}])
    polls.emulator.add_poll_items(clock_poll, "id", [])
    polls.apply(
        "paused",
        poll=poll,
        mode="id",
        startFrom={"position": "beginning"},
        sinks=[http_sink("web", receiver.endpoint(path))],
    )
    polls.apply(
        "clock", poll=clock_poll, mode="id", sinks=[http_sink("web", receiver.endpoint(f"/{ns}/clock"))]
    )
    eventually(lambda: len(receiver.deliveries(path)) == 1, what="the first event")
    kubectl("patch", "-n", ns, "epoll", "paused", "--type=merge", "-p", '{"spec":{"suspend":true}}')
    status = polls.wait_ready("paused", "True", "Suspended")
    assert status["observedGeneration"] == polls.get("paused")["metadata"]["generation"]
    before = polls.polls(poll)
    polls.emulator.add_poll_items(poll, "id", [{"id": "2", "data": 2}])
    # Another EventPoll with the same interval is the clock: three of its polls, none of the suspended one.
    ticks = polls.polls(clock_poll)
    eventually(lambda: polls.polls(clock_poll) >= ticks + 3, what="three polls of another EventPoll")
    assert polls.polls(poll) == before
    polls.wait_event("paused", "Normal", "Suspended")

    kubectl("patch", "-n", ns, "epoll", "paused", "--type=merge", "-p", '{"spec":{"suspend":false}}')
    eventually(lambda: len(receiver.deliveries(path)) == 2, what="the event added while suspended")
    polls.wait_ready("paused", "True", "Polling")


def test_failed_status_writes_lose_nothing(polls: Polls) -> None:
    receiver, ns = polls.receiver, polls.namespace
    path, poll = f"/{ns}/bumpy", f"{ns}-bumpy"
    polls.emulator.add_poll_items(poll, "id", [{"id": "1", "data": 1}])
    polls.apply(
        "bumpy",
        poll=poll,
        mode="id",
        startFrom={"position": "beginning"},
        sinks=[http_sink("web", receiver.endpoint(path))],
    )
    polls.wait_status("bumpy", "the first event", cursor={"id": "1"})
    faults = polls.sandbox.faults
    match = {
        "verb": "patch",
        "resource": "eventpolls",
        "subresource": "status",
        "namespace": ns,
        "name": "bumpy",
    }
    rules = [faults.fail(409, times=1, **match), faults.fail(503, times=1, **match)]
    polls.emulator.add_poll_items(poll, "id", [{"id": "2", "data": 2}, {"id": "3", "data": 3}])
    status = polls.wait_status("bumpy", "the cursor persisted", cursor={"id": "3"})
    assert [rule.hits for rule in rules] == [1, 1]  # then retried after 1 s and 2 s
    assert [d.event["data"] for d in receiver.deliveries(path)] == [1, 2, 3]
    assert status["eventsDelivered"] == 3


def test_an_eventpoll_waits_for_its_connection_and_is_woken_by_it(polls: Polls) -> None:
    ns = polls.namespace
    poll = f"{ns}-late"
    polls.emulator.add_poll_items(poll, "id", [{"id": "1", "data": 1}])
    polls.apply(
        "late",
        poll=poll,
        mode="id",
        interval="30s",  # only the Connection's topic can wake it within the test's deadlines
        startFrom={"position": "beginning"},
        sinks=[http_sink("web", polls.receiver.endpoint(f"/{ns}/late"))],
        connectionRef={"name": "late-site"},
    )
    polls.wait_ready("late", "False", "ConnectionNotFound")
    assert polls.polls(poll) == 0
    site = polls.sandbox.get_object(GROUP, VERSION, "orchestrationconnections", ns, "site")
    assert site is not None
    polls.kubectl.apply(
        {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "OrchestrationConnection",
            "metadata": {"name": "late-site", "namespace": ns},
            "spec": site["spec"],
        }
    )
    polls.wait_ready("late", "True", "Polling", timeout=15)
    assert [d.event["data"] for d in polls.receiver.deliveries(f"/{ns}/late")] == [1]


def test_deleting_releases_the_eventpoll_and_its_ring(polls: Polls) -> None:
    ns = polls.namespace
    polls.emulator.add_poll_items(f"{ns}-gone", "id", [{"id": "1", "data": 1}])
    polls.apply(
        "gone",
        poll=f"{ns}-gone",
        mode="id",
        startFrom={"position": "beginning"},
        sinks=[{"name": "ring", "configMap": {"name": "gone-ring"}}],
    )
    polls.wait_status("gone", "the first event", cursor={"id": "1"})
    assert polls.configmap("gone-ring") is not None
    polls.kubectl("delete", "-n", ns, "epoll", "gone", "--timeout=30s")
    eventually(lambda: polls.configmap("gone-ring") is None, what="the ring garbage-collected")
