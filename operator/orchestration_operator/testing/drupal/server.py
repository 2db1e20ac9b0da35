"""``DrupalEmulator``: the emulated site served over HTTP by aiohttp, and its Python API.

One catch-all aiohttp route receives every request, so the emulator (not aiohttp) decides what Drupal
would: route by case-insensitive path under the base path, raw body decoded like PHP, faults before
and after the handler, auth and access for the module's routes, a record in the request log. Paths
under ``/_emulator/`` go to the control API (control.py) instead and are not logged.

Start it on any event loop (``await emulator.start()``, or ``async with DrupalEmulator() as e``); the
state methods (``add_poll_items``, ``calls``, ``add_fault``, ...) are plain functions that are safe to
call from another thread, which is what ``ThreadedEmulator`` (threaded.py) builds on.
"""

from __future__ import annotations

import asyncio
import copy
import ipaddress
import logging
import os
import pathlib
import ssl
import time
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from aiohttp import web

from orchestration_operator.testing.drupal import catalog as catalog_
from orchestration_operator.testing.drupal import (
    control,
    core_routes,
    module_routes,
    pages,
    phpjson,
    requestlog,
    responses,
    routing,
    sessions,
    site,
)
from orchestration_operator.testing.drupal import faults as faults_
from orchestration_operator.testing.drupal import settings as settings_
from orchestration_operator.testing.drupal import users as users_
from orchestration_operator.testing.drupal import webhooks as webhooks_

BODY_TEXT_LIMIT = 64 * 1024  # of each request body kept as text in the log
REQUEST_SIZE_LIMIT = 32 * 1024 * 1024  # PHP's post_max_size on a generous site
_REDACTED_HEADERS = frozenset({"authorization", "cookie", "x-csrf-token", "proxy-authorization"})

logger = logging.getLogger(__name__)

CatalogSource = catalog_.Catalog | Mapping[str, Any] | str | os.PathLike[str] | None


def _catalog_of(source: CatalogSource) -> catalog_.Catalog:
    if source is None:
        return catalog_.demo_catalog()
    if isinstance(source, catalog_.Catalog):
        return source
    if isinstance(source, Mapping):
        return catalog_.Catalog.from_data(source)
    return catalog_.load_catalog(pathlib.Path(source))


