"""Which route a request path names, the way Drupal's router matches it.

Paths are relative to the site's base path (``/drupal`` for a site in a sub-directory); Drupal matches
them without regard to letter case or a trailing slash. Route names are the emulator's own short names,
used in the request log, ``calls(route)`` and fault matching.
"""

from __future__ import annotations

SERVICES = "services"
EXECUTE = "execute"
REGISTER = "register"
UNREGISTER = "unregister"
POLL = "poll"
LOGIN = "login"
LOGOUT = "logout"
LOGIN_STATUS = "login_status"
SESSION_TOKEN = "session_token"
FRONT = "front"

PATHS: dict[str, str] = {
    "/orchestration/services": SERVICES,
    "/orchestration/service/execute": EXECUTE,
    "/orchestration/webhook/register": REGISTER,
    "/orchestration/webhook/unregister": UNREGISTER,
    "/orchestration/poll": POLL,
    "/user/login": LOGIN,
    "/user/logout": LOGOUT,
    "/user/login_status": LOGIN_STATUS,
    "/session/token": SESSION_TOKEN,
    "/": FRONT,
}
MODULE_ROUTES = (SERVICES, EXECUTE, REGISTER, UNREGISTER, POLL)


def normalize_base_path(base_path: str) -> str:
    """``"drupal/"`` -> ``"/drupal"``; ``"/"`` and ``""`` -> ``""``."""
    stripped = base_path.strip("/")
    return f"/{stripped}" if stripped else ""


def resolve(path: str, *, base_path: str) -> str | None:
    """The route name of ``path`` (already percent-decoded), or ``None`` when nothing matches."""
    if base_path:
        if path != base_path and not path.startswith(base_path + "/"):
            return None
        path = path[len(base_path) :]
    normalized = path.rstrip("/").lower() or "/"
    return PATHS.get(normalized)
