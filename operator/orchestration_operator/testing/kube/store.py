"""The object store: every object, the global resourceVersion, write semantics and the change history.

Objects are kept per storage key (group, plural) as ``Entry``: the object dict, treated as immutable once
stored, and its JSON encoding, made once per write and shared by GET, LIST and every watcher. A write
works on a fresh copy (``json.loads`` of the stored bytes) and follows kube-apiserver's rules:

- a global, monotonic string ``resourceVersion``; ``uid`` and ``creationTimestamp`` on create;
- ``generation`` (for kinds that keep one): 1 on create, +1 on a change outside ``metadata`` (and outside
  ``status`` when status is a subresource), +1 when ``deletionTimestamp`` is first set;
- the main endpoint ignores ``.status`` when status is a subresource; ``/status`` takes only ``.status``;
- a stale ``metadata.resourceVersion`` is 409; a write that changes nothing gets no new version and no event;
- deletion with finalizers sets ``deletionTimestamp`` and removes the object (DELETED event) when the last
  finalizer goes; no new finalizers once deleting.

Every committed change goes to the collection's bounded history (for watches that resume from a
resourceVersion; older ones get 410) and to its live watchers (``watch``). Everything runs on one event
loop and no method awaits, so each write is atomic. ``admission`` and ``kinds`` supply the per-kind rules;
``gc`` the background controllers.
"""

from __future__ import annotations

import base64
import collections
import dataclasses
import datetime
import functools
import json
import random
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Protocol

from orchestration_operator.testing.kube import (
    admission,
    convert,
    errors,
    kinds,
    patching,
    resources,
    selectors,
)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_NAME_CHARS = "bcdfghjklmnpqrstvwxz2456789"
DEFAULT_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


def encode(obj: Any) -> bytes:
    return _dumps(obj).encode()


def now_rfc3339() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclasses.dataclass(slots=True, eq=False)
class Entry:
    """One stored object: the dict (never mutated once stored) and its JSON bytes."""

    obj: dict[str, Any]
    raw: bytes

    @property
    def rv(self) -> str:
        return str(self.obj["metadata"]["resourceVersion"])

    @property
    def meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = self.obj["metadata"]
        return meta

    def copy(self) -> dict[str, Any]:
        """A deep, mutable copy (``json.loads`` is faster than ``copy.deepcopy``)."""
        obj: dict[str, Any] = json.loads(self.raw)
        return obj


class Watcher(Protocol):
    """A live watch; ``watch.Watch`` implements it."""

    def offer(self, change: Change) -> None: ...

    def close(self) -> None: ...


@dataclasses.dataclass(slots=True, eq=False)
class Change:
    """One committed change of one object, as watch events report it."""

    type: str  # ADDED | MODIFIED | DELETED
    rv: int
    entry: Entry
    old: Entry | None
    _lines: dict[str, bytes] = dataclasses.field(default_factory=dict)

    def line(self, rtype: resources.ResourceType, event_type: str | None = None) -> bytes:
        """The JSON line of this change for a watcher of ``rtype``, encoded once and shared."""
        kind = event_type or self.type
        cache_key = kind + "|" + rtype.api_version
        line = self._lines.get(cache_key)
        if line is None:
            if convert.is_identity(rtype):
                raw = self.entry.raw
            else:
                raw = encode(convert.to_view(rtype, self.entry.obj))
            line = b'{"type":"' + kind.encode() + b'","object":' + raw + b"}\n"
            self._lines[cache_key] = line
        return line


