"""CloudEvents HTTP delivery: encodings, retry rules, secrecy; over a mock transport and a real receiver."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import aiohttp.web
import httpx
import pytest

from orchestration_operator.client import cloudevents

URL = "https://receiver.example:8443/hooks/s3cr3t-token?key=hidden"
SECRET = "Bearer top-secret-value"

EVENT = cloudevents.CloudEvent(
    id="55884b5f6550d6da8483b5a716975bf5",
    source="drupal-orchestration.io/shop/orders",
    type="io.drupal-orchestration.poll.item",
    subject="1750000000",
    time="2025-06-15T15:06:40Z",
    data={"order": 7, "name": "Zoë"},
    extensions={"pollname": "orders"},
)


class Recorder:
    """A mock transport answering a scripted sequence of statuses (or exceptions)."""

    def __init__(self, *script: int | type[Exception], headers: dict[str, str] | None = None) -> None:
        self.script = list(script)
        self.headers = headers or {}
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        if isinstance(step, type):
            raise step("boom at " + str(request.url), request=request)  # type: ignore[call-arg]
        return httpx.Response(
            step, headers=self.headers, content=b"echo: " + request.headers.get("authorization", "").encode()
        )


def sender(
    recorder: Recorder, *, mode: cloudevents.ContentMode = "structured", **policy: Any
) -> tuple[cloudevents.CloudEventSender, list[float]]:
    sleeps: list[float] = []

    async def sleep(delay: float) -> None:
        sleeps.append(delay)

    client = httpx.AsyncClient(transport=httpx.MockTransport(recorder))
    built = cloudevents.CloudEventSender(
        URL,
        client=client,
        mode=mode,
        headers={"Authorization": SECRET, "X-Team": "shop"},
        policy=cloudevents.DeliveryPolicy(sleep=sleep, random=lambda: 0.5, **policy),
    )
    return built, sleeps


async def test_structured_mode() -> None:
    recorder = Recorder(202)
    built, _ = sender(recorder)
    assert await built.send(EVENT) == 1
    (request,) = recorder.requests
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.headers["content-type"] == "application/cloudevents+json; charset=utf-8"
    assert request.headers["authorization"] == SECRET
    assert request.headers["x-team"] == "shop"
    assert not [name for name in request.headers if name.startswith("ce-")]
    assert json.loads(request.content) == {
        "specversion": "1.0",
        "id": "55884b5f6550d6da8483b5a716975bf5",
        "source": "drupal-orchestration.io/shop/orders",
        "type": "io.drupal-orchestration.poll.item",
        "subject": "1750000000",
        "time": "2025-06-15T15:06:40Z",
        "datacontenttype": "application/json",
        "pollname": "orders",
        "data": {"order": 7, "name": "Zoë"},
    }


async def test_binary_mode() -> None:
    recorder = Recorder(200)
    built, _ = sender(recorder, mode="binary")
    event = cloudevents.CloudEvent(id="a1", source="s", type="t", subject='Zoë "7" 100%', data=[1, None])
    await built.send(event)
    (request,) = recorder.requests
    ce = {name: value for name, value in request.headers.items() if name.startswith("ce-")}
    assert ce == {
        "ce-specversion": "1.0",
        "ce-id": "a1",
        "ce-source": "s",
        "ce-type": "t",
        "ce-subject": "Zo%C3%AB%20%227%22%20100%25",
    }
    assert request.headers["content-type"] == "application/json"
    assert request.content == b"[1,null]"


@pytest.mark.parametrize(
    ("script", "attempts", "sleeps"),
    [
        ((503, 500, 200), 3, [0.375, 0.75]),
        ((408, 204), 2, [0.375]),
        ((httpx.ReadTimeout, 200), 2, [0.375]),
        ((httpx.ConnectError, httpx.RemoteProtocolError, 201), 3, [0.375, 0.75]),
    ],
)
async def test_retried_failures(script: tuple[Any, ...], attempts: int, sleeps: list[float]) -> None:
    recorder = Recorder(*script)
    built, slept = sender(recorder)
    assert await built.send(EVENT) == attempts
    assert len(recorder.requests) == attempts
    assert slept == sleeps
    assert len({r.content for r in recorder.requests}) == 1  # the same event every time


async def test_retry_after_is_honoured() -> None:
    recorder = Recorder(429, 200, headers={"Retry-After": "3"})
    built, slept = sender(recorder)
    assert await built.send(EVENT) == 2
    assert slept == [3.0]


async def test_a_retry_after_beyond_the_cap_ends_the_attempts() -> None:
    built, slept = sender(Recorder(503, headers={"Retry-After": "120"}))
    with pytest.raises(cloudevents.DeliveryError) as caught:
        await built.send(EVENT)
    assert (caught.value.permanent, caught.value.attempts, caught.value.retry_after) == (False, 1, 120.0)
    assert slept == []


@pytest.mark.parametrize(
    ("script", "reason", "permanent", "attempts", "status", "message"),
    [
        (
            (400,),
            "HTTPStatus",
            True,
            1,
            400,
            "receiver https://receiver.example:8443 answered 400 Bad Request",
        ),
        ((404,), "HTTPStatus", True, 1, 404, "answered 404 Not Found (attempt 1)"),
        ((401,), "HTTPStatus", True, 1, 401, "answered 401 Unauthorized"),
        ((302,), "HTTPStatus", True, 1, 302, "redirects are not followed"),
        ((502,), "HTTPStatus", False, 4, 502, "answered 502 Bad Gateway (attempt 4)"),
        ((httpx.ConnectTimeout,), "Timeout", False, 4, None, "timed out (ConnectTimeout, attempt 4)"),
        ((httpx.ConnectError,), "Unreachable", False, 4, None, "is unreachable (ConnectError, attempt 4)"),
        ((httpx.ReadError,), "ConnectionLost", False, 4, None, "broke the connection (ReadError"),
    ],
)
async def test_failures(
    script: tuple[Any, ...], reason: str, permanent: bool, attempts: int, status: int | None, message: str
) -> None:
    recorder = Recorder(*script)
    built, slept = sender(recorder)
    with pytest.raises(
        cloudevents.DeliveryError, match=message.replace("(", r"\(").replace(")", r"\)")
    ) as caught:
        await built.send(EVENT)
    error = caught.value
    assert (error.reason, error.permanent, error.attempts, error.status) == (
        reason,
        permanent,
        attempts,
        status,
    )
    assert len(recorder.requests) == attempts
    assert slept == [0.375, 0.75, 1.5][: attempts - 1]
    # Neither the URL's secret path or query, nor header values, nor the (echoing) body leak.
    text = f"{error} {error!r} {error.__cause__!r} {error.__context__!r} {built!r}"
    for secret in ("s3cr3t", "hidden", "top-secret", "echo"):
        assert secret not in text


def test_backoff_is_jittered_and_capped() -> None:
    policy = cloudevents.DeliveryPolicy(initial_delay=1, max_delay=4, random=lambda: 1.0)
    assert [policy.backoff(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 4, 4]
    low = cloudevents.DeliveryPolicy(initial_delay=1, max_delay=4, random=lambda: 0.0)
    assert [low.backoff(n) for n in (1, 2, 3)] == [0.5, 1, 2]


@pytest.mark.parametrize(
    ("url", "headers", "message"),
    [
        ("ftp://receiver/x", {}, "absolute http:// or https:// URL"),
        ("/relative", {}, "absolute http:// or https:// URL"),
        (URL, {"Bad Name": "x"}, "invalid HTTP header name 'Bad Name'"),
        (
            URL,
            {"X-Token": "line\r\nInjected: 1"},
            r"value of header 'X-Token' is not a valid header value \(not shown\)",
        ),
        (URL, {"Content-Type": "text/plain"}, "set by the operator"),
        (URL, {"ce-id": "forged"}, "set by the operator"),
    ],
)
def test_invalid_configuration(url: str, headers: dict[str, str], message: str) -> None:
    client = httpx.AsyncClient(transport=httpx.MockTransport(Recorder(200)))
    with pytest.raises(cloudevents.SinkConfigError, match=message) as caught:
        cloudevents.CloudEventSender(url, client=client, headers=headers)
    assert "Injected" not in str(caught.value)


def test_invalid_extension_name() -> None:
    with pytest.raises(cloudevents.SinkConfigError, match="extension attribute name 'Poll_Name'"):
        cloudevents.CloudEvent(id="1", source="s", type="t", data=None, extensions={"Poll_Name": "x"})


@pytest.mark.parametrize(
    ("timestamp", "text"), [(0, "1970-01-01T00:00:00Z"), (1_750_000_000, "2025-06-15T15:06:40Z")]
)
def test_rfc3339(timestamp: int, text: str) -> None:
    assert cloudevents.rfc3339(timestamp) == text


def test_rfc3339_out_of_range() -> None:
    assert cloudevents.rfc3339(10**15) is None


# --- a real receiver on the loopback interface -------------------------------------------------------------


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[Mapping[str, str], bytes]], list[int]]]:
    received: list[tuple[Mapping[str, str], bytes]] = []
    statuses: list[int] = []

    async def handle(request: aiohttp.web.Request) -> aiohttp.web.Response:
        received.append((request.headers.copy(), await request.read()))
        return aiohttp.web.Response(status=statuses.pop(0) if statuses else 202, text="x" * 100_000)

    app = aiohttp.web.Application()
    app.router.add_post("/events/{token}", handle)
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/events/tok", received, statuses
    finally:
        await runner.cleanup()


ReceiverFixture = tuple[str, list[tuple[Mapping[str, str], bytes]], list[int]]


@pytest.mark.parametrize("mode", ["structured", "binary"])
async def test_real_receiver(receiver: ReceiverFixture, mode: cloudevents.ContentMode) -> None:
    url, received, statuses = receiver
    statuses.extend([503])
    slept: list[float] = []

    async def sleep(delay: float) -> None:
        slept.append(delay)

    async with cloudevents.new_http_client() as client:
        built = cloudevents.CloudEventSender(
            url,
            client=client,
            mode=mode,
            headers={"X-Api-Key": SECRET},
            policy=cloudevents.DeliveryPolicy(sleep=sleep),
        )
        assert await built.send(EVENT) == 2
        assert await built.send(EVENT) == 1
    assert len(received) == 3
    assert len(slept) == 1
    headers, body = received[-1]
    assert headers["X-Api-Key"] == SECRET
    if mode == "structured":
        assert headers["Content-Type"] == "application/cloudevents+json; charset=utf-8"
        assert json.loads(body)["id"] == EVENT.id
        assert json.loads(body)["data"] == EVENT.data
    else:
        assert headers["ce-id"] == EVENT.id
        assert headers["ce-pollname"] == "orders"
        assert json.loads(body) == EVENT.data


async def test_real_receiver_refused_connection() -> None:
    # A port that was just free: nothing listens there.
    app = aiohttp.web.Application()
    runner = aiohttp.web.AppRunner(app)
    await runner.setup()
    site = aiohttp.web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    await runner.cleanup()

    async def sleep(delay: float) -> None:
        return None

    async with cloudevents.new_http_client() as client:
        built = cloudevents.CloudEventSender(
            f"http://127.0.0.1:{port}/x",
            client=client,
            policy=cloudevents.DeliveryPolicy(attempts=2, sleep=sleep),
        )
        with pytest.raises(cloudevents.DeliveryError) as caught:
            await built.send(EVENT)
    assert (caught.value.reason, caught.value.permanent, caught.value.attempts) == ("Unreachable", False, 2)
