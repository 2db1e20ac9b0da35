"""JSON the way PHP reads and writes it, so the emulator's bytes look like Drupal's.

- ``decode``: ``json_decode($request->getContent())``: an empty, invalid or form-encoded body gives
  ``None`` (PHP's ``null``), never an error; ``NaN``/``Infinity`` are invalid in PHP too.
- ``encode``: Symfony's ``JsonResponse`` (``JSON_HEX_TAG | JSON_HEX_APOS | JSON_HEX_AMP |
  JSON_HEX_QUOT``, slashes escaped as ``\\/``, non-ASCII as ``\\uXXXX``, floats as PHP prints them).
  ``hex_escapes=False`` gives plain ``json_encode`` (what Guzzle sends for a webhook dispatch).
- ``as_php_arrays``: the effect of ``json_decode(..., TRUE)`` followed by ``json_encode``: objects
  become PHP arrays, so ``{}`` comes back as ``[]`` and ``{"0": a, "1": b}`` as ``[a, b]``.
"""

from __future__ import annotations

import json
import math
from typing import Any

_HEX_ESCAPES = {"<": "\\u003C", ">": "\\u003E", "'": "\\u0027", "&": "\\u0026", '"': "\\u0022"}
_BASIC_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "/": "\\/",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def decode(raw: bytes) -> Any:
    """Decode a request body as PHP's ``json_decode`` does; anything invalid is ``None``."""
    try:
        text = raw.decode("utf-8")
        return json.loads(text, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None


def _encode_string(text: str, *, hex_escapes: bool) -> str:
    out = ['"']
    for char in text:
        if hex_escapes and char in _HEX_ESCAPES:
            out.append(_HEX_ESCAPES[char])
        elif char in _BASIC_ESCAPES:
            out.append(_BASIC_ESCAPES[char])
        elif " " <= char <= "\x7f":  # PHP escapes only control characters below 0x20
            out.append(char)
        else:
            code = ord(char)
            if code > 0xFFFF:  # UTF-16 surrogate pair, as PHP writes astral characters
                code -= 0x10000
                out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
            else:
                out.append(f"\\u{code:04x}")
    out.append('"')
    return "".join(out)


def _encode_float(value: float) -> str:
    if not math.isfinite(value):
        raise ValueError("PHP cannot JSON-encode NaN or infinity")
    text = repr(value)  # shortest round-trip form, like PHP's serialize_precision = -1
    mantissa, _, exponent = text.partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if not exponent:
        return mantissa
    sign = "-" if exponent.startswith("-") else "+"
    return f"{mantissa}e{sign}{exponent.lstrip('+-').lstrip('0') or '0'}"


def _encode(value: Any, *, hex_escapes: bool, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int):
        out.append(str(value))
    elif isinstance(value, float):
        out.append(_encode_float(value))
    elif isinstance(value, str):
        out.append(_encode_string(value, hex_escapes=hex_escapes))
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, hex_escapes=hex_escapes, out=out)
        out.append("]")
    elif isinstance(value, dict):
        out.append("{")
        for index, (key, item) in enumerate(value.items()):
            if index:
                out.append(",")
            out.append(_encode_string(str(key), hex_escapes=hex_escapes))
            out.append(":")
            _encode(item, hex_escapes=hex_escapes, out=out)
        out.append("}")
    else:
        raise TypeError(f"cannot JSON-encode {type(value).__name__}")


def encode(value: Any, *, hex_escapes: bool = True) -> bytes:
    """Encode ``value`` as Drupal's ``JsonResponse`` would (``hex_escapes=False``: plain ``json_encode``)."""
    out: list[str] = []
    _encode(value, hex_escapes=hex_escapes, out=out)
    return "".join(out).encode("ascii")


def as_php_arrays(value: Any) -> Any:
    """Round-trip ``value`` through PHP associative arrays (``json_decode($json, TRUE)``)."""
    if isinstance(value, list):
        return [as_php_arrays(item) for item in value]
    if isinstance(value, dict):
        converted = {key: as_php_arrays(item) for key, item in value.items()}
        if list(converted) == [str(index) for index in range(len(converted))]:
            return list(converted.values())  # sequential keys 0..n-1 (or none): a PHP list
        return converted
    return value
