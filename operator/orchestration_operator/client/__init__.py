"""The Orchestration API client (httpx + pydantic; no kopf).

One ``OrchestrationClient`` per Drupal site, shared by everything that talks to it::

    async with OrchestrationClient("https://example.com/drupal", auth=BasicAuth("bot", password)) as c:
        services = await c.list_services()
        result = await c.execute("eca::send_welcome_email", {"user_id": "42"})

Modules: ``client`` (the calls), ``auth`` (credentials), ``models`` (pydantic), ``errors`` (the one
hierarchy), ``retry`` (the one retry policy), ``ids`` (service ids, webhook keys), ``responses`` and
``transport`` (answers and httpx, internal), ``routes``, ``diagnose`` (what ``check`` reports).
Everything a caller needs is re-exported here.
"""

from orchestration_operator.client.auth import Auth, BasicAuth, LoginAuth, SessionAuth
from orchestration_operator.client.client import OrchestrationClient, RequestHook
from orchestration_operator.client.errors import (
    BadRequest,
    ConnectError,
    ConnectionLost,
    Forbidden,
    HTTPError,
    InvalidResponse,
    InvalidServiceId,
    LoginFailed,
    NotFound,
    OrchestrationError,
    RateLimited,
    ResponseTooLarge,
    ServerError,
    ServiceFailed,
    Timeout,
    TLSError,
    TransportError,
    Unauthorized,
    UnexpectedStatus,
)
from orchestration_operator.client.ids import ServiceId, parse_service_id, webhook_key
from orchestration_operator.client.models import ConfigItem, ExecuteResult, Option, PollItem, Service
from orchestration_operator.client.retry import RetryPolicy
from orchestration_operator.client.transport import DEFAULT_MAX_RESPONSE_BYTES

__all__ = [
    "DEFAULT_MAX_RESPONSE_BYTES",
    "Auth",
    "BadRequest",
    "BasicAuth",
    "ConfigItem",
    "ConnectError",
    "ConnectionLost",
    "ExecuteResult",
    "Forbidden",
    "HTTPError",
    "InvalidResponse",
    "InvalidServiceId",
    "LoginAuth",
    "LoginFailed",
    "NotFound",
    "Option",
    "OrchestrationClient",
    "OrchestrationError",
    "PollItem",
    "RateLimited",
    "RequestHook",
    "ResponseTooLarge",
    "RetryPolicy",
    "ServerError",
    "Service",
    "ServiceFailed",
    "ServiceId",
    "SessionAuth",
    "TLSError",
    "Timeout",
    "TransportError",
    "Unauthorized",
    "UnexpectedStatus",
    "parse_service_id",
    "webhook_key",
]