def _safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Request headers for the log; credentials are replaced by a marker (their presence matters)."""
    safe: dict[str, str] = {}
    for name, value in headers.items():
        if name.lower() in _REDACTED_HEADERS:
            scheme = value.split(" ", 1)[0] if name.lower().endswith("authorization") else ""
            safe[name] = f"{scheme} <redacted>".strip()
        else:
            safe[name] = value
    return safe


def _is_loopback(remote: str | None) -> bool:
    try:
        return remote is not None and ipaddress.ip_address(remote).is_loopback
    except ValueError:
        return False


class DrupalEmulator:
    """A Drupal site with the orchestration module, in memory, for tests and local trials."""

    def __init__(
        self,
        *,
        catalog: CatalogSource = None,
        users: Iterable[users_.User] | None = None,
        settings: settings_.EmulatorSettings | Mapping[str, Any] | None = None,
        site_name: str = "Drupal",
        base_path: str = "",
        allow_remote_control: bool = False,
        log_limit: int = 100_000,
        shutdown_timeout: float = 2.0,
    ) -> None:
        initial_catalog = _catalog_of(catalog)
        explicit = _settings_dict(settings)
        self.site = site.Site(
            initial_catalog=initial_catalog,
            initial_users=list(users) if users is not None else list(users_.DEMO_USERS),
            initial_settings={"site_name": site_name, **initial_catalog.settings, **explicit},
            log_limit=log_limit,
        )
        self.site.base_path = routing.normalize_base_path(base_path)
        self.allow_remote_control = allow_remote_control
        self._shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None
        self._url: str | None = None

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(
        self, host: str = "127.0.0.1", port: int = 0, *, ssl_context: ssl.SSLContext | None = None
    ) -> str:
        """Listen on ``host:port`` (0: any free port) and return the site's base URL."""
        if self._runner is not None:
            raise RuntimeError("the emulator is already started")
        self.site.closing = asyncio.Event()
        self.site.https = ssl_context is not None
        app = web.Application(client_max_size=REQUEST_SIZE_LIMIT)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=self._shutdown_timeout
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, host, port, ssl_context=ssl_context).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        bound_port = runner.addresses[0][1]
        shown_host = "127.0.0.1" if host in ("0.0.0.0", "") else "::1" if host == "::" else host
        if ":" in shown_host:
            shown_host = f"[{shown_host}]"
        scheme = "https" if ssl_context is not None else "http"
        self._url = f"{scheme}://{shown_host}:{bound_port}{self.site.base_path}"
        self.site.accounts.cookie_name = sessions.cookie_name(shown_host, https=self.site.https)
        return self._url

    async def stop(self) -> None:
        """Stop listening; hanging and sleeping requests end at once. Safe to call twice."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self.site.closing.set()
        await runner.cleanup()

    async def __aenter__(self) -> DrupalEmulator:
        if self._runner is None:
            await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """The site's base URL (with the base path, no trailing slash)."""
        if self._url is None:
            raise RuntimeError("the emulator is not started")
        return self._url

    @property
    def root_url(self) -> str:
        """Scheme, host and port only."""
        return self.url[: len(self.url) - len(self.site.base_path)] if self.site.base_path else self.url

    @property
    def control_url(self) -> str:
        return f"{self.root_url}{control.PREFIX}"

    # -- request handling ---------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == control.PREFIX or path.startswith(control.PREFIX + "/"):
            if not (self.allow_remote_control or _is_loopback(request.remote)):
                return web.json_response(
                    {"error": "the control API only answers loopback clients"}, status=403
                )
            return await control.handle(self, request)
        route = routing.resolve(path, base_path=self.site.base_path)
        raw = await request.read()
        body = phpjson.decode(raw)
        record = self.site.log.open(
            time=time.time(),
            method=request.method,
            path=path,
            query=request.query_string,
            route=route,
            body=body,
            body_text=raw[:BODY_TEXT_LIMIT].decode("utf-8", "replace"),
            headers=_safe_headers(request.headers),
            remote=request.remote,
        )
        started = time.monotonic()
        answer: web.StreamResponse
        try:
            answer = await self._serve(request, route, body, record)
            record.status = answer.status
        except faults_.Dropped as dropped:
            record.status = dropped.status
            answer = dropped.response if dropped.response is not None else web.Response()
        except Exception:  # a bug of the emulator: answer like PHP's fatal error, and say so loudly
            logger.exception("emulator error while serving %s %s", request.method, path)
            answer = responses.unexpected(self.site)
            record.status = answer.status
        finally:
            record.duration = time.monotonic() - started
        logger.info(
            "%s %s -> %s%s%s",
            request.method,
            path,  # without the query: a logout token travels there
            record.status if record.status is not None else "(no answer)",
            f" as {record.user}" if record.user else "",
            f" [fault: {record.fault}]" if record.fault else "",
        )
        return answer

    async def _serve(
        self, request: web.Request, route: str | None, body: Any, record: requestlog.RequestRecord
    ) -> web.StreamResponse:
        state = self.site
        for fault in state.faults.take(route, body, stage="before"):
            record.fault = f"{record.fault}+{fault.kind}" if record.fault else fault.kind
            answer = await faults_.strike(
                fault, request, closing=state.closing, site=state.settings.site_name
            )
            if answer is not None:
                return answer
        response = await self._route(request, route, body, record)
        for fault in state.faults.take(route, body, stage="after"):
            record.fault = f"{record.fault}+{fault.kind}" if record.fault else fault.kind
            answer = await faults_.strike(
                fault, request, closing=state.closing, site=state.settings.site_name, response=response
            )
            if answer is not None:
                return answer
        return response

    async def _route(
        self, request: web.Request, route: str | None, body: Any, record: requestlog.RequestRecord
    ) -> web.Response:
        state = self.site
        if route is None:
            return responses.drupal_error(state, 404)
        if route == routing.FRONT:
            text = pages.drupal_page(
                site=state.settings.site_name, title="Welcome", message="Welcome to Drupal."
            )
            return web.Response(text=text, content_type="text/html")
        if route in module_routes.HANDLERS:
            methods, handler = module_routes.HANDLERS[route]
            if request.method not in methods:
                return responses.drupal_error(state, 405, headers={"Allow": ", ".join(methods)})
            identity = state.accounts.identify(request)
            record.auth = identity.provider
            record.user = identity.user.name if identity.user is not None else None
            denial = state.accounts.access(identity, request)
            if denial is not None:
                return responses.drupal_error(state, denial.status, reason=denial.reason)
            return await handler(state, body)
        core_methods, core_handler = core_routes.HANDLERS[route]
        if request.method not in core_methods:
            return responses.drupal_error(state, 405, headers={"Allow": ", ".join(core_methods)})
        return await core_handler(state, request, body, record)

    # -- state: catalog, settings, users ------------------------------------------------------------

    @property
    def settings(self) -> settings_.EmulatorSettings:
        return self.site.settings

    def update_settings(self, **changes: Any) -> dict[str, Any]:
        """Change variant settings at run time (validated; all or nothing). Returns all settings."""
        return self.site.settings.update(**changes)

    @property
    def catalog(self) -> catalog_.Catalog:
        return self.site.catalog

    def set_catalog(self, new: CatalogSource) -> None:
        """Replace the services and poll sources (the catalog's settings apply on top)."""
        self.site.set_catalog(copy.deepcopy(_catalog_of(new)))

    def add_service(self, service: catalog_.Service | Mapping[str, Any]) -> None:
        self.site.add_service(
            service if isinstance(service, catalog_.Service) else catalog_.Service.from_data(service)
        )

    def remove_service(self, service_id: str) -> bool:
        return self.site.remove_service(service_id)

    @property
    def users(self) -> dict[str, users_.User]:
        return self.site.accounts.all()

    def set_user(self, user: users_.User) -> users_.User:
        """Add or replace an account (e.g. block it, or take its permission away)."""
        return self.site.accounts.put(user)

    def remove_user(self, name: str) -> bool:
        return self.site.accounts.remove(name)

    def expire_sessions(self, *, username: str | None = None) -> int:
        """End every session (or those of one user): the next cookie request gets 403."""
        return self.site.accounts.sessions.expire(username=username)

    def reset_flood(self) -> None:
        self.site.accounts.flood.reset()

    @property
    def session_cookie_name(self) -> str:
        return self.site.accounts.cookie_name

    def reset(self) -> None:
        """Back to the initial catalog, users and settings; forget requests, webhooks, faults, sessions."""
        self.site.reset()

    # -- state: request log -------------------------------------------------------------------------

    @property
    def request_log(self) -> list[requestlog.RequestRecord]:
        return self.site.log.records()

    def calls(self, route: str | None = None, /, **match: Any) -> list[requestlog.RequestRecord]:
        """Logged requests of ``route`` (any when ``None``) whose fields / body fields equal ``match``.

        ``method``, ``status``, ``user``, ``auth`` and ``fault`` compare with the record; any other key
        with the top-level JSON body: ``calls("execute", id="eca::x", status=200)``.
        """
        return self.site.log.calls(route, **match)

    def execute_count(self, service_id: str) -> int:
        """How many times the service's behaviour ran (not how many execute requests arrived)."""
        return self.site.log.execute_count(service_id)

    def request_count(self, route: str | None = None) -> int:
        return self.site.log.request_count(route)

    def counts(self) -> dict[str, dict[str, int]]:
        return self.site.log.counts()

    def reset_log(self) -> int:
        return self.site.log.reset()

    # -- state: polls -------------------------------------------------------------------------------

    @property
    def poll_sources(self) -> dict[str, dict[str, Any]]:
        return self.site.polls.snapshot()

    def add_poll_items(self, name: str, mode: str, items: Iterable[Mapping[str, Any]]) -> int:
        """Append items (``{"timestamp"|"id": ..., "data": ...}``) to a poll source; returns its size."""
        return self.site.polls.add(name, mode, items)

    def clear_poll_items(self, name: str | None = None) -> None:
        self.site.polls.clear(name)

    # -- state: webhooks ----------------------------------------------------------------------------

    @property
    def webhooks(self) -> dict[str, webhooks_.WebhookRecord]:
        return self.site.webhooks.snapshot()

    def set_webhook(self, key: str, url: Any, **fields: Any) -> webhooks_.WebhookRecord:
        """Store a webhook under ``key`` as an administrator would in the admin UI."""
        return self.site.webhooks.admin_set(key, url, **fields)

    def remove_webhook(self, key: str) -> bool:
        return self.site.webhooks.delete(key)

    async def dispatch_webhook(self, key: str, data: Any) -> webhooks_.DispatchResult:
        """POST ``data`` to the webhook stored under ``key`` once, as ECA's action would."""
        return await self.site.webhooks.dispatch(key, data)

    @property
    def dispatches(self) -> list[webhooks_.DispatchResult]:
        return self.site.webhooks.dispatches()

    # -- state: faults ------------------------------------------------------------------------------

    def add_fault(
        self,
        kind: str,
        *,
        route: str = "*",
        service_id: str | None = None,
        match: Mapping[str, Any] | None = None,
        times: int | None = 1,
        stage: str | None = None,
        latency_ms: int = 1000,
        retry_after: int | str = 1,
        hang_seconds: float = 300.0,
    ) -> faults_.Fault:
        """Make the next ``times`` matching requests (``None``: all) fail as ``kind`` (see faults.py)."""
        spec: dict[str, Any] = {
            "kind": kind,
            "route": route,
            "match": {} if match is None else match,
            "times": times,
            "stage": stage,
            "latency_ms": latency_ms,
            "retry_after": retry_after,
            "hang_seconds": hang_seconds,
        }
        if service_id is not None:
            spec["service_id"] = service_id
        return self.site.faults.add(faults_.Fault.from_data(spec))

    @property
    def faults(self) -> list[faults_.Fault]:
        return self.site.faults.snapshot()

    def remove_fault(self, fault_id: int) -> bool:
        return self.site.faults.remove(fault_id)

    def clear_faults(self) -> int:
        return self.site.faults.clear()


def _settings_dict(value: settings_.EmulatorSettings | Mapping[str, Any] | None) -> dict[str, Any]:
    if isinstance(value, settings_.EmulatorSettings):
        return value.to_dict()
    return dict(value or {})
