"""References to other objects of the same namespace (connections, Secrets, ConfigMaps).

Shaped like their core Kubernetes counterparts (``LocalObjectReference``, ``SecretKeySelector``, ...)
so they read the way platform engineers expect. There is no ``namespace`` field anywhere: the operator
reads Secrets and ConfigMaps only from the resource's own namespace.
"""

from __future__ import annotations

import pydantic

from orchestration_operator.api import base, fields


class ConnectionReference(base.SpecModel):
    """The OrchestrationConnection (same namespace) whose site this resource talks to."""

    name: fields.ObjectName = pydantic.Field(description="Name of the OrchestrationConnection.")


class SecretReference(base.SpecModel):
    """A Secret of the same namespace, used as a whole."""

    name: fields.ObjectName = pydantic.Field(description="Name of the Secret.")


class SecretKeySelector(base.SpecModel):
    """One key of a Secret of the same namespace."""

    name: fields.ObjectName = pydantic.Field(description="Name of the Secret.")
    key: fields.DataKey = pydantic.Field(description="Key in the Secret's data.")


class ConfigMapKeySelector(base.SpecModel):
    """One key of a ConfigMap of the same namespace."""

    name: fields.ObjectName = pydantic.Field(description="Name of the ConfigMap.")
    key: fields.DataKey = pydantic.Field(description="Key in the ConfigMap's data.")


class UrlSource(base.SpecModel):
    """Where to read a URL that must stay secret (webhook URLs often embed a token)."""

    secret_key_ref: SecretKeySelector = pydantic.Field(
        description="The Secret key holding the URL. Only its digest ever appears in status."
    )
