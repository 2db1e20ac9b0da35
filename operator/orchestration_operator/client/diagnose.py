"""Diagnose a site's Orchestration API as a person would: is it reachable, is TLS right, are we who we
say we are, may we use the API, what does it offer, does a poll round trip work.

``diagnose`` makes the calls (no retries: a check shows the first failure as it is) and returns one
``Finding`` per question, in that order; ``exit_code`` turns them into the ``check`` command's exit code.
The command (``commands/check.py``) only parses options and prints ``Finding.line()``.
"""

from __future__ import annotations

import collections
import dataclasses
import datetime
import enum
import os
import ssl
import time
import urllib.parse
from collections.abc import Callable, Sequence

import httpx

from orchestration_operator.client import auth as auth_
from orchestration_operator.client import client as client_
from orchestration_operator.client import errors, models, retry

POLL_WINDOW = 24 * 3600  # a timestamp-mode round trip asks for the last day of events


class Status(enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "FAIL"
    SKIP = "skip"


class Exit(enum.IntEnum):
    """Exit codes of ``orchestration-operator check`` (the first failed finding decides)."""

    OK = 0
    USAGE = 2
    UNREACHABLE = 3
    TLS = 4
    UNAUTHENTICATED = 5
    FORBIDDEN = 6
    NOT_THE_API = 7
    SITE_ERROR = 8
    POLL_FAILED = 9


EXIT_CODE_HELP = """\
exit codes:
  0  every check passed (warnings do not count)
  2  usage error: bad options, unreadable credential file
  3  unreachable: DNS failure, connection refused, timeout, connection dropped
  4  TLS handshake failed: untrusted or mismatched certificate, not TLS
  5  not authenticated: 401 (no credentials reached the site) or login refused
  6  forbidden: 403 (wrong credentials, blocked user, flood control, or missing permission)
  7  not the Orchestration API: 404, redirect, HTML or malformed answer
  8  the site failed: 5xx, 429, or a provider threw while listing services
  9  the poll round trip failed"""


@dataclasses.dataclass(frozen=True)
class Finding:
    check: str  # reachable, tls, authentication, permission, api, services, poll
    status: Status
    message: str
    exit: Exit = Exit.OK  # for FAIL findings: the exit code they stand for
    reason: str | None = None  # the client error's reason, when an error caused it

    def line(self) -> str:
        return f"{self.status.value:<4} {self.check}: {self.message}"


def exit_code(findings: Sequence[Finding]) -> int:
    return next((int(f.exit) for f in findings if f.status is Status.FAIL), int(Exit.OK))


def _ok(check: str, message: str) -> Finding:
    return Finding(check, Status.OK, message)


def _warn(check: str, message: str) -> Finding:
    return Finding(check, Status.WARN, message)


def _skip(check: str, message: str) -> Finding:
    return Finding(check, Status.SKIP, message)


def _fail(check: str, message: str, code: Exit, error: errors.OrchestrationError | None = None) -> Finding:
    return Finding(check, Status.FAIL, message, code, error.reason if error else None)


async def diagnose(
    url: str,
    *,
    auth: auth_.Auth | None,
    verify: bool | str | os.PathLike[str] = True,
    request_timeout: float = 10.0,
    poll_name: str | None = None,
    poll_mode: str = "timestamp",
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> list[Finding]:
    """Check the site at ``url`` and return what was found, one finding per question."""
    timings: dict[str, float] = {}

    def timed(route: str, outcome: str, seconds: float) -> None:
        timings[route] = timings.get(route, 0.0) + seconds

    async with client_.OrchestrationClient(
        url,
        auth=auth,
        timeout=request_timeout,
        verify=verify,
        max_concurrent_requests=1,
        retry=retry.NO_RETRY,
        on_request=timed,
        transport=transport,
    ) as client:
        try:
            services = await client.list_services()
        except errors.OrchestrationError as error:
            return _after_failure(client, error, timings)
        findings = [
            _ok("reachable", f"{client.base_url} answered in {_ms(sum(timings.values()))}"),
            *_tls(client),
            _authenticated(client.auth),
            _ok("permission", f'"{errors.PERMISSION}" granted'),
            *_catalog(services),
        ]
        if poll_name is not None:
            findings.append(await _poll(client, poll_name, poll_mode, clock()))
        return findings


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


def _tls(client: client_.OrchestrationClient) -> list[Finding]:
    if not client.base_url.startswith("https://"):
        return [_warn("tls", "plain http: credentials and data travel unencrypted")]
    if client.verify is False:
        return [_warn("tls", "certificate NOT verified (--insecure-skip-verify)")]
    if client.verify is True:
        return [_ok("tls", "certificate verified")]
    if isinstance(client.verify, ssl.SSLContext):
        return [_ok("tls", "certificate verified against the given CA")]
    return [_ok("tls", f"certificate verified against {os.fspath(client.verify)}")]


def _authenticated(auth: auth_.Auth | None) -> Finding:
    if isinstance(auth, auth_.BasicAuth):
        return _ok("authentication", f"accepted as {auth.username!r} (basic auth)")
    if isinstance(auth, auth_.LoginAuth):
        return _ok("authentication", f"logged in as {auth.username!r} (session)")
    if isinstance(auth, auth_.SessionAuth):
        return _ok("authentication", "session cookie accepted")
    return _warn(
        "authentication", "no credentials given, yet the site answered: anonymous users may use the API"
    )


def _catalog(services: list[models.Service]) -> list[Finding]:
    if not services:
        return [
            _warn(
                "services",
                "0 services: no provider offers any (ECA models with a Tool event, AI agents, AI function "
                "calls, Tool API plugins)",
            )
        ]
    providers = collections.Counter(s.id.partition("::")[0] if "::" in s.id else "?" for s in services)
    summary = ", ".join(f"{name}: {count}" for name, count in sorted(providers.items()))
    findings = [_ok("services", f"{len(services)} service{'s' if len(services) != 1 else ''} ({summary})")]
    odd = [s.id for s in services if "::" not in s.id]
    if odd:
        findings.append(_warn("services", f"ids without '::' cannot be executed: {', '.join(odd[:5])}"))
    return findings


async def _poll(client: client_.OrchestrationClient, name: str, mode: str, now: float) -> Finding:
    cursor = int(now) - POLL_WINDOW
    since = datetime.datetime.fromtimestamp(cursor, datetime.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    try:
        if mode == "timestamp":
            items = await client.poll(name, timestamp=cursor)
        else:
            items = await client.poll(name, id="0")
    except errors.OrchestrationError as error:
        return _fail("poll", str(error), Exit.POLL_FAILED, error)
    window = f"since {since}" if mode == "timestamp" else "after id 0"
    message = f"{name!r} answered {len(items)} item{'s' if len(items) != 1 else ''} {window} ({mode} mode)"
    if not items:
        message += "; an unknown poll name also answers an empty list"
    elif mode == "timestamp" and any(i.timestamp is not None and i.timestamp <= cursor for i in items):
        message += "; the site also returns items at or before the cursor (the operator de-duplicates them)"
    return _ok("poll", message)


def _after_failure(
    client: client_.OrchestrationClient, error: errors.OrchestrationError, timings: dict[str, float]
) -> list[Finding]:
    host = urllib.parse.urlsplit(client.base_url).netloc
    if isinstance(error, errors.TLSError):
        hint = "; use --ca-file for a private CA" if error.certificate_problem else ""
        return [
            _ok("reachable", f"{host} accepted the connection"),
            _fail("tls", f"{error}{hint}", Exit.TLS, error),
            *_skipped("authentication", "permission", "services"),
        ]
    if isinstance(error, errors.TransportError):
        return [
            _fail("reachable", str(error), Exit.UNREACHABLE, error),
            *_skipped("tls", "authentication", "permission", "services"),
        ]
    # The site answered: it is reachable, and TLS (if any) held.
    status = getattr(error, "status", 0)
    answered = [_ok("reachable", f"{client.base_url} answered {status} in {_ms(sum(timings.values()))}")]
    answered += _tls(client)
    if isinstance(error, (errors.Unauthorized, errors.LoginFailed)):
        message = str(error)
        if isinstance(error, errors.Unauthorized) and client.auth is None:
            message = (
                f"{error.status} Unauthorized: no credentials were given (use --username or --login-username)"
            )
        return [
            *answered,
            _fail("authentication", message, Exit.UNAUTHENTICATED, error),
            *_skipped("permission", "services"),
        ]
    if isinstance(error, errors.Forbidden):
        if isinstance(client.auth, auth_.LoginAuth):
            return [
                *answered,
                _authenticated(client.auth),
                _fail(
                    "permission",
                    f'403 Forbidden — {client.auth.username!r} logged in but lacks the "{errors.PERMISSION}" '
                    "permission",
                    Exit.FORBIDDEN,
                    error,
                ),
                *_skipped("services"),
            ]
        return [
            *answered,
            _fail(
                "authentication",
                f"403 Forbidden — {client.auth.forbidden_hint if client.auth else errors.FORBIDDEN_HINT}",
                Exit.FORBIDDEN,
                error,
            ),
            _skip("permission", "cannot be told apart from wrong credentials here; --login-username can"),
            *_skipped("services"),
        ]
    if isinstance(
        error, (errors.NotFound, errors.UnexpectedStatus, errors.InvalidResponse)
    ) and not isinstance(error, errors.ResponseTooLarge):
        return [*answered, _fail("api", str(error), Exit.NOT_THE_API, error), *_skipped("services")]
    if isinstance(error, errors.HTTPError) and error.status == 500 and not error.before_request:
        # A 500 of the listing comes from the route itself: access was granted, a provider failed.
        return [
            *answered,
            _authenticated(client.auth),
            _ok("permission", f'"{errors.PERMISSION}" granted'),
            _fail("services", str(error), Exit.SITE_ERROR, error),
        ]
    # Failing to log in (or to fetch a CSRF token) is an authentication finding, whatever the cause.
    check = "authentication" if error.before_request else "services"
    return [*answered, _fail(check, str(error), Exit.SITE_ERROR, error)]


def _skipped(*checks: str) -> list[Finding]:
    return [_skip(check, "not checked") for check in checks]
