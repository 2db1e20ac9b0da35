"""Cookie sessions and CSRF tokens, as Drupal's session handler and ``CsrfTokenGenerator`` make them.

- The cookie is named ``SESS`` (``SSESS`` over https) followed by 32 hex characters derived from the
  host, like Drupal's ``session_name``; its value is a random session id.
- A token for a value is ``HMAC(value, session seed + site key)`` in URL-safe base64, as
  ``CsrfTokenGenerator::get``: ``/session/token`` gives the token of ``'X-CSRF-Token request header'``,
  ``/user/login`` answers the one of ``'rest'`` (Drupal accepts both in ``X-CSRF-Token``) and a
  ``logout_token`` for ``'user/logout'``.
- ``expire`` drops sessions on demand, so a client's "log in again once" path can be tested.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field

TOKEN_KEY = "X-CSRF-Token request header"
REST_TOKEN_KEY = "rest"
LOGOUT_TOKEN_KEY = "user/logout"


def cookie_name(host: str, *, https: bool) -> str:
    digest = hashlib.sha256(host.encode()).hexdigest()[:32]
    return f"{'SSESS' if https else 'SESS'}{digest}"


@dataclass
class Session:
    """One open session: whose it is and the seed its CSRF tokens derive from."""

    sid: str = field(repr=False)
    username: str
    seed: bytes = field(repr=False)
    created: float


class Sessions:
    """The session store of the emulated site (thread-safe; small, in memory)."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._sessions: dict[str, Session] = {}
        self._lock = threading.Lock()

    def open(self, username: str) -> Session:
        session = Session(
            sid=secrets.token_urlsafe(32),
            username=username,
            seed=secrets.token_bytes(32),
            created=time.time(),
        )
        with self._lock:
            self._sessions[session.sid] = session
        return session

    def get(self, sid: str | None) -> Session | None:
        if not sid:
            return None
        with self._lock:
            return self._sessions.get(sid)

    def close(self, sid: str) -> None:
        with self._lock:
            self._sessions.pop(sid, None)

    def expire(self, *, username: str | None = None) -> int:
        """Drop every session (or those of ``username``); return how many were dropped."""
        with self._lock:
            doomed = [sid for sid, s in self._sessions.items() if username is None or s.username == username]
            for sid in doomed:
                del self._sessions[sid]
            return len(doomed)

    def count(self) -> int:
        with self._lock:
            return len(self._sessions)

    def token(self, session: Session | None, value: str) -> str:
        """``CsrfTokenGenerator::get(value)`` for ``session`` (a throwaway seed without a session)."""
        seed = session.seed if session is not None else secrets.token_bytes(32)
        digest = hmac.new(seed + self._key, value.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def token_valid(self, session: Session | None, token: str, value: str) -> bool:
        if session is None:
            return False
        return hmac.compare_digest(self.token(session, value).encode(), token.encode())
