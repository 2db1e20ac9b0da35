"""EventPoll sinks: CloudEvent mapping, the HTTP sink over a mock transport, the ConfigMap ring."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from orchestration_operator.api import eventpoll as api
from orchestration_operator.client import cloudevents
from orchestration_operator.reconcile import cursor, sinks

SOURCE = sinks.event_source("shop", "orders-poll")
NAME = "orders"


def ts_event(n: int, *, data: Any = None) -> cursor.Event:
    value = 1_750_000_000 + n
    return cursor.Event(
        id=cursor.event_id(NAME, "timestamp", value, 0, data=data),
        value=value,
        timestamp=value,
        item_id=None,
        data=data,
    )


def id_event(item_id: str, *, data: Any = None) -> cursor.Event:
    return cursor.Event(
        id=cursor.event_id(NAME, "id", item_id, 0), value=item_id, timestamp=None, item_id=item_id, data=data
    )


@pytest.mark.parametrize(
    ("event", "expected"),
    [
        (
            ts_event(0, data={"a": 1}),
            {
                "specversion": "1.0",
                "id": cursor.event_id(NAME, "timestamp", 1_750_000_000, 0, data={"a": 1}),
                "source": "drupal-orchestration.io/shop/orders-poll",
                "type": "io.drupal-orchestration.poll.item",
                "subject": "1750000000",
                "time": "2025-06-15T15:06:40Z",
                "datacontenttype": "application/json",
                "pollname": "orders",
                "data": {"a": 1},
            },
        ),
        (
            id_event("17", data="x"),
            {
                "specversion": "1.0",
                "id": cursor.event_id(NAME, "id", "17", 0),
                "source": "drupal-orchestration.io/shop/orders-poll",
                "type": "io.drupal-orchestration.poll.item",
                "subject": "17",
                "datacontenttype": "application/json",
                "pollname": "orders",
                "data": "x",
            },
        ),
    ],
)
def test_to_cloudevent(event: cursor.Event, expected: dict[str, Any]) -> None:
    assert sinks.to_cloudevent(event, source=SOURCE, poll_name=NAME).structured() == expected


def test_delivery_policy_from_spec() -> None:
    spec = api.HttpSink.model_validate(
        {
            "url": "https://r.example/x",
            "timeout": "3s",
            "retry": {"maxAttempts": 7, "backoff": {"initialInterval": "200ms", "maxInterval": "2s"}},
        }
    )
    policy = sinks.delivery_policy(spec)
    assert (policy.timeout, policy.attempts, policy.initial_delay, policy.max_delay) == (3.0, 7, 0.2, 2.0)
    defaults = sinks.delivery_policy(api.HttpSink.model_validate({"url": "https://r.example/x"}))
    assert (defaults.timeout, defaults.attempts, defaults.initial_delay, defaults.max_delay) == (
        10.0,
        5,
        1.0,
        60.0,
    )


def http_sink(statuses: list[int]) -> tuple[sinks.HttpSink, list[httpx.Request]]:
    requests: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(statuses.pop(0))

    async def sleep(delay: float) -> None:
        return None

    sender = cloudevents.CloudEventSender(
        "https://receiver.example/hook/t0ken",
        client=httpx.AsyncClient(transport=httpx.MockTransport(handle)),
        policy=cloudevents.DeliveryPolicy(attempts=2, sleep=sleep),
    )
    return sinks.HttpSink("web", sender, source=SOURCE, poll_name=NAME), requests


async def test_http_sink_delivers_in_order() -> None:
    sink, requests = http_sink([200, 202, 204])
    events = [ts_event(0), ts_event(1), ts_event(1, data="b")]
    await sink.deliver(events)
    assert [json.loads(r.content)["id"] for r in requests] == [e.id for e in events]
    assert sink.name == "web"


@pytest.mark.parametrize(
    ("statuses", "permanent", "message"),
    [
        (
            [200, 404],
            True,
            "sink web: receiver https://receiver.example answered 404 Not Found (attempt 1); "
            "1 of 3 events accepted",
        ),
        (
            [200, 200, 503, 503],
            False,
            "sink web: receiver https://receiver.example answered 503 Service Unavailable (attempt 2); "
            "2 of 3 events accepted",
        ),
    ],
)
async def test_http_sink_failure_stops_the_batch(statuses: list[int], permanent: bool, message: str) -> None:
    script = len(statuses)
    sink, requests = http_sink(statuses)
    with pytest.raises(sinks.SinkError) as caught:
        await sink.deliver([ts_event(0), ts_event(1), ts_event(2)])
    error = caught.value
    assert (error.message, error.sink, error.reason, error.permanent) == (
        message,
        "web",
        "HTTPStatus",
        permanent,
    )
    assert isinstance(error.__cause__, cloudevents.DeliveryError)
    assert "t0ken" not in repr(sink)
    assert len(requests) == script  # the third event was never sent


def ring_key(sequence: int, event: cursor.Event) -> str:
    return f"{sequence:012d}-{event.id}.json"


def test_ring_appends_in_order_and_skips_ids_it_holds() -> None:
    a, b, c = ts_event(0, data="a"), ts_event(1, data="b"), ts_event(2, data="c")
    first = sinks.ring_update({}, [a, b], source=SOURCE, poll_name=NAME, max_events=10)
    assert list(first) == [ring_key(1, a), ring_key(2, b)]
    assert (
        json.loads(first[ring_key(1, a)])
        == sinks.to_cloudevent(a, source=SOURCE, poll_name=NAME).structured()
    )
    # A re-delivery of b with c: b is held already.
    second = sinks.ring_update(first, [b, c], source=SOURCE, poll_name=NAME, max_events=10)
    assert sorted(second) == [ring_key(1, a), ring_key(2, b), ring_key(3, c)]
    assert sinks.ring_update(second, [a, c], source=SOURCE, poll_name=NAME, max_events=10) == second


def test_ring_keeps_the_latest_events_within_count_and_bytes() -> None:
    events = [ts_event(n, data="x" * 100) for n in range(10)]
    by_count = sinks.ring_update({"README": "kept"}, events, source=SOURCE, poll_name=NAME, max_events=3)
    assert sorted(by_count) == sorted(["README", *(ring_key(n + 1, events[n]) for n in (7, 8, 9))])
    one = len(ring_key(1, events[0])) + len(by_count[ring_key(8, events[7])])
    by_bytes = sinks.ring_update(
        {}, events, source=SOURCE, poll_name=NAME, max_events=10, max_bytes=2 * one + 5
    )
    assert sorted(by_bytes) == [ring_key(n + 1, events[n]) for n in (8, 9)]
    assert sum(len(k) + len(v.encode()) for k, v in by_bytes.items()) <= 2 * one + 5


def test_ring_stubs_an_event_larger_than_the_budget() -> None:
    huge = ts_event(0, data="é" * 5000)
    data = sinks.ring_update({}, [huge], source=SOURCE, poll_name=NAME, max_events=5, max_bytes=4096)
    assert json.loads(data[ring_key(1, huge)]) == {
        "id": huge.id,
        "subject": "1750000000",
        "time": "2025-06-15T15:06:40Z",
        "truncated": True,
        "bytes": len(
            json.dumps(
                sinks.to_cloudevent(huge, source=SOURCE, poll_name=NAME).structured(),
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()
        ),
    }


class FakeStore:
    def __init__(self, *, fail: Exception | None = None) -> None:
        self.data: dict[str, dict[str, str]] = {}
        self.puts: list[tuple[str, str, dict[str, str], Mapping[str, Any]]] = []
        self.fail = fail

    async def get_configmap(self, *, namespace: str, name: str) -> Mapping[str, str] | None:
        if self.fail:
            raise self.fail
        return self.data.get(f"{namespace}/{name}")

    async def put_configmap(
        self, *, namespace: str, name: str, data: Mapping[str, str], owner: Mapping[str, Any]
    ) -> None:
        self.data[f"{namespace}/{name}"] = dict(data)
        self.puts.append((namespace, name, dict(data), owner))


OWNER = {
    "apiVersion": "drupal-orchestration.io/v1alpha1",
    "kind": "EventPoll",
    "name": "orders-poll",
    "uid": "u1",
}


def ring_sink(store: FakeStore) -> sinks.ConfigMapRingSink:
    return sinks.ConfigMapRingSink(
        "ring",
        store,
        namespace="shop",
        configmap="orders-events",
        owner=OWNER,
        source=SOURCE,
        poll_name=NAME,
        max_events=2,
    )


async def test_configmap_ring_sink_writes_once_per_batch_and_not_for_a_redelivery() -> None:
    store = FakeStore()
    sink = ring_sink(store)
    a, b, c = ts_event(0), ts_event(1), ts_event(2)
    await sink.deliver([a, b])
    await sink.deliver([a, b])
    await sink.deliver([b, c])
    assert [(ns, name, sorted(data), owner) for ns, name, data, owner in store.puts] == [
        ("shop", "orders-events", [ring_key(1, a), ring_key(2, b)], OWNER),
        ("shop", "orders-events", [ring_key(2, b), ring_key(3, c)], OWNER),
    ]


async def test_configmap_ring_sink_failure() -> None:
    sink = ring_sink(FakeStore(fail=RuntimeError("409 Conflict")))
    with pytest.raises(sinks.SinkError) as caught:
        await sink.deliver([ts_event(0)])
    error = caught.value
    assert (error.sink, error.reason, error.permanent) == ("ring", "ConfigMapWriteFailed", False)
    assert error.message == "sink ring: writing ConfigMap orders-events failed: RuntimeError: 409 Conflict"
