"""Credentials for the Orchestration API: HTTP Basic, a given session cookie, or a login that opens and
renews its own session.

``client`` asks an auth object for the headers of each request (``headers``) and, when Drupal answers
403 to a session, whether new credentials are worth one more try (``renew``). The HTTP calls a session
needs (``POST /user/login``, ``GET /session/token``) are made by the client through ``SessionBackend``,
so that they share its connection pool, concurrency bound, timeouts and error mapping.

No secret appears in a repr, a message or a log line: only the username is shown.
"""

from __future__ import annotations

import abc
import base64
import dataclasses
import re
from collections.abc import Iterable
from typing import ClassVar, Protocol, TypeVar

from orchestration_operator.client import errors
from orchestration_operator.client.singleflight import SingleFlight

T = TypeVar("T")

_HIDDEN = "<hidden>"
_COOKIE_PAIR = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+=[^;\s]*$")  # RFC 6265 cookie-name=cookie-value
_SESSION_COOKIE_NAME = re.compile(r"^S?SESS[0-9a-f]*$", re.IGNORECASE)


@dataclasses.dataclass(frozen=True, eq=False)
class Session:
    """An open Drupal session: the ``Cookie`` header value and the CSRF token that goes with it."""

    cookie: str = dataclasses.field(repr=False)
    csrf_token: str | None = dataclasses.field(repr=False)

    def headers(self) -> dict[str, str]:
        headers = {"Cookie": self.cookie}
        if self.csrf_token:
            # Whether the orchestration routes check it is undocumented: always sending it is harmless.
            headers["X-CSRF-Token"] = self.csrf_token
        return headers


class SessionBackend(Protocol):
    """The two Drupal core calls a session needs; implemented by the client."""

    async def open_session(self, username: str, password: str) -> Session: ...

    async def fetch_csrf_token(self, cookie: str) -> str: ...


class Auth(abc.ABC):
    """How requests prove who they are. ``kind`` is ``basic``, ``session`` or ``login``."""

    kind: ClassVar[str]
    # Appended to a 403's message: what a 403 most likely means with these credentials.
    forbidden_hint: ClassVar[str] = errors.FORBIDDEN_HINT

    @abc.abstractmethod
    async def headers(self, backend: SessionBackend) -> tuple[dict[str, str], Session | None]:
        """Headers for the next request, and the session they come from (None if not a session)."""

    async def renew(self, used: Session, backend: SessionBackend) -> bool:
        """After a 403 to ``used``: True if new credentials are in place and one more try makes sense."""
        del used, backend
        return False


class BasicAuth(Auth):
    """HTTP Basic auth (Drupal's ``basic_auth`` module). Never served from Drupal's page cache."""

    kind = "basic"

    def __init__(self, username: str, password: str) -> None:
        if ":" in username:
            raise ValueError("a Basic auth username cannot contain ':' (the separator of user and password)")
        if not username:
            raise ValueError("the username is empty")
        self.username = username
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        self._headers = {"Authorization": f"Basic {token}"}

    async def headers(self, backend: SessionBackend) -> tuple[dict[str, str], Session | None]:
        return self._headers, None

    def __repr__(self) -> str:
        return f"BasicAuth(username={self.username!r}, password={_HIDDEN})"


def parse_cookie(cookie: str) -> str:
    """Validate a ``name=value`` cookie (or several, ``; ``-separated) and return the header value."""
    pairs = [pair.strip() for pair in cookie.strip().split(";") if pair.strip()]
    if not pairs or not all(_COOKIE_PAIR.match(pair) for pair in pairs):
        # Never echo the value: it is the session itself.
        raise ValueError("a session cookie must look like SESS<hash>=<value> (name=value pairs, no spaces)")
    return "; ".join(pairs)


class SessionAuth(Auth):
    """A session cookie obtained elsewhere (``SSESS<hash>=<value>``), with its CSRF token if known.

    Without a token, one is fetched once from ``GET /session/token``. A given cookie cannot be renewed:
    when it expires, requests fail with ``Forbidden``.
    """

    kind = "session"
    forbidden_hint = "the session cookie may have expired or been logged out, or " + errors.FORBIDDEN_HINT

    def __init__(self, cookie: str, csrf_token: str | None = None) -> None:
        self._cookie = parse_cookie(cookie)
        self._session: Session | None = Session(self._cookie, csrf_token) if csrf_token else None
        self._fetch: SingleFlight[Session] = SingleFlight()

    async def headers(self, backend: SessionBackend) -> tuple[dict[str, str], Session | None]:
        session = self._session or await self._fetch.run(lambda: self._fetch_token(backend))
        return session.headers(), session

    async def _fetch_token(self, backend: SessionBackend) -> Session:
        token = await backend.fetch_csrf_token(self._cookie)
        self._session = Session(self._cookie, token)
        return self._session

    def __repr__(self) -> str:
        return f"SessionAuth(cookie={_HIDDEN}, csrf_token={_HIDDEN if self._session else None})"


class LoginAuth(Auth):
    """Username and password used to open a cookie session (``POST /user/login?_format=json``).

    The session is opened on first use and opened again, once, when a request using it is answered 403
    (sessions expire). Concurrent requests share one login, failed or not: a burst never logs in N times,
    which matters because Drupal blocks a user after 5 failed logins in 6 hours.
    """

    kind = "login"
    forbidden_hint = (
        "the login worked, so the credentials are right: the user most likely lacks the "
        f'"{errors.PERMISSION}" permission'
    )

    def __init__(self, username: str, password: str) -> None:
        if not username:
            raise ValueError("the username is empty")
        self.username = username
        self._password = password
        self._session: Session | None = None
        self._login: SingleFlight[Session] = SingleFlight()

    async def headers(self, backend: SessionBackend) -> tuple[dict[str, str], Session | None]:
        session = self._session or await self._open(backend, replacing=None)
        return session.headers(), session

    async def renew(self, used: Session, backend: SessionBackend) -> bool:
        await self._open(backend, replacing=used)
        return True

    async def _open(self, backend: SessionBackend, *, replacing: Session | None) -> Session:
        current = self._session
        if current is not None and current is not replacing:
            return current  # opened, or already renewed, by another request
        return await self._login.run(lambda: self._log_in(backend))

    async def _log_in(self, backend: SessionBackend) -> Session:
        self._session = None  # requests arriving meanwhile wait for the new session, not the stale one
        self._session = await backend.open_session(self.username, self._password)
        return self._session

    def __repr__(self) -> str:
        return f"LoginAuth(username={self.username!r}, password={_HIDDEN})"


def session_from_login(set_cookies: Iterable[str], csrf_token: object) -> Session | None:
    """The session a successful login answer opened: its ``SESS``/``SSESS`` cookie and ``csrf_token``."""
    pairs: list[str] = []
    for header in set_cookies:
        pair = header.split(";", 1)[0].strip()
        if _COOKIE_PAIR.match(pair) and not pair.endswith("=deleted"):
            pairs.append(pair)
    session_pairs = [p for p in pairs if _SESSION_COOKIE_NAME.match(p.split("=", 1)[0])] or pairs
    if not session_pairs:
        return None
    token = csrf_token if isinstance(csrf_token, str) and csrf_token else None
    return Session("; ".join(session_pairs), token)
