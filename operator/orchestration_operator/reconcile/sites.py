"""Shared per-connection state: one HTTP client per site, its concurrency bound, the catalog cache.

Every resource that references an ``OrchestrationConnection`` (webhooks, runs, polls) goes through
the :class:`SiteRegistry`, so one site gets one ``OrchestrationClient`` (one connection pool and one
``maxConcurrentRequests`` bound shared by everything), and the service catalog is fetched at most
once per ``catalogRefreshInterval`` however many runs arrive at once (single flight).

The site's configuration is resolved from the Connection's spec and its Secrets (read through
``ports.SecretReader``; never copied anywhere but into the client's auth object). A resolved
configuration is reused for ``secret_cache_seconds``, then the Secrets are read again: a rotated
Secret takes effect without a restart. A changed configuration (new URL, new credentials, new CA)
swaps the client; the old one is closed once requests in flight had time to finish.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
import ssl
import time
from collections.abc import Callable, Mapping
from typing import Any

from orchestration_operator import client
from orchestration_operator.api import conditions, connection, durations
from orchestration_operator.client import aiotransport, singleflight
from orchestration_operator.reconcile import ports

SiteKey = tuple[str, str]  # (namespace, connection name)


class SiteConfigError(Exception):
    """The Connection cannot be turned into a client: a missing Secret or key, a bad CA."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclasses.dataclass(frozen=True, kw_only=True)
class SiteConfig:
    url: str
    auth: client.Auth
    verify: bool | ssl.SSLContext
    timeout: float
    max_concurrent_requests: int
    catalog_refresh: float
    #: A digest of everything above (secrets included); equal digests mean the same client serves.
    fingerprint: str

    def __repr__(self) -> str:  # never show credentials
        return f"SiteConfig(url={self.url!r}, fingerprint={self.fingerprint[:12]!r})"


def _text(data: Mapping[str, bytes], key: str, *, secret: str) -> str:
    try:
        return data[key].decode("utf-8").strip()
    except KeyError:
        raise SiteConfigError(conditions.SECRET_NOT_FOUND, f'Secret "{secret}" has no key "{key}"') from None
    except UnicodeDecodeError:
        raise SiteConfigError(
            conditions.INVALID_SPEC, f'Secret "{secret}" key "{key}" is not UTF-8 text'
        ) from None


async def _read(secrets: ports.SecretReader, *, namespace: str, name: str) -> Mapping[str, bytes]:
    data = await secrets.read_secret(namespace=namespace, name=name)
    if data is None:
        raise SiteConfigError(
            conditions.SECRET_NOT_FOUND, f'Secret "{name}" not found in namespace "{namespace}"'
        )
    return data


async def resolve(conn: connection.OrchestrationConnection, *, secrets: ports.SecretReader) -> SiteConfig:
    """Build the site's client configuration from the Connection and its Secrets (same namespace)."""
    namespace = conn.metadata.namespace or "default"
    spec = conn.spec
    digest = hashlib.sha256()
    auth: client.Auth
    if spec.auth.basic is not None:
        ref = spec.auth.basic.secret_ref
        data = await _read(secrets, namespace=namespace, name=ref.name)
        username = _text(data, ref.username_key, secret=ref.name)
        password = _text(data, ref.password_key, secret=ref.name)
        auth = client.BasicAuth(username, password)
        digest.update(b"basic\0" + username.encode() + b"\0" + password.encode())
    elif spec.auth.session is not None:
        ref_s = spec.auth.session.secret_ref
        data = await _read(secrets, namespace=namespace, name=ref_s.name)
        cookie = _text(data, ref_s.cookie_key, secret=ref_s.name)
        csrf = _text(data, ref_s.csrf_token_key, secret=ref_s.name) if ref_s.csrf_token_key in data else None
        auth = client.SessionAuth(cookie, csrf)
        digest.update(b"session\0" + cookie.encode() + b"\0" + (csrf or "").encode())
    elif spec.auth.login is not None:
        ref = spec.auth.login.secret_ref
        data = await _read(secrets, namespace=namespace, name=ref.name)
        username = _text(data, ref.username_key, secret=ref.name)
        password = _text(data, ref.password_key, secret=ref.name)
        auth = client.LoginAuth(username, password)
        digest.update(b"login\0" + username.encode() + b"\0" + password.encode())
    else:  # the CRD's CEL rule and the model refuse this already
        raise SiteConfigError(conditions.INVALID_SPEC, "spec.auth: exactly one auth method is required")

    verify: bool | ssl.SSLContext = True
    if spec.tls is not None and spec.tls.insecure_skip_verify:
        verify = False
        digest.update(b"\0insecure")
    elif spec.tls is not None and spec.tls.ca_secret_ref is not None:
        ca_ref = spec.tls.ca_secret_ref
        data = await _read(secrets, namespace=namespace, name=ca_ref.name)
        pem = _text(data, ca_ref.key, secret=ca_ref.name)
        try:
            verify = ssl.create_default_context(cadata=pem)
        except (ssl.SSLError, ValueError) as exc:
            raise SiteConfigError(
                conditions.INVALID_SPEC, f'Secret "{ca_ref.name}" key "{ca_ref.key}" is not a PEM CA: {exc}'
            ) from None
        digest.update(b"\0ca\0" + pem.encode())

    timeout = durations.seconds(spec.timeout)
    refresh = durations.seconds(spec.catalog_refresh_interval)
    digest.update(f"\0{spec.url}\0{timeout}\0{spec.max_concurrent_requests}".encode())
    return SiteConfig(
        url=spec.url,
        auth=auth,
        verify=verify,
        timeout=timeout,
        max_concurrent_requests=spec.max_concurrent_requests,
        catalog_refresh=refresh,
        fingerprint=digest.hexdigest(),
    )


