"""Html::getId, checked against a table of tricky ids worked out from Drupal core's PHP source."""

from __future__ import annotations

import pytest

from orchestration_operator.testing.drupal import htmlid


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("my_webhook", "my-webhook"),
        ("My_Hook 1", "my-hook-1"),
        ("a_b", "a-b"),
        ("a-b", "a-b"),
        ("A__B", "a-b"),
        ("a - b", "a-b"),
        ("a--b", "a-b"),
        ("x[y]", "x-y"),
        ("x[0][1]", "x-0-1"),
        ("]x[", "x-"),
        ("-lead-", "-lead-"),
        ("__init__", "-init-"),
        ("  ", "-"),
        ("UPPER", "upper"),
        ("123", "123"),
        ("a.b:c/d", "abcd"),
        ("tab\there\nline", "tabhereline"),
        ("café", "caf"),
        ("naïve hook", "nave-hook"),
        ("日本語", ""),
        ("Ω_x", "-x"),
        ("\u212a", "k"),  # KELVIN SIGN lower-cases to ASCII k before the filter
        ("\u0130stanbul", "istanbul"),  # İ -> i + combining dot, and the dot is dropped
        ("emoji 🎉 hook", "emoji-hook"),
        ("", ""),
    ],
)
def test_get_id(raw: str, key: str) -> None:
    assert htmlid.get_id(raw) == key


@pytest.mark.parametrize(
    ("value", "expected"),
    [("x", "x"), (5, "5"), (True, "1"), (False, ""), (1.5, "1.5"), (2.0, "2"), (None, None), ([1], None)],
)
def test_php_string(value: object, expected: str | None) -> None:
    assert htmlid.php_string(value) == expected
