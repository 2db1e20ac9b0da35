"""Structural defaulting as kube-apiserver applies it to custom resources."""

from __future__ import annotations

from typing import Any

import pytest

from orchestration_operator.testing.kube import schema

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "mode": {"type": "string", "default": "fast"},
                "replicas": {"type": "integer", "default": 1},
                "enabled": {"type": "boolean", "default": False},
                "retry": {
                    "type": "object",
                    "default": {},
                    "properties": {
                        "limit": {"type": "integer", "default": 3},
                        "backoff": {"type": "string", "default": "10s"},
                    },
                },
                "timeouts": {
                    "type": "object",
                    "properties": {"connect": {"type": "string", "default": "5s"}},
                },
                "ports": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "protocol": {"type": "string", "default": "TCP"},
                        },
                    },
                },
                "env": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "default": {"value": "unset"},
                        "properties": {
                            "value": {"type": "string"},
                            "secret": {"type": "boolean", "default": False},
                        },
                    },
                },
                "note": {"type": "string", "nullable": True, "default": "n"},
                "plain": {"type": "string"},
                "tags": {"type": "array", "items": {"type": "string", "default": "none"}},
                "nullableTags": {"type": "array", "items": {"type": "string", "nullable": True}},
            },
        }
    },
}

CASES = [
    (
        "scalars, nested object default and its own defaults",
        {"spec": {}},
        {
            "spec": {
                "mode": "fast",
                "replicas": 1,
                "enabled": False,
                "retry": {"limit": 3, "backoff": "10s"},
                "note": "n",
            }
        },
    ),
    (
        "given values are kept",
        {"spec": {"mode": "slow", "replicas": 0, "enabled": True, "retry": {"limit": 0}}},
        {
            "spec": {
                "mode": "slow",
                "replicas": 0,
                "enabled": True,
                "retry": {"limit": 0, "backoff": "10s"},
                "note": "n",
            }
        },
    ),
    ("no parent object, no defaults", {}, {}),
    (
        "defaults inside an object that exists",
        {"spec": {"timeouts": {}}},
        {
            "spec": {
                "timeouts": {"connect": "5s"},
                "mode": "fast",
                "replicas": 1,
                "enabled": False,
                "retry": {"limit": 3, "backoff": "10s"},
                "note": "n",
            }
        },
    ),
    (
        "defaults inside array items",
        {"spec": {"ports": [{"name": "http"}, {"name": "dns", "protocol": "UDP"}]}},
        {
            "spec": {
                "ports": [{"name": "http", "protocol": "TCP"}, {"name": "dns", "protocol": "UDP"}],
                "mode": "fast",
                "replicas": 1,
                "enabled": False,
                "retry": {"limit": 3, "backoff": "10s"},
                "note": "n",
            }
        },
    ),
    (
        "defaults inside additionalProperties values; a null value gets the value default",
        {"spec": {"env": {"A": {"value": "1"}, "B": None}}},
        {
            "spec": {
                "env": {"A": {"value": "1", "secret": False}, "B": {"value": "unset", "secret": False}},
                "mode": "fast",
                "replicas": 1,
                "enabled": False,
                "retry": {"limit": 3, "backoff": "10s"},
                "note": "n",
            }
        },
    ),
    (
        "a null that is not nullable is replaced by the default, or dropped without one",
        {"spec": {"mode": None, "plain": None, "note": None}},
        {
            "spec": {
                "mode": "fast",
                "note": None,
                "replicas": 1,
                "enabled": False,
                "retry": {"limit": 3, "backoff": "10s"},
            }
        },
    ),
    (
        "null array items: defaulted, or kept when nullable",
        {"spec": {"tags": ["a", None], "nullableTags": [None, "x"]}},
        {
            "spec": {
                "tags": ["a", "none"],
                "nullableTags": [None, "x"],
                "mode": "fast",
                "replicas": 1,
                "enabled": False,
                "retry": {"limit": 3, "backoff": "10s"},
                "note": "n",
            }
        },
    ),
]


@pytest.mark.parametrize(("obj", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_apply_defaults(obj: dict[str, Any], expected: dict[str, Any]) -> None:
    assert schema.apply_defaults(obj, SCHEMA) == expected


def test_defaults_are_copies_and_the_input_is_untouched() -> None:
    obj: dict[str, Any] = {"spec": {}}
    first = schema.apply_defaults(obj, SCHEMA)
    first["spec"]["retry"]["limit"] = 99
    second = schema.apply_defaults(obj, SCHEMA)
    assert second["spec"]["retry"] == {"limit": 3, "backoff": "10s"}
    assert obj == {"spec": {}}
    assert SCHEMA["properties"]["spec"]["properties"]["retry"]["default"] == {}
