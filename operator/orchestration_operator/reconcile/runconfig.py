"""A ServiceRun's effective config: ``spec.config`` with ``spec.configFrom`` values merged over it.

The values come from Secrets and ConfigMaps of the run's own namespace, read through
:class:`ConfigSources` (``handlers.kube.KubeObjects`` implements it). :mod:`runvalidation` then checks the
merged config against the catalog, and :mod:`servicerun` sends it.

A missing Secret, ConfigMap or key is something that may still appear (GitOps tools apply a run and its
Secret together; a Secret may come from an external secret store a moment later), so the run waits for it,
like a Pod waits for its Secret volume: :class:`SourceMissing`. A value that exists but cannot be used
(``format: JSON`` that is not JSON, bytes that are not UTF-8) needs a person: :class:`SourceInvalid`.

Where each value came from is kept (:class:`Origin`) so that messages can name it, and never show a value
that came from a Secret.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any, Protocol

from orchestration_operator.api import conditions, servicerun


class ConfigSources(Protocol):
    """Reads Secrets and ConfigMaps of a namespace (``None`` when the object does not exist)."""

    async def read_secret(self, *, namespace: str, name: str) -> Mapping[str, bytes] | None: ...

    async def get_configmap(self, *, namespace: str, name: str) -> Mapping[str, str] | None: ...


@dataclasses.dataclass(frozen=True)
class Origin:
    """Where a config value came from: ``spec.config``, or a key of a Secret or ConfigMap."""

    kind: str  # "spec", "Secret" or "ConfigMap"
    name: str = ""
    key: str = ""

    @property
    def secret(self) -> bool:
        return self.kind == "Secret"

    def describe(self) -> str:
        if self.kind == "spec":
            return "spec.config"
        return f'{self.kind} "{self.name}" key "{self.key}"'


SPEC: Origin = Origin("spec")


@dataclasses.dataclass(frozen=True)
class Config:
    """The merged config and the origin of each value."""

    values: dict[str, Any]
    origins: dict[str, Origin]


class ConfigProblem(Exception):
    """A configFrom source cannot be used; ``reason`` is a condition reason."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


class SourceMissing(ConfigProblem):
    """A referenced Secret, ConfigMap or key does not exist (yet): the run waits for it."""


class SourceInvalid(ConfigProblem):
    """A referenced value exists but cannot be used as configured: a person must fix it."""


async def resolve(spec: servicerun.ServiceRunSpec, *, namespace: str, sources: ConfigSources) -> Config:
    """``spec.config`` with every ``spec.configFrom`` value merged over it (each object read once)."""
    values = dict(spec.config)
    origins = dict.fromkeys(values, SPEC)
    secrets: dict[str, Mapping[str, bytes] | None] = {}
    configmaps: dict[str, Mapping[str, str] | None] = {}
    for source in spec.config_from:
        if source.secret_key_ref is not None:
            ref = source.secret_key_ref
            if ref.name not in secrets:
                secrets[ref.name] = await sources.read_secret(namespace=namespace, name=ref.name)
            origin = Origin("Secret", ref.name, ref.key)
            text = _secret_text(secrets[ref.name], origin, namespace=namespace)
        else:
            cm_ref = source.config_map_key_ref
            assert cm_ref is not None  # the model holds exactly one source
            if cm_ref.name not in configmaps:
                configmaps[cm_ref.name] = await sources.get_configmap(namespace=namespace, name=cm_ref.name)
            origin = Origin("ConfigMap", cm_ref.name, cm_ref.key)
            text = _configmap_text(configmaps[cm_ref.name], origin, namespace=namespace)
        values[source.key] = _decode(text, source.format, origin, key=source.key)
        origins[source.key] = origin
    return Config(values=values, origins=origins)


def _secret_text(data: Mapping[str, bytes] | None, origin: Origin, *, namespace: str) -> str:
    if data is None:
        raise SourceMissing(
            conditions.SECRET_NOT_FOUND,
            f'Secret "{origin.name}" (spec.configFrom) not found in namespace "{namespace}"; waiting for it',
        )
    if origin.key not in data:
        raise SourceMissing(
            conditions.SECRET_NOT_FOUND,
            f'Secret "{origin.name}" (spec.configFrom) has no key "{origin.key}"; waiting for it',
        )
    try:
        return data[origin.key].decode("utf-8")
    except UnicodeDecodeError:
        raise SourceInvalid(
            conditions.VALIDATION_FAILED, f"{origin.describe()} is not UTF-8 text; config values are text"
        ) from None


def _configmap_text(data: Mapping[str, str] | None, origin: Origin, *, namespace: str) -> str:
    if data is None:
        raise SourceMissing(
            conditions.CONFIG_MAP_NOT_FOUND,
            f'ConfigMap "{origin.name}" (spec.configFrom) not found in namespace "{namespace}"; '
            "waiting for it",
        )
    if origin.key not in data:
        raise SourceMissing(
            conditions.CONFIG_MAP_NOT_FOUND,
            f'ConfigMap "{origin.name}" (spec.configFrom) has no key "{origin.key}" in data; waiting for it',
        )
    return data[origin.key]


def _decode(text: str, value_format: servicerun.ValueFormat, origin: Origin, *, key: str) -> Any:
    if value_format is servicerun.ValueFormat.TEXT:
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        # The position helps; the text itself may be a secret and is never shown.
        where = f"{error.msg} at line {error.lineno} column {error.colno}"
    except (ValueError, RecursionError):  # an integer too long to convert, nesting too deep
        where = "a value JSON decoding refuses"
    raise SourceInvalid(
        conditions.VALIDATION_FAILED,
        f'config key "{key}": {origin.describe()} is not valid JSON (format: JSON; {where}); fix the '
        "value or use format: Text",
    )
