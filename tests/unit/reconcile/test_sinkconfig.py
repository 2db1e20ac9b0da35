"""Building an EventPoll's sinks from its spec and Secrets: errors without values, caching, wiring."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx
import pytest

from orchestration_operator.api import eventpoll as api
from orchestration_operator.reconcile import cursor, sinkconfig, sinks

OWNER = sinkconfig.Owner(namespace="shop", name="orders-feed", uid="uid-1")
TOKEN = "s3cr3t-token"


class Secrets:
    def __init__(
        self, secrets: Mapping[str, Mapping[str, bytes]] | None = None, *, error: Exception | None = None
    ):
        self.secrets = dict(secrets or {})
        self.error = error
        self.reads: list[tuple[str, str]] = []

    async def read_secret(self, *, namespace: str, name: str) -> Mapping[str, bytes] | None:
        self.reads.append((namespace, name))
        if self.error is not None:
            raise self.error
        return self.secrets.get(name)


class Store:
    def __init__(self) -> None:
        self.data: dict[str, dict[str, str]] = {}
        self.owners: list[Mapping[str, Any]] = []

    async def get_configmap(self, *, namespace: str, name: str) -> Mapping[str, str] | None:
        return self.data.get(name)

    async def put_configmap(
        self, *, namespace: str, name: str, data: Mapping[str, str], owner: Mapping[str, Any]
    ) -> None:
        self.data[name] = dict(data)
        self.owners.append(owner)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def received() -> AsyncIterator[tuple[httpx.AsyncClient, list[httpx.Request]]]:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(202)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
        yield http, requests


def spec(*sink_list: dict[str, Any]) -> api.EventPollSpec:
    return api.EventPollSpec.model_validate(
        {"connectionRef": {"name": "site"}, "name": "orders", "mode": "id", "sinks": list(sink_list)}
    )


def http_sink(**fields: Any) -> dict[str, Any]:
    return {"name": "web", "http": fields}


URL_FROM = {"urlFrom": {"secretKeyRef": {"name": "hook", "key": "url"}}}


@pytest.mark.parametrize(
    ("sink", "secrets", "reason", "stalled", "message"),
    [
        (
            http_sink(**URL_FROM),
            {},
            "SecretNotFound",
            True,
            'sink web: Secret "hook" not found in namespace "shop"',
        ),
        (
            http_sink(**URL_FROM),
            {"hook": {"other": b"x"}},
            "SecretNotFound",
            True,
            'sink web: Secret "hook" has no key "url"',
        ),
        (
            http_sink(**URL_FROM),
            {"hook": {"url": b"\xff\xfe"}},
            "InvalidSpec",
            True,
            'sink web: Secret "hook" key "url" is not UTF-8 text',
        ),
        (
            http_sink(**URL_FROM),
            {"hook": {"url": f"ftp://files.example/{TOKEN}".encode()}},
            "InvalidSpec",
            True,
            "sink web (the URL from its Secret): the sink URL must be an absolute http:// or https:// URL",
        ),
        (
            http_sink(url="https://r.example/in", headersFrom={"secretRef": {"name": "hdrs"}}),
            {},
            "SecretNotFound",
            True,
            'sink web: Secret "hdrs" not found in namespace "shop"',
        ),
        (
            http_sink(url="https://r.example/in", headersFrom={"secretRef": {"name": "hdrs"}}),
            {"hdrs": {"Authorization": f"Bearer {TOKEN}\nX-Evil: 1".encode()}},
            "InvalidSpec",
            True,
            "sink web (spec): the value of header 'Authorization' is not a valid header value (not shown)",
        ),
        (
            http_sink(url="https://r.example/in", headersFrom={"secretRef": {"name": "hdrs"}}),
            {"hdrs": {"ce-id": b"fixed"}},
            "InvalidSpec",
            True,
            "sink web (spec): header 'ce-id' is set by the operator and cannot be configured",
        ),
    ],
)
async def test_sink_setup_errors(
    received: tuple[httpx.AsyncClient, list[httpx.Request]],
    sink: dict[str, Any],
    secrets: dict[str, dict[str, bytes]],
    reason: str,
    stalled: bool,
    message: str,
) -> None:
    builder = sinkconfig.SinkBuilder(secrets=Secrets(secrets), store=Store(), http_client=received[0])
    with pytest.raises(sinkconfig.SinkSetupError) as caught:
        await builder.build(spec(sink), owner=OWNER)
    assert (caught.value.reason, caught.value.stalled, caught.value.message) == (reason, stalled, message)
    assert TOKEN not in str(caught.value)
    assert caught.value.__cause__ is None  # nothing that could quote a value is chained


async def test_a_secret_that_cannot_be_read_is_a_passing_failure(
    received: tuple[httpx.AsyncClient, list[httpx.Request]],
) -> None:
    builder = sinkconfig.SinkBuilder(
        secrets=Secrets(error=ConnectionResetError("reset")), store=Store(), http_client=received[0]
    )
    with pytest.raises(sinkconfig.SinkSetupError) as caught:
        await builder.build(spec(http_sink(**URL_FROM)), owner=OWNER)
    assert (caught.value.reason, caught.value.stalled, caught.value.message) == (
        "SinkFailing",
        False,
        'sink web: reading Secret "hook" failed (ConnectionResetError)',
    )


async def test_http_sink_from_secrets_sends_cloudevents_with_the_secret_headers(
    received: tuple[httpx.AsyncClient, list[httpx.Request]],
) -> None:
    http, requests = received
    secrets = Secrets(
        {
            "hook": {"url": f" https://r.example/in/{TOKEN}\n".encode()},
            "hdrs": {"Authorization": f"Bearer {TOKEN}".encode()},
        }
    )
    builder = sinkconfig.SinkBuilder(secrets=secrets, store=Store(), http_client=http)
    built = await builder.build(
        spec(http_sink(**URL_FROM, mode="binary", headersFrom={"secretRef": {"name": "hdrs"}})), owner=OWNER
    )
    (web,) = built
    assert isinstance(web, sinks.HttpSink)
    assert TOKEN not in repr(web)
    event = cursor.Event(id="a" * 32, value="17", timestamp=None, item_id="17", data={"order": 17})
    await web.deliver([event])
    (request,) = requests
    assert str(request.url) == f"https://r.example/in/{TOKEN}"
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert {k: v for k, v in request.headers.items() if k.startswith("ce-")} == {
        "ce-specversion": "1.0",
        "ce-id": "a" * 32,
        "ce-source": "drupal-orchestration.io/shop/orders-feed",
        "ce-type": "io.drupal-orchestration.poll.item",
        "ce-subject": "17",
        "ce-pollname": "orders",
    }
    assert json.loads(request.content) == {"order": 17}
    assert secrets.reads == [("shop", "hook"), ("shop", "hdrs")]


async def test_configmap_sink_is_owned_by_the_eventpoll(
    received: tuple[httpx.AsyncClient, list[httpx.Request]],
) -> None:
    store = Store()
    builder = sinkconfig.SinkBuilder(secrets=Secrets(), store=store, http_client=received[0])
    (ring,) = await builder.build(
        spec({"name": "ring", "configMap": {"name": "orders-ring", "maxEvents": 2}}), owner=OWNER
    )
    events = [
        cursor.Event(id=f"{n:032x}", value=str(n), timestamp=None, item_id=str(n), data=n) for n in (1, 2, 3)
    ]
    await ring.deliver(events)
    assert store.owners == [
        {
            "apiVersion": "drupal-orchestration.io/v1alpha1",
            "kind": "EventPoll",
            "metadata": {"name": "orders-feed", "uid": "uid-1"},
        }
    ]
    assert sorted(store.data["orders-ring"]) == [f"000000000002-{2:032x}.json", f"000000000003-{3:032x}.json"]


async def test_sinks_are_reused_for_the_cache_time_then_built_again(
    received: tuple[httpx.AsyncClient, list[httpx.Request]],
) -> None:
    clock = Clock()
    secrets = Secrets({"hook": {"url": b"https://r.example/a"}})
    builder = sinkconfig.SinkBuilder(
        secrets=secrets, store=Store(), http_client=received[0], cache_seconds=10, clock=clock
    )
    the_spec = spec(http_sink(**URL_FROM))
    first = await builder.build(the_spec, owner=OWNER)
    clock.now += 9.9
    assert await builder.build(the_spec, owner=OWNER) is first
    assert len(secrets.reads) == 1
    clock.now += 0.1
    assert await builder.build(the_spec, owner=OWNER) is not first  # expired: the Secret is read again
    assert len(secrets.reads) == 2
    other = spec(http_sink(**URL_FROM, timeout="3s"))
    await builder.build(other, owner=OWNER)  # another spec: built at once
    assert len(secrets.reads) == 3
    builder.forget()
    await builder.build(other, owner=OWNER)
    assert len(secrets.reads) == 4
