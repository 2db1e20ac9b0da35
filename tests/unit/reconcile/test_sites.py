"""The per-connection registry: configuration from Secrets, one client per site, catalog single flight."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import httpx
import pytest

from orchestration_operator import client
from orchestration_operator.api import connection
from orchestration_operator.reconcile import sites

CATALOG = [{"id": "eca::hello", "label": "Hello", "description": "", "config": []}]


class FakeSecrets:
    def __init__(self, secrets: dict[str, dict[str, bytes]]) -> None:
        self.secrets = secrets
        self.reads = 0

    async def read_secret(self, *, namespace: str, name: str) -> Mapping[str, bytes] | None:
        self.reads += 1
        assert namespace == "team"
        return self.secrets.get(name)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make_conn(auth: dict[str, Any], *, generation: int = 1, tls: dict[str, Any] | None = None) -> Any:
    spec: dict[str, Any] = {"url": "https://drupal.example/sub", "auth": auth}
    if tls is not None:
        spec["tls"] = tls
    return connection.OrchestrationConnection.model_validate(
        {
            "apiVersion": "drupal-orchestration.io/v1alpha1",
            "kind": "OrchestrationConnection",
            "metadata": {"name": "site", "namespace": "team", "generation": generation},
            "spec": spec,
        }
    )


BASIC = {"basic": {"secretRef": {"name": "creds"}}}


def counting_factory(calls: list[str]) -> sites.ClientFactory:
    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return httpx.Response(200, json=CATALOG)

    def build(key: sites.SiteKey, config: sites.SiteConfig) -> client.OrchestrationClient:
        del key
        return client.OrchestrationClient(
            config.url, auth=config.auth, transport=httpx.MockTransport(handler)
        )

    return build


@pytest.mark.parametrize(
    ("auth", "secrets", "reason", "message"),
    [
        (BASIC, {}, "SecretNotFound", 'Secret "creds" not found in namespace "team"'),
        (BASIC, {"creds": {"username": b"u"}}, "SecretNotFound", 'Secret "creds" has no key "password"'),
        (
            {"basic": {"secretRef": {"name": "creds", "passwordKey": "pw"}}},
            {"creds": {"username": b"u", "password": b"p"}},
            "SecretNotFound",
            'Secret "creds" has no key "pw"',
        ),
        (
            {"session": {"secretRef": {"name": "cookie"}}},
            {"cookie": {"csrfToken": b"t"}},
            "SecretNotFound",
            'Secret "cookie" has no key "cookie"',
        ),
        (
            BASIC,
            {"creds": {"username": b"u", "password": b"\xff"}},
            "InvalidSpec",
            'Secret "creds" key "password" is not UTF-8 text',
        ),
    ],
)
async def test_resolve_refuses(
    auth: dict[str, Any], secrets: dict[str, dict[str, bytes]], reason: str, message: str
) -> None:
    with pytest.raises(sites.SiteConfigError) as excinfo:
        await sites.resolve(make_conn(auth), secrets=FakeSecrets(secrets))
    assert (excinfo.value.reason, excinfo.value.message) == (reason, message)


@pytest.mark.parametrize(
    ("auth", "secrets", "auth_type"),
    [
        (BASIC, {"creds": {"username": b"bot\n", "password": b"pw"}}, client.BasicAuth),
        (
            {"login": {"secretRef": {"name": "creds"}}},
            {"creds": {"username": b"bot", "password": b"pw"}},
            client.LoginAuth,
        ),
        ({"session": {"secretRef": {"name": "c"}}}, {"c": {"cookie": b"SESSab=cd"}}, client.SessionAuth),
    ],
)
async def test_resolve_builds_auth_without_showing_secrets(
    auth: dict[str, Any], secrets: dict[str, dict[str, bytes]], auth_type: type
) -> None:
    config = await sites.resolve(make_conn(auth), secrets=FakeSecrets(secrets))
    assert isinstance(config.auth, auth_type)
    assert config.url == "https://drupal.example/sub"
    assert "pw" not in repr(config)
    assert "SESSab" not in repr(config)


async def test_fingerprint_changes_with_the_secret_only() -> None:
    secrets = FakeSecrets({"creds": {"username": b"u", "password": b"one"}})
    first = await sites.resolve(make_conn(BASIC), secrets=secrets)
    again = await sites.resolve(make_conn(BASIC), secrets=secrets)
    secrets.secrets["creds"]["password"] = b"two"
    rotated = await sites.resolve(make_conn(BASIC), secrets=secrets)
    assert first.fingerprint == again.fingerprint != rotated.fingerprint


async def test_registry_reuses_the_site_and_rereads_secrets_after_the_cache_time() -> None:
    calls: list[str] = []
    secrets = FakeSecrets({"creds": {"username": b"u", "password": b"one"}})
    clock = Clock()
    registry = sites.SiteRegistry(
        secrets=secrets, secret_cache_seconds=10, clock=clock, client_factory=counting_factory(calls)
    )
    try:
        site = await registry.site_for(make_conn(BASIC))
        assert await registry.site_for(make_conn(BASIC)) is site
        assert secrets.reads == 1
        clock.now += 11
        assert await registry.site_for(make_conn(BASIC)) is site  # same secret: same client
        assert secrets.reads == 2
        secrets.secrets["creds"]["password"] = b"two"
        clock.now += 11
        rotated = await registry.site_for(make_conn(BASIC))
        assert rotated is not site
        assert registry.peek(("team", "site")) is rotated
        # a new generation re-resolves at once
        assert await registry.site_for(make_conn(BASIC, generation=2)) is rotated
        assert secrets.reads == 4
    finally:
        await registry.aclose()


async def test_catalog_is_fetched_once_for_a_burst_and_again_after_the_refresh_interval() -> None:
    calls: list[str] = []
    clock = Clock()
    registry = sites.SiteRegistry(
        secrets=FakeSecrets({"creds": {"username": b"u", "password": b"p"}}),
        clock=clock,
        client_factory=counting_factory(calls),
    )
    try:
        site = await registry.site_for(make_conn(BASIC))
        catalogs = await asyncio.gather(*(site.catalog() for _ in range(50)))
        assert {id(c) for c in catalogs} == {id(catalogs[0])}
        assert list(catalogs[0].services) == ["eca::hello"]
        assert (site.catalog_fetches, calls) == (1, ["/sub/orchestration/services"])
        clock.now += site.config.catalog_refresh + 1
        await site.catalog()
        assert site.catalog_fetches == 2
    finally:
        await registry.aclose()


async def test_a_failed_catalog_fetch_is_not_cached() -> None:
    attempts = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal attempts
        attempts += 1
        if attempts == 1:
            return httpx.Response(403, text="<html><title>Access denied</title></html>")
        return httpx.Response(200, content=json.dumps(CATALOG))

    def build(key: sites.SiteKey, config: sites.SiteConfig) -> client.OrchestrationClient:
        return client.OrchestrationClient(
            config.url, auth=config.auth, transport=httpx.MockTransport(handler)
        )

    registry = sites.SiteRegistry(
        secrets=FakeSecrets({"creds": {"username": b"u", "password": b"p"}}), client_factory=build
    )
    try:
        site = await registry.site_for(make_conn(BASIC))
        with pytest.raises(client.Forbidden):
            await site.catalog()
        assert list((await site.catalog()).services) == ["eca::hello"]
    finally:
        await registry.aclose()


async def test_a_probe_refresh_and_a_run_share_one_fetch() -> None:
    calls: list[str] = []
    registry = sites.SiteRegistry(
        secrets=FakeSecrets({"creds": {"username": b"u", "password": b"p"}}),
        client_factory=counting_factory(calls),
    )
    try:
        site = await registry.site_for(make_conn(BASIC))
        refreshed, needed = await asyncio.gather(site.refresh_catalog(), site.catalog())
        assert refreshed is needed
        assert site.catalog_fetches == 1
        await site.catalog()  # fresh enough: no fetch
        await site.refresh_catalog()  # a probe always asks the site
        assert site.catalog_fetches == 2
    finally:
        await registry.aclose()
