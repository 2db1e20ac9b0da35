"""Field errors word themselves like kube-apiserver's field.Error.ErrorBody, Go value printing included."""

from __future__ import annotations

from typing import Any

import pytest

from orchestration_operator.testing.kube import fielderrors


@pytest.mark.parametrize(
    ("error", "path", "reason", "message"),
    [
        (fielderrors.required("spec.x"), "spec.x", "FieldValueRequired", "Required value"),
        (
            fielderrors.required("spec", "must set x"),
            "spec",
            "FieldValueRequired",
            "Required value: must set x",
        ),
        (fielderrors.forbidden("spec.x", "no"), "spec.x", "FieldValueForbidden", "Forbidden: no"),
        (
            fielderrors.invalid("spec.x", "object", "failed rule: self.a"),
            "spec.x",
            "FieldValueInvalid",
            'Invalid value: "object": failed rule: self.a',
        ),
        (fielderrors.invalid("a", 11, "too big"), "a", "FieldValueInvalid", "Invalid value: 11: too big"),
        (fielderrors.invalid("a", None, "gone"), "a", "FieldValueInvalid", "Invalid value: null: gone"),
        (fielderrors.invalid("a", True, "yes"), "a", "FieldValueInvalid", "Invalid value: true: yes"),
        (
            fielderrors.type_invalid("a", "integer", "a in body must be of type string"),
            "a",
            "FieldValueTypeInvalid",
            'Invalid value: "integer": a in body must be of type string',
        ),
        (
            fielderrors.not_supported("a", "x", ["a", "b"]),
            "a",
            "FieldValueNotSupported",
            'Unsupported value: "x": supported values: "a", "b"',
        ),
        (
            fielderrors.too_long("a", "abcd", 3),
            "a",
            "FieldValueTooLong",
            "Too long: may not be longer than 3",
        ),
        (fielderrors.too_many("a", 4, 3), "a", "FieldValueTooMany", "Too many: 4: must have at most 3 items"),
        (fielderrors.duplicate("a[1]", "x"), "a[1]", "FieldValueDuplicate", 'Duplicate value: "x"'),
        (
            fielderrors.duplicate("a[1]", {"name": "x", "port": 80}),
            "a[1]",
            "FieldValueDuplicate",
            'Duplicate value: map[string]interface {}{"name":"x", "port":80}',
        ),
        (fielderrors.invalid("a", fielderrors.OMIT, "bad"), "a", "FieldValueInvalid", "Invalid value: bad"),
    ],
)
def test_error_body(error: fielderrors.FieldError, path: str, reason: str, message: str) -> None:
    assert (error.path, error.type, error.message) == (path, reason, message)
    assert str(error) == f"{path}: {message}"


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        (1.0, "1"),
        (1.5, "1.5"),
        (-3.25, "-3.25"),
        (100000.0, "100000"),
        (1e6, "1e+06"),
        (1234567.0, "1.234567e+06"),
        (0.0001, "0.0001"),
        (0.00001, "1e-05"),
        (2.5e-7, "2.5e-07"),
        (0.0, "0"),
        (float("inf"), "+Inf"),
    ],
)
def test_floats_print_like_go(value: float, printed: str) -> None:
    assert fielderrors.go_float(value) == printed


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        ('a"b\\c\n\t', '"a\\"b\\\\c\\n\\t"'),
        ("héllo ✓", '"héllo ✓"'),
        ("\x07\x0b", '"\\a\\v"'),
        (["a", 1], '[]interface {}{"a", 1}'),
        ({}, "map[string]interface {}{}"),
    ],
)
def test_values_print_like_go(value: Any, printed: str) -> None:
    assert fielderrors.go_value(value) == printed
