"""Write semantics of the store: versions, generation, status split, concurrency, deletion, CRDs."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from orchestration_operator.testing.kube import errors, resources, store

NS = resources.NAMESPACES
SECRETS = next(t for t in resources.BUILTINS if t.plural == "secrets")
CONFIGMAPS = next(t for t in resources.BUILTINS if t.plural == "configmaps")


def crd(
    *, status: bool = True, scope: str = "Namespaced", plural: str = "widgets", kind: str = "Widget"
) -> dict[str, Any]:
    version: dict[str, Any] = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
    }
    if status:
        version["subresources"] = {"status": {}}
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.example.com"},
        "spec": {
            "group": "example.com",
            "scope": scope,
            "names": {"plural": plural, "kind": kind, "shortNames": [plural[:2]]},
            "versions": [version],
        },
    }


@pytest.fixture
def db() -> store.Store:
    return store.Store()


@pytest.fixture
def widgets(db: store.Store) -> resources.ResourceType:
    db.create(resources.CRD, crd(), namespace=None)
    rtype = db.registry.lookup("example.com", "v1", "widgets")
    assert rtype is not None
    return rtype


def widget(name: str = "w", **fields: Any) -> dict[str, Any]:
    return {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": name}, **fields}


def test_default_namespaces_exist(db: store.Store) -> None:
    names = [e.meta["name"] for e in db.list(NS, None).items]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]
    assert db.get(NS, None, "default").obj["status"] == {"phase": "Active"}


def test_create_sets_identity_and_a_global_monotonic_version(
    db: store.Store, widgets: resources.ResourceType
) -> None:
    before = db.resource_version
    first = db.create(widgets, widget("a", spec={"x": 1}), namespace="default").entry
    second = db.create(SECRETS, {"metadata": {"name": "s"}}, namespace="default").entry
    assert int(first.rv) == before + 1
    assert int(second.rv) == before + 2
    assert first.meta["generation"] == 1
    assert "generation" not in second.meta  # core config objects keep none, as in kube-apiserver
    assert len(first.meta["uid"]) == 36
    assert first.meta["creationTimestamp"].endswith("Z")
    assert first.obj["apiVersion"] == "example.com/v1"


def test_generate_name(db: store.Store, widgets: resources.ResourceType) -> None:
    obj = widget()
    obj["metadata"] = {"generateName": "w-"}
    name = db.create(widgets, obj, namespace="default").entry.meta["name"]
    assert name.startswith("w-")
    assert len(name) == 7


def test_name_or_generate_name_is_required(db: store.Store, widgets: resources.ResourceType) -> None:
    obj = widget()
    obj["metadata"] = {}
    with pytest.raises(
        errors.Invalid, match=r"metadata\.name: Required value: name or generateName is required"
    ):
        db.create(widgets, obj, namespace="default")


def test_duplicate_is_409_already_exists(db: store.Store, widgets: resources.ResourceType) -> None:
    db.create(widgets, widget(), namespace="default")
    with pytest.raises(errors.AlreadyExists, match=r'^widgets\.example\.com "w" already exists$'):
        db.create(widgets, widget(), namespace="default")


def test_missing_namespace_is_404(db: store.Store, widgets: resources.ResourceType) -> None:
    with pytest.raises(errors.NotFound) as info:
        db.create(widgets, widget(), namespace="nowhere")
    assert info.value.status()["message"] == 'namespaces "nowhere" not found'
    assert info.value.status()["details"] == {"name": "nowhere", "kind": "namespaces"}


def test_invalid_name_is_422(db: store.Store) -> None:
    with pytest.raises(errors.Invalid) as info:
        db.create(CONFIGMAPS, {"metadata": {"name": "Bad_Name"}}, namespace="default")
    status = info.value.status()
    assert status["message"].startswith(
        'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '
    )
    assert status["details"]["causes"][0]["field"] == "metadata.name"


def test_kind_mismatch_is_400(db: store.Store, widgets: resources.ResourceType) -> None:
    with pytest.raises(errors.BadRequest, match="does not match the expected API version"):
        db.create(widgets, {**widget(), "apiVersion": "example.com/v2"}, namespace="default")


def test_create_ignores_status_when_it_is_a_subresource(
    db: store.Store, widgets: resources.ResourceType
) -> None:
    entry = db.create(widgets, widget(status={"phase": "x"}), namespace="default").entry
    assert "status" not in entry.obj


@pytest.mark.parametrize(
    ("patch", "generation"),
    [
        ({"spec": {"x": 2}}, 2),
        ({"spec": {"x": 1}}, 1),
        ({"metadata": {"labels": {"a": "b"}}}, 1),
        ({"metadata": {"annotations": {"a": "b"}}}, 1),
        ({"status": {"phase": "ignored"}}, 1),
        ({"other": "top-level"}, 2),
    ],
)
def test_generation_moves_only_on_spec_changes(
    db: store.Store, widgets: resources.ResourceType, patch: dict[str, Any], generation: int
) -> None:
    db.create(widgets, widget(spec={"x": 1}), namespace="default")
    entry = db.patch(widgets, "default", "w", "merge", patch).entry
    assert entry.meta["generation"] == generation


def test_status_changes_move_generation_without_a_status_subresource(db: store.Store) -> None:
    db.create(resources.CRD, crd(status=False), namespace=None)
    rtype = db.registry.lookup("example.com", "v1", "widgets")
    assert rtype is not None
    assert not rtype.status_subresource
    db.create(rtype, widget(), namespace="default")
    entry = db.patch(rtype, "default", "w", "merge", {"status": {"phase": "x"}}).entry
    assert (entry.obj["status"], entry.meta["generation"]) == ({"phase": "x"}, 2)


def test_status_subresource_takes_only_status(db: store.Store, widgets: resources.ResourceType) -> None:
    db.create(widgets, widget(spec={"x": 1}), namespace="default")
    patch = {"spec": {"x": 9}, "metadata": {"labels": {"a": "b"}}, "status": {"phase": "Ready"}}
    entry = db.patch(widgets, "default", "w", "merge", patch, subresource="status").entry
    assert entry.obj["spec"] == {"x": 1}
    assert "labels" not in entry.meta
    assert entry.obj["status"] == {"phase": "Ready"}
    assert entry.meta["generation"] == 1


def test_main_endpoint_keeps_status(db: store.Store, widgets: resources.ResourceType) -> None:
    db.create(widgets, widget(), namespace="default")
    db.patch(widgets, "default", "w", "merge", {"status": {"phase": "Ready"}}, subresource="status")
    current = db.get(widgets, "default", "w").copy()
    current["status"] = {"phase": "Overwritten"}
    current["spec"] = {"x": 2}
    entry = db.update(widgets, "default", "w", current).entry
    assert entry.obj["status"] == {"phase": "Ready"}
    assert entry.obj["spec"] == {"x": 2}


def test_no_op_write_keeps_the_version_and_sends_no_event(
    db: store.Store, widgets: resources.ResourceType
) -> None:
    created = db.create(widgets, widget(spec={"x": 1}), namespace="default").entry
    events = len(db.collection(widgets).history)
    result = db.patch(widgets, "default", "w", "merge", {"spec": {"x": 1}})
    assert result.entry is created
    assert db.resource_version == int(created.rv)
    assert len(db.collection(widgets).history) == events


def test_stale_resource_version_is_409(db: store.Store, widgets: resources.ResourceType) -> None:
    created = db.create(widgets, widget(spec={"x": 1}), namespace="default").entry
    db.patch(widgets, "default", "w", "merge", {"spec": {"x": 2}})
    stale = created.copy()
    with pytest.raises(errors.Conflict) as info:
        db.update(widgets, "default", "w", stale)
    assert info.value.message == (
        'Operation cannot be fulfilled on widgets.example.com "w": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    with pytest.raises(errors.Conflict):
        db.patch(
            widgets, "default", "w", "merge", {"metadata": {"resourceVersion": created.rv}, "spec": {"x": 3}}
        )


def test_put_of_a_custom_resource_needs_a_resource_version(
    db: store.Store, widgets: resources.ResourceType
) -> None:
    db.create(widgets, widget(), namespace="default")
    with pytest.raises(
        errors.Invalid, match=r"metadata\.resourceVersion: Invalid value: 0: must be specified for an update"
    ):
        db.update(widgets, "default", "w", widget(spec={"x": 1}), require_rv=True)


def test_json_patch_test_on_resource_version_is_422(db: store.Store, widgets: resources.ResourceType) -> None:
    created = db.create(widgets, widget(), namespace="default").entry
    db.patch(widgets, "default", "w", "merge", {"metadata": {"labels": {"a": "b"}}})
    ops = [
        {"op": "test", "path": "/metadata/resourceVersion", "value": created.rv},
        {"op": "add", "path": "/metadata/finalizers", "value": ["f"]},
    ]
    with pytest.raises(errors.Invalid):
        db.patch(widgets, "default", "w", "json", ops)


def test_delete_without_finalizers_removes_at_once(db: store.Store, widgets: resources.ResourceType) -> None:
    db.create(widgets, widget(), namespace="default")
    result = db.delete(widgets, "default", "w")
    assert result.deleted
    assert db.find(widgets, "default", "w") is None
    last = db.collection(widgets).history[-1]
    assert (last.type, last.rv) == ("DELETED", db.resource_version)
    assert result.entry.rv == str(db.resource_version)


def test_delete_with_finalizers_marks_then_removes_with_the_last_finalizer(
    db: store.Store, widgets: resources.ResourceType
) -> None:
    db.create(widgets, widget(metadata={"name": "w", "finalizers": ["a", "b"]}), namespace="default")
    result = db.delete(widgets, "default", "w")
    assert not result.deleted
    meta = result.entry.meta
    assert meta["deletionTimestamp"].endswith("Z")
    assert meta["generation"] == 2
    again = db.delete(widgets, "default", "w")
    assert again.entry is result.entry  # a second delete changes nothing
    with pytest.raises(errors.Invalid, match="no new finalizers can be added if the object is being deleted"):
        db.patch(widgets, "default", "w", "merge", {"metadata": {"finalizers": ["a", "b", "c"]}})
    db.patch(widgets, "default", "w", "merge", {"metadata": {"finalizers": ["b"]}})
    assert db.find(widgets, "default", "w") is not None
    gone = db.patch(widgets, "default", "w", "json", [{"op": "remove", "path": "/metadata/finalizers"}])
    assert gone.deleted
    assert db.find(widgets, "default", "w") is None
    assert [c.type for c in db.collection(widgets).history] == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]


def test_delete_preconditions(db: store.Store, widgets: resources.ResourceType) -> None:
    created = db.create(widgets, widget(), namespace="default").entry
    with pytest.raises(errors.Conflict, match="Precondition failed: UID in precondition: nope"):
        db.delete(widgets, "default", "w", preconditions={"uid": "nope"})
    with pytest.raises(errors.Conflict, match="Precondition failed: ResourceVersion"):
        db.delete(widgets, "default", "w", preconditions={"resourceVersion": "1"})
    assert db.delete(widgets, "default", "w", preconditions={"uid": created.meta["uid"]}).deleted


def test_dry_run_changes_nothing(db: store.Store, widgets: resources.ResourceType) -> None:
    rv = db.resource_version
    assert db.create(widgets, widget(), namespace="default", dry_run=True).created
    assert db.find(widgets, "default", "w") is None
    db.create(widgets, widget(), namespace="default")
    rv = db.resource_version
    db.patch(widgets, "default", "w", "merge", {"spec": {"x": 1}}, dry_run=True)
    assert db.delete(widgets, "default", "w", dry_run=True).deleted
    assert db.resource_version == rv
    assert "spec" not in db.get(widgets, "default", "w").obj


def test_apply_creates_then_updates_and_forgets_fields(db: store.Store) -> None:
    first = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}}
    assert db.patch(CONFIGMAPS, "default", "c", "apply", first, field_manager="m").created
    db.patch(CONFIGMAPS, "default", "c", "merge", {"data": {"other": "x"}})
    second = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "3"}}
    entry = db.patch(CONFIGMAPS, "default", "c", "apply", second, field_manager="m").entry
    assert entry.obj["data"] == {"a": "3", "other": "x"}


def test_apply_needs_a_field_manager(db: store.Store) -> None:
    with pytest.raises(errors.BadRequest, match="requires fieldManager"):
        db.patch(CONFIGMAPS, "default", "c", "apply", {"metadata": {"name": "c"}})


def test_secret_string_data_becomes_base64_data(db: store.Store) -> None:
    entry = db.create(
        SECRETS, {"metadata": {"name": "s"}, "stringData": {"password": "p4ss"}}, namespace="default"
    ).entry
    assert entry.obj["data"] == {"password": base64.b64encode(b"p4ss").decode()}
    assert entry.obj["type"] == "Opaque"
    assert "stringData" not in entry.obj
    with pytest.raises(errors.BadRequest, match="illegal base64 data"):
        db.create(SECRETS, {"metadata": {"name": "t"}, "data": {"a": "not base64!"}}, namespace="default")


def test_list_pagination_is_ordered_and_complete(db: store.Store) -> None:
    for n in range(7):
        db.create(
            CONFIGMAPS,
            {"metadata": {"name": f"c{n}", "labels": {"even": str(n % 2 == 0).lower()}}},
            namespace="default",
        )
    names, token, pages = [], "", 0
    while True:
        page = db.list(CONFIGMAPS, "default", limit=3, continue_token=token)
        names += [e.meta["name"] for e in page.items]
        pages += 1
        token = page.continue_token
        if not token:
            assert page.remaining is None
            break
        assert page.remaining == 7 - len(names)
    assert (names, pages) == ([f"c{n}" for n in range(7)], 3)


def test_list_filters(db: store.Store) -> None:
    from orchestration_operator.testing.kube import selectors

    db.create(NS, {"metadata": {"name": "other"}}, namespace=None)
    for ns in ("default", "other"):
        for n in range(2):
            db.create(CONFIGMAPS, {"metadata": {"name": f"c{n}", "labels": {"n": str(n)}}}, namespace=ns)
    every = db.list(CONFIGMAPS, None)
    assert [(e.meta["namespace"], e.meta["name"]) for e in every.items] == [
        ("default", "c0"),
        ("default", "c1"),
        ("other", "c0"),
        ("other", "c1"),
    ]
    by_label = db.list(CONFIGMAPS, None, labels=selectors.parse_labels("n=1"))
    assert [e.meta["namespace"] for e in by_label.items] == ["default", "other"]
    by_name = db.list(CONFIGMAPS, "other", fields=selectors.parse_fields("metadata.name=c1"))
    assert [(e.meta["namespace"], e.meta["name"]) for e in by_name.items] == [("other", "c1")]


def test_crd_is_accepted_and_served_at_once(db: store.Store) -> None:
    entry = db.create(resources.CRD, crd(), namespace=None).entry
    conditions = {c["type"]: (c["status"], c["reason"]) for c in entry.obj["status"]["conditions"]}
    assert conditions == {
        "NamesAccepted": ("True", "NoConflicts"),
        "Established": ("True", "InitialNamesAccepted"),
    }
    assert entry.obj["status"]["acceptedNames"]["listKind"] == "WidgetList"
    assert entry.obj["status"]["storedVersions"] == ["v1"]
    assert entry.meta["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    rtype = db.registry.lookup("example.com", "v1", "widgets")
    assert rtype is not None
    assert rtype.namespaced
    assert rtype.status_subresource
    assert rtype.short_names == ("wi",)


def test_crd_with_conflicting_names_is_not_established(db: store.Store) -> None:
    db.create(resources.CRD, crd(), namespace=None)
    other = crd(plural="gadgets", kind="Widget")
    entry = db.create(resources.CRD, other, namespace=None).entry
    conditions = {c["type"]: (c["status"], c["reason"]) for c in entry.obj["status"]["conditions"]}
    assert conditions == {"NamesAccepted": ("False", "NameConflict"), "Established": ("False", "NotAccepted")}
    assert db.registry.lookup("example.com", "v1", "gadgets") is None


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda c: c["metadata"].update(name="wrong.example.com"), "metadata.name"),
        (lambda c: c["spec"].update(group="nodot"), "spec.group"),
        (lambda c: c["spec"].update(scope="Galaxy"), "spec.scope"),
        (lambda c: c["spec"]["versions"][0].update(storage=False), "spec.versions"),
    ],
)
def test_invalid_crd_is_422(db: store.Store, change: Any, field: str) -> None:
    body = crd()
    change(body)
    with pytest.raises(errors.Invalid) as info:
        db.create(resources.CRD, body, namespace=None)
    assert field in [c["field"] for c in info.value.status()["details"]["causes"]]


def test_cluster_scoped_custom_resources(db: store.Store) -> None:
    db.create(resources.CRD, crd(scope="Cluster"), namespace=None)
    rtype = db.registry.lookup("example.com", "v1", "widgets")
    assert rtype is not None
    assert not rtype.namespaced
    entry = db.create(rtype, widget(metadata={"name": "w", "namespace": "ignored"}), namespace=None).entry
    assert "namespace" not in entry.meta


def test_objects_in_a_terminating_namespace_are_refused(db: store.Store) -> None:
    db.create(NS, {"metadata": {"name": "doomed"}}, namespace=None)
    db.create(CONFIGMAPS, {"metadata": {"name": "c"}}, namespace="doomed")
    result = db.delete(NS, None, "doomed")
    assert not result.deleted
    assert result.entry.obj["status"] == {"phase": "Terminating"}
    with pytest.raises(
        errors.Forbidden,
        match="unable to create new content in namespace doomed because it is being terminated",
    ):
        db.create(CONFIGMAPS, {"metadata": {"name": "d"}}, namespace="doomed")


def test_compact_makes_every_version_too_old(db: store.Store, widgets: resources.ResourceType) -> None:
    rv = int(db.create(widgets, widget(), namespace="default").entry.rv)
    floor = db.compact()
    assert floor == rv + 1
    assert db.collection(widgets).floor == floor
    assert not db.collection(widgets).history
