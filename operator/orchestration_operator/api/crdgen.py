"""Generate the CRDs in ``crds/`` from the pydantic models: ``python -m orchestration_operator.api.crdgen``.

The models are the single source. pydantic's JSON schema is converted into a Kubernetes *structural*
OpenAPI v3 schema:

* every ``$ref`` is inlined (no ``$defs``), with the field's description, default and CEL rules laid
  over the referenced model's;
* ``anyOf [X, null]`` (an optional field) becomes ``X``: absent means unset, so ``nullable`` is never
  needed; other unions are refused;
* ``additionalProperties: false`` (pydantic's ``extra="forbid"``) is dropped: the API server prunes
  unknown fields and ``kubectl`` refuses them with ``fieldValidation=Strict``;
* free-form fields carry ``x-kubernetes-preserve-unknown-fields: true`` (see ``fields.JsonObject`` and
  ``fields.JsonValue``), everything else has a ``type``;
* descriptions (whitespace folded), defaults, enums, patterns, bounds and ``x-kubernetes-*`` keys are
  kept; ``title`` is dropped; anything else unexpected is an error rather than a silently wrong CRD;
* defaults are left out under ``status``: only the operator writes status, and the API server must not
  invent values there.

Per kind (from :data:`orchestration_operator.api.kinds.ALL`): names, short names, the ``orchestration``
category, the status subresource and printer columns. ``--write DIR`` writes one file per kind,
``--check DIR`` exits 1 when the files differ from the models, no option prints them.
"""

from __future__ import annotations

import argparse
import copy
import pathlib
import sys
from collections.abc import Mapping, Sequence
from typing import Any, Final

import pydantic
import yaml

from orchestration_operator.api import kinds, names

REGENERATE: Final = "python -m orchestration_operator.api.crdgen --write crds/"
HEADER: Final = (
    "# Generated from the models in operator/orchestration_operator/api/ -- do not edit.\n"
    f"# Regenerate with: PYTHONPATH=operator {REGENERATE}\n"
)

JsonSchema = dict[str, Any]

# Output key order: what a reader looks for first.
_KEY_ORDER: Final = (
    "description",
    "type",
    "format",
    "enum",
    "default",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "nullable",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-validations",
)
_ALLOWED: Final = frozenset(_KEY_ORDER)
_TYPES: Final = frozenset({"object", "array", "string", "integer", "number", "boolean"})
_MISSING: Final = object()


class CRDGenerationError(Exception):
    """The models use a construct that has no faithful structural-schema equivalent."""


def schema_of(model: type[pydantic.BaseModel], *, keep_defaults: bool = True) -> JsonSchema:
    """The structural OpenAPI v3 schema of ``model``."""
    raw = model.model_json_schema(mode="validation")
    defs = raw.pop("$defs", {})
    return _convert(raw, defs, path=model.__name__, keep_defaults=keep_defaults)


def crd(kind: names.Kind) -> dict[str, Any]:
    """The CustomResourceDefinition of ``kind``."""
    spec = schema_of(kind.spec)
    status = schema_of(kind.status, keep_defaults=False)
    resource_doc = _fold(kind.resource.__doc__ or "")
    if not resource_doc:
        raise CRDGenerationError(f"{kind.resource.__name__} needs a docstring: it is the CRD's description")
    root = {
        "description": resource_doc,
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {
                "description": "APIVersion defines the versioned schema of this representation of an object.",
                "type": "string",
            },
            "kind": {
                "description": "Kind is a string value representing the REST resource of this object.",
                "type": "string",
            },
            "metadata": {"description": "Standard object metadata.", "type": "object"},
            # Described by the spec and status models' docstrings (what `kubectl explain <kind>.spec` shows).
            "spec": spec,
            "status": status,
        },
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": kind.crd_name,
            "labels": {"app.kubernetes.io/part-of": "orchestration-operator"},
        },
        "spec": {
            "group": names.GROUP,
            "names": {
                "kind": kind.kind,
                "listKind": kind.list_kind,
                "plural": kind.plural,
                "singular": kind.singular,
                "shortNames": list(kind.short_names),
                "categories": [names.CATEGORY],
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": names.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [column.to_crd() for column in kind.printer_columns],
                    "schema": {"openAPIV3Schema": _ordered(root)},
                }
            ],
        },
    }


def filename(kind: names.Kind) -> str:
    """The file of ``kind``'s CRD in ``crds/`` (controller-gen's naming)."""
    return f"{names.GROUP}_{kind.plural}.yaml"


def render(kind: names.Kind) -> str:
    """The YAML text of ``kind``'s CRD, header included."""
    return HEADER + yaml.dump(
        crd(kind), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096, allow_unicode=True
    )


def render_all() -> dict[str, str]:
    """Every CRD: file name -> YAML text."""
    return {filename(kind): render(kind) for kind in kinds.ALL}


