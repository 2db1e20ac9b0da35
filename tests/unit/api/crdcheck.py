"""A small stand-in for the API server's CRD handling, so model tests can check the CRD agrees.

It applies structural defaults, validates OpenAPI constraints (with ``fieldValidation=Strict``: unknown
fields are errors), and evaluates ``x-kubernetes-validations`` with cel-python, the way the API server
orders them (defaulting first, then schema and CEL errors together). It covers only the constructs
crdgen emits. The project's Kubernetes sandbox is the faithful implementation; this keeps the api tests
independent of it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

import celpy

Schema = dict[str, Any]
_ABSENT = object()
_ENV = celpy.Environment()
_PROGRAMS: dict[str, Any] = {}


def spec_schema(crd: dict[str, Any]) -> Schema:
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]


def default(schema: Schema, value: Any) -> Any:
    """``value`` with the schema's defaults applied, as the API server does before validating."""
    value = copy.deepcopy(value)
    _default(schema, value)
    return value


def _default(schema: Schema, value: Any) -> None:
    if isinstance(value, dict) and "properties" in schema:
        for name, child in schema["properties"].items():
            if name not in value and "default" in child:
                value[name] = copy.deepcopy(child["default"])
        for name, child_value in value.items():
            if name in schema["properties"]:
                _default(schema["properties"][name], child_value)
    elif isinstance(value, list) and "items" in schema:
        for item in value:
            _default(schema["items"], item)


def errors(schema: Schema, value: Any, *, old: Any = _ABSENT, path: str = "spec") -> list[str]:
    """Every schema and CEL error of ``value`` (already defaulted) as ``<path>: <problem>``."""
    found: list[str] = []
    _check(schema, value, old, path, found)
    return found


def _check(schema: Schema, value: Any, old: Any, path: str, found: list[str]) -> None:
    if not _type_ok(schema, value):
        found.append(f"{path}: type {schema.get('type')}")
        return
    if "enum" in schema and value not in schema["enum"]:
        found.append(f"{path}: enum")
    if isinstance(value, str):
        if len(value) < schema.get("minLength", 0):
            found.append(f"{path}: minLength")
        if len(value) > schema.get("maxLength", len(value)):
            found.append(f"{path}: maxLength")
        if "pattern" in schema and not re.search(schema["pattern"], value):
            found.append(f"{path}: pattern")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            found.append(f"{path}: minimum")
        if "maximum" in schema and value > schema["maximum"]:
            found.append(f"{path}: maximum")
    if isinstance(value, dict) and not schema.get("x-kubernetes-preserve-unknown-fields"):
        properties = schema.get("properties", {})
        for name in schema.get("required", []):
            if name not in value:
                found.append(f"{path}.{name}: required")
        for name, child_value in value.items():
            if name not in properties:
                found.append(f"{path}.{name}: unknown field")
                continue
            child_old = old.get(name, _ABSENT) if isinstance(old, dict) else _ABSENT
            _check(properties[name], child_value, child_old, f"{path}.{name}", found)
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            found.append(f"{path}: minItems")
        if len(value) > schema.get("maxItems", len(value)):
            found.append(f"{path}: maxItems")
        keys = schema.get("x-kubernetes-list-map-keys")
        if keys:
            seen = [tuple(item.get(key) for key in keys) for item in value if isinstance(item, dict)]
            if len(seen) != len(set(seen)):
                found.append(f"{path}: duplicate map key")
        for index, item in enumerate(value):
            _check(schema["items"], item, _ABSENT, f"{path}[{index}]", found)
    for rule in schema.get("x-kubernetes-validations", []):
        if "oldSelf" in rule["rule"] and old is _ABSENT:
            continue  # a transition rule: only on update, when the old value exists
        if evaluate(rule["rule"], value, old) is not True:
            found.append(f"{path}: {rule['message']}")


def _type_ok(schema: Schema, value: Any) -> bool:
    expected = schema.get("type")
    if expected is None:
        return True
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    kinds = {"string": str, "boolean": bool, "object": dict, "array": list}
    return isinstance(value, kinds[expected])


def evaluate(rule: str, value: Any, old: Any = _ABSENT) -> Any:
    """The result of a CEL rule with ``self`` (and ``oldSelf``); an evaluation error is returned."""
    program = _PROGRAMS.get(rule)
    if program is None:
        program = _PROGRAMS[rule] = _ENV.program(_ENV.compile(rule))
    activation = {"self": celpy.json_to_cel(value)}
    if old is not _ABSENT:
        activation["oldSelf"] = celpy.json_to_cel(old)
    try:
        result = program.evaluate(activation)
    except celpy.CELEvalError as exc:
        return exc
    return result if not isinstance(result, celpy.celtypes.BoolType) else bool(result)


def nodes(schema: Schema, path: str = "") -> Iterator[tuple[str, Schema]]:
    """Every schema node with its path, depth first."""
    yield path, schema
    for name, child in schema.get("properties", {}).items():
        yield from nodes(child, f"{path}.{name}")
    if isinstance(schema.get("additionalProperties"), dict):
        yield from nodes(schema["additionalProperties"], f"{path}[*]")
    if "items" in schema:
        yield from nodes(schema["items"], f"{path}[]")


def rules(schema: Schema) -> Iterator[tuple[str, dict[str, str]]]:
    """Every CEL rule with the path of its node."""
    for path, node in nodes(schema):
        for rule in node.get("x-kubernetes-validations", []):
            yield path, rule
