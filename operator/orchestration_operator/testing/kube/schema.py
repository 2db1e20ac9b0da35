"""CRD structural-schema semantics as kube-apiserver applies them: pruning, defaulting and validation.

The sandbox server (:mod:`.server`) runs these on every write of a custom resource, in the apiserver's
order: :func:`prune` (unknown fields dropped, their paths kept for ``fieldValidation=Strict|Warn``),
:func:`apply_defaults`, then :func:`validate` (OpenAPI v3 keywords and ``x-kubernetes-list-type``
uniqueness) and :func:`.cel.validate_rules` (``x-kubernetes-validations``). Schemas are plain dicts: a
version's ``schema.openAPIV3Schema`` as the CRD carries it.

Faithfulness notes, each taken from the apiserver's code (apiextensions-apiserver ``pruning``,
``defaulting``, ``listtype`` and kube-openapi ``validate``):

- Paths: pruning and OpenAPI errors use kube-openapi's names (``spec.items[0].name``, map values as
  ``spec.labels.key``); list-type errors use ``field.Path`` (``spec.labels[key]``). Errors about the object
  root, and the composite ``anyOf``/``oneOf``/``allOf``/``not`` errors, carry Go's nil path ``<nil>``.
- Messages are ``field.Error.ErrorBody`` of what the apiserver builds, e.g. ``Invalid value: "integer":
  spec.replicas in body must be of type string: "integer"`` or ``Unsupported value: "x": supported
  values: "a", "b"``.
- Only the first failing string keyword (maxLength, minLength, pattern) is reported, and minProperties /
  maxProperties stop the other object checks, as in kube-openapi.
- Ratcheting (``CRDValidationRatcheting``, on by default since 1.30): given ``old``, :func:`validate`
  reports nothing for a value that equals its correlated old value (same property, same map key, or same
  keys in an ``x-kubernetes-list-type: map`` list).
"""

from __future__ import annotations

import functools
import json
import math
import re
import warnings
from collections.abc import Callable
from typing import Any, Final

from orchestration_operator.testing.kube import fielderrors, formats

FieldError = fielderrors.FieldError

PRESERVE_UNKNOWN: Final = "x-kubernetes-preserve-unknown-fields"
EMBEDDED: Final = "x-kubernetes-embedded-resource"
INT_OR_STRING: Final = "x-kubernetes-int-or-string"
LIST_TYPE: Final = "x-kubernetes-list-type"
LIST_MAP_KEYS: Final = "x-kubernetes-list-map-keys"

_META_FIELDS: Final = frozenset({"apiVersion", "kind", "metadata"})
# metav1.ObjectMeta's JSON fields: anything else under `metadata` is an unknown field.
_OBJECT_META_FIELDS: Final = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "selfLink",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_IN: Final = "body"  # kube-openapi's "in" for a request body, part of every message
_MAX_JSON_INT: Final = 2.0**53


# --- pruning ---------------------------------------------------------------------------------------


