"""Fault injection: failing chosen requests, latency, counted and unlimited rules."""

from __future__ import annotations

import time

import httpx
import pytest

from orchestration_operator.testing.kube import server

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (409, "Conflict"),
        (429, "TooManyRequests"),
        (500, "InternalError"),
        (503, "ServiceUnavailable"),
        (418, "InternalError"),
    ],
)
async def test_injected_status(
    client: httpx.AsyncClient, sandbox: server.KubeSandbox, status: int, reason: str
) -> None:
    sandbox.faults.fail(status, verb="create", resource="configmaps")
    failed = await client.post(CONFIGMAPS, json={"metadata": {"name": "c"}})
    assert (failed.status_code, failed.json()["reason"], failed.json()["code"]) == (status, reason, status)
    assert (await client.post(CONFIGMAPS, json={"metadata": {"name": "c"}})).status_code == 201  # times=1


async def test_429_carries_retry_after(client: httpx.AsyncClient, sandbox: server.KubeSandbox) -> None:
    sandbox.faults.fail(429, retry_after=3, method="PATCH")
    await client.post(CONFIGMAPS, json={"metadata": {"name": "c"}})
    response = await client.patch(
        f"{CONFIGMAPS}/c", content="{}", headers={"Content-Type": "application/merge-patch+json"}
    )
    assert response.headers["Retry-After"] == "3"
    assert response.json()["details"] == {"retryAfterSeconds": 3}


async def test_rules_match_only_what_they_name(
    client: httpx.AsyncClient, sandbox: server.KubeSandbox
) -> None:
    rule = sandbox.faults.fail(500, times=None, path=r"/configmaps/c$", verb="get")
    await client.post(CONFIGMAPS, json={"metadata": {"name": "c"}})
    await client.post(CONFIGMAPS, json={"metadata": {"name": "d"}})
    assert (await client.get(f"{CONFIGMAPS}/d")).status_code == 200
    assert (await client.get(CONFIGMAPS)).status_code == 200
    assert [(await client.get(f"{CONFIGMAPS}/c")).status_code for _ in range(3)] == [500, 500, 500]
    assert rule.hits == 3
    sandbox.faults.clear()
    assert (await client.get(f"{CONFIGMAPS}/c")).status_code == 200


async def test_latency(client: httpx.AsyncClient, sandbox: server.KubeSandbox) -> None:
    sandbox.faults.delay(0.2, times=1, verb="list")
    started = time.monotonic()
    assert (await client.get(CONFIGMAPS)).status_code == 200
    assert time.monotonic() - started >= 0.2
    started = time.monotonic()
    await client.get(CONFIGMAPS)
    assert time.monotonic() - started < 0.2
