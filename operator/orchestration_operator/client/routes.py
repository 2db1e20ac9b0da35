"""The HTTP routes the client calls: the five of the Orchestration API and the two of Drupal's session login.

A ``Route`` names a call for metrics and errors (``name``) and for people (``str(route)``). Paths are
relative to the site's base URL, which may carry a sub-path.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Route:
    name: str  # stable, low-cardinality: the label of per-request metrics
    method: str
    path: str
    idempotent: bool  # repeating it cannot do harm, so retries are allowed

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


LIST_SERVICES = Route("list_services", "GET", "/orchestration/services", idempotent=True)
EXECUTE = Route("execute", "POST", "/orchestration/service/execute", idempotent=False)
REGISTER_WEBHOOK = Route("register_webhook", "POST", "/orchestration/webhook/register", idempotent=True)
UNREGISTER_WEBHOOK = Route("unregister_webhook", "POST", "/orchestration/webhook/unregister", idempotent=True)
POLL = Route("poll", "POST", "/orchestration/poll", idempotent=True)
# Drupal core: the JSON login of the user module, and the CSRF token of the current session.
LOGIN = Route("login", "POST", "/user/login?_format=json", idempotent=True)
SESSION_TOKEN = Route("session_token", "GET", "/session/token", idempotent=True)

ALL = (LIST_SERVICES, EXECUTE, REGISTER_WEBHOOK, UNREGISTER_WEBHOOK, POLL, LOGIN, SESSION_TOKEN)
