"""PHP's json_decode / Symfony JsonResponse encoding, as the emulator reproduces them."""

from __future__ import annotations

from typing import Any

import pytest

from orchestration_operator.testing.drupal import phpjson


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (None, "null"),
        (True, "true"),
        (0, "0"),
        (-17, "-17"),
        (1.0, "1.0"),
        (0.1, "0.1"),
        (1e25, "1.0e+25"),
        (1.5e-7, "1.5e-7"),
        ("undefined", '"undefined"'),
        ("https://x/y", '"https:\\/\\/x\\/y"'),
        ("<a href='x'>&\"", '"\\u003Ca href=\\u0027x\\u0027\\u003E\\u0026\\u0022"'),
        ("é", '"\\u00e9"'),
        ("🎉", '"\\ud83c\\udf89"'),
        ("a\\b\n\t\x01\x7f", '"a\\\\b\\n\\t\\u0001\x7f"'),
        ([], "[]"),
        ({}, "{}"),
        ({"a": [1, {"b": None}]}, '{"a":[1,{"b":null}]}'),
    ],
)
def test_encode_like_json_response(value: Any, encoded: str) -> None:
    assert phpjson.encode(value) == encoded.encode()


def test_encode_without_hex_flags_is_plain_json_encode() -> None:
    assert phpjson.encode({"u": "<a>/'&\""}, hex_escapes=False) == b'{"u":"<a>\\/\'&\\""}'


@pytest.mark.parametrize("value", [float("nan"), float("inf"), object()])
def test_encode_refuses_what_php_cannot_encode(value: Any) -> None:
    with pytest.raises((TypeError, ValueError)):
        phpjson.encode(value)


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        (b'{"id": "x"}', {"id": "x"}),
        (b'"text"', "text"),
        (b"", None),
        (b"id=eca%3A%3Ax&config=1", None),  # form-encoded: null, like PHP
        (b"{bad json", None),
        (b"NaN", None),
        (b'{"a": Infinity}', None),
        (b"\xff\xfe", None),
    ],
)
def test_decode_like_json_decode(raw: bytes, decoded: Any) -> None:
    assert phpjson.decode(raw) == decoded


@pytest.mark.parametrize(
    ("value", "converted"),
    [
        ({}, []),
        ({"0": "a", "1": "b"}, ["a", "b"]),
        ({"1": "a"}, {"1": "a"}),
        ({"x": {}, "y": [{}]}, {"x": [], "y": [[]]}),
        ("s", "s"),
    ],
)
def test_as_php_arrays(value: Any, converted: Any) -> None:
    assert phpjson.as_php_arrays(value) == converted
