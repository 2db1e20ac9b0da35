"""Webhook dispatch as ECA's action does it: one POST of JSON, no auth, no signature, no retry."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from orchestration_operator.testing.background import BackgroundLoop
from orchestration_operator.testing.drupal import ThreadedEmulator


@dataclass
class Receiver:
    """A platform endpoint that records what it receives."""

    url: str = ""
    status: int = 200
    delay: float = 0.0
    received: list[dict[str, Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": dict(request.headers),
                "body": await request.read(),
            }
        )
        await asyncio.sleep(self.delay)
        return web.Response(status=self.status, text="thanks")


@pytest.fixture
def receiver(drupal_emulator_loop: BackgroundLoop) -> Iterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", found.handle)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.05)

    async def start() -> str:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    found.url = drupal_emulator_loop.call(start())
    yield found
    drupal_emulator_loop.call(runner.cleanup())


def _register(http: httpx.Client, webhook_id: str, url: str) -> None:
    assert http.post("/orchestration/webhook/register", json={"id": webhook_id, "webHookUrl": url}).is_success


def test_dispatch_posts_json_once(site: ThreadedEmulator, http: httpx.Client, receiver: Receiver) -> None:
    _register(http, "Order Events", f"{receiver.url}/hooks/abc?token=t")
    result = site.dispatch_webhook(
        "order-events", {"event": "paid", "url": "https://shop/o/1", "name": "Zoë"}
    )
    assert (result.delivered, result.status, result.error, result.body_excerpt) == (True, 200, None, "thanks")
    (request,) = receiver.received
    assert (request["method"], request["path"]) == ("POST", "/hooks/abc")
    assert request["headers"]["Content-Type"] == "application/json"
    assert "Authorization" not in request["headers"]
    assert not any("signature" in name.lower() for name in request["headers"])
    assert request["body"] == b'{"event":"paid","url":"https:\\/\\/shop\\/o\\/1","name":"Zo\\u00eb"}'
    assert site.dispatches == [result]


def test_failed_delivery_is_not_retried(site: ThreadedEmulator, receiver: Receiver) -> None:
    receiver.status = 503
    site.set_webhook("hook", f"{receiver.url}/x")
    result = site.dispatch_webhook("hook", [1, 2])
    assert (result.delivered, result.status) == (False, 503)
    assert len(receiver.received) == 1


def test_delivery_timeout_uses_the_stored_timeout(site: ThreadedEmulator, receiver: Receiver) -> None:
    receiver.delay = 0.5
    site.set_webhook("slow", receiver.url, timeout=0.05)
    result = site.dispatch_webhook("slow", {})
    assert (result.delivered, result.error) == (False, "timeout")
    assert result.duration < 0.45


@pytest.mark.parametrize(
    ("url", "error"),
    [
        (None, "stored URL is not http(s)"),
        ("ftp://x/y", "stored URL is not http(s)"),
        ("http://127.0.0.1:9/unreachable", "ClientConnectorError"),
    ],
)
def test_undeliverable_webhooks(site: ThreadedEmulator, url: Any, error: str) -> None:
    site.set_webhook("k", url)
    result = site.dispatch_webhook("k", {"x": 1})
    assert result.delivered is False
    assert result.error is not None
    assert result.error.startswith(error)


def test_dispatch_to_an_unknown_key(site: ThreadedEmulator) -> None:
    result = site.dispatch_webhook("never-registered", {})
    assert (result.delivered, result.url, result.error) == (False, None, "no webhook stored")


def test_admin_overwrite_then_register_again(
    site: ThreadedEmulator, http: httpx.Client, receiver: Receiver
) -> None:
    _register(http, "sync", f"{receiver.url}/platform")
    site.set_webhook("sync", f"{receiver.url}/admin", method="PUT", remote=False)
    assert site.webhooks["sync"].source == "admin"
    site.dispatch_webhook("sync", {})
    _register(http, "sync", f"{receiver.url}/platform")
    site.dispatch_webhook("sync", {})
    assert [(r["method"], r["path"]) for r in receiver.received] == [("PUT", "/admin"), ("POST", "/platform")]
    assert site.remove_webhook("sync")
    assert not site.remove_webhook("sync")
