"""Every kind of answer Drupal or a proxy gives, mapped onto the one error hierarchy (MockTransport)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest
from client_fakes import Answer, ClientFactory, Site, html_page, reply

from orchestration_operator.client import (
    BadRequest,
    ExecuteResult,
    Forbidden,
    InvalidResponse,
    NotFound,
    OrchestrationClient,
    OrchestrationError,
    RateLimited,
    RetryPolicy,
    ServerError,
    ServiceFailed,
    Unauthorized,
    UnexpectedStatus,
    responses,
)

Call = Callable[[OrchestrationClient], Awaitable[Any]]

CALLS: dict[str, tuple[str, str, Call]] = {
    "list": ("GET", "/orchestration/services", lambda c: c.list_services()),
    "execute": ("POST", "/orchestration/service/execute", lambda c: c.execute("eca::x", {"a": 1})),
    "register": (
        "POST",
        "/orchestration/webhook/register",
        lambda c: c.register_webhook("h", "https://p.example/"),
    ),
    "unregister": ("POST", "/orchestration/webhook/unregister", lambda c: c.unregister_webhook("h")),
    "poll": ("POST", "/orchestration/poll", lambda c: c.poll("n", timestamp=1)),
}

ACCESS_DENIED = html_page(403, "Access denied | My Site")
PERMISSION_HINT = (
    "wrong credentials, blocked user, flood control (too many failed logins), or the user lacks the "
    '"use orchestration connect" permission'
)


@pytest.mark.parametrize("call", CALLS)
@pytest.mark.parametrize(
    ("answer", "error_type", "reason", "message", "outcome_unknown"),
    [
        (
            reply(401, body="", headers={"WWW-Authenticate": 'Basic realm="My Site"'}),
            Unauthorized,
            "Unauthorized",
            '{route} answered 401 Unauthorized (realm "My Site"): no credentials reached the site; check '
            "the configured credentials, or a proxy or web server in front of PHP may drop the "
            "Authorization header",
            False,
        ),
        (
            ACCESS_DENIED,
            Forbidden,
            "Forbidden",
            f"{{route}} answered 403 Forbidden — {PERMISSION_HINT} "
            "(the site said: 'Access denied | My Site')",
            False,
        ),
        (
            reply(403, {"message": "Access denied"}),
            Forbidden,
            "Forbidden",
            f"{{route}} answered 403 Forbidden — {PERMISSION_HINT} (the site said: 'Access denied')",
            False,
        ),
        (
            reply(400, {"error": "Bad thing."}),
            BadRequest,
            "BadRequest",
            "{route} answered 400 Bad Request (the site said: 'Bad thing.')",
            False,
        ),
        (
            html_page(404, "Page not found | My Site"),
            NotFound,
            "NotFound",
            "{route} answered 404 Not Found: the route does not exist; check the base URL (and its sub-path) "
            "and that the orchestration module is enabled (the site said: 'Page not found | My Site')",
            False,
        ),
        (
            reply(500, {"error": "Service eca::x failed: boom"}),
            ServiceFailed,
            "ServiceFailed",
            "{route}: the site reported an error (500): 'Service eca::x failed: boom'",
            False,
        ),
        (
            html_page(500, "Error | My Site"),
            ServerError,
            "ServerError",
            "{route} answered 500 Internal Server Error (the site said: 'Error | My Site')",
            True,
        ),
        (
            reply(500, body="The website encountered an unexpected error. Try again later."),
            ServerError,
            "ServerError",
            "{route} answered 500 Internal Server Error (the site said: "
            "'The website encountered an unexpected error. Try again later.')",
            True,
        ),
        (
            html_page(502, "502 Bad Gateway"),
            ServerError,
            "ServerError",
            "{route} answered 502 Bad Gateway (the site said: '502 Bad Gateway')",
            True,
        ),
        (
            reply(504, body=""),
            ServerError,
            "ServerError",
            "{route} answered 504 Gateway Timeout",
            True,
        ),
        (
            reply(302, body="", headers={"Location": "https://drupal.example/user/login?destination=/x"}),
            UnexpectedStatus,
            "UnexpectedStatus",
            "{route} answered 302 Found: redirected to 'https://drupal.example/user/login'; "
            "use the final URL as the base URL",
            False,
        ),
        (
            reply(405, {"message": 'No route found for "PUT"'}),
            UnexpectedStatus,
            "UnexpectedStatus",
            "{route} answered 405 Method Not Allowed (the site said: 'No route found for \"PUT\"')",
            False,
        ),
        (
            html_page(200, "Log in | My Site"),
            InvalidResponse,
            "InvalidResponse",
            "{route} answered 200 with an HTML page instead of JSON: 'Log in | My Site'",
            True,
        ),
        (
            reply(200, body="<br />\n<b>Deprecated</b>: Creation of dynamic property in x.php<br />\n[]"),
            InvalidResponse,
            "InvalidResponse",
            "{route} answered 200 with a body that is not JSON: "
            "'Deprecated : Creation of dynamic property in x.php []'",
            True,
        ),
        (
            reply(200, body=""),
            InvalidResponse,
            "InvalidResponse",
            "{route} answered 200 with an empty body instead of JSON",
            True,
        ),
    ],
)
async def test_answers_map_to_errors(
    make_client: ClientFactory,
    site: Site,
    call: str,
    answer: Answer,
    error_type: type[OrchestrationError],
    reason: str,
    message: str,
    outcome_unknown: bool,
) -> None:
    method, path, invoke = CALLS[call]
    site.on(method, path, answer)
    client = make_client(retry=RetryPolicy(attempts=1))
    with pytest.raises(OrchestrationError) as caught:
        await invoke(client)
    error = caught.value
    assert type(error) is error_type
    assert error.reason == reason
    expected = message.format(route=f"{method} {path}")
    assert str(error) == expected
    assert error.outcome_unknown is outcome_unknown
    assert not isinstance(error, httpx.HTTPError)
    assert "<" not in str(error)  # never a raw page


async def test_rate_limited_carries_retry_after(make_client: ClientFactory, site: Site) -> None:
    site.on("GET", "/orchestration/services", reply(429, body="slow down", headers={"Retry-After": "120"}))
    with pytest.raises(RateLimited) as caught:
        await make_client(retry=RetryPolicy(attempts=1)).list_services()
    assert (caught.value.status, caught.value.retry_after, caught.value.reason) == (429, 120.0, "RateLimited")


@pytest.mark.parametrize(
    ("body", "value"),
    [
        (b'\xef\xbb\xbf{"ok": true}', {"ok": True}),  # a stray UTF-8 byte-order mark before the JSON
        (b'\n  ["a"]\n', ["a"]),
        (b'"undefined"', "undefined"),
        (b"null", None),
        (b"42", 42),
        ('{"name": "Zoë ✓"}'.encode(), {"name": "Zoë ✓"}),
    ],
)
async def test_execute_returns_any_json_value(
    make_client: ClientFactory, site: Site, body: bytes, value: Any
) -> None:
    site.on("POST", "/orchestration/service/execute", reply(200, body=body))
    result = await make_client().execute("eca::x")
    assert result == ExecuteResult(value=value, raw=body)


@pytest.mark.parametrize(
    ("call", "value", "message"),
    [
        (
            "list",
            {"id": "eca::x"},
            "GET /orchestration/services answered 200 with JSON of another shape instead of a JSON array of "
            "services (at 0: Input should be a valid dictionary or instance of Service)",
        ),
        (
            "list",
            "services",
            "GET /orchestration/services answered 200 with JSON of another shape instead of a JSON array of "
            "services (at the top level: Input should be a valid list)",
        ),
        (
            "list",
            [{"label": "no id"}],
            "GET /orchestration/services answered 200 with JSON of another shape instead of a JSON array of "
            "services (at 0.id: Field required)",
        ),
        (
            "poll",
            [{"timestamp": 5}, "x"],
            "POST /orchestration/poll answered 200 with JSON of another shape instead of a JSON array of "
            "poll items (at 1: Input should be a valid dictionary or instance of PollItem)",
        ),
        (
            "poll",
            [{"timestamp": 5, "data": 1}, {"id": "7", "data": 2}],
            "POST /orchestration/poll answered 200 with JSON of another shape instead of items that all have "
            "'timestamp'",
        ),
    ],
)
async def test_wrong_shapes_are_invalid_responses(
    make_client: ClientFactory, site: Site, call: str, value: Any, message: str
) -> None:
    method, path, invoke = CALLS[call]
    site.on(method, path, reply(200, value))
    with pytest.raises(InvalidResponse) as caught:
        await invoke(make_client())
    assert str(caught.value) == f"{message}: {json.dumps(value)!r}"
    assert caught.value.status == 200


@pytest.mark.parametrize(
    ("body", "summary"),
    [
        (b"", ""),
        (
            b"<html><head><title>Access denied | Site &amp; Co</title></head><body>x</body></html>",
            "Access denied | Site & Co",
        ),
        (
            b"<html><head><script>var x = 1;</script></head>"
            b"<body><h1>Oops</h1>  <p>bad\n\nthing</p></body></html>",
            "Oops bad thing",
        ),
        (b"<!DOCTYPE html><html><title>\n  Spaced\n  title </title></html>", "Spaced title"),
        (b'{"message": "No route found"}', "No route found"),
        (b'{"error": "boom", "message": "other"}', "boom"),
        (b'{"other": 1}', '{"other": 1}'),
        (b"plain \x1b[31mred\x1b[0m text\x00", "plain [31mred [0m text"),
        (b"x" * 500, "x" * 199 + "…"),
        (b"\xff\xfe broken utf-8", "�� broken utf-8"),
    ],
)
def test_excerpt_is_short_printable_and_markup_free(body: bytes, summary: str) -> None:
    assert responses.excerpt(body) == summary
