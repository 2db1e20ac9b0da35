"""Watch streams: starting points, 410, selector transitions, bookmarks, shared encodings."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from orchestration_operator.testing.kube import resources, selectors, store, watch

CONFIGMAPS = next(t for t in resources.BUILTINS if t.plural == "configmaps")


class Sink:
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.arrived = asyncio.Event()

    async def write(self, data: bytes) -> None:
        for line in data.splitlines():
            self.events.append(json.loads(line))
        self.arrived.set()

    async def wait_for(self, count: int) -> list[dict[str, Any]]:
        async with asyncio.timeout(5):
            while len(self.events) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.events


def summary(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["type"], e["object"].get("metadata", {}).get("name", "")) for e in events]


def cm(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


@pytest.fixture
def db() -> store.Store:
    return store.Store()


async def run(w: watch.Watch, sink: Sink) -> asyncio.Task[None]:
    return asyncio.create_task(w.run(sink))


async def test_from_zero_lists_current_objects_then_follows(db: store.Store) -> None:
    db.create(CONFIGMAPS, cm("a"), namespace="default")
    w = watch.Watch(db, CONFIGMAPS, namespace="default")
    w.start("0")
    sink = Sink()
    task = await run(w, sink)
    db.patch(CONFIGMAPS, "default", "a", "merge", {"data": {"k": "v"}})
    db.create(CONFIGMAPS, cm("b"), namespace="default")
    db.create(CONFIGMAPS, cm("other"), namespace="kube-system")  # another namespace: not seen
    db.delete(CONFIGMAPS, "default", "a")
    events = await sink.wait_for(4)
    assert summary(events) == [("ADDED", "a"), ("MODIFIED", "a"), ("ADDED", "b"), ("DELETED", "a")]
    assert events[3]["object"]["metadata"]["resourceVersion"] == str(db.resource_version)
    w.close()
    await task
    assert w not in db.collection(CONFIGMAPS).watchers


async def test_from_a_version_replays_the_history_after_it(db: store.Store) -> None:
    db.create(CONFIGMAPS, cm("a"), namespace="default")
    rv = str(db.resource_version)
    db.create(CONFIGMAPS, cm("b"), namespace="default")
    db.patch(CONFIGMAPS, "default", "a", "merge", {"data": {"k": "v"}})
    w = watch.Watch(db, CONFIGMAPS)
    w.start(rv)
    sink = Sink()
    task = await run(w, sink)
    assert summary(await sink.wait_for(2)) == [("ADDED", "b"), ("MODIFIED", "a")]
    w.close()
    await task


@pytest.mark.parametrize("compact", [True, False])
async def test_too_old_version_is_an_in_stream_410(compact: bool) -> None:
    db = store.Store(history_window=2)
    db.create(CONFIGMAPS, cm("a"), namespace="default")
    rv = str(db.resource_version)
    if compact:
        db.compact()
    else:
        for name in ("b", "c", "d"):  # the window of 2 drops the events right after rv
            db.create(CONFIGMAPS, cm(name), namespace="default")
    w = watch.Watch(db, CONFIGMAPS)
    w.start(rv)
    sink = Sink()
    await asyncio.wait_for(w.run(sink), 5)  # ends by itself
    (event,) = sink.events
    assert event["type"] == "ERROR"
    assert {k: event["object"][k] for k in ("kind", "code", "reason", "status")} == {
        "kind": "Status",
        "code": 410,
        "reason": "Expired",
        "status": "Failure",
    }
    assert event["object"]["message"].startswith(f"too old resource version: {rv} (")


async def test_future_version_is_410(db: store.Store) -> None:
    w = watch.Watch(db, CONFIGMAPS)
    w.start(str(db.resource_version + 10))
    sink = Sink()
    await asyncio.wait_for(w.run(sink), 5)
    assert sink.events[0]["object"]["code"] == 410


async def test_selector_transitions_become_added_and_deleted(db: store.Store) -> None:
    db.create(CONFIGMAPS, cm("a", tier="front"), namespace="default")
    w = watch.Watch(db, CONFIGMAPS, labels=selectors.parse_labels("tier=front"))
    w.start(str(db.resource_version))
    sink = Sink()
    task = await run(w, sink)
    db.patch(CONFIGMAPS, "default", "a", "merge", {"metadata": {"labels": {"tier": "back"}}})
    db.patch(CONFIGMAPS, "default", "a", "merge", {"data": {"k": "v"}})  # not matching before or after
    db.patch(CONFIGMAPS, "default", "a", "merge", {"metadata": {"labels": {"tier": "front"}}})
    db.patch(CONFIGMAPS, "default", "a", "merge", {"data": {"k": "w"}})
    events = await sink.wait_for(3)
    assert summary(events) == [("DELETED", "a"), ("ADDED", "a"), ("MODIFIED", "a")]
    w.close()
    await task


async def test_field_selector_on_name(db: store.Store) -> None:
    w = watch.Watch(db, CONFIGMAPS, fields=selectors.parse_fields("metadata.name=b"))
    w.start("")
    sink = Sink()
    task = await run(w, sink)
    for name in ("a", "b", "c"):
        db.create(CONFIGMAPS, cm(name), namespace="default")
    assert summary(await sink.wait_for(1)) == [("ADDED", "b")]
    w.close()
    await task
    assert len(sink.events) == 1


async def test_bookmarks_after_quiet_periods_carry_the_current_version(db: store.Store) -> None:
    w = watch.Watch(db, CONFIGMAPS, bookmarks=True, bookmark_interval=0.05)
    w.start(str(db.resource_version))
    sink = Sink()
    task = await run(w, sink)
    db.create(
        resources.NAMESPACES, {"metadata": {"name": "elsewhere"}}, namespace=None
    )  # moves the global version
    events = await sink.wait_for(1)
    assert events[0] == {
        "type": "BOOKMARK",
        "object": {
            "kind": "ConfigMap",
            "apiVersion": "v1",
            "metadata": {"resourceVersion": str(db.resource_version)},
        },
    }
    w.close()
    await task


async def test_send_initial_events_ends_with_an_annotated_bookmark(db: store.Store) -> None:
    db.create(CONFIGMAPS, cm("a"), namespace="default")
    w = watch.Watch(db, CONFIGMAPS, bookmarks=True, bookmark_interval=60)
    w.start(None, send_initial_events=True)
    sink = Sink()
    task = await run(w, sink)
    events = await sink.wait_for(2)
    assert summary(events) == [("ADDED", "a"), ("BOOKMARK", "")]
    assert events[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    w.close()
    await task


async def test_table_watch_renders_rows(db: store.Store) -> None:
    w = watch.Watch(db, CONFIGMAPS, table="v1")
    w.start("0")
    sink = Sink()
    task = await run(w, sink)
    db.create(CONFIGMAPS, {"metadata": {"name": "a"}, "data": {"x": "1"}}, namespace="default")
    db.create(CONFIGMAPS, {"metadata": {"name": "b"}}, namespace="default")
    first, second = await sink.wait_for(2)
    assert first["object"]["kind"] == "Table"
    assert [c["name"] for c in first["object"]["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert first["object"]["rows"][0]["cells"][:2] == ["a", 1]
    assert second["object"]["columnDefinitions"] == []  # headers once, as kube-apiserver does
    w.close()
    await task


def test_one_encoding_is_shared_by_every_watcher(db: store.Store) -> None:
    watchers = [watch.Watch(db, CONFIGMAPS) for _ in range(3)]
    for w in watchers:
        w.start(str(db.resource_version))
    db.create(CONFIGMAPS, cm("a"), namespace="default")
    lines = [w.pending[0] for w in watchers]
    assert lines[0] is lines[1] is lines[2]


def test_a_consumer_too_far_behind_is_cut_off(db: store.Store) -> None:
    w = watch.Watch(db, CONFIGMAPS, max_pending=2)
    w.start(str(db.resource_version))
    for name in ("a", "b", "c"):
        db.create(CONFIGMAPS, cm(name), namespace="default")
    assert w.overflowed
    assert w.closed
