"""Resource types the sandbox serves: the built-in kinds and every version of every established CRD.

A ``ResourceType`` is one group/version/plural as discovery lists it. ``Registry`` holds them; the store
keeps objects per *storage key* (group, plural), shared by all versions of a kind (CRD versions differ
only by ``apiVersion`` here, as with the ``None`` conversion strategy; ``events.k8s.io/v1`` events are
a view of core v1 events, see ``convert``). ``discovery`` and ``openapi`` render the registry;
``store`` asks it how to treat each kind (status subresource, generation, schema).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclasses.dataclass(frozen=True, eq=False)
class ResourceType:
    """One served group/version/plural."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    status_subresource: bool = False
    # metadata.generation is maintained (custom resources, CRDs); core config objects have none.
    generation: bool = False
    # Served from a CRD: JSON, merge and apply patches only; the CRD schema prunes and validates.
    custom: bool = False
    schema: Mapping[str, Any] | None = None
    printer_columns: tuple[Mapping[str, Any], ...] = ()
    # Field selector paths besides metadata.name/metadata.namespace (".spec.x" for CRD selectableFields,
    # "involvedObject.name" for core events).
    field_labels: tuple[str, ...] = ()
    # Where the objects live: (group, plural) of the storage kind.
    storage: tuple[str, str] = ("", "")
    storage_version: bool = True
    preferred: bool = True
    verbs: tuple[str, ...] = ALL_VERBS

    def __post_init__(self) -> None:
        if not self.singular:
            object.__setattr__(self, "singular", self.kind.lower())
        if self.storage == ("", ""):
            object.__setattr__(self, "storage", (self.group, self.plural))

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """``plural.group`` as in messages and RBAC (``secrets`` for the core group)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        prefix = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace is not None:
            prefix += f"/namespaces/{namespace}"
        prefix += f"/{self.plural}"
        return prefix + (f"/{name}" if name is not None else "")


def _builtin(group: str, version: str, plural: str, kind: str, namespaced: bool, **kw: Any) -> ResourceType:
    return ResourceType(group=group, version=version, plural=plural, kind=kind, namespaced=namespaced, **kw)


CRD = _builtin(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    False,
    short_names=("crd", "crds"),
    categories=("api-extensions",),
    status_subresource=True,
    generation=True,
)
NAMESPACES = _builtin(
    "", "v1", "namespaces", "Namespace", False, short_names=("ns",), field_labels=("status.phase",)
)
CORE_EVENTS = _builtin(
    "",
    "v1",
    "events",
    "Event",
    True,
    short_names=("ev",),
    field_labels=(
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ),
)
EVENTS_V1 = _builtin(
    "events.k8s.io",
    "v1",
    "events",
    "Event",
    True,
    short_names=("ev",),
    storage=("", "events"),
    storage_version=False,
    field_labels=CORE_EVENTS.field_labels,
)

BUILTINS: tuple[ResourceType, ...] = (
    NAMESPACES,
    _builtin("", "v1", "secrets", "Secret", True, field_labels=("type",)),
    _builtin("", "v1", "configmaps", "ConfigMap", True, short_names=("cm",)),
    CORE_EVENTS,
    _builtin("", "v1", "serviceaccounts", "ServiceAccount", True, short_names=("sa",)),
    _builtin("", "v1", "services", "Service", True, short_names=("svc",), categories=("all",)),
    _builtin(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        True,
        short_names=("deploy",),
        categories=("all",),
        generation=True,
    ),
    _builtin("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget", True, short_names=("pdb",)),
    _builtin("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", True, short_names=("netpol",)),
    CRD,
    _builtin("coordination.k8s.io", "v1", "leases", "Lease", True),
    EVENTS_V1,
    _builtin("rbac.authorization.k8s.io", "v1", "roles", "Role", True),
    _builtin("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", True),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", False),
    _builtin("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "ClusterRoleBinding", False),
    _builtin(
        "admissionregistration.k8s.io",
        "v1",
        "validatingwebhookconfigurations",
        "ValidatingWebhookConfiguration",
        False,
    ),
)

_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Sort key of Kubernetes' version priority: GA > beta > alpha, higher numbers first, then others."""
    match = _VERSION_RE.match(version)
    if not match:
        return (3, 0, 0, version)
    major, stage, minor = match.groups()
    rank = {None: 0, "beta": 1, "alpha": 2}[stage]
    return (rank, -int(major), -int(minor or 0), version)


