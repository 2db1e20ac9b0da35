"""Bearer-token authentication and RBAC-shaped authorization.

Each token maps to an ``Identity``: a user name, groups, and what it may do. ``rules=None`` allows
everything (the sandbox's admin token). Otherwise the identity holds RBAC ``PolicyRule`` shapes
(``{"apiGroups": [...], "resources": [...], "verbs": [...], "resourceNames": [...]}``), cluster-wide
and per namespace, exactly as ClusterRoles and Roles grant them; with ``rbac=True`` the rules are instead
read live from the Roles, ClusterRoles and bindings stored in the sandbox, so a test can apply the
chart's rendered RBAC with ``kubectl`` and run the operator as its ServiceAccount. ``from_rbac``
computes the rules a subject gets from such documents without a sandbox.

Discovery, OpenAPI and ``/version`` are open to every authenticated identity (``system:discovery``).
Refusals are worded as kube-apiserver words them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from orchestration_operator.testing.kube import errors


@dataclasses.dataclass(frozen=True)
class Rule:
    """One RBAC PolicyRule."""

    verbs: frozenset[str]
    api_groups: frozenset[str]
    resources: frozenset[str]
    resource_names: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, rule: Mapping[str, Any]) -> Rule:
        return cls(
            verbs=frozenset(rule.get("verbs") or ()),
            api_groups=frozenset(rule.get("apiGroups") or ()),
            resources=frozenset(rule.get("resources") or ()),
            resource_names=frozenset(rule.get("resourceNames") or ()),
        )

    def allows(self, attrs: Attributes) -> bool:
        if "*" not in self.verbs and attrs.verb not in self.verbs:
            return False
        if "*" not in self.api_groups and attrs.group not in self.api_groups:
            return False
        combined = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
        if not any(
            r == "*" or r == combined or (attrs.subresource and r == f"*/{attrs.subresource}")
            for r in self.resources
        ):
            return False
        if self.resource_names:
            return bool(attrs.name) and attrs.name in self.resource_names
        return True


@dataclasses.dataclass(frozen=True)
class Attributes:
    """What a request does, in RBAC terms."""

    verb: str
    group: str
    resource: str
    subresource: str = ""
    namespace: str = ""
    name: str = ""


@dataclasses.dataclass(frozen=True)
class Identity:
    user: str
    groups: tuple[str, ...] = ("system:authenticated",)
    rules: tuple[Rule, ...] | None = None  # cluster-wide; None: everything
    namespaced: Mapping[str, tuple[Rule, ...]] = dataclasses.field(default_factory=dict)
    rbac: bool = False  # evaluate the RBAC objects stored in the sandbox instead

    @property
    def unrestricted(self) -> bool:
        return self.rules is None and not self.rbac


def identity(
    user: str,
    *,
    groups: Sequence[str] = (),
    rules: Iterable[Mapping[str, Any]] | None = None,
    namespaced_rules: Mapping[str, Iterable[Mapping[str, Any]]] | None = None,
    rbac: bool = False,
) -> Identity:
    """Build an identity from RBAC rule shapes; no ``rules``, ``namespaced_rules`` or ``rbac``: admin."""
    restricted = rules is not None or namespaced_rules is not None or rbac
    return Identity(
        user=user,
        groups=(*groups, "system:authenticated"),
        rules=tuple(Rule.parse(r) for r in rules or ()) if restricted else None,
        namespaced={ns: tuple(Rule.parse(r) for r in rs) for ns, rs in (namespaced_rules or {}).items()},
        rbac=rbac,
    )


def _subject_matches(subject: Mapping[str, Any], user: str, groups: Sequence[str], binding_ns: str) -> bool:
    kind = subject.get("kind")
    if kind == "User":
        return bool(subject.get("name") == user)
    if kind == "Group":
        return subject.get("name") in groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_ns
        return user == f"system:serviceaccount:{namespace}:{subject.get('name')}"
    return False


def from_rbac(
    documents: Iterable[Mapping[str, Any]], *, user: str, groups: Sequence[str] = ()
) -> tuple[list[Rule], dict[str, list[Rule]]]:
    """The (cluster-wide, per-namespace) rules ``user`` gets from Role/ClusterRole/binding documents."""
    docs = [d for d in documents if isinstance(d, Mapping)]
    groups = (*groups, "system:authenticated")
    roles = {
        (d.get("metadata", {}).get("namespace", ""), d.get("metadata", {}).get("name")): d
        for d in docs
        if d.get("kind") == "Role"
    }
    cluster_roles = {d.get("metadata", {}).get("name"): d for d in docs if d.get("kind") == "ClusterRole"}
    cluster: list[Rule] = []
    namespaced: dict[str, list[Rule]] = {}
    for binding in docs:
        kind = binding.get("kind")
        if kind not in ("RoleBinding", "ClusterRoleBinding"):
            continue
        binding_ns = binding.get("metadata", {}).get("namespace", "")
        if not any(_subject_matches(s, user, groups, binding_ns) for s in binding.get("subjects") or ()):
            continue
        ref = binding.get("roleRef") or {}
        if ref.get("kind") == "ClusterRole":
            role = cluster_roles.get(ref.get("name"))
        else:
            role = roles.get((binding_ns, ref.get("name")))
        if role is None:
            continue
        rules = [Rule.parse(r) for r in role.get("rules") or () if r.get("resources") or r.get("apiGroups")]
        if kind == "ClusterRoleBinding":
            cluster.extend(rules)
        else:
            namespaced.setdefault(binding_ns, []).extend(rules)
    return cluster, namespaced


def allowed(ident: Identity, attrs: Attributes, *, stored_rbac: Iterable[Mapping[str, Any]] = ()) -> bool:
    if ident.unrestricted:
        return True
    cluster: Iterable[Rule] = ident.rules or ()
    namespaced: Mapping[str, Iterable[Rule]] = ident.namespaced
    if ident.rbac:
        extra_cluster, extra_ns = from_rbac(stored_rbac, user=ident.user, groups=ident.groups)
        cluster = [*cluster, *extra_cluster]
        namespaced = {**{k: list(v) for k, v in namespaced.items()}}
        for ns, rules in extra_ns.items():
            namespaced[ns] = [*namespaced.get(ns, ()), *rules]
    if any(rule.allows(attrs) for rule in cluster):
        return True
    return bool(attrs.namespace) and any(rule.allows(attrs) for rule in namespaced.get(attrs.namespace, ()))


def forbidden(ident: Identity, attrs: Attributes) -> errors.Forbidden:
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    qualified = errors.qualified(attrs.resource, attrs.group)
    subject = f'{qualified} "{attrs.name}"' if attrs.name else qualified
    where = f'in the namespace "{attrs.namespace}"' if attrs.namespace else "at the cluster scope"
    message = (
        f'{subject} is forbidden: User "{ident.user}" cannot {attrs.verb} resource "{resource}" '
        f'in API group "{attrs.group}" {where}'
    )
    details: dict[str, Any] = {"kind": attrs.resource}
    if attrs.name:
        details["name"] = attrs.name
    if attrs.group:
        details["group"] = attrs.group
    return errors.Forbidden(message, details=details)


ANONYMOUS = Identity(user="system:anonymous", groups=("system:unauthenticated",))


class Authenticator:
    """Tokens known to the sandbox, and who a request without credentials is.

    kubectl (client-go) sends no credentials to an ``http://`` server, so on plain HTTP a request without
    an ``Authorization`` header is ``anonymous`` (unrestricted by default, like a local admin; ``None``
    refuses it with 401). A wrong token is always 401, as in kube-apiserver.
    """

    def __init__(
        self, tokens: Mapping[str, Identity] | None = None, *, anonymous: Identity | None = ANONYMOUS
    ) -> None:
        self.tokens: dict[str, Identity] = dict(tokens or {})
        self.anonymous = anonymous

    def add(self, token: str, ident: Identity) -> None:
        self.tokens[token] = ident

    def user_of(self, header: str | None) -> str:
        """The user name a request with this ``Authorization`` header is, or "" when it is refused."""
        try:
            return self.authenticate(header).user
        except errors.Unauthorized:
            return ""

    def authenticate(self, header: str | None) -> Identity:
        if not header and self.anonymous is not None:
            return self.anonymous
        if header and header.startswith("Bearer "):
            ident = self.tokens.get(header[len("Bearer ") :].strip())
            if ident is not None:
                return ident
        raise errors.Unauthorized("Unauthorized")
