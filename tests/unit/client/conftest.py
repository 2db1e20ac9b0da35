"""Fixtures of the client tests: a fake site on ``httpx.MockTransport`` and clients built on it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from client_fakes import BASE, ClientFactory, Site, Sleeps

from orchestration_operator.client import OrchestrationClient, RetryPolicy
from orchestration_operator.client import auth as auth_


@pytest.fixture
def site() -> Site:
    return Site()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
async def make_client(site: Site, sleeps: Sleeps) -> AsyncIterator[ClientFactory]:
    """Build clients on ``site``; retries sleep through ``sleeps`` with the maximal jitter."""
    made: list[OrchestrationClient] = []

    def factory(**kwargs: Any) -> OrchestrationClient:
        kwargs.setdefault("auth", auth_.BasicAuth("bot", "s3cret-pass"))
        kwargs.setdefault("retry", RetryPolicy(sleep=sleeps, random=lambda: 1.0))
        kwargs.setdefault("transport", httpx.MockTransport(site))
        client = OrchestrationClient(kwargs.pop("base_url", BASE), **kwargs)
        made.append(client)
        return client

    yield factory
    for client in made:
        await client.aclose()
