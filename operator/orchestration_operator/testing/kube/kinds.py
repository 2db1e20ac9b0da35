"""Write-time behaviour of the built-in kinds: what kube-apiserver's registry strategies do on a write.

- Secret: ``stringData`` folded into base64 ``data``, ``type`` defaults to ``Opaque``, ``data`` must be
  base64.
- Namespace: ``spec.finalizers: [kubernetes]`` and ``status.phase`` (``Active`` / ``Terminating``).
- CustomResourceDefinition: name and names checked, then accepted at once: ``NamesAccepted`` and
  ``Established`` conditions, ``acceptedNames``, ``storedVersions`` and the cleanup finalizer.

``store`` calls ``prepare`` on every create and update, after the status split and before validation.
Background behaviour (namespace and CRD cleanup, owner GC) is in ``gc``.
"""

from __future__ import annotations

import base64
import binascii
import copy
from collections.abc import Mapping
from typing import Any

from orchestration_operator.testing.kube import admission, errors, resources

CRD_CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
NAMESPACE_FINALIZER = "kubernetes"


def prepare(
    rtype: resources.ResourceType,
    obj: dict[str, Any],
    old: Mapping[str, Any] | None,
    *,
    registry: resources.Registry,
    now: str,
) -> None:
    """Adjust ``obj`` (a fresh mutable copy) in place as the kind's strategy does; raise on refusal."""
    if rtype.group == "" and rtype.plural == "secrets":
        _prepare_secret(obj)
    elif rtype.group == "" and rtype.plural == "namespaces":
        _prepare_namespace(obj, old)
    elif rtype is resources.CRD:
        _prepare_crd(obj, old, registry=registry, now=now)


def _prepare_secret(obj: dict[str, Any]) -> None:
    obj.setdefault("type", "Opaque")
    data = obj.get("data")
    if data is not None and not isinstance(data, Mapping):
        raise errors.BadRequest(
            'Secret in version "v1" cannot be handled as a Secret: data must be an object'
        )
    for key, value in (data or {}).items():
        try:
            base64.b64decode(value or "", validate=True)
        except (binascii.Error, ValueError, TypeError) as exc:
            raise errors.BadRequest(
                f'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at key "{key}"'
            ) from exc
    string_data = obj.pop("stringData", None)
    if string_data:
        merged = dict(data or {})
        for key, value in string_data.items():
            merged[key] = base64.b64encode(str(value).encode()).decode()
        obj["data"] = merged


def _prepare_namespace(obj: dict[str, Any], old: Mapping[str, Any] | None) -> None:
    spec = obj.setdefault("spec", {})
    if old is None:
        spec.setdefault("finalizers", [NAMESPACE_FINALIZER])
    else:
        # spec.finalizers change only through /finalize; the status is the server's.
        spec["finalizers"] = copy.deepcopy((old.get("spec") or {}).get("finalizers", []))
        if not spec["finalizers"]:
            spec.pop("finalizers")
    if not spec:
        obj.pop("spec")
    deleting = bool(obj.get("metadata", {}).get("deletionTimestamp"))
    obj["status"] = {"phase": "Terminating" if deleting else "Active"}
    labels = obj.setdefault("metadata", {}).setdefault("labels", {})
    labels["kubernetes.io/metadata.name"] = obj["metadata"].get("name", "")


def _condition(
    old_conditions: list[Mapping[str, Any]], type_: str, status: str, reason: str, message: str, now: str
) -> dict[str, Any]:
    previous = next((c for c in old_conditions if c.get("type") == type_), None)
    since = (
        now
        if previous is None or previous.get("status") != status
        else previous.get("lastTransitionTime", now)
    )
    return {
        "type": type_,
        "status": status,
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    }


def _crd_causes(obj: Mapping[str, Any]) -> list[dict[str, Any]]:
    spec = obj.get("spec") or {}
    names = spec.get("names") or {}
    group = spec.get("group", "")
    causes = []

    def required(field: str) -> None:
        causes.append({"reason": "FieldValueRequired", "message": "Required value", "field": field})

    if not group:
        required("spec.group")
    elif "." not in group:
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "message": f'Invalid value: "{group}": should be a domain with at least one dot',
                "field": "spec.group",
            }
        )
    for field in ("plural", "kind"):
        if not names.get(field):
            required(f"spec.names.{field}")
    name = obj.get("metadata", {}).get("name", "")
    expected = f"{names.get('plural', '')}.{group}"
    if names.get("plural") and group and name != expected:
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "message": f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
                "field": "metadata.name",
            }
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        causes.append(
            {
                "reason": "FieldValueNotSupported",
                "message": f'Unsupported value: "{spec.get("scope", "")}": '
                'supported values: "Cluster", "Namespaced"',
                "field": "spec.scope",
            }
        )
    versions = spec.get("versions") or []
    if sum(1 for v in versions if v.get("storage")) != 1:
        causes.append(
            {
                "reason": "FieldValueInvalid",
                "message": "Invalid value: must have exactly one version marked as storage version",
                "field": "spec.versions",
            }
        )
    for n, version in enumerate(versions):
        if not version.get("name"):
            required(f"spec.versions[{n}].name")
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            required(f"spec.versions[{n}].schema.openAPIV3Schema")
    return causes


def _prepare_crd(
    obj: dict[str, Any], old: Mapping[str, Any] | None, *, registry: resources.Registry, now: str
) -> None:
    causes = _crd_causes(obj) + admission.crd_rule_causes(obj)
    if causes:
        raise errors.invalid(
            "CustomResourceDefinition", "apiextensions.k8s.io", obj["metadata"].get("name", ""), causes
        )
    spec = obj["spec"]
    names = dict(spec["names"])
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    spec["names"] = names
    spec.setdefault("conversion", {"strategy": "None"})
    for version in spec["versions"]:
        version.setdefault("served", True)
    meta = obj["metadata"]
    if old is None and not meta.get("deletionTimestamp"):
        finalizers = meta.setdefault("finalizers", [])
        if CRD_CLEANUP_FINALIZER not in finalizers:
            finalizers.append(CRD_CLEANUP_FINALIZER)
    old_status = (old or {}).get("status") or {}
    old_conditions = old_status.get("conditions") or []
    conflict = registry.conflicts(obj)
    conditions = []
    if conflict:
        conditions.append(_condition(old_conditions, "NamesAccepted", "False", "NameConflict", conflict, now))
        conditions.append(
            _condition(
                old_conditions, "Established", "False", "NotAccepted", "not all names are accepted", now
            )
        )
        accepted = old_status.get("acceptedNames") or {"plural": "", "kind": ""}
    else:
        conditions.append(
            _condition(old_conditions, "NamesAccepted", "True", "NoConflicts", "no conflicts found", now)
        )
        conditions.append(
            _condition(
                old_conditions,
                "Established",
                "True",
                "InitialNamesAccepted",
                "the initial names have been accepted",
                now,
            )
        )
        accepted = names
    if meta.get("deletionTimestamp"):
        conditions.append(
            _condition(
                old_conditions,
                "Terminating",
                "True",
                "InstanceDeletionInProgress",
                "CustomResource deletion is in progress",
                now,
            )
        )
    stored = list(old_status.get("storedVersions") or [])
    for version in spec["versions"]:
        if version.get("storage") and version["name"] not in stored:
            stored.append(version["name"])
    obj["status"] = {"conditions": conditions, "acceptedNames": accepted, "storedVersions": stored}


def crd_established(crd: Mapping[str, Any]) -> bool:
    for condition in (crd.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Established":
            return bool(condition.get("status") == "True")
    return False
