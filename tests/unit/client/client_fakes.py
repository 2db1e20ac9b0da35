"""Fakes for the client tests: a Drupal site for ``httpx.MockTransport`` (a table of canned answers,
every request kept) and a recording ``sleep``.

Answers are factories (a fresh ``httpx.Response`` per request) or exceptions to raise, so that one row of
a table can be answered several times (retries, bursts).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from orchestration_operator.client import OrchestrationClient

BASE = "https://drupal.example/sub"
PREFIX = "/sub"

Answer = Callable[[httpx.Request], httpx.Response | Awaitable[httpx.Response]] | BaseException


def reply(
    status: int = 200,
    value: Any = None,
    *,
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
) -> Callable[[httpx.Request], httpx.Response]:
    """An answer: ``value`` as JSON, or ``body`` verbatim."""
    if body is None:
        content = json.dumps(value).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
    else:
        content = body.encode() if isinstance(body, str) else body
    return lambda request: httpx.Response(status, content=content, headers=headers)


def html_page(status: int, title: str, *, headers: dict[str, str] | None = None) -> Answer:
    page = (
        "<!DOCTYPE html>\n<html><head><title>" + title + "</title><style>body{}</style></head>"
        "<body><h1>" + title + "</h1><p>The website encountered an unexpected error.</p></body></html>"
    )
    return reply(status, body=page, headers={"Content-Type": "text/html; charset=UTF-8", **(headers or {})})


def echo(status: int = 200) -> Answer:
    """Answer with the request's own JSON body, as register and unregister do."""
    return lambda request: httpx.Response(
        status, content=request.content, headers={"Content-Type": "application/json"}
    )


class Site:
    """Routes ``(method, path)`` to answers; a list of answers is consumed in order, the last one repeats."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Answer]] = {}
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *answers: Answer) -> Site:
        self.routes[(method, path)] = list(answers)
        return self

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.path.removeprefix(PREFIX)
        queue = self.routes.get((request.method, path))
        if not queue:
            return await _resolve(html_page(404, "Page not found | Drupal"), request)
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        return await _resolve(answer, request)

    def calls(self, path: str) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.removeprefix(PREFIX) == path]

    def bodies(self, path: str) -> list[Any]:
        return [json.loads(r.content) for r in self.calls(path)]


async def _resolve(answer: Answer, request: httpx.Request) -> httpx.Response:
    if isinstance(answer, BaseException):
        raise answer
    result = answer(request)
    if isinstance(result, httpx.Response):
        return result
    return await result


class Sleeps:
    """An injectable ``sleep`` that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        await asyncio.sleep(0)


ClientFactory = Callable[..., OrchestrationClient]