def differences(directory: pathlib.Path) -> list[str]:
    """Files of ``directory`` that are missing, stale or unexpected compared with :func:`render_all`."""
    expected = render_all()
    problems = []
    for name, text in expected.items():
        path = directory / name
        if not path.exists():
            problems.append(f"{path}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path}: differs from the models")
    for path in sorted(directory.glob("*.yaml")):
        if path.name not in expected:
            problems.append(f"{path}: not generated from any model")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration_operator.api.crdgen", description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", metavar="DIR", type=pathlib.Path, help="write the CRDs into DIR")
    group.add_argument("--check", metavar="DIR", type=pathlib.Path, help="exit 1 if DIR is out of date")
    args = parser.parse_args(argv)
    if args.write is not None:
        args.write.mkdir(parents=True, exist_ok=True)
        for name, text in render_all().items():
            (args.write / name).write_text(text, encoding="utf-8")
        return 0
    if args.check is not None:
        problems = differences(args.check)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            print(f"regenerate with: PYTHONPATH=operator {REGENERATE}", file=sys.stderr)
        return 1 if problems else 0
    sys.stdout.write("---\n".join(render_all().values()))
    return 0


# --- The conversion ----------------------------------------------------------------------------------


def _convert(
    node: Mapping[str, Any], defs: Mapping[str, Any], *, path: str, keep_defaults: bool
) -> JsonSchema:
    schema = _resolve(node, defs, path=path)
    schema.pop("title", None)
    if "const" in schema:
        schema["enum"] = [schema.pop("const")]
    if schema.get("default", _MISSING) is None or not keep_defaults:
        schema.pop("default", None)
    if "description" in schema:
        schema["description"] = _fold(schema["description"])
    if isinstance(schema.get("exclusiveMinimum"), int | float) and not isinstance(
        schema["exclusiveMinimum"], bool
    ):
        schema["minimum"], schema["exclusiveMinimum"] = schema["exclusiveMinimum"], True
    if isinstance(schema.get("exclusiveMaximum"), int | float) and not isinstance(
        schema["exclusiveMaximum"], bool
    ):
        schema["maximum"], schema["exclusiveMaximum"] = schema["exclusiveMaximum"], True

    preserve = schema.get("x-kubernetes-preserve-unknown-fields") is True
    kind = schema.get("type")
    if kind is None and not preserve:
        raise CRDGenerationError(f"{path}: no type (use fields.JsonValue for a free-form value)")
    if kind is not None and kind not in _TYPES:
        raise CRDGenerationError(f"{path}: unsupported type {kind!r}")

    if kind == "object":
        extra = schema.pop("additionalProperties", None)
        if "properties" in schema:
            schema["properties"] = {
                name: _convert(child, defs, path=f"{path}.{name}", keep_defaults=keep_defaults)
                for name, child in schema["properties"].items()
            }
        elif isinstance(extra, dict):
            schema["additionalProperties"] = _convert(
                extra, defs, path=f"{path}[*]", keep_defaults=keep_defaults
            )
        elif not preserve:
            raise CRDGenerationError(f"{path}: an object without properties must use fields.JsonObject")
    if kind == "array":
        items = _convert(schema["items"], defs, path=f"{path}[]", keep_defaults=keep_defaults)
        # kubectl explain shows an item's description; a plain item (a string) inherits the list's.
        items.setdefault("description", schema.get("description", ""))
        schema["items"] = items

    if "x-kubernetes-validations" in schema:
        # pydantic sorts keys; the rule reads better first.
        schema["x-kubernetes-validations"] = [
            {"rule": rule["rule"], **{key: value for key, value in rule.items() if key != "rule"}}
            for rule in schema["x-kubernetes-validations"]
        ]
    unexpected = set(schema) - _ALLOWED
    if unexpected:
        raise CRDGenerationError(f"{path}: unsupported schema keys {sorted(unexpected)}")
    return _ordered(schema)


def _resolve(node: Mapping[str, Any], defs: Mapping[str, Any], *, path: str) -> JsonSchema:
    """Inline ``$ref`` and unwrap ``anyOf [X, null]`` / ``allOf [X]``; the outer keys win over X's."""
    schema = copy.deepcopy(dict(node))
    for combinator in ("anyOf", "allOf", "oneOf"):
        if combinator not in schema:
            continue
        options = [option for option in schema.pop(combinator) if option != {"type": "null"}]
        if len(options) != 1 or (combinator == "oneOf"):
            raise CRDGenerationError(f"{path}: unions ({combinator}) have no structural equivalent")
        schema = _overlay(_resolve(options[0], defs, path=path), schema)
    if "$ref" in schema:
        reference = schema.pop("$ref")
        target = defs[reference.rsplit("/", 1)[-1]]
        schema = _overlay(_resolve(target, defs, path=path), schema)
    return schema


def _overlay(inner: JsonSchema, outer: Mapping[str, Any]) -> JsonSchema:
    merged = copy.deepcopy(inner)
    for key, value in outer.items():
        if key == "x-kubernetes-validations":
            merged[key] = [*merged.get(key, []), *copy.deepcopy(value)]
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _ordered(schema: Mapping[str, Any]) -> JsonSchema:
    rank = {key: index for index, key in enumerate(_KEY_ORDER)}
    return {key: schema[key] for key in sorted(schema, key=lambda key: rank.get(key, len(rank)))}


def _fold(text: str) -> str:
    return " ".join(text.split())


class _Dumper(yaml.SafeDumper):
    """Never writes YAML anchors/aliases (a CRD must read the same to every tool)."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


if __name__ == "__main__":
    sys.exit(main())
