"""Who is calling: Drupal's authentication providers and the access checks of the orchestration routes.

Modelled on Drupal core (``BasicAuth``, ``Cookie``, ``AuthenticationSubscriber``,
``CsrfRequestHeaderAccessCheck``):

- HTTP Basic applies whenever the request carries well-formed Basic credentials, and then wins over a
  cookie. Flood control first (50 failures per IP per hour, 5 per account and IP per 6 hours; a
  blocked account never authenticates even with the right password), then the password. A failure
  leaves the request anonymous *with a provider applied*.
- The cookie provider applies whenever the session cookie is present, valid or not.
- Anonymous with no provider applied gets the Basic challenge (401 + ``WWW-Authenticate``); anonymous
  with a provider applied (wrong password, blocked, flooded, expired session) gets 403.
- With a session cookie and an authenticated user, unsafe methods need ``X-CSRF-Token`` (when the
  ``csrf_required`` setting is on): the token of ``'X-CSRF-Token request header'`` or of ``'rest'``.
- Then the permission ``use orchestration connect``.
"""

from __future__ import annotations

import base64
import binascii
import threading
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from orchestration_operator.testing.drupal import flood, sessions, settings, users

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
PERMISSION_REASON = f"The '{users.PERMISSION}' permission is required."


@dataclass(frozen=True)
class Identity:
    """The outcome of authentication for one request."""

    user: users.User | None
    provider: str | None  # "basic", "cookie" or None (no credentials at all)
    session: sessions.Session | None  # the session of the cookie, when valid
    has_session_cookie: bool


@dataclass(frozen=True)
class Denial:
    """An access refusal: 401 (challenge) or 403, with Drupal's reason."""

    status: int
    reason: str


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """``PHP_AUTH_USER`` / ``PHP_AUTH_PW`` as Symfony derives them from an Authorization header."""
    if not header or header[:6].lower() != "basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=False).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return None
    username, colon, password = decoded.partition(":")
    return (username, password) if colon else None


class Accounts:
    """Users, sessions and flood state of the site; decides who a request is and what it may do."""

    def __init__(self, accounts: Iterable[users.User], *, config: settings.EmulatorSettings) -> None:
        self._lock = threading.Lock()
        self._users = users.numbered(accounts)
        self.config = config
        self.sessions = sessions.Sessions()
        self.flood = flood.Flood()
        self.cookie_name = sessions.cookie_name("localhost", https=False)

    # -- the user directory -------------------------------------------------------------------------

    def get(self, name: str) -> users.User | None:
        with self._lock:
            return self._users.get(name)

    def all(self) -> dict[str, users.User]:
        with self._lock:
            return dict(self._users)

    def replace_all(self, accounts: Iterable[users.User]) -> None:
        numbered = users.numbered(accounts)
        with self._lock:
            self._users = numbered

    def put(self, user: users.User) -> users.User:
        with self._lock:
            existing = self._users.get(user.name)
            others = [u for name, u in self._users.items() if name != user.name]
            uid = user.uid or (existing.uid if existing else 0)
            user = users.User(user.name, user.password, user.permissions, user.blocked, user.roles, uid)
            self._users = users.numbered([*others, user])
            return self._users[user.name]

    def remove(self, name: str) -> bool:
        with self._lock:
            return self._users.pop(name, None) is not None

    def active(self, name: str) -> users.User | None:
        user = self.get(name)
        return user if user is not None and not user.blocked else None

    # -- authentication -----------------------------------------------------------------------------

    def identify(self, request: web.BaseRequest) -> Identity:
        sid = request.cookies.get(self.cookie_name)
        has_cookie = sid is not None
        session = self.sessions.get(sid)
        credentials = basic_credentials(request.headers.get("Authorization"))
        if credentials is not None:
            user = self._basic(*credentials, ip=request.remote or "")
            return Identity(user=user, provider="basic", session=session, has_session_cookie=has_cookie)
        if has_cookie:
            user = self.active(session.username) if session is not None else None
            return Identity(user=user, provider="cookie", session=session, has_session_cookie=True)
        return Identity(user=None, provider=None, session=None, has_session_cookie=False)

    def _basic(self, username: str, password: str, *, ip: str) -> users.User | None:
        config = self.config
        if self.flood.is_allowed(
            "basic_auth.failed_login_ip",
            threshold=config.flood_ip_limit,
            window=config.flood_ip_window,
            identifier=ip,
        ):
            account = self.active(username)
            if account is not None:
                identifier = f"{account.uid}-{ip}"
                if self.flood.is_allowed(
                    "basic_auth.failed_login_user",
                    threshold=config.flood_user_limit,
                    window=config.flood_user_window,
                    identifier=identifier,
                ):
                    if account.password_matches(password):
                        self.flood.clear("basic_auth.failed_login_user", identifier=identifier)
                        return account
                    self.flood.register(
                        "basic_auth.failed_login_user", window=config.flood_user_window, identifier=identifier
                    )
        self.flood.register("basic_auth.failed_login_ip", window=config.flood_ip_window, identifier=ip)
        return None

    # -- access to the orchestration routes ---------------------------------------------------------

    def access(self, identity: Identity, request: web.BaseRequest) -> Denial | None:
        if identity.user is None:
            if identity.provider is None:
                return Denial(401, "No authentication credentials provided.")
            return Denial(403, PERMISSION_REASON)
        if self.config.csrf_required and request.method not in SAFE_METHODS and identity.has_session_cookie:
            token = request.headers.get("X-CSRF-Token")
            if token is None:
                return Denial(403, "X-CSRF-Token request header is missing")
            session = identity.session
            if not (
                self.sessions.token_valid(session, token, sessions.TOKEN_KEY)
                or self.sessions.token_valid(session, token, sessions.REST_TOKEN_KEY)
            ):
                return Denial(403, "X-CSRF-Token request header is invalid")
        if not identity.user.can_connect:
            return Denial(403, PERMISSION_REASON)
        return None
