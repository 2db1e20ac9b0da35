"""Watch streams: JSON lines of ``{"type": ..., "object": ...}``, as kube-apiserver sends them.

A ``Watch`` is registered in its collection (``store.Collection.watchers``) in the same synchronous step
that computes its starting events, so no change can fall between the two:

- ``resourceVersion`` unset or ``"0"`` (or ``sendInitialEvents=true``): ADDED for every current object,
  then (with ``sendInitialEvents`` and bookmarks) a BOOKMARK annotated ``k8s.io/initial-events-end``;
- ``resourceVersion=N``: the history after N; if N is older than the history kept, a single in-stream
  ``ERROR`` event with a 410 ``Expired`` Status (kopf and client-go then re-list).

Then every committed change is offered by the store; the watch filters it by namespace and selectors
(a change that makes an object stop or start matching becomes DELETED or ADDED, as in kube-apiserver),
queues its line (encoded once per change and shared by all watchers) and a writer task flushes the
queue. With ``allowWatchBookmarks`` a BOOKMARK carrying the current resourceVersion goes out whenever the
stream was quiet for ``bookmark_interval`` seconds. ``close()`` (faults) ends the stream as a server
restart would; a client that disconnects is noticed at the next write or by handler cancellation.
"""

from __future__ import annotations

import asyncio
import collections
import json
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from orchestration_operator.testing.kube import convert, errors, resources, selectors, store, tables


class Sink(Protocol):
    """Where a watch writes its lines (an aiohttp ``StreamResponse`` in the server)."""

    async def write(self, data: bytes) -> None: ...