class Collection:
    """The objects of one storage key, their change history and their watchers."""

    def __init__(self, storage: tuple[str, str], *, window: int) -> None:
        self.storage = storage
        self.objects: dict[str, dict[str, Entry]] = {}  # namespace ("" if cluster-scoped) -> name -> entry
        self.history: collections.deque[Change] = collections.deque(maxlen=window)
        self.floor = 0  # a watch may resume from any resourceVersion >= floor
        self.watchers: set[Watcher] = set()
        self.count = 0

    def get(self, namespace: str, name: str) -> Entry | None:
        names = self.objects.get(namespace)
        return names.get(name) if names else None

    def put(self, namespace: str, name: str, entry: Entry) -> None:
        names = self.objects.setdefault(namespace, {})
        if name not in names:
            self.count += 1
        names[name] = entry

    def remove(self, namespace: str, name: str) -> None:
        names = self.objects.get(namespace)
        if names and names.pop(name, None) is not None:
            self.count -= 1
            if not names:
                del self.objects[namespace]

    def entries(self, namespace: str | None = None) -> Iterator[Entry]:
        """Entries in key order (namespace, then name), as etcd lists them."""
        if namespace is not None:
            names = self.objects.get(namespace) or {}
            for name in sorted(names):
                yield names[name]
            return
        for ns in sorted(self.objects):
            names = self.objects[ns]
            for name in sorted(names):
                yield names[name]

    def record(self, change: Change) -> None:
        if self.history.maxlen and len(self.history) == self.history.maxlen:
            self.floor = self.history[0].rv
        self.history.append(change)
        for watcher in tuple(self.watchers):
            watcher.offer(change)


@dataclasses.dataclass(frozen=True)
class ListResult:
    items: list[Entry]
    resource_version: str
    continue_token: str
    remaining: int | None


@dataclasses.dataclass
class WriteResult:
    entry: Entry
    created: bool = False
    deleted: bool = False  # gone from the store (DELETED event sent, or would be under dry run)
    warnings: list[str] = dataclasses.field(default_factory=list)


