"""``diagnose``: one finding per question, for each way a site can fail (MockTransport tables)."""

from __future__ import annotations

import re
import socket
import ssl
from typing import Any

import httpx
import pytest
from client_fakes import Answer, Site, html_page, reply

from orchestration_operator.client import BasicAuth, LoginAuth, SessionAuth, diagnose
from orchestration_operator.client.auth import Auth

URL = "https://drupal.example/sub"
SERVICES = "/orchestration/services"
NOW = 1_750_000_000.0
SINCE = "2025-06-14 15:06:40Z"  # NOW - 24 h

CATALOG = [
    {"id": "eca::welcome", "label": "Welcome"},
    {"id": "tool::entity:load", "label": "Load"},
    {"id": "eca::bye", "label": "Bye"},
]


def _login(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"csrf_token": "t"}, headers={"Set-Cookie": "SSESSx=v; path=/"})


def _refused() -> httpx.ConnectError:
    error = httpx.ConnectError("All connection attempts failed")
    error.__cause__ = ConnectionRefusedError(111, "refused")
    return error


def _dns() -> httpx.ConnectError:
    error = httpx.ConnectError("[Errno -2] Name or service not known")
    error.__cause__ = socket.gaierror(-2, "Name or service not known")
    return error


def _untrusted() -> httpx.ConnectError:
    error = httpx.ConnectError("")
    cause = ssl.SSLCertVerificationError(1, "certificate verify failed")
    cause.verify_message = "unable to get local issuer certificate"
    error.__cause__ = cause
    return error


TLS_OK = "ok   tls: certificate verified"


def answered(status: int | None = None) -> list[str]:
    code = f" {status}" if status else ""
    return [f"ok   reachable: https://drupal.example/sub answered{code} in {{ms}}", TLS_OK]


OK_LINES = answered()
SKIPPED = "skip {check}: not checked"


async def _run(site: Site, auth: Auth | None, **kwargs: Any) -> tuple[list[str], int]:
    findings = await diagnose.diagnose(
        kwargs.pop("url", URL), auth=auth, transport=httpx.MockTransport(site), clock=lambda: NOW, **kwargs
    )
    # Latencies vary: "answered in 3 ms" is compared as "answered in {ms}".
    lines = [re.sub(r" in \d+ ms$", " in {ms}", f.line()) for f in findings]
    return lines, diagnose.exit_code(findings)


@pytest.mark.parametrize(
    ("auth", "authenticated"),
    [
        (BasicAuth("bot", "pw"), "ok   authentication: accepted as 'bot' (basic auth)"),
        (LoginAuth("bot", "pw"), "ok   authentication: logged in as 'bot' (session)"),
        (SessionAuth("SSESSx=v", "t"), "ok   authentication: session cookie accepted"),
        (
            None,
            "warn authentication: no credentials given, yet the site answered: anonymous users may use the "
            "API",
        ),
    ],
)
async def test_a_healthy_site(site: Site, auth: Auth | None, authenticated: str) -> None:
    site.on("POST", "/user/login", _login).on("GET", SERVICES, reply(200, CATALOG))
    lines, code = await _run(site, auth)
    assert lines == [
        *OK_LINES,
        authenticated,
        'ok   permission: "use orchestration connect" granted',
        "ok   services: 3 services (eca: 2, tool: 1)",
    ]
    assert code == 0


@pytest.mark.parametrize(
    ("mode", "items", "sent", "poll_line"),
    [
        (
            "timestamp",
            [{"timestamp": int(NOW) - 60, "data": 1}],
            {"name": "users", "timestamp": int(NOW) - 86400},
            f"ok   poll: 'users' answered 1 item since {SINCE} (timestamp mode)",
        ),
        (
            "timestamp",
            [{"timestamp": int(NOW) - 86400, "data": 1}, {"timestamp": 5, "data": 2}],
            {"name": "users", "timestamp": int(NOW) - 86400},
            f"ok   poll: 'users' answered 2 items since {SINCE} (timestamp mode); the site also returns "
            f"items "
            "at or before the cursor (the operator de-duplicates them)",
        ),
        (
            "id",
            [],
            {"name": "users", "id": "0"},
            "ok   poll: 'users' answered 0 items after id 0 (id mode); an unknown poll name also answers an "
            "empty list",
        ),
    ],
)
async def test_poll_round_trip(
    site: Site, mode: str, items: list[dict[str, Any]], sent: dict[str, Any], poll_line: str
) -> None:
    site.on("GET", SERVICES, reply(200, CATALOG[:1])).on("POST", "/orchestration/poll", reply(200, items))
    lines, code = await _run(site, BasicAuth("bot", "pw"), poll_name="users", poll_mode=mode)
    assert lines[-2:] == ["ok   services: 1 service (eca: 1)", poll_line]
    assert site.bodies("/orchestration/poll") == [sent]
    assert code == 0


