"""x-kubernetes-validations evaluated with cel-python, with kube-apiserver's semantics and wording."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from orchestration_operator.testing.kube import cel

STRING = {"type": "string"}

# A realistic CRD schema, in the spirit of this project's resources.
SCHEMA: dict[str, Any] = {
    "type": "object",
    "x-kubernetes-validations": [
        {"rule": "self.metadata.name.size() <= 20", "message": "name must be at most 20 characters"},
    ],
    "properties": {
        "spec": {
            "type": "object",
            "x-kubernetes-validations": [
                {
                    "rule": "[has(self.secretRef), has(self.token)].filter(x, x).size() == 1",
                    "message": "exactly one of secretRef and token must be set",
                },
                {"rule": "self.serviceId == oldSelf.serviceId", "message": "serviceId is immutable"},
                {
                    "rule": "!has(self.minDelay) || !has(self.maxDelay) || self.minDelay <= self.maxDelay",
                    "messageExpression": "'minDelay ' + string(self.minDelay) + ' exceeds maxDelay ' + "
                    "string(self.maxDelay)",
                    "fieldPath": ".minDelay",
                },
                {
                    "rule": "!has(oldSelf.siteRef) || has(self.siteRef)",
                    "message": "siteRef cannot be removed",
                    "reason": "FieldValueForbidden",
                },
            ],
            "properties": {
                "serviceId": {
                    "type": "string",
                    "x-kubernetes-validations": [{"rule": "self.matches('^[^:]+::.+$')"}],
                },
                "siteRef": {
                    "type": "object",
                    "properties": {"name": STRING},
                    "x-kubernetes-validations": [
                        {"rule": "self.name.lowerAscii() == self.name", "message": "must be lower case"}
                    ],
                },
                "secretRef": STRING,
                "token": STRING,
                "minDelay": {"type": "integer"},
                "maxDelay": {"type": "integer"},
                "weight": {
                    "type": "number",
                    "x-kubernetes-validations": [{"rule": "self <= 1.0", "reason": "FieldValueRequired"}],
                },
                "params": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "string",
                        "x-kubernetes-validations": [
                            {"rule": "self.size() <= 5", "message": "value too long"}
                        ],
                    },
                },
                "steps": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {"name": STRING, "retries": {"type": "integer"}},
                        "x-kubernetes-validations": [
                            {"rule": "self.retries >= oldSelf.retries", "message": "retries cannot go down"},
                            {"rule": "self.retries < 10", "message": "too many retries"},
                        ],
                    },
                },
                "hosts": {
                    "type": "array",
                    "items": {
                        "type": "string",
                        "x-kubernetes-validations": [{"rule": "self.endsWith('.local')"}],
                    },
                    "x-kubernetes-validations": [
                        {"rule": "self.all(h, self.exists_one(o, o == h))", "reason": "FieldValueDuplicate"}
                    ],
                },
            },
        },
        "status": {
            "type": "object",
            "properties": {"phase": STRING},
        },
    },
}


def run(
    spec: dict[str, Any], old_spec: dict[str, Any] | None = None, name: str = "run"
) -> list[tuple[str, str, str]]:
    obj = {"apiVersion": "example.com/v1", "kind": "Run", "metadata": {"name": name}, "spec": spec}
    old = None
    if old_spec is not None:
        old = {"apiVersion": "example.com/v1", "kind": "Run", "metadata": {"name": name}, "spec": old_spec}
    return [(e.path, e.type, e.message) for e in cel.validate_rules(obj, old, SCHEMA)]


VALID = {"serviceId": "drupal::cron", "token": "t", "siteRef": {"name": "site"}}

CREATE_CASES = [
    ("valid", {}, []),
    (
        "serviceId pattern",
        {"serviceId": "cron"},
        [
            (
                "spec.serviceId",
                "FieldValueInvalid",
                "Invalid value: \"string\": failed rule: self.matches('^[^:]+::.+$')",
            )
        ],
    ),
    (
        "neither of two",
        {"token": None},
        [
            (
                "spec",
                "FieldValueInvalid",
                'Invalid value: "object": exactly one of secretRef and token must be set',
            )
        ],
    ),
    (
        "both of two",
        {"secretRef": "s"},
        [
            (
                "spec",
                "FieldValueInvalid",
                'Invalid value: "object": exactly one of secretRef and token must be set',
            )
        ],
    ),
    (
        "messageExpression and fieldPath",
        {"minDelay": 5, "maxDelay": 2},
        [("spec.minDelay", "FieldValueInvalid", 'Invalid value: "object": minDelay 5 exceeds maxDelay 2')],
    ),
    (
        "reason Required, number typed as double",
        {"weight": 2},
        [("spec.weight", "FieldValueRequired", "Required value: failed rule: self <= 1.0")],
    ),
    ("a whole number is a double", {"weight": 1}, []),
    (
        "rule on map values",
        {"params": {"ok": "1", "bad": "123456"}},
        [("spec.params[bad]", "FieldValueInvalid", 'Invalid value: "string": value too long')],
    ),
    (
        "rules on list items",
        {"steps": [{"name": "a", "retries": 1}, {"name": "b", "retries": 12}]},
        [("spec.steps[1]", "FieldValueInvalid", 'Invalid value: "object": too many retries')],
    ),
    (
        "runtime error: no such key",
        {"steps": [{"name": "a"}]},
        [
            (
                "spec.steps[0]",
                "FieldValueInvalid",
                'Invalid value: "object": no such key: retries evaluating rule: too many retries',
            )
        ],
    ),
    (
        "reason Duplicate and item rules",
        {"hosts": ["a.local", "b.example", "a.local"]},
        [
            ("spec.hosts", "FieldValueDuplicate", 'Duplicate value: "array"'),
            (
                "spec.hosts[1]",
                "FieldValueInvalid",
                "Invalid value: \"string\": failed rule: self.endsWith('.local')",
            ),
        ],
    ),
    (
        "lowerAscii from the Kubernetes string library",
        {"siteRef": {"name": "Site"}},
        [("spec.siteRef", "FieldValueInvalid", 'Invalid value: "object": must be lower case')],
    ),
]


@pytest.mark.parametrize(
    ("change", "errors"), [c[1:] for c in CREATE_CASES], ids=[c[0] for c in CREATE_CASES]
)
def test_create(change: dict[str, Any], errors: list[tuple[str, str, str]]) -> None:
    spec = {k: v for k, v in {**VALID, **change}.items() if v is not None}
    assert run(spec) == errors


def test_root_rule_sees_metadata_name_and_has_the_nil_path() -> None:
    assert run(VALID, name="a-name-that-is-far-too-long") == [
        ("<nil>", "FieldValueInvalid", 'Invalid value: "object": name must be at most 20 characters')
    ]


UPDATE_CASES = [
    ("unchanged", {}, {}, []),
    (
        "immutable field changed",
        {},
        {"serviceId": "drupal::other"},
        [("spec", "FieldValueInvalid", 'Invalid value: "object": serviceId is immutable')],
    ),
    (
        "reason Forbidden on a transition rule",
        {},
        {"siteRef": None},
        [("spec", "FieldValueForbidden", "Forbidden: siteRef cannot be removed")],
    ),
    (
        "list-map items correlate by key",
        {"steps": [{"name": "a", "retries": 3}, {"name": "b", "retries": 1}]},
        {"steps": [{"name": "b", "retries": 2}, {"name": "a", "retries": 2}]},
        [("spec.steps[1]", "FieldValueInvalid", 'Invalid value: "object": retries cannot go down')],
    ),
    (
        "a new list-map item has no oldSelf",
        {"steps": [{"name": "a", "retries": 3}]},
        {"steps": [{"name": "a", "retries": 3}, {"name": "new", "retries": 0}]},
        [],
    ),
]


@pytest.mark.parametrize(
    ("old_change", "new_change", "errors"), [c[1:] for c in UPDATE_CASES], ids=[c[0] for c in UPDATE_CASES]
)
def test_update(
    old_change: dict[str, Any], new_change: dict[str, Any], errors: list[tuple[str, str, str]]
) -> None:
    old = {**VALID, **old_change}
    new = {k: v for k, v in {**old, **new_change}.items() if v is not None}
    assert run(new, old) == errors


def test_transition_rules_are_skipped_on_create() -> None:
    # On create there is no oldSelf: the immutability and removal rules must not fire.
    assert run({**VALID, "steps": [{"name": "a", "retries": 0}]}) == []


def test_ratcheting_keeps_an_old_invalid_value_and_still_checks_the_changed_one() -> None:
    legacy = {**VALID, "params": {"old": "toolongvalue"}, "siteRef": {"name": "Legacy"}}
    assert run({**legacy, "params": {"old": "toolongvalue", "new": "ok"}}, legacy) == []
    assert run({**legacy, "params": {"old": "toolongvalue", "new": "toolong"}}, legacy) == [
        ("spec.params[new]", "FieldValueInvalid", 'Invalid value: "string": value too long')
    ]
    # Created like this, both old faults are reported.
    assert [path for path, _, _ in run(legacy)] == ["spec.siteRef", "spec.params[old]"]


def test_self_equals_old_self_on_objects_and_maps() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "spec is immutable"}],
                "properties": {
                    "labels": {"type": "object", "additionalProperties": STRING},
                    "list": {"type": "array", "items": {"type": "integer"}},
                },
            }
        },
    }
    old = {"spec": {"labels": {"a": "1", "b": "2"}, "list": [1, 2]}}
    same = {"spec": {"labels": {"b": "2", "a": "1"}, "list": [1, 2]}}
    assert cel.validate_rules(same, old, schema) == []
    for changed in ({"labels": {"a": "1"}, "list": [1, 2]}, {"labels": {"a": "1", "b": "2"}, "list": [2, 1]}):
        errors = cel.validate_rules({"spec": changed}, old, schema)
        assert [(e.path, e.message) for e in errors] == [
            ("spec", 'Invalid value: "object": spec is immutable')
        ]


def test_results_are_the_same_when_served_from_the_cache() -> None:
    spec = {**VALID, "serviceId": "cron", "params": {"bad": "123456"}}
    first = run(copy.deepcopy(spec))
    assert first == run(copy.deepcopy(spec))
    assert len(first) == 2


def test_a_rule_that_does_not_compile_is_reported_not_raised() -> None:
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object", "x-kubernetes-validations": [{"rule": "self.a ==="}]}},
    }
    [error] = cel.validate_rules({"spec": {"a": 1}}, None, schema)
    assert (error.path, error.type) == ("spec", "FieldValueInvalid")
    assert error.message.startswith('Invalid value: "object": rule compile error: ')


def test_compile_errors_for_a_crd() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [
                    {"rule": "self.a > 1"},
                    {"rule": "self.a >", "messageExpression": "'x' +"},
                ],
                "properties": {"a": {"type": "integer"}},
            }
        },
    }
    errors = cel.compile_errors(schema, path="spec.versions[0].schema.openAPIV3Schema")
    assert [e.path for e in errors] == [
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[1].rule",
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[1].messageExpression",
    ]
    assert all(
        e.message.startswith('Invalid value: "') and "compilation failed: " in e.message for e in errors
    )
    assert cel.compile_errors(SCHEMA) == []


def test_null_values_are_not_validated() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "opt": {
                        "type": "string",
                        "nullable": True,
                        "x-kubernetes-validations": [{"rule": "self.size() > 3"}],
                    }
                },
            }
        },
    }
    assert cel.validate_rules({"spec": {"opt": None}}, None, schema) == []


@pytest.mark.parametrize(
    ("node", "value", "expected"),
    [
        ({"type": "integer"}, 3, "IntType(3)"),
        ({"type": "number"}, 3, "DoubleType(3.0)"),
        ({"type": "integer"}, 3.0, "IntType(3)"),
        ({"type": "string", "format": "byte"}, "aGk=", "BytesType(b'hi')"),
        ({"type": "string", "format": "byte"}, "not base64!", "StringType('not base64!')"),
        (
            {"type": "string", "format": "date-time"},
            "2024-05-06T07:08:09Z",
            "TimestampType('2024-05-06T07:08:09Z')",
        ),
        ({"x-kubernetes-int-or-string": True}, "80%", "StringType('80%')"),
        (None, True, "BoolType(True)"),
        (None, None, "None"),
    ],
)
def test_values_are_typed_by_the_schema(node: dict[str, Any] | None, value: Any, expected: str) -> None:
    assert repr(cel.to_cel(value, node)) == expected


OPTIONAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "phase": {
                    "type": "string",
                    "x-kubernetes-validations": [
                        {
                            "rule": "oldSelf.hasValue() || self == 'Pending'",
                            "optionalOldSelf": True,
                            "message": "must start as Pending",
                        },
                        {
                            "rule": "oldSelf.orValue('') != 'Done' || self == 'Done'",
                            "optionalOldSelf": True,
                            "message": "Done is final",
                        },
                    ],
                },
                "count": {
                    "type": "integer",
                    "x-kubernetes-validations": [
                        {"rule": "!oldSelf.hasValue() || self >= oldSelf.value()", "optionalOldSelf": True}
                    ],
                },
            },
        }
    },
}


@pytest.mark.parametrize(
    ("old", "new", "messages"),
    [
        (None, {"phase": "Pending", "count": 1}, []),
        (None, {"phase": "Running"}, ['Invalid value: "string": must start as Pending']),
        ({"phase": "Pending"}, {"phase": "Running"}, []),
        ({"phase": "Done"}, {"phase": "Running"}, ['Invalid value: "string": Done is final']),
        (
            {"count": 3},
            {"count": 2},
            ['Invalid value: "integer": failed rule: !oldSelf.hasValue() || self >= oldSelf.value()'],
        ),
    ],
)
def test_optional_old_self_rules_also_run_on_create(
    old: dict[str, Any] | None, new: dict[str, Any], messages: list[str]
) -> None:
    errors = cel.validate_rules({"spec": new}, {"spec": old} if old is not None else None, OPTIONAL_SCHEMA)
    assert [e.message for e in errors] == messages
