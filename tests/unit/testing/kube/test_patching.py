"""Patch formats: RFC 7386 merge, RFC 6902 JSON patch, strategic merge for built-ins, apply."""

from __future__ import annotations

from typing import Any

import pytest

from orchestration_operator.testing.kube import errors, patching


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        # The examples of RFC 7386, appendix A.
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_merge_patch_follows_rfc7386(target: Any, patch: Any, expected: Any) -> None:
    assert patching.merge(target, patch) == expected


def test_merge_patch_does_not_mutate_its_inputs() -> None:
    target = {"a": {"b": [1]}}
    patch = {"a": {"c": {"d": 1}}}
    result = patching.merge(target, patch)
    result["a"]["c"]["d"] = 2
    assert target == {"a": {"b": [1]}}
    assert patch == {"a": {"c": {"d": 1}}}


DOC = {
    "metadata": {"resourceVersion": "7", "finalizers": ["x"]},
    "spec": {"list": [1, 2, 3], "a/b": {"~c": 1}},
}


@pytest.mark.parametrize(
    ("ops", "expected"),
    [
        ([{"op": "add", "path": "/spec/new", "value": 1}], {**DOC, "spec": {**DOC["spec"], "new": 1}}),
        (
            [{"op": "add", "path": "/spec/list/1", "value": 9}],
            {**DOC, "spec": {**DOC["spec"], "list": [1, 9, 2, 3]}},
        ),
        (
            [{"op": "add", "path": "/spec/list/-", "value": 4}],
            {**DOC, "spec": {**DOC["spec"], "list": [1, 2, 3, 4]}},
        ),
        ([{"op": "remove", "path": "/spec/list/0"}], {**DOC, "spec": {**DOC["spec"], "list": [2, 3]}}),
        (
            [{"op": "replace", "path": "/spec/a~1b/~0c", "value": 2}],
            {**DOC, "spec": {**DOC["spec"], "a/b": {"~c": 2}}},
        ),
        (
            [{"op": "move", "from": "/spec/list", "path": "/spec/moved"}],
            {**DOC, "spec": {"a/b": {"~c": 1}, "moved": [1, 2, 3]}},
        ),
        (
            [{"op": "copy", "from": "/spec/list/2", "path": "/spec/c"}],
            {**DOC, "spec": {**DOC["spec"], "c": 3}},
        ),
        (
            [
                {"op": "test", "path": "/metadata/resourceVersion", "value": "7"},
                {"op": "replace", "path": "/metadata/finalizers", "value": []},
            ],
            {**DOC, "metadata": {"resourceVersion": "7", "finalizers": []}},
        ),
    ],
)
def test_json_patch_applies_rfc6902_operations(ops: list[dict[str, Any]], expected: Any) -> None:
    assert patching.json_patch(DOC, ops) == expected


@pytest.mark.parametrize(
    "ops",
    [
        [{"op": "test", "path": "/metadata/resourceVersion", "value": "6"}],
        [{"op": "test", "path": "/metadata/missing", "value": "x"}],
        [{"op": "test", "path": "/spec/list/0", "value": True}],  # 1 == True in Python, not in JSON
        [{"op": "remove", "path": "/spec/missing"}],
        [{"op": "replace", "path": "/spec/missing", "value": 1}],
        [{"op": "add", "path": "/nowhere/deep", "value": 1}],
        [{"op": "add", "path": "/spec/list/7", "value": 1}],
        [{"op": "add", "path": "spec", "value": 1}],
        [{"op": "frobnicate", "path": "/spec"}],
        [{"path": "/spec"}],
    ],
)
def test_json_patch_failures_are_422(ops: list[dict[str, Any]]) -> None:
    with pytest.raises(errors.Invalid) as info:
        patching.json_patch(DOC, ops)
    assert info.value.code == 422


def test_failed_json_patch_leaves_the_target_alone() -> None:
    target = {"a": [1]}
    with pytest.raises(errors.Invalid):
        patching.json_patch(
            target, [{"op": "add", "path": "/a/-", "value": 2}, {"op": "remove", "path": "/x"}]
        )
    assert target == {"a": [1]}


def test_json_patch_must_be_a_list() -> None:
    with pytest.raises(errors.BadRequest):
        patching.json_patch(DOC, {"op": "add"})


@pytest.mark.parametrize(
    ("target", "patch", "expected"),
    [
        ({"data": {"a": "1"}}, {"data": {"b": "2"}}, {"data": {"a": "1", "b": "2"}}),
        ({"data": {"a": "1"}}, {"data": {"a": None}}, {"data": {}}),
        (
            {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}},
            {
                "spec": {
                    "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
                    "containers": [{"name": "b", "image": "z"}],
                }
            },
            {"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "z"}]}},
        ),
        (
            {"spec": {"containers": [{"name": "a"}, {"name": "b"}]}},
            {"spec": {"containers": [{"name": "a", "$patch": "delete"}]}},
            {"spec": {"containers": [{"name": "b"}]}},
        ),
        (
            {"metadata": {"finalizers": ["a"]}},
            {"metadata": {"finalizers": ["b"]}},
            {"metadata": {"finalizers": ["a", "b"]}},
        ),
        (
            {"metadata": {"finalizers": ["a", "b"]}},
            {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}},
            {"metadata": {"finalizers": ["b"]}},
        ),
        ({"rules": [{"verbs": ["get"]}]}, {"rules": [{"verbs": ["list"]}]}, {"rules": [{"verbs": ["list"]}]}),
        ({"spec": {"a": 1, "b": 2}}, {"spec": {"$patch": "replace", "c": 3}}, {"spec": {"c": 3}}),
        ({"spec": {"a": 1, "b": 2}}, {"spec": {"$patch": "delete"}}, {}),
        (
            {"spec": {"a": 1, "b": 2}},
            {"spec": {"$retainKeys": ["b", "c"], "c": 3}},
            {"spec": {"b": 2, "c": 3}},
        ),
    ],
)
def test_strategic_merge_patch(target: Any, patch: Any, expected: Any) -> None:
    assert patching.strategic(target, patch) == expected


def test_apply_merges_and_drops_what_the_manager_no_longer_applies() -> None:
    live = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"a": "1", "b": "2"}, "resourceVersion": "5"},
        "data": {"x": "1", "y": "2", "kept": "by-someone-else"},
    }
    first = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"a": "1", "b": "2"}},
        "data": {"x": "1", "y": "2"},
    }
    second = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"a": "1"}},
        "data": {"x": "3"},
    }
    result = patching.apply(live, second, last_applied=first)
    assert result == {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "c", "labels": {"a": "1"}, "resourceVersion": "5"},
        "data": {"x": "3", "kept": "by-someone-else"},
    }


def test_first_apply_is_a_merge() -> None:
    assert patching.apply({"a": {"b": 1}}, {"a": {"c": 2}}) == {"a": {"b": 1, "c": 2}}