class Watch:
    """One live watch of one resource type."""

    def __init__(
        self,
        db: store.Store,
        rtype: resources.ResourceType,
        *,
        namespace: str | None = None,
        labels: selectors.LabelSelector | None = None,
        fields: selectors.FieldSelector | None = None,
        bookmarks: bool = False,
        bookmark_interval: float = 15.0,
        table: str | None = None,
        include_object: str = "Metadata",
        max_pending: int = 100_000,
    ) -> None:
        self.db = db
        self.rtype = rtype
        self.namespace = namespace if rtype.namespaced else None
        self.labels = labels or selectors.LabelSelector()
        self.fields = fields or selectors.FieldSelector()
        self.filtered = bool(self.labels or self.fields)
        self.bookmarks = bookmarks
        self.bookmark_interval = bookmark_interval
        self.table = table
        self.include_object = include_object
        self.max_pending = max_pending
        self.pending: collections.deque[bytes] = collections.deque()
        self.wakeup = asyncio.Event()
        self.closed = False
        self.overflowed = False
        self._first_table = True
        self._col = db.collection(rtype)

    # -------------------------------------------------------------------------------- filtering

    def _matches(self, entry: store.Entry | None) -> bool:
        if entry is None:
            return False
        meta = entry.meta
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if not self.filtered:
            return True
        if self.labels and not self.labels.matches(meta.get("labels")):
            return False
        return not self.fields or self.fields.matches(lambda f: selectors.field_value(entry.obj, f))

    def _event_type(self, change: store.Change) -> str | None:
        now = self._matches(change.entry)
        if change.type == "ADDED":
            return "ADDED" if now else None
        before = self._matches(change.old)
        if change.type == "DELETED":
            return "DELETED" if (now or before) else None
        if now and before:
            return "MODIFIED"
        if now:
            return "ADDED"
        if before:
            return "DELETED"
        return None

    def _line(self, change: store.Change, event_type: str) -> bytes:
        if self.table is None:
            return change.line(self.rtype, event_type)
        obj = convert.to_view(self.rtype, change.entry.obj)
        return self._table_line(event_type, obj)

    def _table_line(self, event_type: str, obj: Mapping[str, Any]) -> bytes:
        rendered = tables.table(
            self.rtype,
            [obj],
            resource_version=str(obj.get("metadata", {}).get("resourceVersion", "")),
            include_object=self.include_object,
            include_columns=self._first_table,
        )
        rendered["apiVersion"] = f"meta.k8s.io/{self.table}"
        self._first_table = False
        return store.encode({"type": event_type, "object": rendered}) + b"\n"

    # ---------------------------------------------------------------------------------- feeding

    def offer(self, change: store.Change) -> None:
        """Called by the store for every committed change of the collection."""
        if self.closed:
            return
        event_type = self._event_type(change)
        if event_type is None:
            return
        self._push(self._line(change, event_type))

    def _push(self, line: bytes) -> None:
        if len(self.pending) >= self.max_pending:
            # A consumer this far behind is cut off, as kube-apiserver does; it re-watches or re-lists.
            self.overflowed = True
            self.close()
            return
        self.pending.append(line)
        self.wakeup.set()

    def close(self) -> None:
        self.closed = True
        self.wakeup.set()

    def start(self, resource_version: str | None, *, send_initial_events: bool = False) -> None:
        """Queue the starting events and register for live changes (atomically, no awaits)."""
        initial = send_initial_events or not resource_version or resource_version == "0"
        if not initial:
            try:
                since = int(resource_version or "")
            except ValueError as exc:
                raise errors.BadRequest(f"invalid resource version: {resource_version!r}") from exc
            if since < self._col.floor or since > self.db.resource_version:
                self._expire(since)
                return
            for change in self._col.history:
                if change.rv > since:
                    self.offer(change)
        else:
            for entry in self._snapshot():
                if self.table is None:
                    if convert.is_identity(self.rtype):
                        raw = entry.raw
                    else:
                        raw = store.encode(convert.to_view(self.rtype, entry.obj))
                    self._push(b'{"type":"ADDED","object":' + raw + b"}\n")
                else:
                    self._push(self._table_line("ADDED", convert.to_view(self.rtype, entry.obj)))
            if send_initial_events and self.bookmarks:
                self._push(self._bookmark(initial_end=True))
        self._col.watchers.add(self)

    def _snapshot(self) -> list[store.Entry]:
        ns = self.namespace if self.rtype.namespaced else None
        return [e for e in self._col.entries(ns) if self._matches(e)]

    def _expire(self, since: int) -> None:
        status = errors.Gone(f"too old resource version: {since} ({self._col.floor})").status()
        self.pending.append(store.encode({"type": "ERROR", "object": status}) + b"\n")
        self.closed = True
        self.wakeup.set()

    def _bookmark(self, *, initial_end: bool = False) -> bytes:
        meta: dict[str, Any] = {"resourceVersion": str(self.db.resource_version)}
        if initial_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": self.rtype.kind, "apiVersion": self.rtype.api_version, "metadata": meta}
        return b'{"type":"BOOKMARK","object":' + json.dumps(obj, separators=(",", ":")).encode() + b"}\n"

    # ---------------------------------------------------------------------------------- serving

    async def run(
        self,
        sink: Sink,
        *,
        duration: float | None = None,
        is_connected: Callable[[], bool] = lambda: True,
    ) -> None:
        """Write queued lines to ``sink`` for ``duration`` s, until close() or disconnect; then unregister."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + duration if duration else None
        last_write = loop.time()
        try:
            while True:
                if self.pending:
                    chunk = b"".join(self.pending)
                    self.pending.clear()
                    await sink.write(chunk)
                    last_write = loop.time()
                    continue
                if self.closed:
                    return
                self.wakeup.clear()
                now = loop.time()
                wait = self.bookmark_interval - (now - last_write) if self.bookmarks else 1.0
                if deadline is not None:
                    wait = min(wait, deadline - now)
                if wait > 0:
                    try:
                        async with asyncio.timeout(min(wait, 1.0)):
                            await self.wakeup.wait()
                        continue
                    except TimeoutError:
                        pass
                now = loop.time()
                if deadline is not None and now >= deadline:
                    return
                if not is_connected():
                    return
                if self.bookmarks and now - last_write >= self.bookmark_interval and not self.pending:
                    await sink.write(self._bookmark())
                    last_write = loop.time()
        finally:
            self.closed = True
            self._col.watchers.discard(self)
