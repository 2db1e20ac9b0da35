"""The few Drupal core routes a client of the orchestration API uses to work with cookie sessions.

``POST /user/login?_format=json`` (``UserAuthenticationController::login``: messages, flood control and
answer shape as in Drupal 11), ``POST /user/logout?_format=json&token=...``,
``GET /user/login_status?_format=json`` and ``GET /session/token``. Without ``?_format=json`` the login
path is the HTML login form (200), which a client must not mistake for a success.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from orchestration_operator.testing.drupal import pages, requestlog, responses, sessions, site, users

SESSION_MAX_AGE = 2_000_000  # Drupal's default cookie lifetime (seconds)


def _message(message: str, *, status: int) -> web.Response:
    return responses.json({"message": message}, status=status)


def _is_json(request: web.BaseRequest) -> bool:
    return request.query.get("_format") == "json"


def _session_of(state: site.Site, request: web.BaseRequest) -> sessions.Session | None:
    session = state.accounts.sessions.get(request.cookies.get(state.accounts.cookie_name))
    if session is not None and state.accounts.active(session.username) is None:
        return None  # the account was blocked or deleted since: Drupal treats the session as anonymous
    return session


async def login(
    state: site.Site, request: web.BaseRequest, body: Any, record: requestlog.RequestRecord
) -> web.Response:
    if not _is_json(request) or request.method != "POST":
        return web.Response(text=pages.login_form(site=state.settings.site_name), content_type="text/html")
    if _session_of(state, request) is not None:
        return _message("This route can only be accessed by anonymous users.", status=403)
    credentials = body if isinstance(body, dict) else {}
    name, password = credentials.get("name"), credentials.get("pass")
    if name is None and password is None:
        return _message("Missing credentials.", status=400)
    if name is None:
        return _message("Missing credentials.name.", status=400)
    if password is None:
        return _message("Missing credentials.pass.", status=400)
    name, password = str(name), str(password)
    ip = request.remote or ""
    config = state.settings
    flood = state.accounts.flood
    if not flood.is_allowed(
        "user.failed_login_ip", threshold=config.flood_ip_limit, window=config.flood_ip_window, identifier=ip
    ):
        return _message("Access is blocked because of IP based flood prevention.", status=403)
    active = state.accounts.active(name)
    identifier = f"{active.uid}-{ip}" if active is not None else ""
    if identifier and not flood.is_allowed(
        "user.http_login",
        threshold=config.flood_user_limit,
        window=config.flood_user_window,
        identifier=identifier,
    ):
        return _message(
            "Too many failed login attempts from your IP address. This IP address is temporarily blocked.",
            status=403,
        )
    account = state.accounts.get(name)
    if account is not None:
        if account.blocked:
            return _message("The user has not been activated or is blocked.", status=400)
        if account.password_matches(password):
            flood.clear("user.http_login", identifier=identifier)
            return _opened(state, account, record)
    if identifier:
        flood.register("user.http_login", window=config.flood_user_window, identifier=identifier)
    flood.register("user.failed_login_ip", window=config.flood_ip_window, identifier=ip)
    return _message("Sorry, unrecognized username or password.", status=400)


def _opened(state: site.Site, account: users.User, record: requestlog.RequestRecord) -> web.Response:
    store = state.accounts.sessions
    session = store.open(account.name)
    record.user, record.auth = account.name, "login"
    response = responses.json(
        {
            "current_user": {"uid": str(account.uid), "roles": list(account.roles), "name": account.name},
            "csrf_token": store.token(session, sessions.REST_TOKEN_KEY),
            "logout_token": store.token(session, sessions.LOGOUT_TOKEN_KEY),
        }
    )
    response.set_cookie(
        state.accounts.cookie_name,
        session.sid,
        max_age=SESSION_MAX_AGE,
        path=state.base_path or "/",
        httponly=True,
        samesite="Lax",
        secure=state.https,
    )
    return response


async def logout(
    state: site.Site, request: web.BaseRequest, body: Any, record: requestlog.RequestRecord
) -> web.Response:
    del body
    if not _is_json(request):
        return responses.drupal_error(state, 404)
    session = _session_of(state, request)
    if session is None:
        return _message("This route can only be accessed by authenticated users.", status=403)
    record.user, record.auth = session.username, "cookie"
    token = request.query.get("token")
    if token is None:
        return _message("'csrf_token' URL query argument is missing.", status=403)
    if not state.accounts.sessions.token_valid(session, token, sessions.LOGOUT_TOKEN_KEY):
        return _message("'csrf_token' URL query argument is invalid.", status=403)
    state.accounts.sessions.close(session.sid)
    response = web.Response(status=204)
    response.del_cookie(state.accounts.cookie_name, path=state.base_path or "/")
    return response


async def login_status(
    state: site.Site, request: web.BaseRequest, body: Any, record: requestlog.RequestRecord
) -> web.Response:
    del body
    if not _is_json(request):
        return responses.drupal_error(state, 404)
    session = _session_of(state, request)
    if session is not None:
        record.user, record.auth = session.username, "cookie"
    return web.Response(text="1" if session is not None else "0", content_type="text/plain")


async def session_token(
    state: site.Site, request: web.BaseRequest, body: Any, record: requestlog.RequestRecord
) -> web.Response:
    del body
    session = _session_of(state, request)
    if session is not None:
        record.user, record.auth = session.username, "cookie"
    token = state.accounts.sessions.token(session, sessions.TOKEN_KEY)
    return web.Response(text=token, content_type="text/plain")


# route name -> (allowed methods, handler); login and logout accept GET to show Drupal's HTML side.
HANDLERS = {
    "login": (("GET", "POST"), login),
    "logout": (("GET", "POST"), logout),
    "login_status": (("GET", "HEAD"), login_status),
    "session_token": (("GET", "HEAD"), session_token),
}