@dataclasses.dataclass(frozen=True)
class Catalog:
    services: Mapping[str, client.Service]
    fetched_at: float


ClientFactory = Callable[[SiteKey, SiteConfig], client.OrchestrationClient]
SiteRequestHook = Callable[[SiteKey, str, str, float], None]
"""A client's ``on_request`` told which site it is about: ``(site key, route, outcome, seconds)``."""
SiteLogExtra = Callable[[SiteKey], Mapping[str, Any]]
"""The ``extra=`` of a site client's log lines (its retries): which Connection they are about."""


class Site:
    """One Drupal site: its client (shared bound) and its catalog cache (single flight)."""

    def __init__(
        self, *, key: SiteKey, config: SiteConfig, api: client.OrchestrationClient, clock: Callable[[], float]
    ) -> None:
        self.key = key
        self.config = config
        self.client = api
        self._clock = clock
        self._catalog: Catalog | None = None
        self._fetching: singleflight.SingleFlight[Catalog] = singleflight.SingleFlight()
        self.catalog_fetches = 0

    @property
    def cached_catalog(self) -> Catalog | None:
        return self._catalog

    async def catalog(self, *, max_age: float | None = None) -> Catalog:
        """The catalog, fetched again when older than ``max_age`` (default: the refresh interval).

        Concurrent callers share one fetch; a failed fetch raises in every waiter and is not cached.
        """
        max_age = self.config.catalog_refresh if max_age is None else max_age
        cached = self._catalog
        if cached is not None and self._clock() - cached.fetched_at < max_age:
            return cached
        return await self._fetching.run(self._fetch)

    async def _fetch(self) -> Catalog:
        self.catalog_fetches += 1
        services = await self.client.list_services()
        catalog = Catalog(services={service.id: service for service in services}, fetched_at=self._clock())
        self._catalog = catalog
        return catalog

    async def refresh_catalog(self) -> Catalog:
        """Fetch the catalog now (the Connection's probe), sharing a fetch already under way."""
        return await self.catalog(max_age=0)


def _default_factory(on_request: SiteRequestHook | None, log_extra: SiteLogExtra | None) -> ClientFactory:
    def build(key: SiteKey, config: SiteConfig) -> client.OrchestrationClient:
        return client.OrchestrationClient(
            config.url,
            auth=config.auth,
            timeout=config.timeout,
            verify=config.verify,
            max_concurrent_requests=config.max_concurrent_requests,
            on_request=None if on_request is None else functools.partial(on_request, key),
            log_extra=None if log_extra is None else log_extra(key),
            # aiohttp underneath: a tenth of httpx's CPU per request at many requests in flight.
            transport=aiotransport.AiohttpTransport(
                verify=config.verify,
                max_connections=config.max_concurrent_requests,
                timeout=config.timeout,
            ),
        )

    return build


class SiteRegistry:
    """Sites by (namespace, connection name), for the life of the operator."""

    def __init__(
        self,
        *,
        secrets: ports.SecretReader,
        secret_cache_seconds: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        client_factory: ClientFactory | None = None,
        on_request: SiteRequestHook | None = None,
        log_extra: SiteLogExtra | None = None,
        retire_after: float = 120.0,
    ) -> None:
        self._secrets = secrets
        self._ttl = secret_cache_seconds
        self._clock = clock
        self._factory = client_factory or _default_factory(on_request, log_extra)
        self._retire_after = retire_after
        self._sites: dict[SiteKey, Site] = {}
        self._resolved: dict[SiteKey, tuple[float, int | None]] = {}  # key -> (when, generation)
        self._locks: dict[SiteKey, asyncio.Lock] = {}
        self._retiring: set[asyncio.Task[None]] = set()

    def peek(self, key: SiteKey) -> Site | None:
        return self._sites.get(key)

    async def site_for(self, conn: connection.OrchestrationConnection, *, fresh: bool = False) -> Site:
        """The Site for this Connection, re-resolving its Secrets when stale or ``fresh``.

        Raises :class:`SiteConfigError` (missing Secret or key, bad CA).
        """
        key: SiteKey = (conn.metadata.namespace or "default", conn.metadata.name or "")
        generation = conn.metadata.generation
        site = self._sites.get(key)
        resolved = self._resolved.get(key)
        if (
            not fresh
            and site is not None
            and resolved is not None
            and resolved[1] == generation
            and self._clock() - resolved[0] < self._ttl
        ):
            return site
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            site = self._sites.get(key)
            resolved = self._resolved.get(key)
            if (
                site is not None
                and resolved is not None
                and resolved[1] == generation
                and self._clock() - resolved[0] < (0 if fresh else self._ttl)
            ):
                return site
            config = await resolve(conn, secrets=self._secrets)
            self._resolved[key] = (self._clock(), generation)
            if site is not None and site.config.fingerprint == config.fingerprint:
                return site
            api = self._factory(key, config)
            await api.__aenter__()
            new_site = Site(key=key, config=config, api=api, clock=self._clock)
            self._sites[key] = new_site
            if site is not None:
                self._retire(site)
            return new_site

    def _retire(self, site: Site) -> None:
        async def close_later() -> None:
            await asyncio.sleep(self._retire_after)
            await site.client.aclose()

        task = asyncio.ensure_future(close_later())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def forget(self, key: SiteKey) -> None:
        """The Connection is gone: close its client."""
        site = self._sites.pop(key, None)
        self._resolved.pop(key, None)
        self._locks.pop(key, None)
        if site is not None:
            self._retire(site)

    async def aclose(self) -> None:
        for task in list(self._retiring):
            task.cancel()
        sites, self._sites = list(self._sites.values()), {}
        for site in sites:
            await site.client.aclose()
