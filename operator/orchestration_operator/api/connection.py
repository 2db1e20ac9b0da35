"""OrchestrationConnection (``oconn``): one Drupal site, its credentials, and the bounds every call shares.

Every other kind names a connection in ``connectionRef``. The operator probes the site (lists its
services) and reports the outcome in ``Ready`` with a precise reason; see
:mod:`orchestration_operator.api.conditions` for the reasons.
"""

from __future__ import annotations

from typing import Annotated, Literal

import pydantic
import pydantic_core

from orchestration_operator.api import base, fields, names, status

AuthMethod = Literal["basic", "session", "login"]

#: The most services listed in ``status.services`` (``serviceCount`` always has the full count).
MAX_LISTED_SERVICES = 100


class UsernamePasswordSecretRef(base.SpecModel):
    """A Secret of the same namespace holding a username and a password (a kubernetes.io/basic-auth
    Secret fits as is)."""

    name: fields.ObjectName = pydantic.Field(description="Name of the Secret.")
    username_key: fields.DataKey = pydantic.Field(
        default="username", description="Key of the Drupal user name in the Secret."
    )
    password_key: fields.DataKey = pydantic.Field(
        default="password", description="Key of the password in the Secret."
    )


class SessionSecretRef(base.SpecModel):
    """A Secret of the same namespace holding a Drupal session cookie and, optionally, its CSRF token."""

    name: fields.ObjectName = pydantic.Field(description="Name of the Secret.")
    cookie_key: fields.DataKey = pydantic.Field(
        default="cookie",
        description="Key of the session cookie in the Secret, as 'SSESS<hash>=<value>' (or 'SESS...' on "
        "http).",
    )
    csrf_token_key: fields.DataKey = pydantic.Field(
        default="csrfToken",
        description="Key of the X-CSRF-Token value in the Secret. The key may be absent; the operator then "
        "fetches a token from /session/token.",
    )


class BasicAuth(base.SpecModel):
    """HTTP Basic authentication on every request (Drupal's basic_auth module)."""

    secret_ref: UsernamePasswordSecretRef = pydantic.Field(
        description="The Secret with the Drupal user's name and password."
    )


class SessionAuth(base.SpecModel):
    """A Drupal session cookie obtained elsewhere; it is not renewed (prefer login for long-lived use)."""

    secret_ref: SessionSecretRef = pydantic.Field(
        description="The Secret with the session cookie and optional CSRF token."
    )


class LoginAuth(base.SpecModel):
    """Log in with a user name and password (POST /user/login) and renew the cookie session on expiry."""

    secret_ref: UsernamePasswordSecretRef = pydantic.Field(
        description="The Secret with the Drupal user's name and password."
    )


class Auth(base.SpecModel):
    """How to authenticate: exactly one of basic, session or login. The Drupal user needs the permission
    'use orchestration connect'."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=base.validations(
            base.cel(
                "(has(self.basic) ? 1 : 0) + (has(self.session) ? 1 : 0) + (has(self.login) ? 1 : 0) == 1",
                "set exactly one of basic, session or login",
            )
        )
    )

    basic: BasicAuth | None = pydantic.Field(
        default=None,
        description="HTTP Basic authentication on every request (Drupal's basic_auth module must be on).",
    )
    session: SessionAuth | None = pydantic.Field(
        default=None,
        description="A Drupal session cookie obtained elsewhere; not renewed (prefer login for long use).",
    )
    login: LoginAuth | None = pydantic.Field(
        default=None,
        description="Log in with a user name and password (POST /user/login) and renew the cookie session "
        "when it expires.",
    )

    @pydantic.model_validator(mode="after")
    def _exactly_one(self) -> Auth:
        if sum(method is not None for method in (self.basic, self.session, self.login)) != 1:
            raise pydantic_core.PydanticCustomError(
                "exactly_one", "set exactly one of basic, session or login"
            )
        return self

    @property
    def method(self) -> AuthMethod:
        """The method chosen."""
        if self.basic is not None:
            return "basic"
        if self.session is not None:
            return "session"
        return "login"

    @property
    def secret_name(self) -> str:
        """The name of the Secret the chosen method reads."""
        chosen = self.basic or self.session or self.login
        assert chosen is not None  # guaranteed by _exactly_one
        return chosen.secret_ref.name


class CASecretRef(base.SpecModel):
    """A Secret of the same namespace holding PEM CA certificates to trust."""

    name: fields.ObjectName = pydantic.Field(description="Name of the Secret.")
    key: fields.DataKey = pydantic.Field(default="ca.crt", description="Key of the PEM bundle in the Secret.")


class TLS(base.SpecModel):
    """TLS settings for https URLs. By default the system's trusted CAs verify the site."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=base.validations(
            base.cel(
                "!has(self.insecureSkipVerify) || !self.insecureSkipVerify || !has(self.caSecretRef)",
                "insecureSkipVerify and caSecretRef exclude each other: trust a CA or skip verification",
            )
        )
    )

    insecure_skip_verify: bool = pydantic.Field(
        default=False,
        description="Skip verification of the site's certificate. For trials only: anyone on the path can "
        "read the credentials.",
    )
    ca_secret_ref: CASecretRef | None = pydantic.Field(
        default=None,
        description="Trust the CA certificates in this Secret instead of the system's trusted CAs.",
    )

    @pydantic.model_validator(mode="after")
    def _not_both(self) -> TLS:
        if self.insecure_skip_verify and self.ca_secret_ref is not None:
            raise pydantic_core.PydanticCustomError(
                "exclusive",
                "insecureSkipVerify and caSecretRef exclude each other: trust a CA or skip verification",
            )
        return self


