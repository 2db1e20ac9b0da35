"""The JSONPath subset used by printer columns."""

from __future__ import annotations

from typing import Any

import pytest

from orchestration_operator.testing.kube import jsonpath

OBJ = {
    "metadata": {"name": "x", "labels": {"app.kubernetes.io/name": "web"}},
    "spec": {"size": 3, "items": [{"name": "a", "n": 1}, {"name": "b", "n": 2}, {"name": "c", "n": 3}]},
    "status": {
        "conditions": [
            {"type": "Reconciling", "status": "False"},
            {"type": "Ready", "status": "True", "reason": "Done"},
        ]
    },
}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        (".metadata.name", ["x"]),
        ("{.metadata.name}", ["x"]),
        ("$.spec.size", [3]),
        (".spec.missing", []),
        ('.status.conditions[?(@.type=="Ready")].status', ["True"]),
        (".status.conditions[?(@.type=='Ready')].reason", ["Done"]),
        ('.status.conditions[?(@.type!="Ready")].type', ["Reconciling"]),
        (".status.conditions[?(@.reason)].type", ["Ready"]),
        (".spec.items[?(@.n>1)].name", ["b", "c"]),
        (".spec.items[?(@.n<=1)].name", ["a"]),
        (".spec.items[0].name", ["a"]),
        (".spec.items[-1].name", ["c"]),
        (".spec.items[5].name", []),
        (".spec.items[0:2].name", ["a", "b"]),
        (".spec.items[*].n", [1, 2, 3]),
        (".spec.items.*.name", ["a", "b", "c"]),
        (".status.*", [OBJ["status"]["conditions"]]),
        ("..reason", ["Done"]),
        (".metadata.labels.app\\.kubernetes\\.io/name", ["web"]),
        (".metadata.labels['app.kubernetes.io/name']", ["web"]),
    ],
)
def test_find(expr: str, expected: list[Any]) -> None:
    assert jsonpath.find(OBJ, expr) == expected


@pytest.mark.parametrize("expr", [".a[", ".a[x]", ".a[?(@.b===1)]", ".a[?@.b]"])
def test_invalid_expressions(expr: str) -> None:
    with pytest.raises(jsonpath.JSONPathError):
        jsonpath.find(OBJ, expr)