def prune(obj: dict[str, Any], schema: dict[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
    """Drop the fields the schema does not know; returns the pruned copy and the sorted unknown paths.

    The root is treated as an embedded resource (``apiVersion``, ``kind`` and ``metadata`` are kept), and
    unknown keys directly under a ``metadata`` are dropped and reported as ``metadata.<key>``, as the
    apiserver's ObjectMeta decoding does. ``x-kubernetes-preserve-unknown-fields`` keeps unknown fields but
    still prunes inside the properties it declares.
    """
    root = dict(schema or {})
    root[EMBEDDED] = True
    unknown: list[str] = []
    pruned = _prune(obj, root, "", unknown)
    unknown.sort()
    return pruned, unknown


def _key_path(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _additional(schema: dict[str, Any]) -> dict[str, Any] | bool | None:
    """additionalProperties: a schema, True (keep anything), or None (no unknown keys allowed)."""
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        return additional
    return True if additional is True else None


def _prune(value: Any, schema: dict[str, Any] | None, path: str, unknown: list[str]) -> Any:
    if schema is not None and schema.get(PRESERVE_UNKNOWN):
        return _skip_prune(value, schema, path, unknown)
    if isinstance(value, dict):
        if schema is None:
            unknown.extend(_key_path(path, key) for key in value)
            return {}
        embedded = schema.get(EMBEDDED, False)
        properties = schema.get("properties") or {}
        additional = _additional(schema)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if embedded and key in _META_FIELDS:
                out[key] = _prune_meta(key, item, path, unknown)
            elif key in properties:
                out[key] = _prune(item, properties[key], _key_path(path, key), unknown)
            elif additional is True:
                out[key] = copy_json(item)
            elif isinstance(additional, dict):
                out[key] = _prune(item, additional, _key_path(path, key), unknown)
            elif key not in _META_FIELDS or path:
                unknown.append(_key_path(path, key))
        return out
    if isinstance(value, list):
        items = schema.get("items") if schema is not None else None
        return [_prune(item, items, f"{path}[{i}]", unknown) for i, item in enumerate(value)]
    return value


def _skip_prune(value: Any, schema: dict[str, Any] | None, path: str, unknown: list[str]) -> Any:
    """Under preserve-unknown-fields: keep unknown fields, prune what declared properties say."""
    if schema is None:
        return copy_json(value)
    if isinstance(value, dict):
        embedded = schema.get(EMBEDDED, False)
        properties = schema.get("properties") or {}
        additional = _additional(schema)
        out: dict[str, Any] = {}
        for key, item in value.items():
            if embedded and key in _META_FIELDS:
                out[key] = _prune_meta(key, item, path, unknown)
            elif key in properties:
                out[key] = _prune(item, properties[key], _key_path(path, key), unknown)
            elif isinstance(additional, dict):
                out[key] = _prune(item, additional, _key_path(path, key), unknown)
            else:
                out[key] = copy_json(item)
        return out
    if isinstance(value, list):
        items = schema.get("items")
        return [_skip_prune(item, items, f"{path}[{i}]", unknown) for i, item in enumerate(value)]
    return value


def _prune_meta(key: str, value: Any, path: str, unknown: list[str]) -> Any:
    if key != "metadata" or not isinstance(value, dict):
        return copy_json(value)
    meta_path = _key_path(path, "metadata")
    out: dict[str, Any] = {}
    for field, item in value.items():
        if field in _OBJECT_META_FIELDS:
            out[field] = copy_json(item)
        else:
            unknown.append(f"{meta_path}.{field}")
    return out


def copy_json(value: Any) -> Any:
    """A deep copy of a JSON value (several times faster than ``copy.deepcopy``)."""
    if isinstance(value, dict):
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    return value


# --- defaulting ------------------------------------------------------------------------------------


def apply_defaults(obj: dict[str, Any], schema: dict[str, Any] | None) -> dict[str, Any]:
    """A copy of ``obj`` with the schema's defaults applied, as the apiserver's structural defaulting.

    First nulls are dropped where the schema neither allows them (``nullable``) nor has a default for them;
    then every property with a default that is absent (or a non-nullable null) in an object that exists
    gets a copy of the default, recursively, also inside defaulted values, array items and
    additionalProperties values.
    """
    out: dict[str, Any] = copy_json(obj)
    if schema:
        _prune_nulls(out, schema)
        _default(out, schema)
    return out


def _schema_for_field(key: str, schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    properties = schema.get("properties") or {}
    if key in properties:
        prop: dict[str, Any] = properties[key]
        return prop
    additional = schema.get("additionalProperties")
    return additional if isinstance(additional, dict) else None


def _prune_nulls(value: Any, schema: dict[str, Any] | None) -> None:
    if isinstance(value, dict):
        for key in list(value):
            sub = _schema_for_field(key, schema)
            if (
                value[key] is None
                and sub is not None
                and not sub.get("nullable", False)
                and sub.get("default") is None
            ):
                del value[key]
            else:
                _prune_nulls(value[key], sub)
    elif isinstance(value, list):
        items = schema.get("items") if schema is not None else None
        for item in value:
            _prune_nulls(item, items)


def _non_nullable_null(value: Any, schema: dict[str, Any] | None) -> bool:
    return value is None and schema is not None and not schema.get("nullable", False)


def _default(value: Any, schema: dict[str, Any] | None) -> None:
    if schema is None:
        return
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        for key, prop in properties.items():
            default = prop.get("default")
            if default is None:
                continue
            if key not in value or _non_nullable_null(value[key], prop):
                value[key] = copy_json(default)
        additional = schema.get("additionalProperties")
        for key in list(value):
            if key in properties:
                _default(value[key], properties[key])
            elif isinstance(additional, dict):
                if _non_nullable_null(value[key], additional):
                    value[key] = copy_json(additional.get("default"))
                _default(value[key], additional)
    elif isinstance(value, list):
        items = schema.get("items")
        for i, item in enumerate(value):
            if isinstance(items, dict) and _non_nullable_null(item, items):
                value[i] = copy_json(items.get("default"))
            _default(value[i], items)


# --- validation ------------------------------------------------------------------------------------


def validate(obj: Any, schema: dict[str, Any] | None, *, old: Any = None) -> list[FieldError]:
    """OpenAPI v3 validation of ``obj`` plus list-set/list-map uniqueness; ``old`` enables ratcheting."""
    if not schema:
        return []
    errors: list[FieldError] = []
    _validate_node(schema, obj, "", old, old is not None, errors)
    _list_types_in_object(schema, obj, "", errors)
    return errors


def _error_path(name: str) -> str:
    if name in ("", "."):
        return fielderrors.ROOT_PATH
    return name[1:] if name.startswith(".") else name


def _type_error(name: str, type_name: str, value: str, errors: list[FieldError]) -> None:
    # errors.InvalidType with a string value, turned into field.TypeInvalid by the apiserver.
    message = f"{name} in {_IN} must be of type {type_name}: {fielderrors.go_quote(value)}"
    errors.append(fielderrors.type_invalid(_error_path(name), value, message))


def _invalid(name: str, value: Any, message: str, errors: list[FieldError]) -> None:
    errors.append(fielderrors.invalid(_error_path(name), value, message))


def _composite(message: str, errors: list[FieldError]) -> None:
    # anyOf/oneOf/allOf/not failures are plain errors: the apiserver reports them on the nil root path.
    errors.append(fielderrors.invalid(fielderrors.ROOT_PATH, "", message))


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return ""


def _types(schema: dict[str, Any]) -> list[str]:
    if schema.get(INT_OR_STRING):
        return ["integer", "string"]
    declared = schema.get("type")
    if isinstance(declared, list):
        return [str(t) for t in declared]
    return [declared] if declared else []


def _format(schema: dict[str, Any], types: list[str]) -> str:
    """The schema's format after the apiserver strips the ones it does not support."""
    name = schema.get("format") or ""
    if not name:
        return ""
    single = types[0] if len(types) == 1 else ""
    if single in ("", "string"):
        return str(name) if formats.is_supported(name) else ""
    if single == "integer":
        return str(name) if name in ("int32", "int64") else ""
    if single == "number":
        return str(name) if name in ("float", "double") else ""
    return ""


def _is_json_integer(number: float) -> bool:
    return math.isfinite(number) and abs(number) <= _MAX_JSON_INT and number == math.floor(number)


def same_value(a: Any, b: Any) -> bool:
    """Deep equality that, unlike ``==``, tells ``true`` from ``1`` and ``1`` from ``1.0``."""
    if a != b:
        return False
    return _same_types(a, b)


def _same_types(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return all(_same_types(v, b[k]) for k, v in a.items())
    if isinstance(a, list):
        return all(_same_types(x, y) for x, y in zip(a, b, strict=True))
    return True


def _validate_node(
    schema: dict[str, Any], data: Any, name: str, old: Any, has_old: bool, errors: list[FieldError]
) -> None:
    if has_old and same_value(data, old):
        return  # ratcheted: an unchanged value keeps whatever it was accepted with
    types = _types(schema)
    nullable = bool(schema.get("nullable", False))
    if data is None:
        if types and "null" not in types and not nullable:
            _type_error(name, ",".join(types), "null", errors)
        _check_enum(schema, data, name, errors)
        return
    kind = _kind(data)
    fmt = _format(schema, types)
    _check_type(types, fmt, data, kind, name, errors)
    if "allOf" in schema or "anyOf" in schema or "oneOf" in schema or "not" in schema:
        _check_schema_props(schema, data, name, errors)
    if kind == "string":
        _check_string(schema, data, name, errors)
        if fmt and formats.is_supported(fmt) and not formats.check(fmt, data):
            _type_error(name, fmt, data, errors)
    elif kind in ("integer", "number"):
        _check_number(schema, data, name, errors)
    elif kind == "array":
        _check_array(schema, data, name, old, has_old, errors)
    _check_enum(schema, data, name, errors)
    if kind == "object":
        _check_object(schema, data, name, old, has_old, errors)


def _check_type(
    types: list[str], fmt: str, data: Any, kind: str, name: str, errors: list[FieldError]
) -> None:
    if not types and not fmt:
        return
    data_format = {"integer": "int64", "number": "float64"}.get(kind, "")
    float_int = kind == "number" and "integer" in types and _is_json_integer(data)
    int_float = kind == "integer" and "number" in types
    if (
        kind not in ("string", "array")
        and fmt
        and not (kind in types or data_format == fmt or float_int or int_float)
    ):
        _type_error(name, fmt, data_format, errors)
        return
    if fmt and "number" not in types and "integer" not in types and kind in ("string", "array"):
        return
    if not (kind in types or float_int or int_float):
        _type_error(name, ",".join(types), kind, errors)


def _sub_errors(schema: dict[str, Any], data: Any, name: str) -> list[FieldError]:
    errors: list[FieldError] = []
    _validate_node(schema, data, name, None, False, errors)
    return errors


def _check_schema_props(schema: dict[str, Any], data: Any, name: str, errors: list[FieldError]) -> None:
    quoted = fielderrors.go_quote(name)
    any_of = schema.get("anyOf") or []
    if any_of:
        best: list[FieldError] | None = None
        for sub in any_of:
            result = _sub_errors(sub, data, name)
            if not result:
                best = None
                break
            if best is None or len(result) < len(best):
                best = result
        else:
            _composite(f"{quoted} must validate at least one schema (anyOf)", errors)
        errors.extend(best or [])
    one_of = schema.get("oneOf") or []
    if one_of:
        valid = 0
        best = None
        for sub in one_of:
            result = _sub_errors(sub, data, name)
            if not result:
                valid += 1
                best = None
            elif valid == 0 and (best is None or len(result) < len(best)):
                best = result
        if valid != 1:
            found = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
            _composite(f"{quoted} must validate one and only one schema (oneOf). {found}", errors)
            errors.extend(best or [])
    all_of = schema.get("allOf") or []
    if all_of:
        valid = 0
        for sub in all_of:
            result = _sub_errors(sub, data, name)
            valid += not result
            errors.extend(result)
        if valid != len(all_of):
            none = ". None validated" if valid == 0 else ""
            _composite(f"{quoted} must validate all the schemas (allOf){none}", errors)
    not_schema = schema.get("not")
    if isinstance(not_schema, dict) and not _sub_errors(not_schema, data, name):
        _composite(f"{quoted} must not validate the schema (not)", errors)


def _check_string(schema: dict[str, Any], data: str, name: str, errors: list[FieldError]) -> None:
    max_length = schema.get("maxLength")
    if max_length is not None and len(data) > max_length:
        errors.append(fielderrors.too_long(_error_path(name), data, int(max_length)))
        return
    min_length = schema.get("minLength")
    if min_length is not None and len(data) < min_length:
        _invalid(name, data, f"{name} in {_IN} should be at least {int(min_length)} chars long", errors)
        return
    pattern = schema.get("pattern")
    if pattern:
        matches = _compile_pattern(pattern)
        if matches is None:
            _invalid(name, data, f"{name} in {_IN} should match '{pattern}, but pattern is invalid'", errors)
        elif not matches(data):
            _invalid(name, data, f"{name} in {_IN} should match '{pattern}'", errors)


@functools.lru_cache(maxsize=1024)
def _compile_pattern(pattern: str) -> Callable[[str], bool] | None:
    """A matcher with Go's RE2 semantics: Python's faster ``re`` wherever it reads the pattern the same."""
    try:
        import re2  # type: ignore[import-untyped]  # google-re2, installed with cel-python
    except ImportError:  # pragma: no cover - cel-python always brings it
        re2 = None
    try:
        exact = re2.compile(pattern).search if re2 is not None else None
    except Exception:  # re2.error: not a valid Go regular expression
        return None
    try:
        with warnings.catch_warnings():
            # Python warns (FutureWarning) where it would read a pattern differently in the future, e.g.
            # POSIX classes like [[:alpha:]], which only RE2 reads right.
            warnings.simplefilter("error")
            fast = re.compile(pattern).search
    except (re.error, FutureWarning, DeprecationWarning):
        fast = None
    if fast is None:
        return (lambda text: exact(text) is not None) if exact is not None else None
    if exact is None or "$" not in pattern:
        return lambda text: fast(text) is not None

    def search(text: str) -> bool:
        # Python's $ also matches before a final newline, Go's does not.
        matcher = exact if text.endswith("\n") else fast
        return matcher(text) is not None

    return search


def _check_number(schema: dict[str, Any], data: int | float, name: str, errors: list[FieldError]) -> None:
    is_int = isinstance(data, int)
    multiple_of = schema.get("multipleOf")
    if multiple_of is not None:
        factor = float(multiple_of)
        if factor < 0:
            _invalid(
                name, factor, f"factor MultipleOf declared for {name} must be positive: {factor}", errors
            )
        elif is_int and int(factor) != 0:
            if data % int(factor) != 0:
                _invalid(name, data, f"{name} in {_IN} should be a multiple of {int(factor)}", errors)
        elif factor > 0:
            quotient = (1 / factor * data) if factor < 1 else (data / factor)
            if not _is_json_integer(quotient) and abs(quotient - round(quotient)) > 1e-9 * abs(quotient):
                shown = fielderrors.go_float(factor)
                _invalid(name, data, f"{name} in {_IN} should be a multiple of {shown}", errors)
    for keyword, exclusive_keyword, below in (
        ("minimum", "exclusiveMinimum", True),
        ("maximum", "exclusiveMaximum", False),
    ):
        bound = schema.get(keyword)
        if bound is None:
            continue
        exclusive = bool(schema.get(exclusive_keyword, False))
        # An integer is compared with the bound truncated to an integer, as Go's int64(bound) does.
        limit: int | float = int(bound) if is_int else float(bound)
        if below:
            failed = data <= limit if exclusive else data < limit
            words = "greater than" if exclusive else "greater than or equal to"
        else:
            failed = data >= limit if exclusive else data > limit
            words = "less than" if exclusive else "less than or equal to"
        if failed:
            shown = str(limit) if isinstance(limit, int) else fielderrors.go_float(limit)
            _invalid(name, data, f"{name} in {_IN} should be {words} {shown}", errors)


def _check_array(
    schema: dict[str, Any], data: list[Any], name: str, old: Any, has_old: bool, errors: list[FieldError]
) -> None:
    items = schema.get("items")
    if isinstance(items, dict):
        old_items = _correlate_list(schema, old) if has_old else None
        for i, item in enumerate(data):
            old_item = old_items(item) if old_items is not None else _MISSING
            _validate_node(items, item, f"{name}[{i}]", old_item, old_item is not _MISSING, errors)
    size = len(data)
    min_items = schema.get("minItems")
    if min_items is not None and size < min_items:
        _invalid(name, size, f"{name} in {_IN} should have at least {int(min_items)} items", errors)
    max_items = schema.get("maxItems")
    if max_items is not None and size > max_items:
        errors.append(fielderrors.too_many(_error_path(name), size, int(max_items)))
    if schema.get("uniqueItems"):
        seen: list[Any] = []
        for item in data:
            if any(_json_equal(item, other) for other in seen):
                _invalid(name, "", f"{name} in {_IN} shouldn't contain duplicates", errors)
                break
            seen.append(item)


_MISSING: Final[Any] = object()


def _correlate_list(schema: dict[str, Any], old: Any) -> Any:
    """For a list-map, a lookup of the old item with the same keys; other lists do not correlate."""
    keys = schema.get(LIST_MAP_KEYS)
    if schema.get(LIST_TYPE) != "map" or not keys or not isinstance(old, list):
        return None
    index: dict[str, Any] = {}
    for item in old:
        if isinstance(item, dict):
            index.setdefault(_map_key(item, keys), item)

    def lookup(item: Any) -> Any:
        if not isinstance(item, dict):
            return _MISSING
        return index.get(_map_key(item, keys), _MISSING)

    return lookup


def _map_key(item: dict[str, Any], keys: list[str]) -> str:
    return json.dumps([item.get(k, _MISSING_KEY) for k in keys], sort_keys=True, default=str)


_MISSING_KEY: Final = "\x00missing"


def _json_equal(a: Any, b: Any) -> bool:
    """Equality of JSON values as Go compares decoded ones: numbers by value, booleans only to booleans."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_json_equal(v, b[k]) for k, v in a.items())
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def _go_json(value: Any) -> str:
    """Go's json.Marshal of a decoded value (integral floats without a fraction)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _check_enum(schema: dict[str, Any], data: Any, name: str, errors: list[FieldError]) -> None:
    enum = schema.get("enum")
    if not enum:
        return
    # A null never matches: kube-openapi skips enum values it cannot compare with a nil.
    if data is not None and any(_json_equal(data, allowed) for allowed in enum if allowed is not None):
        return
    supported = [allowed if isinstance(allowed, str) else _go_json(allowed) for allowed in enum]
    errors.append(fielderrors.not_supported(_error_path(name), data, supported))


def _check_object(
    schema: dict[str, Any], data: dict[str, Any], name: str, old: Any, has_old: bool, errors: list[FieldError]
) -> None:
    count = len(data)
    min_properties = schema.get("minProperties")
    if min_properties is not None and count < min_properties:
        message = f"{name} in {_IN} should have at least {int(min_properties)} properties"
        _invalid(name, count, message, errors)
        return
    max_properties = schema.get("maxProperties")
    if max_properties is not None and count > max_properties:
        errors.append(fielderrors.too_many(_error_path(name), count, int(max_properties)))
        return
    properties: dict[str, Any] = schema.get("properties") or {}
    additional = schema.get("additionalProperties")
    old_map = old if has_old and isinstance(old, dict) else None
    if additional is False:
        for key in data:
            if key not in properties:
                _invalid(name, key, f"{name}.{key} in {_IN} is a forbidden property", errors)
    elif isinstance(additional, dict):
        for key, value in data.items():
            if key not in properties:
                old_value = old_map.get(key, _MISSING) if old_map is not None else _MISSING
                _validate_node(
                    additional, value, f"{name}.{key}", old_value, old_value is not _MISSING, errors
                )
    for key, prop in properties.items():
        if key in data:
            old_value = old_map.get(key, _MISSING) if old_map is not None else _MISSING
            child = f"{name}.{key}" if name else key
            _validate_node(prop, data[key], child, old_value, old_value is not _MISSING, errors)
    for key in schema.get("required") or ():
        if key not in data:
            errors.append(fielderrors.required(_error_path(f"{name}.{key}")))


# --- x-kubernetes-list-type uniqueness (paths as field.Path prints them) ------------------------------


def _fp_child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _list_types_in_object(
    schema: dict[str, Any] | None, obj: Any, path: str, errors: list[FieldError]
) -> None:
    if schema is None or not isinstance(obj, dict):
        return
    additional = schema.get("additionalProperties")
    if isinstance(additional, dict):
        for key, value in obj.items():
            _list_types_in_value(additional, value, f"{path}[{key}]", errors)
    properties = schema.get("properties")
    if properties:
        for key, value in obj.items():
            if key in properties:
                _list_types_in_value(properties[key], value, _fp_child(path, key), errors)


def _list_types_in_value(schema: dict[str, Any], value: Any, path: str, errors: list[FieldError]) -> None:
    if isinstance(value, list):
        _list_types_in_array(schema, value, path, errors)
    elif isinstance(value, dict):
        _list_types_in_object(schema, value, path, errors)


def _set_key(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return ("compound", json.dumps(value, sort_keys=True, separators=(",", ":")))
    return (type(value).__name__, value)


def _first_repeats(keys: list[Any]) -> list[int]:
    """Indices of the second appearance of each repeated key (the apiserver reports only those)."""
    counts: dict[Any, int] = {}
    repeats = []
    for i, key in enumerate(keys):
        counts[key] = counts.get(key, 0) + 1
        if counts[key] == 2:
            repeats.append(i)
    return repeats


def _list_types_in_array(
    schema: dict[str, Any], value: list[Any], path: str, errors: list[FieldError]
) -> None:
    list_type = schema.get(LIST_TYPE)
    if list_type == "set" and len(value) > 1:
        for i in _first_repeats([_set_key(item) for item in value]):
            errors.append(fielderrors.duplicate(f"{path}[{i}]", value[i]))
    elif list_type == "map":
        _list_map_duplicates(schema, value, path, errors)
    items = schema.get("items")
    if isinstance(items, dict):
        for i, item in enumerate(value):
            _list_types_in_value(items, item, f"{path}[{i}]", errors)


def _list_map_duplicates(
    schema: dict[str, Any], value: list[Any], path: str, errors: list[FieldError]
) -> None:
    for i, item in enumerate(value):
        if item is not None and not isinstance(item, dict):
            errors.append(
                fielderrors.invalid(f"{path}[{i}]", item, "must be an object for an array of list-type map")
            )
            return
    if len(value) <= 1:
        return
    key_fields: list[str] = list(schema.get(LIST_MAP_KEYS) or [])
    keys: list[dict[str, Any]] = []
    for item in value:
        key: dict[str, Any] = {}
        if isinstance(item, dict):
            key = {field: item[field] for field in key_fields if field in item}
        keys.append(key)
    for i in _first_repeats([_set_key(key) for key in keys]):
        errors.append(fielderrors.duplicate(f"{path}[{i}]", keys[i]))
