"""Admission of custom resources: pruning, defaulting, schema and CEL validation, metadata checks.

The schema algorithms themselves live in ``schema`` (OpenAPI v3 structural pruning, defaults and
validation, ratcheting) and ``cel`` (``x-kubernetes-validations``, transition rules); this module applies
them in kube-apiserver's order for one write (prune, default, then validate and CEL) and words the
refusals: 400 ``strict decoding error`` for unknown fields under ``fieldValidation=Strict`` (a ``Warning``
header under ``Warn``) and 422 ``Invalid`` with ``details.causes``. It also holds kube-apiserver's
ObjectMeta validation, which every kind gets.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from orchestration_operator.testing.kube import cel, errors, resources, schema


def prune_and_default(
    rtype: resources.ResourceType,
    obj: dict[str, Any],
    *,
    field_validation: str,
    warnings: list[str],
    patching: bool = False,
) -> dict[str, Any]:
    """Drop unknown fields (refusing them under Strict) and fill defaults, per the version's schema."""
    if not rtype.schema:
        return obj
    version_schema = dict(rtype.schema)
    pruned, unknown = schema.prune(obj, version_schema)
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
    return schema.apply_defaults(pruned, version_schema)


def validate_custom(
    rtype: resources.ResourceType, obj: Mapping[str, Any], old: Mapping[str, Any] | None
) -> None:
    """Schema and CEL validation of a custom resource; raises a 422 ``Invalid`` listing every cause.

    ``old`` (the stored object, on updates) enables ratcheting and CEL transition rules.
    """
    causes = metadata_causes(rtype, obj)
    if rtype.schema:
        version_schema = dict(rtype.schema)
        current, previous = dict(obj), dict(old) if old is not None else None
        found = schema.validate(current, version_schema, old=previous)
        found += cel.validate_rules(current, previous, version_schema)
        causes.extend({"reason": e.type, "message": e.message, "field": e.path} for e in found)
    if causes:
        raise errors.invalid(rtype.kind, rtype.group, obj.get("metadata", {}).get("name", ""), causes)


def crd_rule_causes(crd: Mapping[str, Any]) -> list[dict[str, Any]]:
    """CEL rules of a CRD's schemas that do not compile (kube-apiserver refuses such a CRD)."""
    causes: list[dict[str, Any]] = []
    for n, version in enumerate((crd.get("spec") or {}).get("versions") or []):
        version_schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if isinstance(version_schema, dict):
            where = f"spec.versions[{n}].schema.openAPIV3Schema"
            causes.extend(
                {"reason": e.type, "message": e.message, "field": e.path}
                for e in cel.compile_errors(version_schema, path=where)
            )
    return causes


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
