"""Bearer tokens, anonymous requests, RBAC-shaped allow-lists and stored RBAC."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from orchestration_operator.testing.kube import auth, server

CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
TEAM = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}


def rule(**kw: Any) -> auth.Rule:
    return auth.Rule.parse(kw)


@pytest.mark.parametrize(
    ("granted", "attrs", "allowed"),
    [
        (
            rule(apiGroups=[""], resources=["secrets"], verbs=["get"]),
            auth.Attributes("get", "", "secrets"),
            True,
        ),
        (
            rule(apiGroups=[""], resources=["secrets"], verbs=["get"]),
            auth.Attributes("list", "", "secrets"),
            False,
        ),
        (
            rule(apiGroups=["*"], resources=["*"], verbs=["*"]),
            auth.Attributes("delete", "x.io", "things"),
            True,
        ),
        (
            rule(apiGroups=["x.io"], resources=["things"], verbs=["patch"]),
            auth.Attributes("patch", "y.io", "things"),
            False,
        ),
        (
            rule(apiGroups=["x.io"], resources=["things"], verbs=["patch"]),
            auth.Attributes("patch", "x.io", "things", subresource="status"),
            False,
        ),
        (
            rule(apiGroups=["x.io"], resources=["things/status"], verbs=["patch"]),
            auth.Attributes("patch", "x.io", "things", subresource="status"),
            True,
        ),
        (
            rule(apiGroups=["x.io"], resources=["*/status"], verbs=["patch"]),
            auth.Attributes("patch", "x.io", "things", subresource="status"),
            True,
        ),
        (
            rule(apiGroups=[""], resources=["secrets"], verbs=["get"], resourceNames=["a"]),
            auth.Attributes("get", "", "secrets", name="a"),
            True,
        ),
        (
            rule(apiGroups=[""], resources=["secrets"], verbs=["get"], resourceNames=["a"]),
            auth.Attributes("get", "", "secrets", name="b"),
            False,
        ),
        (
            rule(apiGroups=[""], resources=["secrets"], verbs=["list"], resourceNames=["a"]),
            auth.Attributes("list", "", "secrets"),
            False,
        ),
    ],
)
def test_rule_matching(granted: auth.Rule, attrs: auth.Attributes, allowed: bool) -> None:
    assert granted.allows(attrs) is allowed


RBAC = [
    {
        "kind": "ClusterRole",
        "metadata": {"name": "reader"},
        "rules": [{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list"]}],
    },
    {
        "kind": "Role",
        "metadata": {"name": "cm", "namespace": "team"},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]}],
    },
    {
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "reader"},
        "roleRef": {"kind": "ClusterRole", "name": "reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "op", "namespace": "ops"}],
    },
    {
        "kind": "RoleBinding",
        "metadata": {"name": "cm", "namespace": "team"},
        "roleRef": {"kind": "Role", "name": "cm"},
        "subjects": [{"kind": "ServiceAccount", "name": "op", "namespace": "ops"}],
    },
    {
        "kind": "RoleBinding",
        "metadata": {"name": "other", "namespace": "team"},
        "roleRef": {"kind": "ClusterRole", "name": "reader"},
        "subjects": [{"kind": "User", "name": "someone-else"}],
    },
]


def test_from_rbac_documents() -> None:
    cluster, namespaced = auth.from_rbac(RBAC, user="system:serviceaccount:ops:op")
    assert cluster == [rule(apiGroups=[""], resources=["namespaces"], verbs=["list"])]
    assert namespaced == {"team": [rule(apiGroups=[""], resources=["configmaps"], verbs=["get"])]}
    assert auth.from_rbac(RBAC, user="nobody") == ([], {})


async def test_tokens_anonymous_and_wrong_tokens(sandbox: server.KubeSandbox) -> None:
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        assert (await http.get(CONFIGMAPS)).status_code == 200  # kubectl sends no token over http
        wrong = await http.get(CONFIGMAPS, headers={"Authorization": "Bearer nope"})
        assert (wrong.status_code, wrong.json()["reason"]) == (401, "Unauthorized")
        sandbox.auth.anonymous = None
        assert (await http.get(CONFIGMAPS)).status_code == 401
        assert (await http.get("/healthz")).status_code == 200
        admin = await http.get(CONFIGMAPS, headers={"Authorization": f"Bearer {sandbox.admin_token}"})
        assert admin.status_code == 200


async def test_allow_list_token(sandbox: server.KubeSandbox) -> None:
    sandbox.add_token(
        "limited",
        user="system:serviceaccount:ops:op",
        rules=[{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["list"]}],
        namespaced_rules={"team": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]}]},
    )
    headers = {"Authorization": "Bearer limited"}
    async with httpx.AsyncClient(base_url=sandbox.url, headers=headers) as http:
        assert (await http.get(CONFIGMAPS)).status_code == 200
        assert (await http.get("/apis")).status_code == 200  # discovery is open to the authenticated
        denied = await http.get(f"{CONFIGMAPS}/c")
        assert denied.status_code == 403
        assert denied.json()["message"] == (
            'configmaps "c" is forbidden: User "system:serviceaccount:ops:op" cannot get resource '
            '"configmaps" in API group "" in the namespace "default"'
        )
        watch = await http.get("/api/v1/configmaps", params={"watch": "true"})
        assert watch.json()["message"] == (
            'configmaps is forbidden: User "system:serviceaccount:ops:op" cannot watch resource "configmaps" '
            'in API group "" at the cluster scope'
        )
        assert (await http.post(CONFIGMAPS, json={"metadata": {"name": "c"}})).status_code == 403
        sandbox.create_object(TEAM)
        created = await http.post("/api/v1/namespaces/team/configmaps", json={"metadata": {"name": "c"}})
        assert created.status_code == 201


async def test_rbac_token_follows_the_stored_roles(sandbox: server.KubeSandbox) -> None:
    sandbox.add_token("op", user="system:serviceaccount:ops:op", rbac=True)
    sandbox.create_object(TEAM)
    async with httpx.AsyncClient(base_url=sandbox.url, headers={"Authorization": "Bearer op"}) as http:
        assert (await http.get("/api/v1/namespaces")).status_code == 403
        sandbox.apply_objects([{"apiVersion": "rbac.authorization.k8s.io/v1", **doc} for doc in RBAC[:3]])
        assert (await http.get("/api/v1/namespaces")).status_code == 200
        assert (
            await http.get("/api/v1/namespaces/team/configmaps/x")
        ).status_code == 403  # the Role is there, not yet its binding
        sandbox.apply_objects([{"apiVersion": "rbac.authorization.k8s.io/v1", **RBAC[3]}])
        assert (await http.get("/api/v1/namespaces/team/configmaps/x")).status_code == 404  # allowed, absent
