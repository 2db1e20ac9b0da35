"""OpenAPI v3 validation of custom resources, worded and placed as kube-apiserver reports it."""

from __future__ import annotations

from typing import Any

import pytest

from orchestration_operator.testing.kube import schema

_MISSING = object()


def check(field_schema: dict[str, Any], value: Any = _MISSING, **spec: Any) -> list[tuple[str, str, str]]:
    """Validate {"spec": {"f": value, ...}} against a root schema whose spec.f is field_schema."""
    root = {
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"f": field_schema}}},
    }
    body = dict(spec)
    if value is not _MISSING:
        body["f"] = value
    return [(e.path, e.type, e.message) for e in schema.validate({"spec": body}, root)]


INVALID = "FieldValueInvalid"
TYPE = "FieldValueTypeInvalid"
REQUIRED = "FieldValueRequired"

CASES: list[tuple[str, dict[str, Any], Any, list[tuple[str, str, str]]]] = [
    # types
    ("string ok", {"type": "string"}, "x", []),
    (
        "integer for string",
        {"type": "string"},
        5,
        [("spec.f", TYPE, 'Invalid value: "integer": spec.f in body must be of type string: "integer"')],
    ),
    (
        "string for integer",
        {"type": "integer"},
        "5",
        [("spec.f", TYPE, 'Invalid value: "string": spec.f in body must be of type integer: "string"')],
    ),
    ("whole float for integer", {"type": "integer"}, 2.0, []),
    (
        "fraction for integer",
        {"type": "integer"},
        2.5,
        [("spec.f", TYPE, 'Invalid value: "number": spec.f in body must be of type integer: "number"')],
    ),
    ("integer for number", {"type": "number"}, 2, []),
    (
        "boolean is not an integer",
        {"type": "integer"},
        True,
        [("spec.f", TYPE, 'Invalid value: "boolean": spec.f in body must be of type integer: "boolean"')],
    ),
    (
        "object for array",
        {"type": "array"},
        {},
        [("spec.f", TYPE, 'Invalid value: "object": spec.f in body must be of type array: "object"')],
    ),
    (
        "null without nullable",
        {"type": "string"},
        None,
        [("spec.f", TYPE, 'Invalid value: "null": spec.f in body must be of type string: "null"')],
    ),
    ("null with nullable", {"type": "string", "nullable": True}, None, []),
    ("int-or-string int", {"x-kubernetes-int-or-string": True}, 8080, []),
    ("int-or-string string", {"x-kubernetes-int-or-string": True}, "http", []),
    (
        "int-or-string bool",
        {"x-kubernetes-int-or-string": True},
        True,
        [
            (
                "spec.f",
                TYPE,
                'Invalid value: "boolean": spec.f in body must be of type integer,string: "boolean"',
            )
        ],
    ),
    # enum
    ("enum ok", {"type": "string", "enum": ["a", "b"]}, "b", []),
    (
        "enum miss",
        {"type": "string", "enum": ["a", "b"]},
        "x",
        [("spec.f", "FieldValueNotSupported", 'Unsupported value: "x": supported values: "a", "b"')],
    ),
    (
        "numeric enum",
        {"type": "integer", "enum": [1, 2]},
        3,
        [("spec.f", "FieldValueNotSupported", 'Unsupported value: 3: supported values: "1", "2"')],
    ),
    ("numeric enum matches across int and float", {"type": "number", "enum": [1.0]}, 1, []),
    # strings
    (
        "maxLength",
        {"type": "string", "maxLength": 3},
        "abcd",
        [("spec.f", "FieldValueTooLong", "Too long: may not be longer than 3")],
    ),
    ("maxLength counts characters", {"type": "string", "maxLength": 3}, "héé", []),
    (
        "minLength",
        {"type": "string", "minLength": 3},
        "ab",
        [("spec.f", INVALID, 'Invalid value: "ab": spec.f in body should be at least 3 chars long')],
    ),
    (
        "pattern",
        {"type": "string", "pattern": "^[a-z]+::.+$"},
        "Svc:x",
        [("spec.f", INVALID, "Invalid value: \"Svc:x\": spec.f in body should match '^[a-z]+::.+$'")],
    ),
    ("pattern searches, unanchored", {"type": "string", "pattern": "b"}, "abc", []),
    ("pattern in RE2 syntax only", {"type": "string", "pattern": "^[[:alpha:]]+$"}, "abc", []),
    (
        "pattern $ does not match before a final newline, as in Go",
        {"type": "string", "pattern": "^[a-z]+$"},
        "abc\n",
        [("spec.f", INVALID, "Invalid value: \"abc\\n\": spec.f in body should match '^[a-z]+$'")],
    ),
    (
        "only the first string failure is reported",
        {"type": "string", "maxLength": 2, "pattern": "^x"},
        "abc",
        [("spec.f", "FieldValueTooLong", "Too long: may not be longer than 2")],
    ),
    # numbers
    (
        "minimum",
        {"type": "integer", "minimum": 1},
        0,
        [("spec.f", INVALID, "Invalid value: 0: spec.f in body should be greater than or equal to 1")],
    ),
    (
        "exclusiveMinimum",
        {"type": "integer", "minimum": 1, "exclusiveMinimum": True},
        1,
        [("spec.f", INVALID, "Invalid value: 1: spec.f in body should be greater than 1")],
    ),
    (
        "maximum",
        {"type": "number", "maximum": 1.5},
        2.25,
        [("spec.f", INVALID, "Invalid value: 2.25: spec.f in body should be less than or equal to 1.5")],
    ),
    (
        "exclusiveMaximum",
        {"type": "number", "maximum": 1e6, "exclusiveMaximum": True},
        1e6,
        [("spec.f", INVALID, "Invalid value: 1e+06: spec.f in body should be less than 1e+06")],
    ),
    (
        "multipleOf",
        {"type": "integer", "multipleOf": 5},
        12,
        [("spec.f", INVALID, "Invalid value: 12: spec.f in body should be a multiple of 5")],
    ),
    ("multipleOf fraction", {"type": "number", "multipleOf": 0.1}, 0.3, []),
    (
        "multipleOf fraction miss",
        {"type": "number", "multipleOf": 0.25},
        0.3,
        [("spec.f", INVALID, "Invalid value: 0.3: spec.f in body should be a multiple of 0.25")],
    ),
    (
        "several number failures at once",
        {"type": "integer", "maximum": 10, "multipleOf": 2},
        11,
        [
            ("spec.f", INVALID, "Invalid value: 11: spec.f in body should be a multiple of 2"),
            ("spec.f", INVALID, "Invalid value: 11: spec.f in body should be less than or equal to 10"),
        ],
    ),
    # formats (only the apiserver's supported ones are checked)
    ("date-time ok", {"type": "string", "format": "date-time"}, "2024-05-06T07:08:09Z", []),
    (
        "date-time with offset and fraction",
        {"type": "string", "format": "date-time"},
        "2024-05-06T07:08:09.5+02:00",
        [],
    ),
    (
        "date-time bad",
        {"type": "string", "format": "date-time"},
        "yesterday",
        [
            (
                "spec.f",
                TYPE,
                'Invalid value: "yesterday": spec.f in body must be of type date-time: "yesterday"',
            )
        ],
    ),
    (
        "date bad",
        {"type": "string", "format": "date"},
        "2024-02-30",
        [("spec.f", TYPE, 'Invalid value: "2024-02-30": spec.f in body must be of type date: "2024-02-30"')],
    ),
    ("uri", {"type": "string", "format": "uri"}, "https://example.com/a?b=c", []),
    (
        "uri bad",
        {"type": "string", "format": "uri"},
        "not a uri",
        [("spec.f", TYPE, 'Invalid value: "not a uri": spec.f in body must be of type uri: "not a uri"')],
    ),
    ("ipv4", {"type": "string", "format": "ipv4"}, "10.0.0.1", []),
    (
        "ipv4 bad",
        {"type": "string", "format": "ipv4"},
        "::1",
        [("spec.f", TYPE, 'Invalid value: "::1": spec.f in body must be of type ipv4: "::1"')],
    ),
    ("uuid", {"type": "string", "format": "uuid"}, "0F5C3C1E-1111-2222-3333-444455556666", []),
    ("byte", {"type": "string", "format": "byte"}, "aGVsbG8=", []),
    (
        "byte bad",
        {"type": "string", "format": "byte"},
        "%%%",
        [("spec.f", TYPE, 'Invalid value: "%%%": spec.f in body must be of type byte: "%%%"')],
    ),
    ("duration", {"type": "string", "format": "duration"}, "1h30m", []),
    ("quantity", {"type": "string", "format": "quantity"}, "500Mi", []),
    ("unsupported format is ignored", {"type": "string", "format": "k8s-short-name"}, "Not_A_Name", []),
    ("int32 is not range-checked", {"type": "integer", "format": "int32"}, 2**40, []),
    # arrays
    (
        "minItems",
        {"type": "array", "items": {"type": "string"}, "minItems": 1},
        [],
        [("spec.f", INVALID, "Invalid value: 0: spec.f in body should have at least 1 items")],
    ),
    (
        "maxItems",
        {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        ["a", "b", "c"],
        [("spec.f", "FieldValueTooMany", "Too many: 3: must have at most 2 items")],
    ),
    (
        "uniqueItems",
        {"type": "array", "items": {"type": "integer"}, "uniqueItems": True},
        [1, 2, 1],
        [("spec.f", INVALID, 'Invalid value: "": spec.f in body shouldn\'t contain duplicates')],
    ),
    (
        "item errors carry the index",
        {
            "type": "array",
            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
        },
        [{"name": "a"}, {}, {"name": 1}],
        [
            ("spec.f[1].name", REQUIRED, "Required value"),
            (
                "spec.f[2].name",
                TYPE,
                'Invalid value: "integer": spec.f[2].name in body must be of type string: "integer"',
            ),
        ],
    ),
    # objects
    (
        "required",
        {
            "type": "object",
            "required": ["a", "b"],
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        },
        {"a": "x"},
        [("spec.f.b", REQUIRED, "Required value")],
    ),
    (
        "minProperties",
        {"type": "object", "minProperties": 1, "additionalProperties": {"type": "string"}},
        {},
        [("spec.f", INVALID, "Invalid value: 0: spec.f in body should have at least 1 properties")],
    ),
    (
        "maxProperties stops the other object checks",
        {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "integer"}},
        {"a": "x", "b": "y"},
        [("spec.f", "FieldValueTooMany", "Too many: 2: must have at most 1 items")],
    ),
    (
        "map value errors use dotted keys",
        {"type": "object", "additionalProperties": {"type": "string", "maxLength": 2}},
        {"k.x": "long"},
        [("spec.f.k.x", "FieldValueTooLong", "Too long: may not be longer than 2")],
    ),
    # value validations: anyOf, oneOf, allOf, not
    (
        "anyOf ok",
        {"x-kubernetes-int-or-string": True, "anyOf": [{"type": "integer"}, {"type": "string"}]},
        "x",
        [],
    ),
    (
        "anyOf none",
        {"type": "string", "anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
        "host",
        [
            ("<nil>", INVALID, 'Invalid value: "": "spec.f" must validate at least one schema (anyOf)'),
            ("spec.f", TYPE, 'Invalid value: "host": spec.f in body must be of type ipv4: "host"'),
        ],
    ),
    (
        "oneOf none",
        {
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
        },
        {},
        [
            (
                "<nil>",
                INVALID,
                'Invalid value: "": "spec.f" must validate one and only one schema (oneOf). Found none valid',
            ),
            ("spec.f.a", REQUIRED, "Required value"),
        ],
    ),
    (
        "oneOf two",
        {
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}],
        },
        {"a": "1", "b": "2"},
        [
            (
                "<nil>",
                INVALID,
                'Invalid value: "": "spec.f" must validate one and only one schema (oneOf). '
                "Found 2 valid alternatives",
            )
        ],
    ),
    (
        "oneOf exactly one",
        {"type": "object", "oneOf": [{"required": ["a"]}, {"required": ["b"]}]},
        {"b": 1},
        [],
    ),
    (
        "allOf",
        {"type": "string", "allOf": [{"minLength": 2}, {"maxLength": 3}]},
        "abcd",
        [
            ("spec.f", "FieldValueTooLong", "Too long: may not be longer than 3"),
            ("<nil>", INVALID, 'Invalid value: "": "spec.f" must validate all the schemas (allOf)'),
        ],
    ),
    (
        "not",
        {"type": "string", "not": {"enum": ["forbidden"]}},
        "forbidden",
        [("<nil>", INVALID, 'Invalid value: "": "spec.f" must not validate the schema (not)')],
    ),
    # x-kubernetes-list-type
    (
        "list set duplicates: the second occurrence of each",
        {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        ["a", "b", "a", "a", "b"],
        [
            ("spec.f[2]", "FieldValueDuplicate", 'Duplicate value: "a"'),
            ("spec.f[4]", "FieldValueDuplicate", 'Duplicate value: "b"'),
        ],
    ),
    (
        "list set tells 1 from true",
        {
            "type": "array",
            "x-kubernetes-list-type": "set",
            "items": {"x-kubernetes-preserve-unknown-fields": True},
        },
        [1, True, 1.5],
        [],
    ),
    (
        "list map duplicate keys",
        {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name", "protocol"],
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "protocol": {"type": "string"},
                    "port": {"type": "integer"},
                },
            },
        },
        [
            {"name": "http", "protocol": "TCP", "port": 80},
            {"name": "http", "protocol": "UDP", "port": 80},
            {"name": "http", "protocol": "TCP", "port": 8080},
        ],
        [
            (
                "spec.f[2]",
                "FieldValueDuplicate",
                'Duplicate value: map[string]interface {}{"name":"http", "protocol":"TCP"}',
            )
        ],
    ),
]


