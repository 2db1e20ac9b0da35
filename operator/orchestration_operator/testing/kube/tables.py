"""``meta.k8s.io/v1 Table`` rendering: what ``kubectl get`` (and ``get -w``) prints.

Custom resources get ``Name`` plus their CRD's ``additionalPrinterColumns`` (or ``Age`` when there are
none), each cell typed as kube-apiserver's table convertor types it (``date`` becomes a human duration
like ``5m``, ``string`` the printed JSONPath result, a missing value ``None`` which kubectl shows as
``<none>``). Built-in kinds get the columns kube-apiserver gives them. ``server`` asks for a table when
the client's ``Accept`` says ``as=Table``; ``watch`` renders one single-row table per event.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from orchestration_operator.testing.kube import jsonpath, resources

Cell = Callable[[Mapping[str, Any]], Any]

_NAME_DESCRIPTION = (
    "Name must be unique within a namespace. Is required when creating resources, although some resources "
    "may allow a client to request the generation of an appropriate name automatically. Name is primarily "
    "intended for creation idempotence and configuration definition. Cannot be updated. More info: "
    "https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"
)
_AGE_DESCRIPTION = (
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not "
    "guaranteed to be set in happens-before order across separate operations. Clients may not set this "
    "value. It is represented in RFC3339 form and is in UTC."
)


def human_duration(seconds: float) -> str:
    """kube's ``duration.HumanDuration``: ``45s``, ``3m20s``, ``5h``, ``2d3h``."""
    secs = int(seconds)
    if secs < -1:
        return "<invalid>"
    if secs < 0:
        return "0s"
    if secs < 120:
        return f"{secs}s"
    minutes = secs // 60
    if minutes < 10:
        rest = secs % 60
        return f"{minutes}m" if rest == 0 else f"{minutes}m{rest}s"
    if minutes < 180:
        return f"{minutes}m"
    hours = secs // 3600
    if hours < 8:
        rest = minutes % 60
        return f"{hours}h" if rest == 0 else f"{hours}h{rest}m"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        rest = hours % 24
        return f"{hours // 24}d" if rest == 0 else f"{hours // 24}d{rest}h"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        rest = (hours // 24) % 365
        return f"{hours // 24 // 365}y" if rest == 0 else f"{hours // 24 // 365}y{rest}d"
    return f"{hours // 24 // 365}y"


def _age_of(value: Any) -> Any:
    if not isinstance(value, str):
        return None
    try:
        then = datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if then.tzinfo is None:
        then = then.replace(tzinfo=datetime.UTC)
    return human_duration((datetime.datetime.now(datetime.UTC) - then).total_seconds())


def _path(obj: Mapping[str, Any], *keys: str) -> Any:
    current: Any = obj
    for key in keys:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _printed(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(value, separators=(",", ":"))


def _typed(type_: str, value: Any) -> Any:
    if type_ == "string":
        return _printed(value)
    if type_ == "integer":
        return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if type_ == "number":
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if type_ == "boolean":
        return value if isinstance(value, bool) else None
    if type_ == "date":
        return _age_of(value)
    return _printed(value)


def _column_cell(column: Mapping[str, Any]) -> Cell:
    expression = column.get("jsonPath", "")
    steps = jsonpath.parse(expression)
    type_ = column.get("type", "string")

    def cell(obj: Mapping[str, Any]) -> Any:
        found = jsonpath._run(steps, [obj])
        if not found or found[0] is None:
            return None
        return _typed(type_, found[0])

    return cell


def _definition(
    name: str, type_: str, description: str = "", *, format_: str = "", priority: int = 0
) -> dict[str, Any]:
    return {"name": name, "type": type_, "format": format_, "description": description, "priority": priority}


_NAME = (
    _definition("Name", "string", _NAME_DESCRIPTION, format_="name"),
    lambda o: _path(o, "metadata", "name"),
)
_AGE = (
    _definition("Age", "string", _AGE_DESCRIPTION),
    lambda o: _age_of(_path(o, "metadata", "creationTimestamp")),
)


def _count(*keys: str) -> Cell:
    return lambda o: sum(len(o.get(k) or {}) for k in keys)


def _event_object(o: Mapping[str, Any]) -> str:
    involved = o.get("involvedObject") or o.get("regarding") or {}
    return f"{str(involved.get('kind', '')).lower()}/{involved.get('name', '')}"


def _event_last_seen(o: Mapping[str, Any]) -> Any:
    series = o.get("series") or {}
    when = (
        series.get("lastObservedTime")
        or o.get("lastTimestamp")
        or o.get("eventTime")
        or _path(o, "metadata", "creationTimestamp")
    )
    return _age_of(when)


_BUILTIN_COLUMNS: dict[tuple[str, str], list[tuple[dict[str, Any], Cell]]] = {
    ("", "namespaces"): [
        _NAME,
        (
            _definition("Status", "string", "The status of the namespace"),
            lambda o: _path(o, "status", "phase"),
        ),
        _AGE,
    ],
    ("", "secrets"): [
        _NAME,
        (_definition("Type", "string", "The type of the secret"), lambda o: o.get("type")),
        (_definition("Data", "string", "The number of entries in the data"), _count("data")),
        _AGE,
    ],
    ("", "configmaps"): [
        _NAME,
        (_definition("Data", "string", "The number of entries in the data"), _count("data", "binaryData")),
        _AGE,
    ],
    ("", "events"): [
        (_definition("Last Seen", "string", "Time since the event was last seen"), _event_last_seen),
        (_definition("Type", "string", "The type of the event"), lambda o: o.get("type")),
        (_definition("Reason", "string", "The reason of the event"), lambda o: o.get("reason")),
        (_definition("Object", "string", "The object the event is about"), _event_object),
        (
            _definition("Message", "string", "The message of the event"),
            lambda o: o.get("message") or o.get("note"),
        ),
    ],
    ("apiextensions.k8s.io", "customresourcedefinitions"): [
        _NAME,
        (
            _definition("Created At", "date", _AGE_DESCRIPTION),
            lambda o: _path(o, "metadata", "creationTimestamp"),
        ),
    ],
    ("coordination.k8s.io", "leases"): [
        _NAME,
        (
            _definition("Holder", "string", "The holder of the lease"),
            lambda o: _path(o, "spec", "holderIdentity"),
        ),
        _AGE,
    ],
}


def columns(rtype: resources.ResourceType) -> list[tuple[dict[str, Any], Cell]]:
    """Column definitions and cell functions for ``rtype``."""
    if rtype.custom:
        if not rtype.printer_columns:
            return [_NAME, _AGE]
        out = [_NAME]
        for column in rtype.printer_columns:
            definition = _definition(
                column.get("name", ""),
                column.get("type", "string"),
                column.get("description", ""),
                format_=column.get("format", ""),
                priority=int(column.get("priority", 0)),
            )
            out.append((definition, _column_cell(column)))
        return out
    return _BUILTIN_COLUMNS.get(rtype.storage, [_NAME, _AGE])


def table(
    rtype: resources.ResourceType,
    objects: Iterable[Mapping[str, Any]],
    *,
    resource_version: str = "",
    continue_token: str = "",
    remaining: int | None = None,
    include_object: str = "Metadata",
    include_columns: bool = True,
) -> dict[str, Any]:
    """A ``Table`` of ``objects`` (already in ``rtype``'s version)."""
    cols = columns(rtype)
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": [cell(obj) for _, cell in cols]}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata", {}),
            }
        rows.append(row)
    metadata: dict[str, Any] = {}
    if resource_version:
        metadata["resourceVersion"] = resource_version
    if continue_token:
        metadata["continue"] = continue_token
    if remaining is not None:
        metadata["remainingItemCount"] = remaining
    out: dict[str, Any] = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata}
    out["columnDefinitions"] = [definition for definition, _ in cols] if include_columns else []
    out["rows"] = rows
    return out


def wants_table(accept: str) -> str | None:
    """The Table API version the ``Accept`` header asks for (``v1``/``v1beta1``), or None."""
    for part in accept.split(","):
        params = dict(p.strip().split("=", 1) for p in part.split(";")[1:] if "=" in p)
        if params.get("as") == "Table" and params.get("g") == "meta.k8s.io":
            return params.get("v", "v1")
    return None
