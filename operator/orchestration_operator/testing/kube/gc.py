"""Background controllers: owner-reference garbage collection, namespace and CRD cleanup.

What kube-controller-manager and the apiextensions finalizer do, reduced to one sweep that runs shortly
after a deletion (and every few seconds anyway):

- an object whose owners (``ownerReferences`` by uid) are all gone is deleted (background propagation);
  references to missing owners are dropped when some owner remains;
- an owner deleted with ``propagationPolicy=Orphan`` (finalizer ``orphan``) has its dependents' references
  removed, then its finalizer; with ``Foreground`` (``foregroundDeletion``) its dependents are deleted
  first;
- a terminating namespace has its contents deleted and, once empty, its ``kubernetes`` finalizer removed;
- a terminating CRD has its instances deleted and, once none remain, its cleanup finalizer removed, at
  which point ``server`` stops serving its types.

``store`` calls ``notice`` for every change; ``Collector.run`` is a task of the sandbox's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from orchestration_operator.testing.kube import errors, kinds, resources, store

logger = logging.getLogger(__name__)

_Key = tuple[tuple[str, str], str, str]  # storage, namespace, name


class Collector:
    def __init__(self, db: store.Store, *, interval: float = 0.05, period: float = 2.0) -> None:
        self.db = db
        self.interval = interval
        self.period = period
        self.owned: dict[_Key, frozenset[str]] = {}  # objects with owner references -> owner uids
        self.deleting: set[_Key] = set()  # objects with a deletionTimestamp
        self.pending = asyncio.Event()
        db.listeners.append(self.notice)

    def notice(self, rtype: resources.ResourceType, change: store.Change) -> None:
        meta = change.entry.meta
        key: _Key = (rtype.storage, meta.get("namespace", "") if rtype.namespaced else "", meta["name"])
        refs = meta.get("ownerReferences")
        if change.type == "DELETED" or not refs:
            self.owned.pop(key, None)
        else:
            self.owned[key] = frozenset(r.get("uid", "") for r in refs if isinstance(r, dict))
        if change.type != "DELETED" and meta.get("deletionTimestamp"):
            self.deleting.add(key)
            self.pending.set()
        elif key in self.deleting or change.type == "DELETED":
            self.deleting.discard(key)
            self.pending.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.period):
                    await self.pending.wait()
            await asyncio.sleep(self.interval)  # let a burst of deletions settle
            self.pending.clear()
            try:
                for _ in range(20):  # bounded: a write that keeps failing must not spin the loop
                    if not self.sweep():
                        break
                    await asyncio.sleep(0)
                else:
                    self.pending.set()
            except Exception:  # a bug here must not stop the sandbox
                logger.exception("garbage collection sweep failed")

    # ------------------------------------------------------------------------------------ sweeps

    def _type(self, storage: tuple[str, str]) -> resources.ResourceType | None:
        return self.db.registry.storage_type(storage)

    def _delete(
        self, rtype: resources.ResourceType, namespace: str, name: str, propagation: str = "Background"
    ) -> bool:
        try:
            self.db.delete(rtype, namespace or None, name, propagation=propagation)
        except errors.NotFound:
            return False
        return True

    def _json_patch(
        self, rtype: resources.ResourceType, entry: store.Entry, ops: list[dict[str, Any]]
    ) -> None:
        meta = entry.meta
        test = {"op": "test", "path": "/metadata/resourceVersion", "value": entry.rv}
        with contextlib.suppress(errors.ApiError):
            self.db.patch(
                rtype, meta.get("namespace"), meta["name"], "json", [test, *ops], field_validation="Ignore"
            )

    def _remove_finalizer(self, rtype: resources.ResourceType, entry: store.Entry, finalizer: str) -> None:
        finalizers = list(entry.meta.get("finalizers") or [])
        if finalizer in finalizers:
            finalizers.remove(finalizer)
            self._json_patch(
                rtype, entry, [{"op": "replace", "path": "/metadata/finalizers", "value": finalizers}]
            )

    def sweep(self) -> bool:
        """One pass; returns True if it changed something (so another pass may find more)."""
        changed = self._owners()
        changed = self._namespaces() or changed
        return self._crds() or changed

    def _owners(self) -> bool:
        changed = False
        for key, owners in list(self.owned.items()):
            storage, namespace, name = key
            missing = {uid for uid in owners if not self._owner_present(uid, namespace)}
            if not missing:
                continue
            rtype = self._type(storage)
            if rtype is None:
                continue
            entry = self.db.find(rtype, namespace or None, name)
            if entry is None:
                self.owned.pop(key, None)
                continue
            if missing == owners:
                if not entry.meta.get("deletionTimestamp"):
                    changed = self._delete(rtype, namespace, name) or changed
                continue
            refs = [r for r in entry.meta.get("ownerReferences") or [] if r.get("uid") not in missing]
            self._json_patch(
                rtype, entry, [{"op": "replace", "path": "/metadata/ownerReferences", "value": refs}]
            )
            changed = True
        # Owners being deleted with orphan or foreground propagation.
        for storage, namespace, name in list(self.deleting):
            rtype = self._type(storage)
            entry = self.db.find(rtype, namespace or None, name) if rtype is not None else None
            if rtype is None or entry is None:
                continue
            finalizers = entry.meta.get("finalizers") or []
            if "orphan" in finalizers:
                self._orphan(entry.meta["uid"])
                self._remove_finalizer(rtype, entry, "orphan")
                changed = True
            elif "foregroundDeletion" in finalizers:
                dependents = self._dependents(entry.meta["uid"])
                for dep_type, dep_ns, dep_name in dependents:
                    self._delete(dep_type, dep_ns, dep_name, "Foreground")
                if not dependents:
                    self._remove_finalizer(rtype, entry, "foregroundDeletion")
                    changed = True
        return changed

    def _owner_present(self, uid: str, dependent_namespace: str) -> bool:
        where = self.db.by_uid(uid)
        if where is None:
            return False
        _, owner_namespace, _ = where
        return not owner_namespace or owner_namespace == dependent_namespace

    def _dependents(self, uid: str) -> list[tuple[resources.ResourceType, str, str]]:
        out = []
        for (storage, namespace, name), owners in self.owned.items():
            if uid in owners:
                rtype = self._type(storage)
                if rtype is not None:
                    out.append((rtype, namespace, name))
        return out

    def _orphan(self, uid: str) -> None:
        for rtype, namespace, name in self._dependents(uid):
            entry = self.db.find(rtype, namespace or None, name)
            if entry is None:
                continue
            refs = [r for r in entry.meta.get("ownerReferences") or [] if r.get("uid") != uid]
            op = (
                {"op": "replace", "path": "/metadata/ownerReferences", "value": refs}
                if refs
                else {"op": "remove", "path": "/metadata/ownerReferences"}
            )
            self._json_patch(rtype, entry, [op])

    def _namespaces(self) -> bool:
        changed = False
        namespaces = self.db.collection(resources.NAMESPACES)
        for entry in list(namespaces.entries()):
            if not entry.meta.get("deletionTimestamp"):
                continue
            name = entry.meta["name"]
            remaining = 0
            for col in self.db.collections():
                if col.storage == resources.NAMESPACES.storage:
                    continue
                rtype = self._type(col.storage)
                if rtype is None or not rtype.namespaced:
                    continue
                for item in list(col.entries(name)):
                    remaining += 1
                    if not item.meta.get("deletionTimestamp"):
                        changed = self._delete(rtype, name, item.meta["name"]) or changed
            if remaining == 0 and (entry.obj.get("spec") or {}).get("finalizers"):
                self.db.finalize_namespace(name)
                changed = True
        return changed

    def _crds(self) -> bool:
        changed = False
        crds = self.db.collection(resources.CRD)
        for entry in list(crds.entries()):
            meta = entry.meta
            if not meta.get("deletionTimestamp") or kinds.CRD_CLEANUP_FINALIZER not in (
                meta.get("finalizers") or []
            ):
                continue
            types = self.db.registry.crd_types(meta["name"])
            remaining = 0
            for rtype in types[:1]:
                for item in list(self.db.collection(rtype).entries()):
                    remaining += 1
                    if not item.meta.get("deletionTimestamp"):
                        changed = (
                            self._delete(rtype, item.meta.get("namespace", ""), item.meta["name"]) or changed
                        )
            if remaining == 0:
                self._remove_finalizer(resources.CRD, entry, kinds.CRD_CLEANUP_FINALIZER)
                changed = True
        return changed
