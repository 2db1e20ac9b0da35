"""OpenAPI v3 documents, as much as ``kubectl apply`` needs from them.

kubectl reads ``/openapi/v3`` (an index of group/version documents with a content hash), then the
document of each group/version it writes to. It checks that the kind's ``patch`` operation (tagged with
``x-kubernetes-group-version-kind``) accepts a ``fieldValidation`` query parameter before sending
``fieldValidation=Strict``; without such a path it falls back to ``/openapi/v2`` (protobuf) and fails.
Custom resources get a component schema built from their CRD (``kubectl explain``). Built-in kinds get
no component schema on purpose: kubectl then computes strategic merge patches from its compiled-in types.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from orchestration_operator.testing.kube import resources

_META_REF = "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_OBJECT_META = {
    "description": "ObjectMeta is metadata that all persisted resources must have.",
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "generateName": {"type": "string"},
        "namespace": {"type": "string"},
        "uid": {"type": "string"},
        "resourceVersion": {"type": "string"},
        "generation": {"type": "integer", "format": "int64"},
        "creationTimestamp": {"type": "string", "format": "date-time"},
        "deletionTimestamp": {"type": "string", "format": "date-time"},
        "deletionGracePeriodSeconds": {"type": "integer", "format": "int64"},
        "labels": {"type": "object", "additionalProperties": {"type": "string", "default": ""}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string", "default": ""}},
        "finalizers": {
            "type": "array",
            "items": {"type": "string", "default": ""},
            "x-kubernetes-list-type": "set",
            "x-kubernetes-patch-strategy": "merge",
        },
        "ownerReferences": {
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "x-kubernetes-patch-merge-key": "uid",
            "x-kubernetes-patch-strategy": "merge",
        },
        "managedFields": {
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    },
}


def _query(name: str, description: str, type_: str = "string") -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "description": description,
        "schema": {"type": type_, "uniqueItems": True},
    }


_DRY_RUN = _query("dryRun", "When present, indicates that modifications should not be persisted.")
_FIELD_MANAGER = _query(
    "fieldManager", "fieldManager is a name associated with the actor or entity making changes."
)
_FIELD_VALIDATION = _query(
    "fieldValidation",
    "fieldValidation instructs the server on how to handle objects in the request containing unknown or "
    "duplicate fields. Valid values are: Ignore, Warn, Strict.",
)
_FORCE = _query("force", 'Force is going to "force" Apply requests.', "boolean")
_PRETTY = _query("pretty", "If 'true', then the output is pretty printed.")


def _schema_name(rtype: resources.ResourceType) -> str:
    if not rtype.group:
        return f"io.k8s.api.core.{rtype.version}.{rtype.kind}"
    reversed_group = ".".join(reversed(rtype.group.split(".")))
    return f"{reversed_group}.{rtype.version}.{rtype.kind}"


def _gvk(rtype: resources.ResourceType) -> dict[str, str]:
    return {"group": rtype.group, "version": rtype.version, "kind": rtype.kind}


def _operation(
    rtype: resources.ResourceType, action: str, op_id: str, params: list[dict[str, Any]]
) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{_schema_name(rtype)}"} if rtype.custom else {"type": "object"}
    op: dict[str, Any] = {
        "tags": [rtype.group or "core"],
        "description": f"{action} {rtype.kind}",
        "operationId": f"{op_id}{rtype.kind}",
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": _gvk(rtype),
    }
    if action in ("post", "put", "patch"):
        types = ["application/json"]
        if action == "patch":
            types = [
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
            ]
            if not rtype.custom:
                types.append("application/strategic-merge-patch+json")
        op["requestBody"] = {"content": {t: {"schema": {"type": "object"}} for t in types}, "required": True}
    return op


def _paths(rtype: resources.ResourceType) -> dict[str, Any]:
    base = f"/apis/{rtype.group}/{rtype.version}" if rtype.group else f"/api/{rtype.version}"
    scope = f"{base}/namespaces/{{namespace}}" if rtype.namespaced else base
    write = [_DRY_RUN, _FIELD_MANAGER, _FIELD_VALIDATION]
    name_param = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
    ns_param = (
        [{"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}}]
        if rtype.namespaced
        else []
    )
    item = {
        "get": _operation(rtype, "get", "read", [_PRETTY]),
        "put": _operation(rtype, "put", "replace", write),
        "patch": _operation(rtype, "patch", "patch", [*write, _FORCE]),
        "delete": _operation(rtype, "delete", "delete", [_DRY_RUN]),
        "parameters": [name_param, *ns_param],
    }
    collection = {
        "get": _operation(rtype, "list", "list", [_PRETTY]),
        "post": _operation(rtype, "post", "create", write),
        "delete": _operation(rtype, "deletecollection", "deleteCollection", [_DRY_RUN]),
        "parameters": ns_param,
    }
    paths = {f"{scope}/{rtype.plural}": collection, f"{scope}/{rtype.plural}/{{name}}": item}
    if rtype.status_subresource:
        paths[f"{scope}/{rtype.plural}/{{name}}/status"] = {
            "get": _operation(rtype, "get", "read", [_PRETTY]) | {"operationId": f"read{rtype.kind}Status"},
            "put": _operation(rtype, "put", "replace", write) | {"operationId": f"replace{rtype.kind}Status"},
            "patch": _operation(rtype, "patch", "patch", [*write, _FORCE])
            | {"operationId": f"patch{rtype.kind}Status"},
            "parameters": [name_param, *ns_param],
        }
    return paths


def _component(rtype: resources.ResourceType) -> dict[str, Any]:
    schema = json.loads(
        json.dumps(rtype.schema or {"type": "object", "x-kubernetes-preserve-unknown-fields": True})
    )
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {
        "type": "string",
        "description": "APIVersion defines the versioned schema of this object.",
    }
    props["kind"] = {
        "type": "string",
        "description": "Kind is a string value representing the REST resource.",
    }
    props["metadata"] = {"allOf": [{"$ref": _META_REF}], "description": "Standard object's metadata."}
    schema.setdefault("type", "object")
    schema["x-kubernetes-group-version-kind"] = [_gvk(rtype)]
    return dict(schema)


def group_version_document(registry: resources.Registry, group: str, version: str) -> dict[str, Any] | None:
    types = [t for t in registry.all() if t.group == group and t.version == version]
    if not types:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {"io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": _OBJECT_META}
    for rtype in types:
        paths.update(_paths(rtype))
        if rtype.custom:
            schemas[_schema_name(rtype)] = _component(rtype)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0-sandbox"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def gv_key(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def document_hash(document: dict[str, Any]) -> str:
    return hashlib.sha512(json.dumps(document, sort_keys=True).encode()).hexdigest()[:128].upper()


def index(registry: resources.Registry, hashes: dict[str, str]) -> dict[str, Any]:
    """``/openapi/v3``: every group/version with its document's URL (``hashes``: key -> hash)."""
    paths = {}
    for key, digest in hashes.items():
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


def all_documents(registry: resources.Registry) -> dict[str, dict[str, Any]]:
    """Every group/version document by key (``api/v1``, ``apis/<group>/<version>``)."""
    out = {}
    for gv in sorted({(t.group, t.version) for t in registry.all()}):
        document = group_version_document(registry, *gv)
        if document is not None:
            out[gv_key(*gv)] = document
    return out
