"""Basic auth, given sessions and logins: headers, CSRF tokens, one login per burst, one renewal per 403."""

from __future__ import annotations

import asyncio
import base64
import json

import httpx
import pytest
from client_fakes import Answer, ClientFactory, Site, html_page, reply

from orchestration_operator.client import (
    BasicAuth,
    ConnectionLost,
    Forbidden,
    InvalidResponse,
    LoginAuth,
    LoginFailed,
    OrchestrationError,
    ServerError,
    SessionAuth,
    Timeout,
    Unauthorized,
)

SERVICES = "/orchestration/services"
LOGIN = "/user/login"
TOKEN = "/session/token"
COOKIE = "SSESS0123abcd=s3ssion-value"


def login_ok(cookie: str = COOKIE, token: str | None = "csrf-1") -> httpx.Response:
    body = {"current_user": {"uid": "2", "name": "bot"}, "logout_token": "lt"}
    if token is not None:
        body["csrf_token"] = token
    headers = [("Content-Type", "application/json")]
    if cookie:
        headers.append(
            ("Set-Cookie", f"{cookie}; expires=Thu, 01 Jan 2099 00:00:00 GMT; path=/; secure; HttpOnly")
        )
    return httpx.Response(200, content=json.dumps(body).encode(), headers=headers)


class Logins:
    """Answers POST /user/login with successive sessions: SSESS0123abcd=value-1, -2, ..."""

    def __init__(self) -> None:
        self.count = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.count += 1
        await asyncio.sleep(0.001)  # let a burst pile up behind the first login
        return login_ok(f"SSESS0123abcd=value-{self.count}", f"csrf-{self.count}")


def session_of(request: httpx.Request) -> tuple[str | None, str | None]:
    return request.headers.get("cookie"), request.headers.get("x-csrf-token")


async def test_basic_auth_header(make_client: ClientFactory, site: Site) -> None:
    site.on("GET", SERVICES, reply(200, []))
    await make_client(auth=BasicAuth("bot", "pä:ss")).list_services()
    (request,) = site.requests
    assert request.headers["authorization"] == "Basic " + base64.b64encode("bot:pä:ss".encode()).decode()
    assert "cookie" not in request.headers
    assert "x-csrf-token" not in request.headers


