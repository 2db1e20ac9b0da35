"""Patch formats kube-apiserver accepts, applied to a plain JSON object.

- ``merge``: JSON merge patch (RFC 7386), what kopf and ``kubectl patch --type=merge`` send.
- ``json_patch``: JSON patch (RFC 6902); a failed ``test`` is 422, which kopf relies on for its
  optimistic finalizer updates.
- ``strategic``: strategic merge patch for built-in kinds: a merge patch that also honours the
  ``$patch``, ``$setElementOrder``, ``$retainKeys`` and ``$deleteFromPrimitiveList`` directives and merges
  the well-known keyed lists (containers by name, ownerReferences by uid, ...). Custom resources refuse
  it with 415, as kube-apiserver does; ``server`` decides that.
- ``apply``: server-side apply approximated as a merge of the applied configuration, plus removal of the
  fields this field manager applied last time and no longer applies.

All functions return new objects and never mutate their inputs.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from orchestration_operator.testing.kube import errors


class PatchError(errors.Invalid):
    """The patch cannot be applied to this object (422, as kube-apiserver answers)."""

    def __init__(self, why: str) -> None:
        super().__init__(f"the server rejected our request due to an error in our request: {why}")


def merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping):
            result[key] = merge(result.get(key), value)
        else:
            result[key] = copy.deepcopy(value)
    return result


# ---------------------------------------------------------------------------------------------- JSON patch


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f'invalid JSON pointer "{path}": must start with "/"')
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, *, allow_end: bool, path: str) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise PatchError(f"invalid array index {token!r} in {path}")
    index = int(token)
    if index > len(container) or (index == len(container) and not allow_end):
        raise PatchError(f"array index {index} out of bounds in {path}")
    return index


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    current = doc
    for token in tokens[:-1]:
        if isinstance(current, dict):
            if token not in current:
                raise PatchError(f"doc is missing path: {path}: missing value")
            current = current[token]
        elif isinstance(current, list):
            current = current[_index(current, token, allow_end=False, path=path)]
        else:
            raise PatchError(f"doc is missing path: {path}: missing value")
    return current


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"doc is missing path: {path}: missing value")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, allow_end=False, path=path)]
    raise PatchError(f"doc is missing path: {path}: missing value")


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True, path=path), value)
    else:
        raise PatchError(f"doc is missing path: {path}: missing value")
    return doc


def _remove(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        raise PatchError("cannot remove the whole document")
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise PatchError(f"unable to remove nonexistent key: {last}: missing value")
        del parent[last]
    elif isinstance(parent, list):
        del parent[_index(parent, last, allow_end=False, path=path)]
    else:
        raise PatchError(f"doc is missing path: {path}: missing value")
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 JSON patch; any failure (including a failed ``test``) raises ``PatchError`` (422)."""
    if not isinstance(operations, list):
        raise errors.BadRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, Mapping) or "op" not in op or "path" not in op:
            raise PatchError(f"invalid JSON patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f'missing value for "{kind}" operation at {path}')
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)  # must exist
            doc = _remove(doc, path) if _pointer(path) else doc
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "move":
            value = _get(doc, op.get("from", ""))
            doc = _remove(doc, op.get("from", ""))
            doc = _add(doc, path, value)
        elif kind == "copy":
            doc = _add(doc, path, copy.deepcopy(_get(doc, op.get("from", ""))))
        elif kind == "test":
            try:
                actual = _get(doc, path)
            except PatchError:
                actual = None
            expected = op["value"]
            if actual != expected or isinstance(actual, bool) != isinstance(expected, bool):
                raise PatchError(f"testing value {path} failed: test failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}")
    return doc


# --------------------------------------------------------------------------------------- strategic merge

# Lists merged by key in the built-in kinds the sandbox stores (``x-kubernetes-patch-merge-key``).
_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "imagePullSecrets": "name",
    "secrets": "name",
    "ownerReferences": "uid",
    "conditions": "type",
    "hostAliases": "ip",
}
# Primitive lists merged as sets.
_MERGE_PRIMITIVES = {"finalizers"}


def strategic(target: Any, patch: Any) -> Any:
    """Strategic merge patch as kube-apiserver applies it to the built-in kinds kept here."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = dict(target) if isinstance(target, Mapping) else {}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys") or key.startswith("$setElementOrder/"):
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            result[field] = [v for v in result.get(field) or [] if v not in value]
            continue
        if value is None:
            result.pop(key, None)
        elif isinstance(value, Mapping):
            merged = strategic(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            order = patch.get(f"$setElementOrder/{key}")
            result[key] = _merge_list(key, result.get(key), value, order)
        else:
            result[key] = copy.deepcopy(value)
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(field: str, live: Any, patch: list[Any], order: Any) -> list[Any]:
    live_list = list(live) if isinstance(live, list) else []
    if any(isinstance(item, Mapping) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(i) for i in patch if not (isinstance(i, Mapping) and "$patch" in i)]
    key = _MERGE_KEYS.get(field)
    if isinstance(order, list) and order and isinstance(order[0], Mapping) and len(order[0]) == 1:
        key = next(iter(order[0]))
    if field in _MERGE_PRIMITIVES and all(not isinstance(v, Mapping | list) for v in patch):
        return live_list + [v for v in patch if v not in live_list]
    if key is None or not all(isinstance(item, Mapping) and key in item for item in patch):
        return [copy.deepcopy(i) for i in patch]
    merged = [dict(i) if isinstance(i, Mapping) else i for i in live_list]
    for item in patch:
        position = next(
            (n for n, cur in enumerate(merged) if isinstance(cur, Mapping) and cur.get(key) == item[key]),
            None,
        )
        if item.get("$patch") == "delete":
            if position is not None:
                del merged[position]
        elif position is None:
            merged.append(copy.deepcopy(dict(item)))
        else:
            merged[position] = strategic(merged[position], item)
    if isinstance(order, list):
        rank = {o.get(key): n for n, o in enumerate(order) if isinstance(o, Mapping)}
        merged.sort(key=lambda i: rank.get(i.get(key) if isinstance(i, Mapping) else None, len(rank)))
    return merged


# --------------------------------------------------------------------------------------------- apply


def _removed(previous: Any, current: Any) -> Any:
    """A merge patch that nulls the fields in ``previous`` (last applied) missing from ``current``."""
    if not isinstance(previous, Mapping) or not isinstance(current, Mapping):
        return None
    out: dict[str, Any] = {}
    for key, value in previous.items():
        if key not in current:
            out[key] = None
        elif isinstance(value, Mapping) and isinstance(current[key], Mapping):
            nested = _removed(value, current[key])
            if nested:
                out[key] = nested
    return out


def apply(target: Any, applied: Mapping[str, Any], *, last_applied: Mapping[str, Any] | None = None) -> Any:
    """Server-side apply: merge the applied configuration, dropping what this manager no longer applies."""
    removal = _removed(last_applied or {}, applied) or {}
    for key in ("apiVersion", "kind"):
        removal.pop(key, None)
    meta = removal.get("metadata")
    if isinstance(meta, dict):
        for key in ("name", "namespace", "uid", "resourceVersion"):
            meta.pop(key, None)
    return merge(merge(target, removal), applied)
