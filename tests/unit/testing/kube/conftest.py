"""An in-loop sandbox with an httpx client, for async tests that talk HTTP to it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from orchestration_operator.testing.kube import server


@pytest.fixture
async def sandbox() -> AsyncIterator[server.KubeSandbox]:
    async with server.KubeSandbox(record_requests=1000, bookmark_interval=0.2) as sb:
        yield sb


@pytest.fixture
async def client(sandbox: server.KubeSandbox) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {sandbox.admin_token}"}
    async with httpx.AsyncClient(base_url=sandbox.url, headers=headers, timeout=10) as http:
        yield http