class OrchestrationConnectionSpec(base.SpecModel):
    """A Drupal site with the orchestration module, and how to reach it."""

    url: fields.BaseUrl = pydantic.Field(
        description="Base URL of the Drupal site, with its sub-path if any (https://example.com/drupal). "
        "Routes such as /orchestration/services are resolved under it."
    )
    auth: Auth = pydantic.Field(description="How to authenticate: exactly one of basic, session or login.")
    tls: TLS = pydantic.Field(
        default_factory=TLS, description="TLS settings for https URLs.", json_schema_extra=base.EMPTY_DEFAULT
    )
    timeout: Annotated[str, fields.Duration(minimum="1s", maximum="10m")] = pydantic.Field(
        default="30s",
        description="Timeout of each request to the site (ServiceRun may set its own for execute).",
    )
    max_concurrent_requests: int = pydantic.Field(
        default=4,
        ge=1,
        le=256,
        description="Most requests in flight to this site at once, shared by every resource that uses "
        "this connection. Protects the site.",
    )
    catalog_refresh_interval: Annotated[str, fields.Duration(minimum="10s")] = pydantic.Field(
        default="5m",
        description="How long the service catalog is cached before ServiceRun validation fetches it again.",
    )
    probe_interval: Annotated[str, fields.Duration(minimum="10s")] = pydantic.Field(
        default="1m",
        description="How often the site is probed (the catalog is listed) to keep Ready current.",
    )


class ServiceSummary(base.StatusModel):
    """One service of the site's catalog."""

    id: str = pydantic.Field(description="The service id, <provider>::<service>.")
    label: str = pydantic.Field(default="", description="The service's human-readable label.")


class OrchestrationConnectionStatus(status.ResourceStatus):
    """What the operator last saw of the site."""

    service_count: int | None = pydantic.Field(
        default=None, ge=0, description="How many services the site's catalog lists."
    )
    services: list[ServiceSummary] = pydantic.Field(
        default_factory=list,
        max_length=MAX_LISTED_SERVICES,
        description=f"The catalog's services in the site's order (by label), at most {MAX_LISTED_SERVICES}.",
    )
    last_checked_time: fields.Time | None = pydantic.Field(
        default=None, description="When the site was last probed, successfully or not."
    )


class OrchestrationConnection(base.Resource):
    """A Drupal site with the Orchestration API, its credentials, and the limits every call to it shares."""

    api_version: Literal["drupal-orchestration.io/v1alpha1"] = pydantic.Field(
        default="drupal-orchestration.io/v1alpha1", description="The API version."
    )
    kind: Literal["OrchestrationConnection"] = pydantic.Field(
        default="OrchestrationConnection", description="The kind."
    )
    spec: OrchestrationConnectionSpec = pydantic.Field(description="The desired state.")
    status: OrchestrationConnectionStatus = pydantic.Field(
        default_factory=OrchestrationConnectionStatus, description="The observed state."
    )


KIND = names.Kind(
    kind="OrchestrationConnection",
    plural="orchestrationconnections",
    singular="orchestrationconnection",
    short_names=("oconn",),
    resource=OrchestrationConnection,
    spec=OrchestrationConnectionSpec,
    status=OrchestrationConnectionStatus,
    printer_columns=(
        *names.ready_columns(),
        names.PrinterColumn(
            name="Services",
            type="integer",
            json_path=".status.serviceCount",
            description="How many services the site offers.",
        ),
        names.PrinterColumn(
            name="URL", type="string", json_path=".spec.url", description="The site's base URL.", priority=1
        ),
        names.PrinterColumn(
            name="Checked",
            type="date",
            json_path=".status.lastCheckedTime",
            description="When the site was last probed.",
            priority=1,
        ),
        names.AGE_COLUMN,
    ),
)
