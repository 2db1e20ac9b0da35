"""Offline schema check of built-in Kubernetes objects against the ``kubernetes`` package's models.

No API server and no kubeconform are needed: the official Python client ships one model class per
Kubernetes type, with ``openapi_types`` (attribute -> type name) and ``attribute_map`` (attribute ->
JSON key). :func:`problems` walks a manifest (a dict, as parsed from YAML) along those models and
reports unknown fields, wrong types and missing required fields, each with its path. It serves the
chart tests (every rendered built-in object) and anyone checking manifests of built-in kinds;
custom resources are checked elsewhere (the sandbox validates them against their CRDs).

Type names come in two spellings depending on the client's generator (``list[V1Container]`` and
``dict(str, str)`` before the pydantic-based models, ``List[V1Container]`` and ``Dict[str, str]``
since); both are understood. Required fields are read from the pydantic models when present, and
otherwise from the legacy setters, which refuse ``None`` for a required field.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Mapping
from typing import Any

from kubernetes import client as k8s_client
from kubernetes.client import models as k8s_models

_LIST = re.compile(r"^[Ll]ist\[(?P<item>.+)\]$")
_DICT = re.compile(r"^(?:Dict\[str, (?P<new>.+)\]|dict\(str, (?P<old>.+)\))$")


class UnknownKind(LookupError):
    """No model of the ``kubernetes`` package matches the object's apiVersion and kind."""


def model_for(api_version: str, kind: str) -> Any:
    """The model class of a top-level object, e.g. ``("apps/v1", "Deployment")`` -> ``V1Deployment``.

    Kinds whose name exists in several groups carry a group prefix in the client (``CoreV1Event``,
    ``EventsV1Event``); the prefixed name is tried first.
    """
    group, _, version = api_version.rpartition("/")
    prefix = "Core" if not group else group.split(".")[0].capitalize()
    for name in (f"{prefix}{version.capitalize()}{kind}", f"{version.capitalize()}{kind}"):
        cls = getattr(k8s_models, name, None)
        if isinstance(cls, type) and hasattr(cls, "openapi_types"):
            return cls
    raise UnknownKind(f"no kubernetes model for {api_version} {kind}")


def problems(obj: Mapping[str, Any]) -> list[str]:
    """Every schema problem of a built-in object, as ``"<kind>/<name>: <path>: <problem>"`` lines."""
    api_version = obj.get("apiVersion")
    kind = obj.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return ["<object>: apiVersion and kind must be strings"]
    name = (
        obj.get("metadata", {}).get("name", "<unnamed>") if isinstance(obj.get("metadata"), Mapping) else "?"
    )
    cls = model_for(api_version, kind)
    found: list[str] = []
    _check_model(obj, cls, "", found)
    return [f"{kind}/{name}: {line}" for line in found]


def _check_model(value: Any, cls: Any, path: str, found: list[str]) -> None:
    if not isinstance(value, Mapping):
        found.append(f"{path or '.'}: expected an object ({cls.__name__}), got {_type_name(value)}")
        return
    by_key = {key: attr for attr, key in cls.attribute_map.items()}
    for key, item in value.items():
        attr = by_key.get(key)
        if attr is None:
            found.append(f"{path}.{key}: unknown field of {cls.__name__}")
            continue
        if item is None:
            continue  # an explicit null is "unset" for the API server
        _check_type(item, cls.openapi_types[attr], f"{path}.{key}", found)
    for attr in _required(cls):
        key = cls.attribute_map[attr]
        if value.get(key) is None:
            found.append(f"{path}.{key}: required field of {cls.__name__} is missing")


def _check_type(value: Any, type_name: str, path: str, found: list[str]) -> None:
    if type_name == "object":
        return  # free-form (IntOrString, RawExtension, JSON)
    if type_name == "str":
        ok = isinstance(value, str)
    elif type_name == "bool":
        ok = isinstance(value, bool)
    elif type_name == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif type_name == "float":
        ok = isinstance(value, int | float) and not isinstance(value, bool)
    elif type_name in ("datetime", "date"):
        ok = isinstance(value, str | datetime.date)
    elif type_name in ("bytes", "bytearray"):
        ok = isinstance(value, str | bytes)
    elif match := _LIST.match(type_name):
        if not isinstance(value, list):
            found.append(f"{path}: expected a list, got {_type_name(value)}")
            return
        for index, item in enumerate(value):
            _check_type(item, match["item"], f"{path}[{index}]", found)
        return
    elif match := _DICT.match(type_name):
        if not isinstance(value, Mapping):
            found.append(f"{path}: expected a map, got {_type_name(value)}")
            return
        item_type = match["new"] or match["old"]
        for key, item in value.items():
            if not isinstance(key, str):
                found.append(f"{path}: map key {key!r} is not a string")
            _check_type(item, item_type, f"{path}.{key}", found)
        return
    else:
        cls = getattr(k8s_models, type_name, None)
        if not isinstance(cls, type):
            found.append(f"{path}: unknown model type {type_name}")
            return
        _check_model(value, cls, path, found)
        return
    if not ok:
        found.append(f"{path}: expected {type_name}, got {_type_name(value)} {value!r}")


@functools.cache
def _required(cls: Any) -> tuple[str, ...]:
    fields = getattr(cls, "model_fields", None)
    if isinstance(fields, Mapping):  # pydantic-based models
        return tuple(attr for attr, info in fields.items() if info.is_required())
    required = []
    for attr in cls.openapi_types:  # legacy models: the setter refuses None for a required field
        instance = cls.__new__(cls)
        instance.local_vars_configuration = k8s_client.Configuration()
        try:
            setattr(instance, attr, None)
        except ValueError:
            required.append(attr)
    return tuple(required)


def _type_name(value: Any) -> str:
    return type(value).__name__