class Store:
    """All objects of the sandbox. Call from the sandbox's event loop only."""

    def __init__(self, registry: resources.Registry | None = None, *, history_window: int = 5000) -> None:
        self.registry = registry or resources.Registry()
        self.history_window = history_window
        self._rv = 0
        self._collections: dict[tuple[str, str], Collection] = {}
        self._uids: dict[str, tuple[tuple[str, str], str, str]] = {}  # uid -> (storage, namespace, name)
        self._applied: dict[str, dict[str, dict[str, Any]]] = {}  # uid -> field manager -> last applied
        self.listeners: list[Callable[[resources.ResourceType, Change], None]] = []
        for name in DEFAULT_NAMESPACES:
            self.create(resources.NAMESPACES, {"metadata": {"name": name}}, namespace=None)

    # ------------------------------------------------------------------------------------ basics

    @property
    def resource_version(self) -> int:
        return self._rv

    def _next_rv(self) -> int:
        self._rv += 1
        return self._rv

    def collection(self, rtype: resources.ResourceType) -> Collection:
        col = self._collections.get(rtype.storage)
        if col is None:
            col = self._collections[rtype.storage] = Collection(rtype.storage, window=self.history_window)
            col.floor = self._rv
        return col

    def collections(self) -> list[Collection]:
        return list(self._collections.values())

    def _serve_crd(self, change: Change) -> None:
        """Serve an established CRD's versions at once; stop serving (and forget) when it is gone."""
        crd = change.entry.obj
        if change.type == "DELETED":
            for gone in self.registry.remove_crd(crd["metadata"]["name"])[:1]:
                self._drop(gone.storage)
        elif kinds.crd_established(crd):
            self.registry.set_crd(crd)

    def _drop(self, storage: tuple[str, str]) -> None:
        """Forget a whole collection (its CRD is gone) without events; its watches end."""
        col = self._collections.pop(storage, None)
        if col is None:
            return
        for watcher in tuple(col.watchers):
            watcher.close()
        for entry in col.entries():
            self._uids.pop(entry.meta.get("uid", ""), None)
            self._applied.pop(entry.meta.get("uid", ""), None)

    def by_uid(self, uid: str) -> tuple[tuple[str, str], str, str] | None:
        return self._uids.get(uid)

    def _storage_type(self, rtype: resources.ResourceType) -> resources.ResourceType:
        return self.registry.storage_type(rtype.storage) or rtype

    @staticmethod
    def _ns(rtype: resources.ResourceType, namespace: str | None) -> str:
        return (namespace or "") if rtype.namespaced else ""

    def _check_namespace(self, rtype: resources.ResourceType, namespace: str | None, name: str) -> None:
        """The namespace must exist and not be terminating to create in it."""
        if not rtype.namespaced:
            return
        if not namespace:
            raise errors.BadRequest(
                "the server could not find the requested resource: a namespace is required"
            )
        ns_entry = self.collection(resources.NAMESPACES).get("", namespace)
        if ns_entry is None:
            raise errors.not_found("namespaces", "", namespace)
        if ns_entry.meta.get("deletionTimestamp"):
            message = f"unable to create new content in namespace {namespace} because it is being terminated"
            raise errors.Forbidden(
                f'{rtype.qualified} "{name}" is forbidden: {message}',
                details={
                    "name": name,
                    "group": rtype.group,
                    "kind": rtype.plural,
                    "causes": [
                        {"reason": "NamespaceTerminating", "message": message, "field": "metadata.namespace"}
                    ],
                },
            )

    def _commit(
        self, rtype: resources.ResourceType, type_: str, obj: dict[str, Any], old: Entry | None
    ) -> Change:
        rv = self._next_rv()
        obj["metadata"]["resourceVersion"] = str(rv)
        entry = Entry(obj, encode(obj))
        meta = obj["metadata"]
        col = self.collection(rtype)
        ns = meta.get("namespace", "") if rtype.namespaced else ""
        if type_ == "DELETED":
            col.remove(ns, meta["name"])
            self._uids.pop(meta.get("uid", ""), None)
            self._applied.pop(meta.get("uid", ""), None)
        else:
            col.put(ns, meta["name"], entry)
            self._uids[meta["uid"]] = (rtype.storage, ns, meta["name"])
        change = Change(type_, rv, entry, old)
        col.record(change)
        if rtype.storage == resources.CRD.storage:
            self._serve_crd(change)
        for listener in tuple(self.listeners):
            listener(rtype, change)
        return change

    # -------------------------------------------------------------------------------------- reads

    def get(self, rtype: resources.ResourceType, namespace: str | None, name: str) -> Entry:
        entry = self.collection(rtype).get(self._ns(rtype, namespace), name)
        if entry is None:
            raise errors.not_found(rtype.plural, rtype.group, name)
        return entry

    def find(self, rtype: resources.ResourceType, namespace: str | None, name: str) -> Entry | None:
        return self.collection(rtype).get(self._ns(rtype, namespace), name)

    def list(
        self,
        rtype: resources.ResourceType,
        namespace: str | None,
        *,
        labels: selectors.LabelSelector | None = None,
        fields: selectors.FieldSelector | None = None,
        limit: int = 0,
        continue_token: str = "",
    ) -> ListResult:
        col = self.collection(rtype)
        start = ""
        rv = str(self._rv)
        if continue_token:
            try:
                token = json.loads(base64.urlsafe_b64decode(continue_token.encode()))
                start, rv = token["start"], str(token["rv"])
            except (ValueError, KeyError, TypeError) as exc:
                raise errors.BadRequest(f"continue key is not valid: {exc}") from exc
            if int(rv) < col.floor:
                raise errors.Gone(
                    "The provided continue parameter is too old to display a consistent list result. You can "
                    "start a new list without the continue parameter, or use the continue token in this "
                    "response to retrieve the remainder of the results. Continuing with the provided token "
                    "results in an inconsistent list - objects that were created, modified, or deleted "
                    "between the time the first chunk was returned and now may show up in the list."
                )
        ns = self._ns(rtype, namespace) if rtype.namespaced and namespace else None
        if fields and fields.namespace() is not None and ns is None and rtype.namespaced:
            ns = fields.namespace()
        wanted_name = fields.name() if fields else None
        if wanted_name is not None:
            # kubectl wait/delete select one name: look it up instead of scanning every object.
            found = []
            for ns_key in sorted(col.objects) if ns is None else [ns]:
                entry = col.get(ns_key, wanted_name)
                if entry is not None:
                    found.append(entry)
            candidates: Iterator[Entry] = iter(found)
        else:
            candidates = col.entries(ns)
        items: list[Entry] = []
        remaining = 0
        last = ""
        for entry in candidates:
            meta = entry.meta
            key = f"{meta.get('namespace', '')}/{meta['name']}"
            if start and key <= start:
                continue
            if labels and not labels.matches(meta.get("labels")):
                continue
            if fields and not fields.matches(functools.partial(selectors.field_value, entry.obj)):
                continue
            if limit and len(items) >= limit:
                remaining += 1
                continue
            items.append(entry)
            last = key
        token = ""
        if limit and remaining:
            token = base64.urlsafe_b64encode(encode({"rv": int(rv), "start": last})).decode()
        return ListResult(items, rv, token, remaining if token else None)

    # ------------------------------------------------------------------------------------- writes

    def _fill_identity(self, rtype: resources.ResourceType, obj: dict[str, Any]) -> None:
        if not isinstance(obj, dict):
            raise errors.BadRequest("the body of the request must be a JSON object")
        api_version = obj.get("apiVersion")
        if api_version and api_version != rtype.api_version:
            raise errors.BadRequest(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({rtype.api_version})"
            )
        kind = obj.get("kind")
        if kind and kind != rtype.kind:
            raise errors.BadRequest(
                f"the kind in the data ({kind}) does not match the expected kind ({rtype.kind})"
            )
        obj["apiVersion"], obj["kind"] = rtype.api_version, rtype.kind
        meta = obj.get("metadata")
        if meta is None:
            obj["metadata"] = {}
        elif not isinstance(meta, dict):
            raise errors.BadRequest("metadata must be an object")

    def create(
        self,
        rtype: resources.ResourceType,
        obj: dict[str, Any],
        *,
        namespace: str | None,
        dry_run: bool = False,
        field_validation: str = "Strict",
        applied: tuple[str, dict[str, Any]] | None = None,
    ) -> WriteResult:
        """POST: create ``obj`` (a mutable dict the store takes over).

        ``applied`` is (field manager, configuration) when a server-side apply creates the object.
        """
        self._fill_identity(rtype, obj)
        meta = obj["metadata"]
        if rtype.namespaced:
            body_ns = meta.get("namespace")
            if namespace and body_ns and body_ns != namespace:
                raise errors.BadRequest(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            namespace = namespace or body_ns
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        warnings: list[str] = []
        if rtype.custom:
            obj = admission.prune_and_default(
                rtype, obj, field_validation=field_validation, warnings=warnings
            )
            meta = obj["metadata"]
        if not meta.get("name"):
            prefix = meta.get("generateName")
            if not prefix:
                raise errors.field_required(
                    rtype.kind, rtype.group, "", "metadata.name", "name or generateName is required"
                )
            for _ in range(8):
                candidate = prefix + "".join(random.choices(_NAME_CHARS, k=5))
                if self.find(rtype, namespace, candidate) is None:
                    break
            meta["name"] = candidate
        name = meta["name"]
        self._check_namespace(rtype, namespace, name)
        if self.find(rtype, namespace, name) is not None:
            raise errors.already_exists(rtype.plural, rtype.group, name)
        for key in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
            "selfLink",
        ):
            meta.pop(key, None)
        if rtype.status_subresource:
            obj.pop("status", None)
        now = now_rfc3339()
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now
        if rtype.generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        kinds.prepare(rtype, obj, None, registry=self.registry, now=now)
        self._validate(rtype, obj, None)
        storage_type = self._storage_type(rtype)
        stored = convert.to_storage(rtype, obj, storage_type.api_version)
        if dry_run:
            return WriteResult(Entry(stored, encode(stored)), created=True, warnings=warnings)
        change = self._commit(rtype, "ADDED", stored, None)
        if applied is not None:
            manager, config = applied
            self._applied.setdefault(meta["uid"], {})[manager] = config
        return WriteResult(change.entry, created=True, warnings=warnings)

    def _validate(
        self, rtype: resources.ResourceType, obj: dict[str, Any], old: Mapping[str, Any] | None
    ) -> None:
        if rtype.custom:
            admission.validate_custom(rtype, obj, old)
        else:
            causes = admission.metadata_causes(rtype, obj)
            if causes:
                raise errors.invalid(rtype.kind, rtype.group, obj["metadata"].get("name", ""), causes)

    def update(
        self,
        rtype: resources.ResourceType,
        namespace: str | None,
        name: str,
        obj: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_validation: str = "Strict",
        require_rv: bool = False,
        patching: bool = False,
        expect_rv: str | None = None,
    ) -> WriteResult:
        """PUT (and the second half of PATCH): replace the object with ``obj`` under the write rules."""
        old = self.get(rtype, namespace, name)
        return self._update(
            rtype,
            old,
            obj,
            subresource=subresource,
            dry_run=dry_run,
            field_validation=field_validation,
            require_rv=require_rv,
            patching=patching,
            expect_rv=expect_rv,
        )

    def _update(
        self,
        rtype: resources.ResourceType,
        old: Entry,
        obj: dict[str, Any],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_validation: str = "Strict",
        require_rv: bool = False,
        patching: bool = False,
        expect_rv: str | None = None,
    ) -> WriteResult:
        self._fill_identity(rtype, obj)
        old_obj = convert.to_view(rtype, old.obj)
        old_meta = old_obj["metadata"]
        name = old_meta["name"]
        meta = obj["metadata"]
        if meta.get("name", name) != name:
            raise errors.BadRequest(
                f"the name of the object ({meta.get('name')}) does not match the name on the URL ({name})"
            )
        if rtype.namespaced and meta.get("namespace", old_meta.get("namespace")) != old_meta.get("namespace"):
            raise errors.BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        given_rv = meta.get("resourceVersion") or expect_rv
        if given_rv and str(given_rv) != old.rv:
            raise errors.conflict(rtype.plural, rtype.group, name)
        if require_rv and not given_rv and rtype.custom:
            raise errors.field_invalid(
                rtype.kind,
                rtype.group,
                name,
                "metadata.resourceVersion",
                0,
                "must be specified for an update",
            )
        warnings: list[str] = []

        # The status split.
        if subresource == "status":
            status = obj.get("status")
            obj = old.copy() if convert.is_identity(rtype) else json.loads(encode(old_obj))
            if status is None:
                obj.pop("status", None)
            else:
                obj["status"] = status
            meta = obj["metadata"]
        else:
            if rtype.status_subresource:
                if "status" in old_obj:
                    obj["status"] = json.loads(encode(old_obj["status"]))
                else:
                    obj.pop("status", None)
        if rtype.custom:
            obj = admission.prune_and_default(
                rtype, obj, field_validation=field_validation, warnings=warnings, patching=patching
            )
            meta = obj["metadata"]

        # Fields only the server sets.
        for key in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if key in old_meta:
                meta[key] = old_meta[key]
            else:
                meta.pop(key, None)
        meta["name"] = name
        if rtype.namespaced:
            meta["namespace"] = old_meta.get("namespace")
        meta.pop("managedFields", None)
        meta.pop("selfLink", None)
        meta["resourceVersion"] = old.rv

        deleting = bool(old_meta.get("deletionTimestamp"))
        if deleting:
            added = [f for f in meta.get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])]
            if added:
                listing = ", ".join(f'"{f}"' for f in added)
                raise errors.invalid(
                    rtype.kind,
                    rtype.group,
                    name,
                    [
                        {
                            "reason": "FieldValueForbidden",
                            "message": "Forbidden: no new finalizers can be added if the object is being "
                            f"deleted, found new finalizers []string{{{listing}}}",
                            "field": "metadata.finalizers",
                        }
                    ],
                )
        if not meta.get("finalizers"):
            meta.pop("finalizers", None)

        now = now_rfc3339()
        kinds.prepare(rtype, obj, old_obj, registry=self.registry, now=now)
        if rtype.generation and _spec_changed(obj, old_obj, status_split=rtype.status_subresource):
            meta["generation"] = int(old_meta.get("generation", 0)) + 1
        storage_type = self._storage_type(rtype)
        stored = convert.to_storage(rtype, obj, storage_type.api_version)
        if stored == old.obj:
            return WriteResult(old, warnings=warnings)
        self._validate(rtype, obj, old_obj)
        if deleting and not meta.get("finalizers") and not _namespace_finalizers(rtype, obj):
            if dry_run:
                return WriteResult(Entry(stored, encode(stored)), deleted=True, warnings=warnings)
            change = self._commit(rtype, "DELETED", stored, old)
            return WriteResult(change.entry, deleted=True, warnings=warnings)
        if dry_run:
            return WriteResult(Entry(stored, encode(stored)), warnings=warnings)
        change = self._commit(rtype, "MODIFIED", stored, old)
        return WriteResult(change.entry, warnings=warnings)

    def patch(
        self,
        rtype: resources.ResourceType,
        namespace: str | None,
        name: str,
        patch_type: str,
        patch: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
        field_validation: str = "Strict",
        field_manager: str | None = None,
        force: bool = False,
    ) -> WriteResult:
        """PATCH with one of the patch types (``json``, ``merge``, ``strategic``, ``apply``).

        ``apply`` creates a missing object; field ownership is not tracked, so an apply never conflicts
        with another manager (``force`` is accepted and has nothing to override).
        """
        old = self.find(rtype, namespace, name)
        if patch_type == "apply":
            if not isinstance(patch, dict):
                raise errors.BadRequest("the body of an apply patch must be an object")
            manager = field_manager or ""
            if not manager:
                raise errors.BadRequest("PATCH, application/apply-patch+yaml requires fieldManager to be set")
            if old is None:
                if subresource:
                    raise errors.not_found(rtype.plural, rtype.group, name)
                body = json.loads(encode(patch))
                body.setdefault("metadata", {})["name"] = name
                if rtype.namespaced and namespace:
                    body["metadata"].setdefault("namespace", namespace)
                return self.create(
                    rtype,
                    body,
                    namespace=namespace,
                    dry_run=dry_run,
                    field_validation=field_validation,
                    applied=(manager, applied_by_config(patch)),
                )
            uid = old.meta["uid"]
            last = self._applied.get(uid, {}).get(manager)
            current = convert.to_view(rtype, old.copy())
            expect_rv = (patch.get("metadata") or {}).get("resourceVersion")
            new = patching.apply(current, patch, last_applied=last)
            new["metadata"]["resourceVersion"] = expect_rv or old.rv
            result = self._update(
                rtype,
                old,
                new,
                subresource=subresource,
                dry_run=dry_run,
                field_validation=field_validation,
                patching=True,
            )
            if not dry_run and not result.deleted:
                self._applied.setdefault(uid, {})[manager] = applied_by_config(patch)
            return result
        if old is None:
            raise errors.not_found(rtype.plural, rtype.group, name)
        current = convert.to_view(rtype, old.copy())
        if patch_type == "json":
            new = patching.json_patch(current, patch)
        elif patch_type == "merge":
            new = patching.merge(current, patch)
        elif patch_type == "strategic":
            new = patching.strategic(current, patch)
        else:
            raise errors.UnsupportedMediaType(f"unsupported patch type {patch_type!r}")
        if not isinstance(new, dict):
            raise errors.BadRequest("the patched object is not a JSON object")
        # A resourceVersion in the patch is a precondition; otherwise the patch applies to the latest.
        patch_rv = None
        if isinstance(new.get("metadata"), dict):
            patch_rv = new["metadata"].get("resourceVersion")
            new["metadata"]["resourceVersion"] = patch_rv if patch_rv is not None else old.rv
        return self._update(
            rtype,
            old,
            new,
            subresource=subresource,
            dry_run=dry_run,
            field_validation=field_validation,
            patching=True,
        )

    def delete(
        self,
        rtype: resources.ResourceType,
        namespace: str | None,
        name: str,
        *,
        propagation: str | None = None,
        preconditions: Mapping[str, Any] | None = None,
        dry_run: bool = False,
    ) -> WriteResult:
        """DELETE: remove at once, or mark with ``deletionTimestamp`` while finalizers remain."""
        old = self.get(rtype, namespace, name)
        old_meta = old.meta
        preconditions = preconditions or {}
        if preconditions.get("uid") and preconditions["uid"] != old_meta.get("uid"):
            raise errors.conflict(
                rtype.plural,
                rtype.group,
                name,
                f"Precondition failed: UID in precondition: {preconditions['uid']}, "
                f"UID in object meta: {old_meta.get('uid')}",
            )
        if preconditions.get("resourceVersion") and str(preconditions["resourceVersion"]) != old.rv:
            raise errors.conflict(
                rtype.plural,
                rtype.group,
                name,
                f"Precondition failed: ResourceVersion in precondition: {preconditions['resourceVersion']}, "
                f"ResourceVersion in object meta: {old.rv}",
            )
        obj = old.copy()
        meta = obj["metadata"]
        finalizers = list(meta.get("finalizers") or [])
        if propagation == "Orphan" and "orphan" not in finalizers and not old_meta.get("deletionTimestamp"):
            finalizers.append("orphan")
        if (
            propagation == "Foreground"
            and "foregroundDeletion" not in finalizers
            and not old_meta.get("deletionTimestamp")
        ):
            finalizers.append("foregroundDeletion")
        if finalizers or _namespace_finalizers(rtype, obj):
            if old_meta.get("deletionTimestamp"):
                return WriteResult(old)
            meta["finalizers"] = finalizers
            if not finalizers:
                meta.pop("finalizers")
            meta["deletionTimestamp"] = now_rfc3339()
            meta["deletionGracePeriodSeconds"] = 0
            if rtype.generation:
                meta["generation"] = int(meta.get("generation", 0)) + 1
            kinds.prepare(rtype, obj, old.obj, registry=self.registry, now=meta["deletionTimestamp"])
            if dry_run:
                return WriteResult(Entry(obj, encode(obj)))
            return WriteResult(self._commit(rtype, "MODIFIED", obj, old).entry)
        if dry_run:
            return WriteResult(old, deleted=True)
        return WriteResult(self._commit(rtype, "DELETED", obj, old).entry, deleted=True)

    def finalize_namespace(self, name: str) -> None:
        """What the namespace controller does once a terminating namespace is empty: drop its finalizer."""
        old = self.find(resources.NAMESPACES, None, name)
        if old is None or not old.meta.get("deletionTimestamp"):
            return
        obj = old.copy()
        obj.setdefault("spec", {}).pop("finalizers", None)
        if not obj["spec"]:
            obj.pop("spec")
        if obj["metadata"].get("finalizers"):
            self._commit(resources.NAMESPACES, "MODIFIED", obj, old)
        else:
            self._commit(resources.NAMESPACES, "DELETED", obj, old)

    def compact(self) -> int:
        """Forget all history, as if etcd had moved on and compacted: every known version becomes too old.

        Returns the new floor; watches resuming from any version handed out so far get 410.
        """
        floor = self._next_rv()
        for col in self._collections.values():
            col.history.clear()
            col.floor = floor
        return floor


def applied_by_config(obj: Mapping[str, Any]) -> dict[str, Any]:
    """What a field manager applied, without the identity fields the server owns."""
    config: dict[str, Any] = json.loads(encode(obj))
    meta = config.get("metadata")
    if isinstance(meta, dict):
        for key in ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields"):
            meta.pop(key, None)
    return config


def _namespace_finalizers(rtype: resources.ResourceType, obj: Mapping[str, Any]) -> bool:
    return rtype is resources.NAMESPACES and bool((obj.get("spec") or {}).get("finalizers"))


def _spec_changed(new: Mapping[str, Any], old: Mapping[str, Any], *, status_split: bool) -> bool:
    skip = {"metadata", "apiVersion", "kind"}
    if status_split:
        skip.add("status")
    keys = (set(new) | set(old)) - skip
    return any(new.get(k) != old.get(k) for k in keys)
