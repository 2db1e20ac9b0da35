"""Discovery documents: ``/api``, ``/api/v1``, ``/apis``, ``/apis/<group>[/<version>]`` and ``/version``.

Rendered from the ``resources.Registry`` on each request, so a CRD is discoverable the moment it is
established (kopf re-reads ``/apis`` when a CRD appears). A resource with a status subresource lists
``<plural>/status``; kopf then writes status through it. The aggregated discovery format is not served:
kubectl falls back to these documents when it gets a plain ``APIGroupList``.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from orchestration_operator.testing.kube import resources

KUBE_VERSION = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2024-12-11T00:00:00Z",
    "goVersion": "go1.23.3",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _storage_hash(rtype: resources.ResourceType) -> str:
    digest = hashlib.sha256(f"{rtype.group}/{rtype.version}/{rtype.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def resource_entries(rtype: resources.ResourceType) -> list[dict[str, Any]]:
    entry: dict[str, Any] = {
        "name": rtype.plural,
        "singularName": rtype.singular,
        "namespaced": rtype.namespaced,
        "kind": rtype.kind,
        "verbs": list(rtype.verbs),
        "storageVersionHash": _storage_hash(rtype),
    }
    if rtype.short_names:
        entry["shortNames"] = list(rtype.short_names)
    if rtype.categories:
        entry["categories"] = list(rtype.categories)
    entries = [entry]
    if rtype.status_subresource:
        entries.append(
            {
                "name": f"{rtype.plural}/status",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": ["get", "patch", "update"],
            }
        )
    return entries


def api_versions(server_address: str) -> dict[str, Any]:
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def resource_list(registry: resources.Registry, group: str, version: str) -> dict[str, Any] | None:
    types = [t for t in registry.all() if t.group == group and t.version == version]
    if not types:
        return None
    out: list[dict[str, Any]] = []
    for rtype in types:
        out.extend(resource_entries(rtype))
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": f"{group}/{version}" if group else version,
        "resources": out,
    }


def _group(group: str, types: list[resources.ResourceType]) -> dict[str, Any]:
    versions = sorted({t.version for t in types}, key=resources.version_priority)
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def group_list(registry: resources.Registry) -> dict[str, Any]:
    groups = [_group(name, types) for name, types in registry.groups().items()]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def group(registry: resources.Registry, name: str) -> dict[str, Any] | None:
    types = registry.groups().get(name)
    if not types:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name, types)}