def from_crd(crd: Mapping[str, Any]) -> list[ResourceType]:
    """The served versions of an (accepted) CRD as resource types."""
    spec = crd.get("spec", {})
    names = spec.get("names", {})
    group = spec.get("group", "")
    storage_key = (group, names.get("plural", ""))
    versions = [v for v in spec.get("versions", []) if v.get("served", True)]
    ordered = sorted(versions, key=lambda v: version_priority(v.get("name", "")))
    preferred = ordered[0]["name"] if ordered else ""
    types = []
    for v in versions:
        columns = tuple(v.get("additionalPrinterColumns") or ())
        selectable = tuple(
            f["jsonPath"].lstrip(".") for f in v.get("selectableFields") or () if "jsonPath" in f
        )
        types.append(
            ResourceType(
                group=group,
                version=v["name"],
                plural=names.get("plural", ""),
                singular=names.get("singular") or names.get("kind", "").lower(),
                kind=names.get("kind", ""),
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                status_subresource="status" in (v.get("subresources") or {}),
                generation=True,
                custom=True,
                schema=(v.get("schema") or {}).get("openAPIV3Schema"),
                printer_columns=columns,
                field_labels=selectable,
                storage=storage_key,
                storage_version=bool(v.get("storage")),
                preferred=v["name"] == preferred,
            )
        )
    return types


class Registry:
    """Every served resource type, by group/version/plural; CRD versions come and go."""

    def __init__(self, builtins: Iterable[ResourceType] = BUILTINS) -> None:
        self._builtins = tuple(builtins)
        self._by_gvr: dict[tuple[str, str, str], ResourceType] = {}
        self._by_crd: dict[str, list[ResourceType]] = {}
        for rtype in self._builtins:
            self._by_gvr[(rtype.group, rtype.version, rtype.plural)] = rtype
        self.generation = 0  # bumped on every change, for discovery/OpenAPI hashes
        self._storages: dict[tuple[str, str], ResourceType] | None = None

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        return self._by_gvr.get((group, version, plural))

    def all(self) -> list[ResourceType]:
        return list(self._by_gvr.values())

    def storage_type(self, storage: tuple[str, str]) -> ResourceType | None:
        """The type whose version objects are stored in (on every write, so cached)."""
        if self._storages is None:
            seen: dict[tuple[str, str], ResourceType] = {}
            for rtype in self._by_gvr.values():
                if rtype.storage not in seen or rtype.storage_version:
                    seen[rtype.storage] = rtype
            self._storages = seen
        return self._storages.get(storage)

    def crd_types(self, crd_name: str) -> list[ResourceType]:
        return list(self._by_crd.get(crd_name, ()))

    def conflicts(self, crd: Mapping[str, Any]) -> str | None:
        """Why the CRD's names cannot be accepted (taken by another kind), or None."""
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        group = spec.get("group", "")
        own = crd.get("metadata", {}).get("name", "")
        wanted = {names.get("plural"), names.get("singular"), *(names.get("shortNames") or ())} - {None, ""}
        for other in self._by_gvr.values():
            if other.group != group or (other.custom and self._owner(other) == own):
                continue
            if other.plural in wanted:
                return f'"{other.plural}" is already in use'
            if other.kind == names.get("kind"):
                return f'"{other.kind}" is already in use'
            taken = wanted & set(other.short_names)
            if taken:
                return f'"{sorted(taken)[0]}" is already in use'
        return None

    def _owner(self, rtype: ResourceType) -> str | None:
        for name, types in self._by_crd.items():
            if rtype in types:
                return name
        return None

    def set_crd(self, crd: Mapping[str, Any]) -> list[ResourceType]:
        """Serve the CRD's versions (replacing what it served before); returns the new types."""
        name = crd["metadata"]["name"]
        self.remove_crd(name)
        types = from_crd(crd)
        for rtype in types:
            self._by_gvr[(rtype.group, rtype.version, rtype.plural)] = rtype
        self._by_crd[name] = types
        self.generation += 1
        self._storages = None
        return types

    def remove_crd(self, name: str) -> list[ResourceType]:
        types = self._by_crd.pop(name, [])
        for rtype in types:
            self._by_gvr.pop((rtype.group, rtype.version, rtype.plural), None)
        if types:
            self.generation += 1
            self._storages = None
        return types

    def groups(self) -> dict[str, list[ResourceType]]:
        """Non-core groups and their types, groups in registration order."""
        out: dict[str, list[ResourceType]] = {}
        for rtype in self._by_gvr.values():
            if rtype.group:
                out.setdefault(rtype.group, []).append(rtype)
        return out
