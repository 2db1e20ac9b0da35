"""A small custom resource definition for sandbox tests, demos and benchmarks (not the project's CRDs).

``crd()`` builds ``<plural>.<group>`` with a status subresource, a ``Ready`` printer column, an optional
strict schema (``spec.size`` integer 0..1000 with a CEL rule, ``spec.color`` enum) and the given scope.
"""

from __future__ import annotations

from typing import Any

GROUP = "sandbox.example.com"

STRICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "size": {"type": "integer", "minimum": 0, "maximum": 1000, "default": 1},
                "color": {"type": "string", "enum": ["red", "green", "blue"]},
                "note": {"type": "string"},
            },
            "x-kubernetes-validations": [
                {
                    "rule": "!has(self.color) || self.color != 'red' || self.size <= 10",
                    "message": "red widgets are small",
                }
            ],
        },
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}

LOOSE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


def crd(
    *,
    plural: str = "widgets",
    kind: str = "Widget",
    group: str = GROUP,
    scope: str = "Namespaced",
    schema: dict[str, Any] | None = None,
    short_names: tuple[str, ...] = ("wd",),
    status: bool = True,
) -> dict[str, Any]:
    """A CustomResourceDefinition manifest (``schema`` defaults to a loose, preserve-unknown one)."""
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "additionalPrinterColumns": [
            {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
        "schema": {"openAPIV3Schema": schema or LOOSE_SCHEMA},
    }
    if status:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "shortNames": list(short_names),
                "categories": ["sandbox"],
            },
            "versions": [version],
        },
    }


def obj(
    name: str, *, kind: str = "Widget", group: str = GROUP, namespace: str | None = "default", **fields: Any
) -> dict[str, Any]:
    """A custom object of ``crd()``'s kind."""
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {"apiVersion": f"{group}/v1", "kind": kind, "metadata": meta, **fields}
