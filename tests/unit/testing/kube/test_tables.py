"""Table rendering for kubectl get: printer columns, typed cells, human durations."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from orchestration_operator.testing.kube import resources, tables


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (200, "3m20s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (3 * 3600 + 60 * 7, "3h7m"),
        (8 * 3600 + 60 * 7, "8h"),
        (47 * 3600, "47h"),
        (2 * 86400 + 3 * 3600, "2d3h"),
        (8 * 86400, "8d"),
        (800 * 86400, "2y70d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration(seconds: float, text: str) -> None:
    assert tables.human_duration(seconds) == text


def _ago(seconds: int) -> str:
    then = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=seconds)
    return then.strftime("%Y-%m-%dT%H:%M:%SZ")


WIDGET = resources.ResourceType(
    group="example.com",
    version="v1",
    plural="widgets",
    kind="Widget",
    namespaced=True,
    custom=True,
    printer_columns=(
        {"name": "Ready", "type": "string", "jsonPath": '.status.conditions[?(@.type=="Ready")].status'},
        {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
        {"name": "Ratio", "type": "number", "jsonPath": ".spec.ratio", "priority": 1},
        {"name": "On", "type": "boolean", "jsonPath": ".spec.on"},
        {"name": "Items", "type": "string", "jsonPath": ".spec.items"},
        {"name": "Since", "type": "date", "jsonPath": ".status.since"},
    ),
)


def test_custom_resource_columns_and_typed_cells() -> None:
    obj = {
        "metadata": {"name": "w", "creationTimestamp": _ago(10)},
        "spec": {"size": 3, "ratio": 1, "on": False, "items": ["a", 1]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}], "since": _ago(200)},
    }
    table = tables.table(WIDGET, [obj], resource_version="9")
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Ready",
        "Size",
        "Ratio",
        "On",
        "Items",
        "Since",
    ]
    assert [c["priority"] for c in table["columnDefinitions"]] == [0, 0, 0, 1, 0, 0, 0]
    assert table["rows"][0]["cells"] == ["w", "True", 3, 1.0, False, '["a",1]', "3m20s"]
    assert table["rows"][0]["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }
    assert table["metadata"] == {"resourceVersion": "9"}


def test_missing_values_are_none_cells() -> None:
    table = tables.table(WIDGET, [{"metadata": {"name": "w"}, "spec": {"size": "three"}}])
    assert table["rows"][0]["cells"] == ["w", None, None, None, None, None, None]


def test_custom_resource_without_columns_gets_age() -> None:
    plain = resources.ResourceType(
        group="example.com", version="v1", plural="things", kind="Thing", namespaced=True, custom=True
    )
    table = tables.table(
        plain, [{"metadata": {"name": "t", "creationTimestamp": _ago(65)}}], include_object="None"
    )
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["rows"] == [{"cells": ["t", "65s"]}]


@pytest.mark.parametrize(
    ("plural", "obj", "columns", "cells"),
    [
        (
            "secrets",
            {"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "", "b": ""}},
            ["Name", "Type", "Data", "Age"],
            ["s", "Opaque", 2, "5h"],
        ),
        (
            "configmaps",
            {"metadata": {"name": "c"}, "data": {"a": ""}, "binaryData": {"b": ""}},
            ["Name", "Data", "Age"],
            ["c", 2, "5h"],
        ),
        (
            "namespaces",
            {"metadata": {"name": "n"}, "status": {"phase": "Active"}},
            ["Name", "Status", "Age"],
            ["n", "Active", "5h"],
        ),
    ],
)
def test_builtin_columns(plural: str, obj: dict[str, Any], columns: list[str], cells: list[Any]) -> None:
    rtype = next(t for t in resources.BUILTINS if t.plural == plural and t.group == "")
    obj = {**obj, "metadata": {**obj["metadata"], "creationTimestamp": _ago(5 * 3600)}}  # "5h" for a while
    table = tables.table(rtype, [obj])
    assert [c["name"] for c in table["columnDefinitions"]] == columns
    assert table["rows"][0]["cells"] == cells


@pytest.mark.parametrize(
    ("accept", "version"),
    [
        (
            "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json",
            "v1",
        ),
        ("application/json;as=Table;v=v1beta1;g=meta.k8s.io", "v1beta1"),
        ("application/json", None),
        ("*/*", None),
        ("", None),
    ],
)
def test_wants_table(accept: str, version: str | None) -> None:
    assert tables.wants_table(accept) == version
