"""``OrchestrationClient``: the five calls of the Orchestration API on one shared ``httpx.AsyncClient``.

Each public method builds its request from ``models``, sends it through ``_call`` (retries per
``retry``, auth per ``auth``, one bounded exchange per attempt in ``transport``, answers mapped by
``responses``) and parses the answer into ``models``. The operator shares one client per connection
across all its resources, so concurrency is bounded here, per client.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import time
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx
import pydantic

import orchestration_operator
from orchestration_operator.client import auth as auth_
from orchestration_operator.client import errors, ids, models, responses, routes
from orchestration_operator.client import retry as retry_
from orchestration_operator.client import transport as transport_

logger = logging.getLogger("orchestration_operator.client")

# on_request(route_name, outcome, seconds): outcome is the HTTP status ("200", "403", ...) when the site
# answered, else the error's reason ("Timeout", "Unreachable", "TLSError", "ConnectionLost", ...).
RequestHook = Callable[[str, str, float], None]

T = TypeVar("T")

USER_AGENT = f"orchestration-operator/{orchestration_operator.__version__}"


def normalize_base_url(base_url: str) -> str:
    """``scheme://host[:port][/sub/path]`` without a trailing slash; anything else is refused."""
    parts = urllib.parse.urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("the base URL must be an absolute http:// or https:// URL")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the base URL must not hold credentials: pass them as auth")
    if parts.query or parts.fragment:
        raise ValueError("the base URL must not have a query or fragment")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _encode(payload: Mapping[str, Any]) -> bytes:
    try:
        # NaN and Infinity are not JSON: PHP's json_decode() would turn the whole body into null.
        return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()
    except (TypeError, ValueError) as error:
        raise ValueError(f"the request cannot be encoded as JSON: {error}") from error