@pytest.mark.parametrize(
    ("field_schema", "value", "errors"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_validate(field_schema: dict[str, Any], value: Any, errors: list[tuple[str, str, str]]) -> None:
    assert check(field_schema, value) == errors


def test_missing_required_root_field_and_root_type() -> None:
    root = {"type": "object", "required": ["spec"], "properties": {"spec": {"type": "object"}}}
    assert [(e.path, e.type, e.message) for e in schema.validate({"metadata": {}}, root)] == [
        ("spec", REQUIRED, "Required value")
    ]
    assert [(e.path, e.type, e.message) for e in schema.validate([], root)] == [
        ("<nil>", TYPE, 'Invalid value: "array":  in body must be of type object: "array"')
    ]


def test_list_map_keys_in_map_values_use_field_paths() -> None:
    root = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "groups": {
                        "type": "object",
                        "additionalProperties": {
                            "type": "array",
                            "x-kubernetes-list-type": "set",
                            "items": {"type": "string"},
                        },
                    }
                },
            }
        },
    }
    errors = schema.validate({"spec": {"groups": {"admins": ["a", "a"]}}}, root)
    assert [(e.path, e.message) for e in errors] == [("spec.groups[admins][1]", 'Duplicate value: "a"')]


RATCHET_ROOT: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": 3},
                "other": {"type": "string"},
                "labels": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 2}},
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["name"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "name": {"type": "string"},
                            "port": {"type": "integer", "maximum": 100},
                        },
                    },
                },
                "tags": {"type": "array", "items": {"type": "string", "maxLength": 2}},
            },
        }
    },
}
LEGACY = {
    "spec": {
        "name": "too-long",
        "labels": {"a": "long"},
        "ports": [{"name": "http", "port": 8080}],
        "tags": ["long"],
    }
}


@pytest.mark.parametrize(
    ("change", "paths"),
    [
        ("nothing", []),
        ("other field", []),
        ("the bad field", ["spec.name"]),
        ("a new bad map value", ["spec.labels.b"]),
        ("a new list-map item", ["spec.ports[1].port"]),
        ("a tag", ["spec.tags[0]", "spec.tags[1]"]),
    ],
)
def test_ratcheting_reports_only_what_changed(change: str, paths: list[str]) -> None:
    import copy

    new = copy.deepcopy(LEGACY)
    spec = new["spec"]
    if change == "other field":
        spec["other"] = "x"
    elif change == "the bad field":
        spec["name"] = "longer"
    elif change == "a new bad map value":
        spec["labels"]["b"] = "long"
    elif change == "a new list-map item":
        spec["ports"].append({"name": "https", "port": 8443})
    elif change == "a tag":
        spec["tags"].append("xyz")
    assert [e.path for e in schema.validate(new, RATCHET_ROOT, old=LEGACY)] == paths
    assert len(schema.validate(new, RATCHET_ROOT)) >= 4  # without old, everything is checked
