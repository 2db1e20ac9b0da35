"""Background controllers: owner GC, propagation policies, namespace and CRD cleanup."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from orchestration_operator.testing import background
from orchestration_operator.testing.kube import samples, server


@pytest.fixture
def sb() -> Iterator[server.KubeSandbox]:
    with background.BackgroundLoop() as loop:
        sandbox = server.KubeSandbox(gc_interval=0.01)
        loop.call(sandbox.start())
        yield sandbox
        loop.call(sandbox.stop())


def cm(name: str, *owners: dict[str, Any], namespace: str = "default", **meta: Any) -> dict[str, Any]:
    refs = [
        {
            "apiVersion": o["apiVersion"],
            "kind": o["kind"],
            "name": o["metadata"]["name"],
            "uid": o["metadata"]["uid"],
        }
        for o in owners
    ]
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, **meta}
    if refs:
        metadata["ownerReferences"] = refs
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}


def gone(sb: server.KubeSandbox, name: str, namespace: str = "default") -> None:
    sb.wait_for_object("", "v1", "configmaps", namespace, name, lambda o: o is None, timeout=5)


def test_dependents_of_a_deleted_owner_are_collected(sb: server.KubeSandbox) -> None:
    owner = sb.create_object(cm("owner"))
    other = sb.create_object(cm("other"))
    sb.create_object(cm("child", owner))
    sb.create_object(cm("grandchild", sb.get_object("", "v1", "configmaps", "default", "child") or {}))
    sb.create_object(cm("shared", owner, other))
    sb.delete_object("", "v1", "configmaps", "default", "owner")
    gone(sb, "child")
    gone(sb, "grandchild")
    shared = sb.wait_for_object(
        "",
        "v1",
        "configmaps",
        "default",
        "shared",
        lambda o: o is not None and len(o["metadata"]["ownerReferences"]) == 1,
    )
    assert shared is not None
    assert shared["metadata"]["ownerReferences"][0]["uid"] == other["metadata"]["uid"]


def test_orphan_propagation_keeps_dependents(sb: server.KubeSandbox) -> None:
    owner = sb.create_object(cm("owner"))
    sb.create_object(cm("child", owner))
    sb.delete_object("", "v1", "configmaps", "default", "owner", propagation="Orphan")
    gone(sb, "owner")
    child = sb.get_object("", "v1", "configmaps", "default", "child")
    assert child is not None
    assert "ownerReferences" not in child["metadata"]


def test_foreground_propagation_deletes_dependents_first(sb: server.KubeSandbox) -> None:
    owner = sb.create_object(cm("owner"))
    sb.create_object(cm("child", owner, finalizers=["hold"]))
    sb.delete_object("", "v1", "configmaps", "default", "owner", propagation="Foreground")
    child = sb.wait_for_object(
        "",
        "v1",
        "configmaps",
        "default",
        "child",
        lambda o: bool(o and o["metadata"].get("deletionTimestamp")),
    )
    assert child is not None
    held = sb.get_object("", "v1", "configmaps", "default", "owner")
    assert held is not None
    assert held["metadata"]["finalizers"] == ["foregroundDeletion"]
    sb.patch_object("", "v1", "configmaps", "default", "child", {"metadata": {"finalizers": None}})
    gone(sb, "child")
    gone(sb, "owner")


def test_deleting_a_namespace_deletes_its_contents(sb: server.KubeSandbox) -> None:
    sb.create_object({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})
    sb.create_object(cm("a", namespace="team"))
    sb.create_object(cm("held", namespace="team", finalizers=["hold"]))
    sb.delete_object("", "v1", "namespaces", None, "team")
    gone(sb, "a", "team")
    namespace = sb.get_object("", "v1", "namespaces", None, "team")
    assert namespace is not None
    assert namespace["status"] == {"phase": "Terminating"}
    sb.patch_object("", "v1", "configmaps", "team", "held", {"metadata": {"finalizers": None}})
    sb.wait_for_object("", "v1", "namespaces", None, "team", lambda o: o is None, timeout=5)


def test_deleting_a_crd_deletes_its_objects_then_stops_serving(sb: server.KubeSandbox) -> None:
    sb.create_object(samples.crd())
    sb.create_object(samples.obj("w1"))
    sb.delete_object(
        "apiextensions.k8s.io", "v1", "customresourcedefinitions", None, f"widgets.{samples.GROUP}"
    )
    sb.wait_for_object(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        None,
        f"widgets.{samples.GROUP}",
        lambda o: o is None,
    )
    assert sb.registry.lookup(samples.GROUP, "v1", "widgets") is None
    sb.create_object(samples.crd())  # comes back empty
    assert sb.list_objects(samples.GROUP, "v1", "widgets") == []
