"""Views of stored objects through another version: CRD versions (``None`` strategy) and events.

Custom resources are stored in their CRD's storage version; reading them through another served version
only changes ``apiVersion`` (as kube-apiserver's ``None`` conversion does). ``events.k8s.io/v1`` events
are a view of core v1 events (kube-apiserver keeps one storage for both), with the field renames of the
events API. ``store`` converts on write with ``to_storage`` and on read with ``to_view``.
"""

from __future__ import annotations

from typing import Any

from orchestration_operator.testing.kube import resources

# core v1 field -> events.k8s.io/v1 field
_EVENT_RENAMES = {
    "involvedObject": "regarding",
    "message": "note",
    "source": "deprecatedSource",
    "firstTimestamp": "deprecatedFirstTimestamp",
    "lastTimestamp": "deprecatedLastTimestamp",
    "count": "deprecatedCount",
    "reportingComponent": "reportingController",
}
_EVENT_RENAMES_BACK = {v: k for k, v in _EVENT_RENAMES.items()}


def is_identity(rtype: resources.ResourceType) -> bool:
    """True when objects read through ``rtype`` are exactly what is stored."""
    return rtype.storage_version and rtype.storage == (rtype.group, rtype.plural)


def to_view(rtype: resources.ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
    if obj.get("apiVersion") == rtype.api_version:
        return obj
    if rtype.storage == ("", "events") and rtype.group == "events.k8s.io":
        out = {_EVENT_RENAMES.get(k, k): v for k, v in obj.items()}
        out["apiVersion"] = rtype.api_version
        return out
    out = dict(obj)
    out["apiVersion"] = rtype.api_version
    return out


def to_storage(
    rtype: resources.ResourceType, obj: dict[str, Any], storage_api_version: str
) -> dict[str, Any]:
    if rtype.storage == ("", "events") and rtype.group == "events.k8s.io":
        out = {_EVENT_RENAMES_BACK.get(k, k): v for k, v in obj.items()}
        out["apiVersion"] = "v1"
        return out
    if obj.get("apiVersion") != storage_api_version:
        obj = dict(obj)
        obj["apiVersion"] = storage_api_version
    return obj
