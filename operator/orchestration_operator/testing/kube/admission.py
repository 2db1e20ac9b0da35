"""Admission of custom resources: pruning, defaulting, schema and CEL validation, metadata checks.

The schema algorithms themselves live in ``schema`` (OpenAPI v3 structural pruning, defaults and
validation) and ``cel`` (``x-kubernetes-validations``); this module applies them the way
kube-apiserver does for one write and words the refusals: 400 ``strict decoding error`` for unknown
fields under ``fieldValidation=Strict`` (a ``Warning`` header under ``Warn``) and 422 ``Invalid`` with
``details.causes``. Root ``apiVersion``, ``kind`` and ``metadata`` never reach the CRD schema.
"""

from __future__ import annotations

import importlib
import re
import types
from collections.abc import Mapping
from typing import Any

from orchestration_operator.testing.kube import errors, resources

_ROOT = ("apiVersion", "kind", "metadata")


def _optional(name: str) -> types.ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name != name:
            raise
        return None


_schema = _optional("orchestration_operator.testing.kube.schema")
_cel = _optional("orchestration_operator.testing.kube.cel")


def schema_available() -> bool:
    """Whether CRD schemas are enforced (the ``schema`` module is present)."""
    return _schema is not None


def cel_available() -> bool:
    return _cel is not None


def _body(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in _ROOT}


def _with_root(obj: Mapping[str, Any], body: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: obj[k] for k in _ROOT if k in obj}
    out.update(body)
    return out


def prune_and_default(
    rtype: resources.ResourceType,
    obj: dict[str, Any],
    *,
    field_validation: str,
    warnings: list[str],
    patching: bool = False,
) -> dict[str, Any]:
    """Drop unknown fields (refusing them under Strict) and fill defaults, per the version's schema."""
    if _schema is None or not rtype.schema:
        return obj
    pruned, unknown = _schema.prune(_body(obj), rtype.schema)
    if unknown and field_validation != "Ignore":
        listed = ", ".join(f'unknown field "{path}"' for path in unknown)
        if field_validation == "Strict":
            if patching:
                raise errors.BadRequest(f"strict decoding error: {listed}")
            raise errors.BadRequest(
                f'{rtype.kind} in version "{rtype.version}" cannot be handled as a {rtype.kind}: '
                f"strict decoding error: {listed}"
            )
        warnings.extend(f'unknown field "{path}"' for path in unknown)
    defaulted = _schema.apply_defaults(pruned, rtype.schema)
    return _with_root(obj, defaulted)


def _cel_view(obj: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """What CEL rules see: metadata is limited to name and generateName, as in kube-apiserver."""
    if obj is None:
        return None
    out = dict(obj)
    meta = obj.get("metadata") or {}
    out["metadata"] = {k: meta[k] for k in ("name", "generateName") if k in meta}
    return out


def validate_custom(
    rtype: resources.ResourceType, obj: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    """Schema and CEL validation of a custom resource; raises a 422 ``Invalid`` listing every cause."""
    causes = metadata_causes(rtype, obj)
    if rtype.schema:
        found: list[Any] = []
        if _schema is not None:
            found.extend(_schema.validate(_body(obj), rtype.schema))
        if _cel is not None:
            found.extend(_cel.validate_rules(_cel_view(obj), _cel_view(old), rtype.schema))
        causes.extend({"reason": e.type, "message": e.message, "field": e.path} for e in found)
    if causes:
        raise errors.invalid(rtype.kind, rtype.group, obj.get("metadata", {}).get("name", ""), causes)


# ------------------------------------------------------------------------------------------ metadata

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")

SUBDOMAIN_MESSAGE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
    "must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_MESSAGE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start "
    "and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)


def _invalid(field: str, value: Any, why: str) -> dict[str, Any]:
    shown = f'"{value}"' if isinstance(value, str) else repr(value)
    return {"reason": "FieldValueInvalid", "message": f"Invalid value: {shown}: {why}", "field": field}


def _qualified_key_causes(field: str, key: str) -> list[dict[str, Any]]:
    prefix, _, name = key.rpartition("/")
    causes = []
    if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
        causes.append(_invalid(field, key, "prefix part " + SUBDOMAIN_MESSAGE))
    if not name or len(name) > 63 or not _QUALIFIED_NAME.match(name):
        causes.append(
            _invalid(
                field,
                key,
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
                "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
            )
        )
    return causes


def metadata_causes(rtype: resources.ResourceType, obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    """kube-apiserver's ObjectMeta validation: name format, labels, annotation keys, owner references."""
    meta = obj.get("metadata") or {}
    causes: list[dict[str, Any]] = []
    name = meta.get("name", "")
    if rtype.plural == "namespaces":
        if len(name) > 63 or not _DNS_LABEL.match(name):
            causes.append(_invalid("metadata.name", name, LABEL_MESSAGE))
    elif len(name) > 253 or not _DNS_SUBDOMAIN.match(name):
        if rtype.group.startswith("rbac.") and name and "/" not in name and "%" not in name:
            pass  # RBAC names are path segments (e.g. "system:controller")
        else:
            causes.append(_invalid("metadata.name", name, SUBDOMAIN_MESSAGE))
    for key, value in (meta.get("labels") or {}).items():
        causes.extend(_qualified_key_causes("metadata.labels", key))
        if not isinstance(value, str) or len(value) > 63 or not _LABEL_VALUE.match(value):
            causes.append(
                _invalid(
                    "metadata.labels",
                    value,
                    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' "
                    "or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
                    "'my_value',  or '12345', regex used for validation is "
                    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
                )
            )
    for key in meta.get("annotations") or {}:
        causes.extend(_qualified_key_causes("metadata.annotations", key))
    owners = meta.get("ownerReferences") or []
    controllers = [o for o in owners if isinstance(o, Mapping) and o.get("controller")]
    if len(controllers) > 1:
        causes.append(
            _invalid(
                "metadata.ownerReferences",
                owners,
                'Only one reference can have Controller set to true. Found "true" in references for '
                + " and ".join(f"{o.get('kind')}/{o.get('name')}" for o in controllers),
            )
        )
    for n, owner in enumerate(owners):
        if not isinstance(owner, Mapping):
            continue
        for field in ("apiVersion", "kind", "name", "uid"):
            if not owner.get(field):
                causes.append(
                    {
                        "reason": "FieldValueRequired" if field != "uid" else "FieldValueInvalid",
                        "message": "Required value"
                        if field != "uid"
                        else 'Invalid value: "": uid must not be empty',
                        "field": f"metadata.ownerReferences[{n}].{field}",
                    }
                )
    return causes
