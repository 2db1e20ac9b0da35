"""Retries: bounded, jittered, ``Retry-After`` honoured; ``execute`` only when it provably never left."""

from __future__ import annotations

import email.utils
import socket
import ssl
from typing import Any

import httpx
import pytest
from client_fakes import Answer, ClientFactory, Site, Sleeps, html_page, reply

from orchestration_operator.client import (
    ConnectError,
    ConnectionLost,
    Forbidden,
    OrchestrationError,
    RetryPolicy,
    ServerError,
    ServiceFailed,
    Timeout,
    TLSError,
    errors,
    retry,
)

NOW = 1_750_000_000.0


@pytest.mark.parametrize(
    ("retry_number", "low", "high"),
    [
        (1, 0.25, 0.5),
        (2, 0.5, 1.0),
        (3, 1.0, 2.0),
        (4, 2.0, 4.0),
        (5, 4.0, 8.0),
        (6, 4.0, 8.0),
        (30, 4.0, 8.0),
    ],
)
def test_backoff_is_exponential_jittered_and_capped(retry_number: int, low: float, high: float) -> None:
    assert RetryPolicy(random=lambda: 0.0).backoff(retry_number) == low
    assert RetryPolicy(random=lambda: 1.0).backoff(retry_number) == high
    assert low <= RetryPolicy().backoff(retry_number) <= high


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("0", 0.0),
        ("7", 7.0),
        (" 120 ", 120.0),
        (email.utils.formatdate(NOW + 30, usegmt=True), 30.0),
        (email.utils.formatdate(NOW - 30, usegmt=True), 0.0),  # a date in the past: now
        ("Wed, 21 Oct 2015 07:28:00", None),  # no zone: not an HTTP date
        ("soon", None),
        ("-5", None),
        ("1.5", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert retry.parse_retry_after(header, now=NOW) == seconds


def _http(status: int, *, retry_after: float | None = None) -> errors.HTTPError:
    return errors.ServerError("x", status=status, retry_after=retry_after)


def _before_request(error: errors.OrchestrationError) -> errors.OrchestrationError:
    error.before_request = True
    return error


@pytest.mark.parametrize(
    ("error", "idempotent", "expected"),
    [
        (errors.ConnectError("refused"), False, True),
        (errors.TLSError("eof", certificate_problem=False), False, True),
        (errors.TLSError("untrusted", certificate_problem=True), True, False),
        (errors.Timeout("connect", may_have_reached_server=False), False, True),
        (errors.Timeout("read", may_have_reached_server=True), False, False),
        (errors.Timeout("read", may_have_reached_server=True), True, True),
        (errors.ConnectionLost("reset"), False, False),
        (errors.ConnectionLost("reset"), True, True),
        (errors.RateLimited("x", status=429), True, True),
        (errors.RateLimited("x", status=429), False, False),
        (_http(502), True, True),
        (_http(503), True, True),
        (_http(504), True, True),
        (_http(502), False, False),
        (_http(504), False, False),
        (_http(500), True, False),
        (errors.ServiceFailed("x", error="boom"), True, False),
        (errors.Forbidden("x", status=403), True, False),
        (errors.InvalidResponse("x", status=200), True, False),
        # A failure while logging in happened before the call's own request went out.
        (_before_request(errors.ConnectionLost("reset")), False, True),
    ],
)
def test_retryable(error: errors.OrchestrationError, idempotent: bool, expected: bool) -> None:
    assert retry.retryable(error, idempotent=idempotent) is expected


@pytest.mark.parametrize(
    ("retry_after", "retry_number", "delay"),
    [
        (None, 1, 0.5),
        (None, 3, 2.0),
        (3.0, 1, 3.0),
        (0.0, 1, 0.0),
        (30.0, 1, 30.0),
        (31.0, 1, None),
        (None, 4, None),
    ],
)
def test_policy_delay(retry_after: float | None, retry_number: int, delay: float | None) -> None:
    policy = RetryPolicy(random=lambda: 1.0)
    assert policy.delay(_http(503, retry_after=retry_after), retry_number) == delay


@pytest.mark.parametrize("fields", [{"attempts": 0}, {"initial_delay": -1.0}, {"multiplier": 0.5}])
def test_policy_refuses_nonsense(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="RetryPolicy"):
        RetryPolicy(**fields)


IDEMPOTENT_CALLS = {
    "list": ("GET", "/orchestration/services", lambda c: c.list_services(), []),
    "poll": ("POST", "/orchestration/poll", lambda c: c.poll("n", id="0"), []),
    "register": (
        "POST",
        "/orchestration/webhook/register",
        lambda c: c.register_webhook("h", "https://p/"),
        "h",
    ),
    "unregister": ("POST", "/orchestration/webhook/unregister", lambda c: c.unregister_webhook("h"), "h"),
}


def _ok(call: str) -> Answer:
    return reply(200, [] if call in ("list", "poll") else {"id": "h"})


@pytest.mark.parametrize("call", IDEMPOTENT_CALLS)
@pytest.mark.parametrize(
    ("failure", "delays"),
    [
        (reply(503, body=""), [0.5, 1.0]),
        (reply(503, body="", headers={"Retry-After": "7"}), [7.0, 7.0]),
        (reply(429, body="", headers={"Retry-After": "0"}), [0.0, 0.0]),
        (html_page(502, "Bad Gateway"), [0.5, 1.0]),
        (reply(504, body=""), [0.5, 1.0]),
        (httpx.ReadTimeout(""), [0.5, 1.0]),
        (httpx.RemoteProtocolError("Server disconnected"), [0.5, 1.0]),
        (httpx.ConnectError("refused"), [0.5, 1.0]),
    ],
)
async def test_idempotent_calls_retry_transient_failures(
    make_client: ClientFactory, site: Site, sleeps: Sleeps, call: str, failure: Answer, delays: list[float]
) -> None:
    method, path, invoke, expected = IDEMPOTENT_CALLS[call]
    site.on(method, path, failure, failure, _ok(call))
    assert await invoke(make_client()) == expected
    assert len(site.calls(path)) == 3
    assert sleeps.delays == delays


async def test_attempts_are_bounded(make_client: ClientFactory, site: Site, sleeps: Sleeps) -> None:
    site.on("GET", "/orchestration/services", reply(503, body="down"))
    with pytest.raises(ServerError):
        await make_client().list_services()
    assert len(site.calls("/orchestration/services")) == 4
    assert sleeps.delays == [0.5, 1.0, 2.0]


async def test_a_long_retry_after_is_returned_not_slept(
    make_client: ClientFactory, site: Site, sleeps: Sleeps
) -> None:
    site.on("GET", "/orchestration/services", reply(503, body="maintenance", headers={"Retry-After": "3600"}))
    with pytest.raises(ServerError) as caught:
        await make_client().list_services()
    assert caught.value.retry_after == 3600.0
    assert len(site.calls("/orchestration/services")) == 1
    assert sleeps.delays == []


@pytest.mark.parametrize(
    "failure",
    [reply(500, {"error": "boom"}), html_page(500, "Error"), html_page(403, "Access denied"), reply(400, {})],
)
async def test_permanent_answers_are_not_retried(
    make_client: ClientFactory, site: Site, sleeps: Sleeps, failure: Answer
) -> None:
    site.on("POST", "/orchestration/poll", failure)
    with pytest.raises(OrchestrationError):
        await make_client().poll("n", timestamp=0)
    assert len(site.calls("/orchestration/poll")) == 1
    assert sleeps.delays == []


def _refused() -> httpx.ConnectError:
    error = httpx.ConnectError("All connection attempts failed")
    error.__cause__ = ConnectionRefusedError(111, "Connect call failed")
    return error


def _dns() -> httpx.ConnectError:
    error = httpx.ConnectError("[Errno -2] Name or service not known")
    error.__cause__ = socket.gaierror(-2, "Name or service not known")
    return error


def _tls_eof() -> httpx.ConnectError:
    error = httpx.ConnectError("")
    error.__cause__ = ssl.SSLEOFError(8, "EOF occurred in violation of protocol")
    return error


def _tls_untrusted() -> httpx.ConnectError:
    error = httpx.ConnectError("")
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cause.verify_message = "self-signed certificate"
    error.__cause__ = cause
    return error


@pytest.mark.parametrize(
    ("failure", "error_type", "sent"),
    [
        # Provably never left this process: retried, and the retry succeeds.
        (_refused(), None, 2),
        (_dns(), None, 2),
        (_tls_eof(), None, 2),
        (httpx.ConnectTimeout(""), None, 2),
        (httpx.PoolTimeout(""), None, 2),
        # May have run: never retried (duplicate e-mails), whatever the status.
        (httpx.ReadTimeout(""), Timeout, 1),
        (httpx.WriteTimeout(""), Timeout, 1),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), ConnectionLost, 1),
        (httpx.ReadError("Connection reset by peer"), ConnectionLost, 1),
        (html_page(502, "Bad Gateway"), ServerError, 1),
        (reply(503, body="", headers={"Retry-After": "1"}), ServerError, 1),
        (reply(504, body=""), ServerError, 1),
        (html_page(500, "Error"), ServerError, 1),
        (reply(500, {"error": "boom"}), ServiceFailed, 1),
        # Never left, but retrying cannot help.
        (_tls_untrusted(), TLSError, 1),
    ],
)
async def test_execute_is_retried_only_when_it_provably_never_left(
    make_client: ClientFactory,
    site: Site,
    failure: Answer,
    error_type: type[OrchestrationError] | None,
    sent: int,
) -> None:
    site.on("POST", "/orchestration/service/execute", failure, reply(200, {"sent": "once"}))
    client = make_client()
    if error_type is None:
        assert (await client.execute("eca::welcome", {"user_id": "42"})).value == {"sent": "once"}
    else:
        with pytest.raises(error_type):
            await client.execute("eca::welcome", {"user_id": "42"})
    assert len(site.calls("/orchestration/service/execute")) == sent


async def test_execute_connect_failures_are_bounded_too(make_client: ClientFactory, site: Site) -> None:
    site.on("POST", "/orchestration/service/execute", _refused())
    with pytest.raises(ConnectError):
        await make_client().execute("eca::x")
    assert len(site.calls("/orchestration/service/execute")) == 4


async def test_forbidden_is_not_retried_with_basic_auth(make_client: ClientFactory, site: Site) -> None:
    site.on("POST", "/orchestration/service/execute", html_page(403, "Access denied"))
    with pytest.raises(Forbidden):
        await make_client().execute("eca::x")
    assert len(site.calls("/orchestration/service/execute")) == 1
