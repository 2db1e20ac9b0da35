"""Base classes of every custom resource model, and the small helpers the kind modules share.

Two families, as Kubernetes treats them differently:

* :class:`SpecModel`: what a person writes. Unknown fields are refused (a typo must not pass silently;
  the API server prunes unknown fields anyway, so only version skew between CRD and operator can bring
  one, and then a clear ``InvalidSpec`` is the right answer).
* :class:`StatusModel`: what the operator writes. Unknown fields are ignored, so a status written by a
  newer operator still parses.

Both are frozen (reconcile code builds new values with ``model_copy(update=...)``), take camelCase
keys as Kubernetes does (snake_case also accepted from Python) and dump camelCase. The JSON schema that
pydantic derives from these models is turned into the CRDs by :mod:`orchestration_operator.api.crdgen`;
the keys added here through ``json_schema_extra`` (``x-kubernetes-*``, ``default``) are for it.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any, Final

import pydantic
from pydantic import alias_generators

#: ``json_schema_extra`` for a nested object field whose own fields all have defaults: the CRD then
#: defaults the object to ``{}``, so the API server fills in the nested defaults too (Kubernetes applies
#: defaults of a nested object only when the object is present).
EMPTY_DEFAULT: Final[dict[str, Any]] = {"default": {}}

_COMMON = pydantic.ConfigDict(
    alias_generator=alias_generators.to_camel,
    validate_by_alias=True,
    validate_by_name=True,
    serialize_by_alias=True,
    frozen=True,
)


def cel(rule: str, message: str) -> dict[str, str]:
    """One CRD ``x-kubernetes-validations`` entry (a CEL rule and the message shown on failure)."""
    return {"rule": rule, "message": message}


def validations(*rules: Mapping[str, str]) -> dict[str, Any]:
    """``json_schema_extra`` carrying CEL rules for the node the model or field becomes in the CRD."""
    return {"x-kubernetes-validations": [dict(rule) for rule in rules]}


class Model(pydantic.BaseModel):
    """Behaviour common to spec and status models."""

    model_config = _COMMON

    def to_dict(self) -> dict[str, Any]:
        """The Kubernetes form: camelCase keys, JSON types, unset (``None``) fields left out."""
        return self.model_dump(mode="json", exclude_none=True)


class SpecModel(Model):
    """A model of (part of) a resource's ``spec``: unknown fields are errors."""

    model_config = pydantic.ConfigDict(extra="forbid")


class StatusModel(Model):
    """A model of (part of) a resource's ``status``: unknown fields are ignored."""

    model_config = pydantic.ConfigDict(extra="ignore")


class ObjectMeta(Model):
    """The parts of ``metadata`` the operator reads; everything else is kept as is."""

    model_config = pydantic.ConfigDict(extra="allow")

    name: str | None = pydantic.Field(default=None, description="The object's name.")
    namespace: str | None = pydantic.Field(default=None, description="The object's namespace.")
    uid: str | None = pydantic.Field(default=None, description="The object's unique id.")
    generation: int | None = pydantic.Field(default=None, description="The generation of the spec.")
    resource_version: str | None = pydantic.Field(default=None, description="The object's version.")
    creation_timestamp: datetime.datetime | None = pydantic.Field(
        default=None, description="When the object was created."
    )
    deletion_timestamp: datetime.datetime | None = pydantic.Field(
        default=None, description="When deletion was requested, if it was."
    )
    labels: dict[str, str] = pydantic.Field(default_factory=dict, description="The object's labels.")
    annotations: dict[str, str] = pydantic.Field(
        default_factory=dict, description="The object's annotations."
    )
    finalizers: list[str] = pydantic.Field(default_factory=list, description="The object's finalizers.")


class Resource(Model):
    """A whole object as the API server returns it; each kind narrows apiVersion, kind, spec and status."""

    model_config = pydantic.ConfigDict(extra="ignore")

    metadata: ObjectMeta = pydantic.Field(default_factory=ObjectMeta, description="Standard object metadata.")
