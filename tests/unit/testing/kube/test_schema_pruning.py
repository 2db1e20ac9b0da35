"""Pruning of unknown fields as kube-apiserver prunes custom resources, with the paths Strict reports."""

from __future__ import annotations

from typing import Any

import pytest

from orchestration_operator.testing.kube import schema

OBJECT = {"type": "object"}
STRING = {"type": "string"}

ROOT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "name": STRING,
                "nested": {"type": "object", "properties": {"keep": STRING}},
                "items": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"name": STRING}},
                },
                "labels": {"type": "object", "additionalProperties": STRING},
                "env": {
                    "type": "object",
                    "additionalProperties": {"type": "object", "properties": {"value": STRING}},
                },
                "input": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "partly": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"strict": {"type": "object", "properties": {"a": STRING}}},
                },
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object", "properties": {"x": STRING}}},
                },
                "anything": {"x-kubernetes-preserve-unknown-fields": True},
                "matrix": {"type": "array", "items": {"type": "array", "items": {"type": "object"}}},
            },
        },
        "status": {"type": "object", "properties": {"phase": STRING}},
    },
}

META = {"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "a", "namespace": "ns"}}

CASES = [
    ("known fields stay", {"spec": {"name": "x"}}, {"spec": {"name": "x"}}, []),
    ("top-level unknown", {"spec": {}, "extra": 1}, {"spec": {}}, ["extra"]),
    (
        "nested unknown",
        {"spec": {"nested": {"keep": "k", "drop": 1}, "bogus": True}},
        {"spec": {"nested": {"keep": "k"}}},
        ["spec.bogus", "spec.nested.drop"],
    ),
    (
        "inside array items",
        {"spec": {"items": [{"name": "a", "x": 1}, {"y": 2}]}},
        {"spec": {"items": [{"name": "a"}, {}]}},
        ["spec.items[0].x", "spec.items[1].y"],
    ),
    (
        "map values keep any key",
        {"spec": {"labels": {"any": "v", "key.with/slash": "w"}}},
        {"spec": {"labels": {"any": "v", "key.with/slash": "w"}}},
        [],
    ),
    (
        "inside map values",
        {"spec": {"env": {"A": {"value": "1", "secret": "2"}}}},
        {"spec": {"env": {"A": {"value": "1"}}}},
        ["spec.env.A.secret"],
    ),
    (
        "preserve-unknown-fields keeps everything below",
        {"spec": {"input": {"free": {"deep": [1, {"x": None}]}}}},
        {"spec": {"input": {"free": {"deep": [1, {"x": None}]}}}},
        [],
    ),
    (
        "declared properties are still pruned under preserve-unknown-fields",
        {"spec": {"partly": {"other": 1, "strict": {"a": "x", "b": "y"}}}},
        {"spec": {"partly": {"other": 1, "strict": {"a": "x"}}}},
        ["spec.partly.strict.b"],
    ),
    (
        "embedded resource keeps apiVersion, kind and metadata",
        {
            "spec": {
                "template": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "t", "labels": {"a": "b"}, "bogus": 1},
                    "spec": {"x": "1", "y": "2"},
                    "other": 3,
                }
            }
        },
        {
            "spec": {
                "template": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "metadata": {"name": "t", "labels": {"a": "b"}},
                    "spec": {"x": "1"},
                }
            }
        },
        ["spec.template.metadata.bogus", "spec.template.other", "spec.template.spec.y"],
    ),
    (
        "untyped preserve-unknown node",
        {"spec": {"anything": [1, "two", {"three": 3}]}},
        {"spec": {"anything": [1, "two", {"three": 3}]}},
        [],
    ),
    (
        "objects without properties lose every field",
        {"spec": {"matrix": [[{"a": 1}], [{}, {"b": 2}]]}},
        {"spec": {"matrix": [[{}], [{}, {}]]}},
        ["spec.matrix[0][0].a", "spec.matrix[1][1].b"],
    ),
    (
        "unknown metadata fields are dropped",
        {"metadata": {"name": "a", "namespace": "ns", "nickname": "x"}},
        {"metadata": {"name": "a", "namespace": "ns"}},
        ["metadata.nickname"],
    ),
    (
        "status is pruned too",
        {"status": {"phase": "Done", "extra": 1}},
        {"status": {"phase": "Done"}},
        ["status.extra"],
    ),
]


@pytest.mark.parametrize(("body", "pruned", "unknown"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_prune(body: dict[str, Any], pruned: dict[str, Any], unknown: list[str]) -> None:
    obj = {**META, **body}
    result, paths = schema.prune(obj, ROOT)
    assert result == {**META, **pruned}
    assert paths == unknown


def test_prune_returns_a_copy() -> None:
    obj = {**META, "spec": {"nested": {"keep": "k", "drop": 1}, "input": {"a": {"b": 1}}}}
    result, _ = schema.prune(obj, ROOT)
    result["spec"]["input"]["a"]["b"] = 2
    assert obj["spec"] == {"nested": {"keep": "k", "drop": 1}, "input": {"a": {"b": 1}}}


def test_prune_without_schema_keeps_only_type_and_object_meta() -> None:
    result, paths = schema.prune({**META, "spec": {"a": 1}}, None)
    assert result == META
    assert paths == ["spec"]
