"""OrchestrationWebhook (``owh``): a webhook registration on a Drupal site, owned by Git.

Drupal stores a registered URL under ``Html::getId(webhookId)`` and cannot list what it stores, so the
status records the key really used (``registeredKey``) and the connection it was registered on, which is
what unregistering (on delete, or when ``webhookId`` or ``connectionRef`` changes) needs.
"""

from __future__ import annotations

import enum
from typing import Annotated, Literal

import pydantic
import pydantic_core

from orchestration_operator.api import base, fields, names, refs, status

_WEBHOOK_ID = fields.Text(
    max_length=255,
    pattern=r"[A-Za-z0-9]",
    message="must contain a letter or digit (Drupal stores a webhook under Html::getId(webhookId), "
    "which keeps only letters, digits, '-' and '_')",
)
_EXACTLY_ONE_URL = "set exactly one of url or urlFrom"


class DeletionPolicy(enum.StrEnum):
    """What deleting the resource does to the registration on the site."""

    DELETE = "Delete"
    ORPHAN = "Orphan"


class OrchestrationWebhookSpec(base.SpecModel):
    """A webhook URL to register on the site, kept registered while the resource exists."""

    model_config = pydantic.ConfigDict(
        json_schema_extra=base.validations(base.cel("has(self.url) != has(self.urlFrom)", _EXACTLY_ONE_URL))
    )

    connection_ref: refs.ConnectionReference = pydantic.Field(
        description="The OrchestrationConnection of the site to register on."
    )
    webhook_id: Annotated[str, _WEBHOOK_ID] | None = pydantic.Field(
        default=None,
        description="The webhook id on the site; defaults to metadata.name. Drupal stores it under "
        "Html::getId(webhookId) (lower case; ' ', '_' and '[' become '-'), shown in status.registeredKey. "
        "Changing it unregisters the old key.",
    )
    url: fields.EndpointUrl | None = pydantic.Field(
        default=None,
        description="The URL Drupal posts events to. Use urlFrom instead when the URL embeds a token.",
    )
    url_from: refs.UrlSource | None = pydantic.Field(
        default=None, description="Read the URL from a Secret; only its digest appears in status."
    )
    deletion_policy: DeletionPolicy = pydantic.Field(
        default=DeletionPolicy.DELETE,
        description="Delete unregisters the webhook when the resource is deleted; Orphan leaves it on the "
        "site.",
    )
    resync_interval: Annotated[str, fields.Duration(minimum="30s")] = pydantic.Field(
        default="10m",
        description="How often the webhook is registered again, undoing any change made on the site (the "
        "API cannot read a registration back).",
    )
    unregister_attempts: int = pydantic.Field(
        default=5,
        ge=1,
        le=100,
        description="On delete, how many times unregistering is tried before the finalizer is released "
        "anyway with a Warning event (so a site that is gone never blocks deletion).",
    )
    unregister_timeout: Annotated[str, fields.Duration(minimum="1s", maximum="24h")] = pydantic.Field(
        default="5m",
        description="On delete, how long (from the deletion request) unregistering is tried before the "
        "finalizer is released anyway with a Warning event; whichever of this and unregisterAttempts "
        "comes first.",
    )

    @pydantic.model_validator(mode="after")
    def _exactly_one_url(self) -> OrchestrationWebhookSpec:
        if (self.url is None) == (self.url_from is None):
            raise pydantic_core.PydanticCustomError("exactly_one", _EXACTLY_ONE_URL)
        return self

    def effective_webhook_id(self, metadata_name: str) -> str:
        """``webhookId``, or the resource's name when it is not set."""
        return self.webhook_id if self.webhook_id is not None else metadata_name


class OrchestrationWebhookStatus(status.ResourceStatus):
    """What is registered on the site, as far as the operator knows."""

    registered_key: str | None = pydantic.Field(
        default=None,
        description="The key Drupal stores the webhook under (Html::getId of the webhook id registered).",
    )
    registered_connection: str | None = pydantic.Field(
        default=None, description="The OrchestrationConnection the webhook is registered through."
    )
    url_digest: str | None = pydantic.Field(
        default=None,
        description="'sha256:<hex>' of the registered URL (the URL itself is never shown: it may be secret).",
    )
    last_registered_time: fields.Time | None = pydantic.Field(
        default=None, description="When the webhook was last registered (created, changed or resynced)."
    )


class OrchestrationWebhook(base.Resource):
    """A webhook registration on a Drupal site, owned by Git: registered, resynced and unregistered."""

    api_version: Literal["drupal-orchestration.io/v1alpha1"] = pydantic.Field(
        default="drupal-orchestration.io/v1alpha1", description="The API version."
    )
    kind: Literal["OrchestrationWebhook"] = pydantic.Field(
        default="OrchestrationWebhook", description="The kind."
    )
    spec: OrchestrationWebhookSpec = pydantic.Field(description="The desired state.")
    status: OrchestrationWebhookStatus = pydantic.Field(
        default_factory=OrchestrationWebhookStatus, description="The observed state."
    )


KIND = names.Kind(
    kind="OrchestrationWebhook",
    plural="orchestrationwebhooks",
    singular="orchestrationwebhook",
    short_names=("owh",),
    resource=OrchestrationWebhook,
    spec=OrchestrationWebhookSpec,
    status=OrchestrationWebhookStatus,
    printer_columns=(
        *names.ready_columns(),
        names.PrinterColumn(
            name="Key",
            type="string",
            json_path=".status.registeredKey",
            description="The key the site stores the webhook under.",
        ),
        names.PrinterColumn(
            name="Connection",
            type="string",
            json_path=".spec.connectionRef.name",
            description="The connection of the site.",
        ),
        names.PrinterColumn(
            name="Registered",
            type="date",
            json_path=".status.lastRegisteredTime",
            description="When the webhook was last registered.",
            priority=1,
        ),
        names.AGE_COLUMN,
    ),
)
