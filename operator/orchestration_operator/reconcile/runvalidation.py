"""Checks of a ServiceRun's merged config against the service's catalog entry, before any execute call.

The Orchestration module validates nothing (a missing key reaches the service as absent, a wrong type is
passed through), so this is the only check there is. Pure functions over ``client.Service`` and
:class:`runconfig.Config`; :mod:`servicerun` turns the findings into ``ServiceNotFound`` /
``ValidationFailed`` conditions.

Types are Drupal typed-data names with no fixed list. Known ones are checked as leniently as Drupal's
own casting is (PHP turns ``"42"`` into 42 and back; ``boolean`` takes 0/1 and ``"true"``); unknown types
(``entity:node``, a contrib type) accept any value. Booleans are refused where text or numbers are
expected: YAML turns an unquoted ``yes`` or ``on`` into ``true``, which is almost never what was meant.

Every message names the config key and says what to change. A value that came from a Secret is never
shown.
"""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final

from orchestration_operator import client
from orchestration_operator.reconcile import runconfig

_INTEGER = re.compile(r"^[+-]?[0-9]+$")
_SHOWN_CHARS: Final = 60
_LISTED_OPTIONS: Final = 12

_TEXT_TYPES: Final = frozenset({"string", "text", "email", "uri", "uuid", "language_reference"})
_INTEGER_TYPES: Final = frozenset({"integer", "timestamp"})
_NUMBER_TYPES: Final = frozenset({"float", "decimal"})


@dataclasses.dataclass(frozen=True)
class Findings:
    """What the catalog says about a config: ``problems`` refuse it; ``unknown`` keys depend on policy."""

    problems: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    unknown_message: str = ""


def missing_service(service_id: str, known: Iterable[str], *, connection: str) -> str:
    """The message for a service id the catalog does not list, with the closest ids as a hint."""
    ids = sorted(known)
    message = (
        f'service "{service_id}" is not in the catalog of connection "{connection}" ({len(ids)} services)'
    )
    close = difflib.get_close_matches(service_id, ids, n=3, cutoff=0.6)
    message += ("; did you mean " + " or ".join(f'"{c}"' for c in close) + "?") if close else "."
    return (
        message + " Check spec.serviceId against the connection's status.services and create a new "
        "ServiceRun (the spec is immutable). Execute was not called."
    )


def check(service: client.Service, config: runconfig.Config) -> Findings:
    """Every problem of ``config`` against ``service``'s catalog entry, in catalog order."""
    items = {item.key: item for item in service.config}
    problems: list[str] = []
    for item in service.config:
        if item.key not in config.values or config.values[item.key] is None:
            if item.required:
                problems.append(f'config key "{item.key}" is required{_describe(item)} but not set')
            continue
        origin = config.origins.get(item.key, runconfig.SPEC)
        problem = _check_value(item, config.values[item.key], origin)
        if problem is not None:
            problems.append(problem)
    unknown = tuple(sorted(key for key in config.values if key not in items))
    unknown_message = ""
    if unknown:
        unknown_message = "; ".join(_unknown(key, items) for key in unknown)
    return Findings(problems=tuple(problems), unknown=unknown, unknown_message=unknown_message)


def _describe(item: client.ConfigItem) -> str:
    label = item.label.strip()
    description = item.description.strip()
    if label and description:
        return f" ({label}: {_cut(description)})"
    if label or description:
        return f" ({label or _cut(description)})"
    return ""


def _unknown(key: str, items: Mapping[str, client.ConfigItem]) -> str:
    if not items:
        return f'config key "{key}" is not declared: the service takes no config'
    close = difflib.get_close_matches(key, list(items), n=1, cutoff=0.6)
    hint = f'; did you mean "{close[0]}"?' if close else f" (declared: {', '.join(sorted(items))})"
    return f'config key "{key}" is not declared by the service{hint}'


def _check_value(item: client.ConfigItem, value: Any, origin: runconfig.Origin) -> str | None:
    values = value if isinstance(value, list) else [value]
    if item.options:
        allowed = [option.key for option in item.options]
        wrong = [v for v in values if not any(_same(v, key) for key in allowed)]
        if wrong:
            return (
                f'config key "{item.key}": {_show(wrong[0], origin)} is not one of the options '
                f"{_options(item)}{_from(origin)}"
            )
        return None
    type_name = item.type.strip() or "string"
    for single in values:
        expected = _type_problem(type_name, single)
        if expected is not None:
            return (
                f'config key "{item.key}" must be {expected} (catalog type "{type_name}"), not '
                f"{_show(single, origin)}{_from(origin)}"
            )
    return None


def _type_problem(type_name: str, value: Any) -> str | None:
    """What ``value`` should have been for ``type_name``, or None when it fits."""
    if type_name in _TEXT_TYPES:
        ok = isinstance(value, str) or _is_number(value)
        return None if ok else "text (quote it in YAML)"
    if type_name == "boolean":
        ok = (
            isinstance(value, bool)
            or (_is_number(value) and value in (0, 1))
            or (isinstance(value, str) and value.strip().lower() in ("0", "1", "true", "false"))
        )
        return None if ok else "a boolean (true or false)"
    if type_name in _INTEGER_TYPES:
        ok = (
            (isinstance(value, int) and not isinstance(value, bool))
            or (isinstance(value, float) and value.is_integer())
            or (isinstance(value, str) and bool(_INTEGER.match(value.strip())))
        )
        return None if ok else "an integer"
    if type_name in _NUMBER_TYPES:
        return None if _is_number(value) or _numeric_text(value) else "a number"
    if type_name == "datetime_iso8601":
        return None if _iso_datetime(value) else "an ISO 8601 date or date-time such as 2025-05-01T12:00:00Z"
    if type_name == "map":
        return None if isinstance(value, dict) else "an object"
    return None  # entity:node, any, contrib types: Drupal decides


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and math.isfinite(value))


def _numeric_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return math.isfinite(float(value))
    except ValueError:
        return False


def _iso_datetime(value: Any) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    text = value.strip()
    try:
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _canonical(value: Any) -> Any:
    """PHP compares option keys loosely: "1" == 1 == 1.0. Booleans stay booleans."""
    if isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return value
    return None  # objects and lists never equal a key


def _same(value: Any, key: Any) -> bool:
    left, right = _canonical(value), _canonical(key)
    if left is None or right is None:
        return False
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return bool(left == right)


def _options(item: client.ConfigItem) -> str:
    shown = []
    for option in item.options[:_LISTED_OPTIONS]:
        key = str(option.key)
        name = option.name.strip()
        shown.append(f"{key} ({_cut(name, 40)})" if name and name != key else key)
    more = len(item.options) - _LISTED_OPTIONS
    return ", ".join(shown) + (f", and {more} more" if more > 0 else "")


def _show(value: Any, origin: runconfig.Origin) -> str:
    if origin.secret:
        return "the value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(_cut(value))
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return _cut(str(value))


def _from(origin: runconfig.Origin) -> str:
    return "" if origin.kind == "spec" else f" (from {origin.describe()})"


def _cut(text: str, limit: int = _SHOWN_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
