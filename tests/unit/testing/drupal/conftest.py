"""Fixtures for the emulator's own tests: HTTP clients on the per-test emulator."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from orchestration_operator.testing.drupal import ThreadedEmulator


@pytest.fixture(scope="session")
def tls() -> ssl.SSLContext:
    """One client TLS context for every test client (building one per client costs ~30 ms)."""
    return ssl.create_default_context()


@pytest.fixture
def site(drupal_emulator: ThreadedEmulator) -> ThreadedEmulator:
    return drupal_emulator


@pytest.fixture
def http(site: ThreadedEmulator, tls: ssl.SSLContext) -> Iterator[httpx.Client]:
    """A client authenticated as the demo admin (HTTP Basic)."""
    with httpx.Client(base_url=site.url, auth=("admin", "admin"), timeout=5.0, verify=tls) as client:
        yield client


@pytest.fixture
def anon(site: ThreadedEmulator, tls: ssl.SSLContext) -> Iterator[httpx.Client]:
    """A client without credentials (keeps cookies, so it can log in)."""
    with httpx.Client(base_url=site.url, timeout=5.0, verify=tls) as client:
        yield client


ClientFactory = Callable[..., httpx.Client]


@pytest.fixture
def clients(tls: ssl.SSLContext) -> Iterator[ClientFactory]:
    """``clients(site, auth=("u", "p"), **httpx options)``: more clients, closed after the test."""
    made: list[httpx.Client] = []

    def make(site: Any, *, auth: tuple[str, str] | None = ("admin", "admin"), **options: Any) -> httpx.Client:
        options.setdefault("timeout", 5.0)
        client = httpx.Client(base_url=site.url, auth=auth, verify=tls, **options)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()