class OrchestrationClient:
    """An async client of one Drupal site's Orchestration API. Use as ``async with``."""

    def __init__(
        self,
        base_url: str,
        *,
        auth: auth_.Auth | None,
        timeout: float = 30.0,
        verify: bool | str | os.PathLike[str] | ssl.SSLContext = True,
        max_concurrent_requests: int = 10,
        max_response_bytes: int = transport_.DEFAULT_MAX_RESPONSE_BYTES,
        retry: retry_.RetryPolicy = retry_.DEFAULT,
        on_request: RequestHook | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        log_extra: Mapping[str, Any] | None = None,
    ) -> None:
        if max_concurrent_requests < 1:
            raise ValueError("max_concurrent_requests must be at least 1")
        if max_response_bytes < 1:
            raise ValueError("max_response_bytes must be at least 1")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.base_url = normalize_base_url(base_url)
        self.auth = auth
        self.verify = verify
        self.max_response_bytes = max_response_bytes
        self._retry = retry
        self._timeouts = {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
        self._on_request = on_request
        self._log_extra = dict(log_extra) if log_extra else None  # ``extra=`` of this client's log lines
        self._urls = {route.name: self.base_url + route.path for route in routes.ALL}
        self._semaphore = asyncio.Semaphore(max_concurrent_requests)
        self._http = transport_.build_http_client(
            timeout=timeout,
            # Building a verifying SSL context costs ~0.1 s; a plain-http site never does TLS (and the
            # client follows no redirects), so it skips that cost.
            verify=verify if self.base_url.startswith("https://") else False,
            # The semaphore is the bound; logins take a slot like any request (never while holding one).
            max_connections=max_concurrent_requests,
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
        )
        self._backend = _Backend(self)

    def __repr__(self) -> str:
        return f"OrchestrationClient({self.base_url!r}, auth={self.auth!r})"

    @property
    def tls_verified(self) -> bool:
        """Whether answers come over TLS with a verified certificate."""
        return self.base_url.startswith("https://") and self.verify is not False

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # --- the five calls ---------------------------------------------------------------------------------

    async def list_services(self) -> list[models.Service]:
        """``GET /orchestration/services``: the whole catalog, in the site's order (by label)."""
        raw, value = await self._call(routes.LIST_SERVICES, None)
        try:
            return models.ServiceList.validate_python(value)
        except pydantic.ValidationError as error:
            raise _wrong_shape(routes.LIST_SERVICES, raw, "a JSON array of services", error) from error

    async def execute(
        self,
        service_id: str | ids.ServiceId,
        config: Mapping[str, Any] | None = None,
        *,
        read_timeout: float | None = None,
    ) -> models.ExecuteResult:
        """``POST /orchestration/service/execute``: run a service once; never retried if it may have run.

        ``read_timeout`` overrides how long to wait for the answer (long services hit PHP and proxy limits;
        the outcome of a timed-out call is unknown: see ``errors.OrchestrationError.outcome_unknown``).
        """
        parsed = service_id if isinstance(service_id, ids.ServiceId) else ids.parse_service_id(service_id)
        request = models.ExecuteRequest(id=str(parsed), config=dict(config or {}))
        raw, value = await self._call(routes.EXECUTE, request.wire(), read_timeout=read_timeout)
        return models.ExecuteResult(value=value, raw=raw.body)

    async def register_webhook(self, webhook_id: str, url: str) -> str:
        """``POST /orchestration/webhook/register``; returns the key Drupal stores it under.

        Registering a key that exists overwrites it silently (also one made in the admin UI).
        """
        key = _webhook_key(webhook_id)
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # Drupal stores anything and later fails to POST to it, silently: refuse it here.
            raise ValueError("a webhook URL must be an absolute http:// or https:// URL")
        request = models.RegisterWebhookRequest(id=webhook_id, url=url)
        await self._call(routes.REGISTER_WEBHOOK, request.wire())
        return key

    async def unregister_webhook(self, webhook_id: str) -> str:
        """``POST /orchestration/webhook/unregister``; returns the key deleted (absent keys are fine)."""
        key = _webhook_key(webhook_id)
        await self._call(routes.UNREGISTER_WEBHOOK, models.UnregisterWebhookRequest(id=webhook_id).wire())
        return key

    async def poll(
        self,
        name: str,
        *,
        timestamp: int | None = None,
        id: str | None = None,  # noqa: A002 (the API's own name for the cursor)
    ) -> list[models.PollItem]:
        """``POST /orchestration/poll`` from a cursor: exactly one of ``timestamp`` (whole seconds) or ``id``.

        Items come back exactly as the site answered: in its order, including items at or before the
        cursor if its model returns them. De-duplication and ordering are the caller's job.
        """
        if not name:
            raise ValueError("the poll name is empty")
        if (timestamp is None) == (id is None):
            raise ValueError(
                "poll needs exactly one of timestamp= or id= (Drupal silently prefers timestamp)"
            )
        if timestamp is not None and (isinstance(timestamp, bool) or not isinstance(timestamp, int)):
            raise TypeError(
                f"the poll timestamp must be an int of whole seconds, not {type(timestamp).__name__}"
            )
        if id is not None and not isinstance(id, str):
            raise TypeError(f"the poll id must be a str, not {type(id).__name__}")
        request = models.PollRequest(name=name, timestamp=timestamp, id=id)
        raw, value = await self._call(routes.POLL, request.wire())
        try:
            items = models.PollItemList.validate_python(value)
        except pydantic.ValidationError as error:
            raise _wrong_shape(routes.POLL, raw, "a JSON array of poll items", error) from error
        field = "timestamp" if timestamp is not None else "id"
        if any(getattr(item, field) is None for item in items):
            raise responses.invalid(
                routes.POLL, raw.status, raw.body, expected=f"items that all have {field!r}"
            )
        return items

    # --- the request pipeline ---------------------------------------------------------------------------

    async def _call(
        self, route: routes.Route, payload: Mapping[str, Any] | None, *, read_timeout: float | None = None
    ) -> tuple[transport_.RawResponse, Any]:
        content = None if payload is None else _encode(payload)
        timeouts = None if read_timeout is None else {**self._timeouts, "read": read_timeout}
        return await retry_.run(
            self._retry,
            lambda: self._attempt(route, content, timeouts),
            idempotent=route.idempotent,
            route=route.name,
            log_extra=self._log_extra,
        )

    async def _attempt(
        self, route: routes.Route, content: bytes | None, timeouts: Mapping[str, float] | None
    ) -> tuple[transport_.RawResponse, Any]:
        auth_headers, session = await self._prepare(self._auth_headers())
        raw = await self._send(route, content, auth_headers, timeouts)
        # A 403 is decided before the route runs, so sending again cannot run a service twice.
        if (
            raw.status == 403
            and session is not None
            and self.auth is not None
            and await self._prepare(self.auth.renew(session, self._backend))
        ):
            auth_headers, session = await self._prepare(self._auth_headers())
            raw = await self._send(route, content, auth_headers, timeouts)
        if 200 <= raw.status < 300:
            return raw, responses.decode_json(route, raw.status, raw.body)
        hint = self.auth.forbidden_hint if self.auth is not None else errors.FORBIDDEN_HINT
        raise responses.error_for(route, raw.status, raw.headers, raw.body, forbidden_hint=hint)

    @staticmethod
    async def _prepare(step: Awaitable[T]) -> T:
        """Await a step that precedes the call's own request, marking its failures as such."""
        try:
            return await step
        except errors.OrchestrationError as error:
            error.before_request = True
            raise

    async def _auth_headers(self) -> tuple[dict[str, str], auth_.Session | None]:
        if self.auth is None:
            return {}, None
        return await self.auth.headers(self._backend)

    async def _send(
        self,
        route: routes.Route,
        content: bytes | None,
        auth_headers: Mapping[str, str],
        timeouts: Mapping[str, float] | None,
    ) -> transport_.RawResponse:
        headers = dict(auth_headers)
        if content is not None:
            headers["Content-Type"] = "application/json"
        async with self._semaphore:
            started = time.perf_counter()
            try:
                raw = await transport_.exchange(
                    self._http,
                    route,
                    self._urls[route.name],
                    content=content,
                    headers=headers,
                    timeouts=timeouts,
                    max_bytes=self.max_response_bytes,
                )
            except errors.OrchestrationError as error:
                self._report(route, error.reason, time.perf_counter() - started)
                raise
        self._report(route, str(raw.status), time.perf_counter() - started)
        return raw

    def _report(self, route: routes.Route, outcome: str, seconds: float) -> None:
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("%s -> %s in %.1f ms", route, outcome, seconds * 1000, extra=self._log_extra)
        if self._on_request is not None:
            try:
                self._on_request(route.name, outcome, seconds)
            except Exception:  # a metrics hook must never break a request
                logger.exception("the on_request hook failed", extra=self._log_extra)


class _Backend:
    """The client's side of ``auth.SessionBackend``: Drupal core's login and CSRF-token calls."""

    def __init__(self, client: OrchestrationClient) -> None:
        self._client = client

    async def open_session(self, username: str, password: str) -> auth_.Session:
        client = self._client
        content = _encode({"name": username, "pass": password})
        # No Cookie header: Drupal refuses /user/login (403) to a request that already has a session.
        # Not retried here: a failure here fails the call's attempt, which ``retry`` may repeat whole.
        raw = await client._send(routes.LOGIN, content, {}, None)
        if raw.status in (400, 403):
            said = responses.excerpt(raw.body)
            raise errors.LoginFailed(
                f"{routes.LOGIN} answered {raw.status}: the site refused the login"
                + (f" ({said!r})" if said else "")
                + "; wrong username or password, blocked or not activated user, or flood control",
                status=raw.status,
                route=routes.LOGIN.name,
                excerpt=said,
            )
        if not 200 <= raw.status < 300:
            raise responses.error_for(routes.LOGIN, raw.status, raw.headers, raw.body)
        value = responses.decode_json(routes.LOGIN, raw.status, raw.body)
        token = value.get("csrf_token") if isinstance(value, dict) else None
        session = auth_.session_from_login(raw.headers.get_list("set-cookie"), token)
        if session is None:
            # A success without a session: a proxy or module answered in Drupal's place.
            raise errors.InvalidResponse(
                f"{routes.LOGIN} answered {raw.status} but set no session cookie",
                status=raw.status,
                route=routes.LOGIN.name,
            )
        if session.csrf_token is None:
            session = auth_.Session(session.cookie, await self.fetch_csrf_token(session.cookie))
        return session

    async def fetch_csrf_token(self, cookie: str) -> str:
        client = self._client
        raw = await client._send(routes.SESSION_TOKEN, None, {"Cookie": cookie}, None)
        if not 200 <= raw.status < 300:
            raise responses.error_for(routes.SESSION_TOKEN, raw.status, raw.headers, raw.body)
        token = raw.body.decode("ascii", "replace").strip()
        if not token or len(token) > 256 or any(c.isspace() or c in "<>\"'" for c in token):
            raise responses.invalid(routes.SESSION_TOKEN, raw.status, raw.body, expected="a CSRF token")
        return token


def _webhook_key(webhook_id: str) -> str:
    key = ids.webhook_key(webhook_id)
    if not key:
        raise ValueError(
            f"webhook id {webhook_id!r} normalizes to an empty key in Drupal (Html::getId keeps only "
            "ASCII letters, digits and dashes)"
        )
    return key


def _wrong_shape(
    route: routes.Route, raw: transport_.RawResponse, expected: str, error: pydantic.ValidationError
) -> errors.InvalidResponse:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "the top level"
    return responses.invalid(
        route, raw.status, raw.body, expected=expected, detail=f" (at {where}: {first['msg']})"
    )