@pytest.mark.parametrize(("username", "message"), [("a:b", "cannot contain ':'"), ("", "username is empty")])
def test_basic_auth_refuses_impossible_usernames(username: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BasicAuth(username, "pw")


async def test_no_auth_sends_no_credentials(make_client: ClientFactory, site: Site) -> None:
    site.on("GET", SERVICES, reply(401, body="", headers={"WWW-Authenticate": 'Basic realm="Site"'}))
    with pytest.raises(Unauthorized) as caught:
        await make_client(auth=None).list_services()
    assert caught.value.realm == "Site"
    assert "authorization" not in site.requests[0].headers


async def test_session_with_token_sends_cookie_and_csrf(make_client: ClientFactory, site: Site) -> None:
    site.on("GET", SERVICES, reply(200, []))
    await make_client(auth=SessionAuth(f" {COOKIE}\n", csrf_token="tok")).list_services()
    assert [session_of(r) for r in site.requests] == [(COOKIE, "tok")]
    assert "authorization" not in site.requests[0].headers


async def test_session_without_token_fetches_it_once_for_a_burst(
    make_client: ClientFactory, site: Site
) -> None:
    async def token(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.001)
        return httpx.Response(200, text="fetched-token\n", headers={"Content-Type": "text/plain"})

    site.on("GET", TOKEN, token).on("GET", SERVICES, reply(200, []))
    client = make_client(auth=SessionAuth(COOKIE))
    await asyncio.gather(*(client.list_services() for _ in range(10)))
    assert [session_of(r) for r in site.calls(TOKEN)] == [(COOKIE, None)]
    assert {session_of(r) for r in site.calls(SERVICES)} == {(COOKIE, "fetched-token")}


async def test_session_token_route_answering_html_is_invalid(make_client: ClientFactory, site: Site) -> None:
    site.on("GET", TOKEN, html_page(200, "Home"))
    with pytest.raises(
        Exception, match="GET /session/token answered 200 with an HTML page instead of a CSRF token"
    ):
        await make_client(auth=SessionAuth(COOKIE)).list_services()


async def test_expired_session_is_forbidden_with_a_session_hint(
    make_client: ClientFactory, site: Site
) -> None:
    site.on("GET", SERVICES, html_page(403, "Access denied"))
    with pytest.raises(Forbidden, match="the session cookie may have expired or been logged out"):
        await make_client(auth=SessionAuth(COOKIE, csrf_token="t")).list_services()
    assert len(site.calls(SERVICES)) == 1  # a given cookie cannot be renewed


@pytest.mark.parametrize("cookie", ["", "no-equals-sign", "SESS1=a b", "SESS1=ok\r\nX-Evil: 1", "=value"])
def test_session_cookie_is_validated_without_echoing_it(cookie: str) -> None:
    with pytest.raises(ValueError) as caught:
        SessionAuth(cookie)
    assert str(caught.value) == (
        "a session cookie must look like SESS<hash>=<value> (name=value pairs, no spaces)"
    )


async def test_login_opens_a_session_and_uses_it(make_client: ClientFactory, site: Site) -> None:
    site.on("POST", LOGIN, lambda r: login_ok()).on("GET", SERVICES, reply(200, []))
    await make_client(auth=LoginAuth("bot", "pw")).list_services()
    (login,) = site.calls(LOGIN)
    assert login.url.params["_format"] == "json"
    assert login.headers["content-type"] == "application/json"
    assert json.loads(login.content) == {"name": "bot", "pass": "pw"}
    assert "cookie" not in login.headers  # Drupal refuses /user/login to a request with a session
    assert "authorization" not in login.headers
    assert [session_of(r) for r in site.calls(SERVICES)] == [(COOKIE, "csrf-1")]


async def test_a_burst_logs_in_once(make_client: ClientFactory, site: Site) -> None:
    logins = Logins()
    site.on("POST", LOGIN, logins).on("GET", SERVICES, reply(200, []))
    client = make_client(auth=LoginAuth("bot", "pw"))
    await asyncio.gather(*(client.list_services() for _ in range(20)))
    assert logins.count == 1
    assert {session_of(r) for r in site.calls(SERVICES)} == {("SSESS0123abcd=value-1", "csrf-1")}


async def test_expired_session_logs_in_again_once_and_retries(make_client: ClientFactory, site: Site) -> None:
    logins = Logins()
    site.on("POST", LOGIN, logins)
    site.on("POST", "/orchestration/service/execute", html_page(403, "Access denied"), reply(200, "done"))
    result = await make_client(auth=LoginAuth("bot", "pw")).execute("eca::x")
    assert result.value == "done"
    assert logins.count == 2
    assert [session_of(r) for r in site.calls("/orchestration/service/execute")] == [
        ("SSESS0123abcd=value-1", "csrf-1"),
        ("SSESS0123abcd=value-2", "csrf-2"),
    ]
    assert "cookie" not in site.calls(LOGIN)[1].headers  # the stale session is not sent to the login


async def test_concurrent_403s_renew_once(make_client: ClientFactory, site: Site) -> None:
    logins = Logins()
    expired = asyncio.Event()

    async def services(request: httpx.Request) -> httpx.Response:
        if request.headers.get("cookie") == "SSESS0123abcd=value-1":
            await expired.wait()  # all ten requests hold the old session when it expires
            return httpx.Response(403, text="<title>Access denied</title>")
        return httpx.Response(200, json=[])

    site.on("POST", LOGIN, logins).on("GET", SERVICES, services)
    client = make_client(auth=LoginAuth("bot", "pw"), max_concurrent_requests=10)
    tasks = [asyncio.create_task(client.list_services()) for _ in range(10)]
    while len(site.calls(SERVICES)) < 10:
        await asyncio.sleep(0.001)
    expired.set()
    await asyncio.gather(*tasks)
    assert logins.count == 2
    assert len(site.calls(SERVICES)) == 20


async def test_still_forbidden_after_renewal_means_missing_permission(
    make_client: ClientFactory, site: Site
) -> None:
    logins = Logins()
    site.on("POST", LOGIN, logins).on("GET", SERVICES, html_page(403, "Access denied"))
    with pytest.raises(Forbidden) as caught:
        await make_client(auth=LoginAuth("bot", "pw")).list_services()
    assert logins.count == 2  # renewed once, not in a loop
    assert len(site.calls(SERVICES)) == 2
    assert str(caught.value) == (
        "GET /orchestration/services answered 403 Forbidden — the login worked, so the credentials are "
        'right: the user most likely lacks the "use orchestration connect" permission '
        "(the site said: 'Access denied')"
    )


@pytest.mark.parametrize(
    ("status", "said"),
    [
        (400, "Sorry, unrecognized username or password."),
        (400, "The user has not been activated or is blocked."),
        (403, "Access is blocked because of IP based flood prevention."),
    ],
)
async def test_refused_login(make_client: ClientFactory, site: Site, status: int, said: str) -> None:
    site.on("POST", LOGIN, reply(status, {"message": said}))
    with pytest.raises(LoginFailed) as caught:
        await make_client(auth=LoginAuth("bot", "wrong")).list_services()
    assert str(caught.value) == (
        f"POST /user/login?_format=json answered {status}: the site refused the login ({said!r}); wrong "
        "username or password, blocked or not activated user, or flood control"
    )
    assert (caught.value.reason, caught.value.status) == ("LoginFailed", status)
    assert site.calls(SERVICES) == []


async def test_a_burst_shares_one_failed_login(make_client: ClientFactory, site: Site) -> None:
    # Drupal blocks a user after 5 failed logins: twenty requests must not make twenty attempts.
    async def refuse(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.001)
        return httpx.Response(400, json={"message": "Sorry, unrecognized username or password."})

    site.on("POST", LOGIN, refuse)
    client = make_client(auth=LoginAuth("bot", "wrong"))
    results = await asyncio.gather(*(client.list_services() for _ in range(20)), return_exceptions=True)
    assert all(isinstance(r, LoginFailed) for r in results)
    assert len(site.calls(LOGIN)) == 1
    with pytest.raises(LoginFailed):  # a later call tries again
        await client.list_services()
    assert len(site.calls(LOGIN)) == 2


async def test_login_without_a_cookie_fails(make_client: ClientFactory, site: Site) -> None:
    site.on("POST", LOGIN, lambda r: login_ok(cookie=""))
    with pytest.raises(InvalidResponse, match="answered 200 but set no session cookie"):
        await make_client(auth=LoginAuth("bot", "pw")).list_services()


async def test_login_without_csrf_token_fetches_one(make_client: ClientFactory, site: Site) -> None:
    site.on("POST", LOGIN, lambda r: login_ok(token=None))
    site.on("GET", TOKEN, reply(200, body="from-session-token"))
    site.on("GET", SERVICES, reply(200, []))
    await make_client(auth=LoginAuth("bot", "pw")).list_services()
    assert session_of(site.calls(TOKEN)[0]) == (COOKIE, None)
    assert session_of(site.calls(SERVICES)[0]) == (COOKIE, "from-session-token")


@pytest.mark.parametrize(
    ("set_cookies", "cookie"),
    [
        (["SESSabc=v1; path=/; HttpOnly"], "SESSabc=v1"),
        (["has_js=1; path=/", "SSESSdef=v2; path=/; secure"], "SSESSdef=v2"),
        (["other=1; path=/"], "other=1"),
        (["SESSabc=deleted; expires=Thu, 01 Jan 1970 00:00:01 GMT", "SESSnew=v3"], "SESSnew=v3"),
    ],
)
def test_session_cookie_picked_from_login_answer(set_cookies: list[str], cookie: str) -> None:
    from orchestration_operator.client import auth

    session = auth.session_from_login(set_cookies, "t")
    assert session is not None
    assert (session.cookie, session.csrf_token) == (cookie, "t")


@pytest.mark.parametrize(
    ("login_failure", "error_type", "logins"),
    [
        (httpx.ReadTimeout(""), Timeout, 4),
        (httpx.RemoteProtocolError("Server disconnected"), ConnectionLost, 4),
        (html_page(502, "Bad Gateway"), ServerError, 4),
        (reply(400, {"message": "Sorry, unrecognized username or password."}), LoginFailed, 1),
    ],
)
async def test_login_failures_do_not_make_execute_outcome_unknown(
    make_client: ClientFactory, site: Site, login_failure: Answer, error_type: type[Exception], logins: int
) -> None:
    # The execute request itself never went out: the run did not happen, so trying again is safe.
    site.on("POST", LOGIN, login_failure)
    with pytest.raises(OrchestrationError) as caught:
        await make_client(auth=LoginAuth("bot", "pw")).execute("eca::x")
    assert type(caught.value) is error_type
    assert caught.value.before_request is True
    assert caught.value.outcome_unknown is False
    assert site.calls("/orchestration/service/execute") == []
    assert len(site.calls(LOGIN)) == logins  # retried in one place: the policy's 4 attempts, not 4 x 4