@pytest.mark.parametrize(
    ("answer", "poll_line"),
    [
        (
            reply(400, {"error": "No timestamp or id provided."}),
            "FAIL poll: POST /orchestration/poll answered 400 Bad Request (the site said: 'No timestamp or "
            "id "
            "provided.')",
        ),
        (
            reply(200, {"unexpected": True}),
            "FAIL poll: POST /orchestration/poll answered 200 with JSON of another shape instead of a JSON "
            "array "
            "of poll items (at 0: Input should be a valid dictionary or instance of PollItem): "
            "'{\"unexpected\": true}'",
        ),
    ],
)
async def test_poll_failure(site: Site, answer: Answer, poll_line: str) -> None:
    site.on("GET", SERVICES, reply(200, CATALOG)).on("POST", "/orchestration/poll", answer)
    lines, code = await _run(site, BasicAuth("bot", "pw"), poll_name="users")
    assert lines[-1] == poll_line
    assert code == 9


@pytest.mark.parametrize(
    ("auth", "answer", "expected", "code"),
    [
        (
            BasicAuth("bot", "pw"),
            _refused(),
            [
                "FAIL reachable: GET /orchestration/services: connection refused",
                *(SKIPPED.format(check=c) for c in ("tls", "authentication", "permission", "services")),
            ],
            3,
        ),
        (
            BasicAuth("bot", "pw"),
            _dns(),
            [
                "FAIL reachable: GET /orchestration/services: cannot resolve the host name ([Errno -2] Name "
                "or "
                "service not known)",
                *(SKIPPED.format(check=c) for c in ("tls", "authentication", "permission", "services")),
            ],
            3,
        ),
        (
            BasicAuth("bot", "pw"),
            httpx.ConnectTimeout(""),
            [
                "FAIL reachable: GET /orchestration/services: timed out while connecting",
                *(SKIPPED.format(check=c) for c in ("tls", "authentication", "permission", "services")),
            ],
            3,
        ),
        (
            BasicAuth("bot", "pw"),
            _untrusted(),
            [
                "ok   reachable: drupal.example accepted the connection",
                "FAIL tls: GET /orchestration/services: TLS handshake failed: unable to get local issuer "
                "certificate; use --ca-file for a private CA",
                *(SKIPPED.format(check=c) for c in ("authentication", "permission", "services")),
            ],
            4,
        ),
        (
            None,
            reply(401, body="", headers={"WWW-Authenticate": 'Basic realm="Site"'}),
            [
                *answered(401),
                "FAIL authentication: 401 Unauthorized: no credentials were given (use --username or "
                "--login-username)",
                *(SKIPPED.format(check=c) for c in ("permission", "services")),
            ],
            5,
        ),
        (
            BasicAuth("bot", "pw"),
            reply(401, body="", headers={"WWW-Authenticate": 'Basic realm="Site"'}),
            [
                *answered(401),
                'FAIL authentication: GET /orchestration/services answered 401 Unauthorized (realm "Site"): '
                "no "
                "credentials reached the site; check the configured credentials, or a proxy or web server in "
                "front of PHP may drop the Authorization header",
                *(SKIPPED.format(check=c) for c in ("permission", "services")),
            ],
            5,
        ),
        (
            BasicAuth("bot", "pw"),
            html_page(403, "Access denied"),
            [
                *answered(403),
                "FAIL authentication: 403 Forbidden — wrong credentials, blocked user, flood control (too "
                "many "
                'failed logins), or the user lacks the "use orchestration connect" permission',
                "skip permission: cannot be told apart from wrong credentials here; --login-username can",
                SKIPPED.format(check="services"),
            ],
            6,
        ),
        (
            SessionAuth("SSESSx=v", "t"),
            html_page(403, "Access denied"),
            [
                *answered(403),
                "FAIL authentication: 403 Forbidden — the session cookie may have expired or been logged "
                "out, "
                "or wrong credentials, blocked user, flood control (too many failed logins), or the user "
                "lacks "
                'the "use orchestration connect" permission',
                "skip permission: cannot be told apart from wrong credentials here; --login-username can",
                SKIPPED.format(check="services"),
            ],
            6,
        ),
        (
            LoginAuth("bot", "pw"),
            html_page(403, "Access denied"),
            [
                *answered(403),
                "ok   authentication: logged in as 'bot' (session)",
                "FAIL permission: 403 Forbidden — 'bot' logged in but lacks the \"use orchestration "
                'connect" '
                "permission",
                SKIPPED.format(check="services"),
            ],
            6,
        ),
        (
            BasicAuth("bot", "pw"),
            html_page(404, "Page not found"),
            [
                *answered(404),
                "FAIL api: GET /orchestration/services answered 404 Not Found: the route does not exist; "
                "check "
                "the base URL (and its sub-path) and that the orchestration module is enabled (the site "
                "said: "
                "'Page not found')",
                SKIPPED.format(check="services"),
            ],
            7,
        ),
        (
            BasicAuth("bot", "pw"),
            html_page(200, "Welcome | Site"),
            [
                *answered(200),
                "FAIL api: GET /orchestration/services answered 200 with an HTML page instead of JSON: "
                "'Welcome | Site'",
                SKIPPED.format(check="services"),
            ],
            7,
        ),
        (
            BasicAuth("bot", "pw"),
            reply(500, {"error": "Plugin ai_agent failed"}),
            [
                *answered(500),
                "ok   authentication: accepted as 'bot' (basic auth)",
                'ok   permission: "use orchestration connect" granted',
                "FAIL services: GET /orchestration/services: the site reported an error (500): "
                "'Plugin ai_agent failed'",
            ],
            8,
        ),
        (
            BasicAuth("bot", "pw"),
            html_page(502, "502 Bad Gateway"),
            [
                *answered(502),
                "FAIL services: GET /orchestration/services answered 502 Bad Gateway (the site said: '502 "
                "Bad "
                "Gateway')",
            ],
            8,
        ),
    ],
)
async def test_failure_modes(
    site: Site, auth: Auth | None, answer: Answer, expected: list[str], code: int
) -> None:
    site.on("POST", "/user/login", _login).on("GET", SERVICES, answer)
    lines, exit_code = await _run(site, auth, poll_name="users")
    assert [
        line.replace("answered 401 in", "answered in").replace("answered 403 in", "answered in")
        for line in lines
    ] == expected or lines == expected
    assert exit_code == code
    assert site.calls("/orchestration/poll") == []  # a failed listing stops there


