"""Field errors as kube-apiserver words them: the causes of a 422 ``Invalid`` Status.

The schema checks (:mod:`.schema`) and the CEL rules (:mod:`.cel`) report :class:`FieldError` values; the
sandbox server turns a list of them into ``status.details.causes`` (``reason`` = :attr:`FieldError.type`,
``message`` = :attr:`FieldError.message`, ``field`` = :attr:`FieldError.path`) and into the Status message
``<Kind>.<group> "<name>" is invalid: [<path>: <message>, ...]``.

The constructors mirror ``k8s.io/apimachinery/pkg/util/validation/field`` (``field.Invalid``,
``field.Required``, ...) and :func:`error_body` mirrors ``field.Error.ErrorBody``, including Go's way of
printing the bad value (``%q`` for strings, ``%v`` for numbers, ``null`` for nil), so that messages read
exactly like a real cluster's.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Final

REQUIRED: Final = "FieldValueRequired"
INVALID: Final = "FieldValueInvalid"
NOT_SUPPORTED: Final = "FieldValueNotSupported"
TYPE_INVALID: Final = "FieldValueTypeInvalid"
FORBIDDEN: Final = "FieldValueForbidden"
TOO_LONG: Final = "FieldValueTooLong"
TOO_MANY: Final = "FieldValueTooMany"
DUPLICATE: Final = "FieldValueDuplicate"

# The words field.ErrorType.String() gives each type.
_TYPE_WORDS: Final = {
    REQUIRED: "Required value",
    INVALID: "Invalid value",
    NOT_SUPPORTED: "Unsupported value",
    TYPE_INVALID: "Invalid value",
    FORBIDDEN: "Forbidden",
    TOO_LONG: "Too long",
    TOO_MANY: "Too many",
    DUPLICATE: "Duplicate value",
}

# Types whose message never shows the bad value.
_VALUELESS: Final = frozenset({REQUIRED, FORBIDDEN, TOO_LONG})

# The path Go prints for a nil *field.Path: errors on the object root carry it (a real cluster says
# `<nil>: Invalid value: "object": ...` for a failed rule on the root schema).
ROOT_PATH: Final = "<nil>"


class _Omit:
    """Go's ``field.OmitValueType``: the message shows no value at all."""

    def __repr__(self) -> str:
        return "OMIT"


OMIT: Final = _Omit()


@dataclasses.dataclass(frozen=True)
class FieldError:
    """One cause of an ``Invalid`` response: where, which Kubernetes cause type, and the exact words."""

    path: str
    type: str
    message: str
    value: Any = None

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def error_body(error_type: str, value: Any, detail: str) -> str:
    """The message of a field error without its path, worded as ``field.Error.ErrorBody`` words it."""
    words = _TYPE_WORDS[error_type]
    body = words if error_type in _VALUELESS or value is OMIT else f"{words}: {go_value(value)}"
    return f"{body}: {detail}" if detail else body


def make(path: str, error_type: str, value: Any, detail: str) -> FieldError:
    return FieldError(path=path, type=error_type, message=error_body(error_type, value, detail), value=value)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return make(path, INVALID, value, detail)


def type_invalid(path: str, value: Any, detail: str) -> FieldError:
    return make(path, TYPE_INVALID, value, detail)


def required(path: str, detail: str = "") -> FieldError:
    return make(path, REQUIRED, "", detail)


def forbidden(path: str, detail: str) -> FieldError:
    return make(path, FORBIDDEN, "", detail)


def duplicate(path: str, value: Any) -> FieldError:
    return make(path, DUPLICATE, value, "")


def not_supported(path: str, value: Any, supported: list[str]) -> FieldError:
    detail = "supported values: " + ", ".join(go_quote(v) for v in supported) if supported else ""
    return make(path, NOT_SUPPORTED, value, detail)


def too_long(path: str, value: Any, max_length: int) -> FieldError:
    # field.TooLongMaxLength, which the apiserver uses for a CRD's maxLength.
    detail = f"may not be longer than {max_length}" if max_length >= 0 else "value is too long"
    return make(path, TOO_LONG, value, detail)


def too_many(path: str, actual: int, max_items: int) -> FieldError:
    detail = f"must have at most {max_items} items" if max_items >= 0 else "has too many items"
    return make(path, TOO_MANY, actual if actual >= 0 else OMIT, detail)


# --- Go formatting ---------------------------------------------------------------------------------


def go_value(value: Any) -> str:
    """How ``ErrorBody`` prints a bad value: ``%v`` for scalars, ``%q`` for strings, ``%#v`` otherwise."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return go_float(value)
    if isinstance(value, str):
        return go_quote(value)
    return go_sharp_v(value)


def go_sharp_v(value: Any) -> str:
    """Go's ``%#v`` of an unstructured value (``map[string]interface {}{"name":"a"}``)."""
    if isinstance(value, dict):
        inner = ", ".join(f"{go_quote(k)}:{go_sharp_v(v)}" for k, v in sorted(value.items()))
        return "map[string]interface {}{" + inner + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(go_sharp_v(v) for v in value) + "}"
    if value is None:
        return "interface {}(nil)"
    return go_value(value)


def go_quote(text: str) -> str:
    """Go's ``strconv.Quote`` for the strings found in API objects (JSON escaping is close enough)."""
    quoted = json.dumps(text, ensure_ascii=False)
    # Go keeps printable Unicode as is, like ensure_ascii=False, but escapes these the C way.
    return quoted.replace("\\u0007", "\\a").replace("\\u000b", "\\v").replace("\\u007f", "\\x7f")


def go_float(number: float) -> str:
    """Go's ``%v`` of a float64 (``%g``, shortest digits): exponent form below 1e-4 and from 1e6."""
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "+Inf" if number > 0 else "-Inf"
    if number == 0:
        return "0" if math.copysign(1.0, number) > 0 else "-0"
    digits = repr(number)
    mantissa, _, exp_text = digits.partition("e")
    exponent = int(exp_text) if exp_text else 0
    sign = "-" if mantissa.startswith("-") else ""
    mantissa = mantissa.lstrip("-")
    whole, _, frac = mantissa.partition(".")
    frac = "" if frac == "0" else frac
    all_digits = (whole + frac).lstrip("0")
    # Where the decimal point sits relative to the first significant digit.
    point = len(whole) + exponent if whole != "0" else exponent - (len(frac) - len(frac.lstrip("0")))
    all_digits = all_digits.rstrip("0") or "0"
    exp10 = point - 1
    if exp10 < -4 or exp10 >= 6:
        rest = all_digits[1:]
        mant = all_digits[0] + ("." + rest if rest else "")
        return f"{sign}{mant}e{'+' if exp10 >= 0 else '-'}{abs(exp10):02d}"
    if point <= 0:
        return f"{sign}0.{'0' * -point}{all_digits}"
    if point >= len(all_digits):
        return f"{sign}{all_digits}{'0' * (point - len(all_digits))}"
    return f"{sign}{all_digits[:point]}.{all_digits[point:]}"