async def test_login_refused(site: Site) -> None:
    site.on("POST", "/user/login", reply(400, {"message": "Sorry, unrecognized username or password."}))
    lines, code = await _run(site, LoginAuth("bot", "wrong"))
    assert lines[2:] == [
        "FAIL authentication: POST /user/login?_format=json answered 400: the site refused the login "
        "('Sorry, "
        "unrecognized username or password.'); wrong username or password, blocked or not activated user, or "
        "flood control",
        *(SKIPPED.format(check=c) for c in ("permission", "services")),
    ]
    assert code == 5
    assert len(site.calls("/user/login")) == 1  # no retries in a check: flood control counts every try


@pytest.mark.parametrize(
    ("url", "verify", "tls_line"),
    [
        ("http://drupal.example/sub", True, "warn tls: plain http: credentials and data travel unencrypted"),
        ("https://drupal.example/sub", False, "warn tls: certificate NOT verified (--insecure-skip-verify)"),
    ],
)
async def test_tls_warnings(site: Site, url: str, verify: bool, tls_line: str) -> None:
    site.on("GET", SERVICES, reply(200, CATALOG))
    lines, code = await _run(site, BasicAuth("bot", "pw"), url=url, verify=verify)
    assert lines[1] == tls_line
    assert code == 0


async def test_empty_catalog_is_a_warning(site: Site) -> None:
    site.on("GET", SERVICES, reply(200, []))
    lines, code = await _run(site, BasicAuth("bot", "pw"))
    assert lines[-1] == (
        "warn services: 0 services: no provider offers any (ECA models with a Tool event, AI agents, AI "
        "function "
        "calls, Tool API plugins)"
    )
    assert code == 0


async def test_a_failing_login_route_is_not_taken_for_granted_access(site: Site) -> None:
    site.on("POST", "/user/login", html_page(500, "Error"))
    lines, code = await _run(site, LoginAuth("bot", "pw"))
    assert lines[2:] == [
        "FAIL authentication: POST /user/login?_format=json answered 500 Internal Server Error (the site "
        "said: "
        "'Error')"
    ]
    assert code == 8
