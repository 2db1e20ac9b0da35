"""The EventPoll daemon over fakes: status writes retried before any further poll, prompt stops that
commit nothing, wake-ups on spec and reset annotation only, Events on changes of state."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import kopf
import pytest
from kopf._cogs.aiokits import aioenums  # the stop flag kopf hands to daemons; no public constructor

from orchestration_operator import client
from orchestration_operator.handlers import eventpoll as handler
from orchestration_operator.handlers import kopfapi, kube
from orchestration_operator.reconcile import spread, wakeups
from orchestration_operator.testing.drupal import poll_rules

NAMESPACE = "shop"
NAME = "orders-feed"
NOW = int(time.time())


class Source:
    """The site's poll route: a feed of timestamp items; ``gate`` (when set) blocks every poll."""

    def __init__(self) -> None:
        self.feed = poll_rules.PollFeed(variant=poll_rules.Variant(comparison="inclusive", order="ascending"))
        self.requests: list[int | None] = []
        self.gate: asyncio.Event | None = None
        self.entered = asyncio.Event()

    def add(self, *timestamps: int) -> None:
        self.feed.add("orders", *(poll_rules.FeedItem(data=ts, timestamp=ts) for ts in timestamps))

    async def poll(self, name: str, *, timestamp: int | None = None, id: str | None = None) -> list[Any]:  # noqa: A002
        self.requests.append(timestamp)
        self.entered.set()
        if self.gate is not None:
            await self.gate.wait()
        return [client.PollItem.model_validate(i) for i in self.feed.poll(name, timestamp=timestamp, id=id)]


@dataclasses.dataclass
class Site:
    client: Source


class Registry:
    def __init__(self, source: Source) -> None:
        self.source = source

    async def site_for(self, conn: Any) -> Site:
        assert conn.metadata.name == "site"
        return Site(self.source)


class Kube:
    """Secrets (none) and ConfigMaps for the ring sink."""

    def __init__(self) -> None:
        self.configmaps: dict[str, dict[str, str]] = {}

    async def read_secret(self, *, namespace: str, name: str) -> Mapping[str, bytes] | None:
        return None

    async def get_configmap(self, *, namespace: str, name: str) -> Mapping[str, str] | None:
        return self.configmaps.get(name)

    async def put_configmap(
        self, *, namespace: str, name: str, data: Mapping[str, str], owner: Mapping[str, Any]
    ) -> None:
        self.configmaps[name] = dict(data)


class Api:
    """``kopfapi.patch_status`` against one object's status; ``failures`` are raised first, in order."""

    def __init__(self, status: dict[str, Any], source: Source) -> None:
        self.status = status
        self.source = source
        self.patches: list[dict[str, Any]] = []
        self.failures: list[Exception] = []
        self.attempts: list[tuple[int, bool]] = []  # (polls made so far, write succeeded)
        self.on_write: Callable[[Mapping[str, Any]], None] | None = None

    async def patch_status(
        self,
        *,
        resource: str,
        namespace: str,
        name: str,
        status: Mapping[str, Any],
        resource_version: Any = None,
        retry: bool = True,
    ) -> dict[str, Any]:
        assert (resource, namespace, name, resource_version) == ("eventpolls", NAMESPACE, NAME, None)
        assert retry is False  # the daemon retries on its own schedule
        self.attempts.append((len(self.source.requests), not self.failures))
        if self.on_write is not None:
            self.on_write(status)
        if self.failures:
            raise self.failures.pop(0)
        self.patches.append(copy.deepcopy(dict(status)))
        for key, value in status.items():
            if value is None:
                self.status.pop(key, None)
            else:
                self.status[key] = copy.deepcopy(value)
        return {"status": copy.deepcopy(self.status)}


CONNECTION = {
    "metadata": {"name": "site", "generation": 1},
    "spec": {"url": "http://127.0.0.1:1", "auth": {"basic": {"secretRef": {"name": "creds"}}}},
    "status": {
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Connected",
                "lastTransitionTime": "2025-01-01T00:00:00Z",
            }
        ]
    },
}


def eventpoll_body(*, status: dict[str, Any], interval: str = "30s") -> dict[str, Any]:
    return {
        "apiVersion": "drupal-orchestration.io/v1alpha1",
        "kind": "EventPoll",
        "metadata": {
            "name": NAME,
            "namespace": NAMESPACE,
            "uid": "uid-1",
            "generation": 1,
            "annotations": {},
        },
        "spec": {
            "connectionRef": {"name": "site"},
            "name": "orders",
            "mode": "timestamp",
            "interval": interval,
            "startFrom": {"timestamp": 100},
            "sinks": [{"name": "ring", "configMap": {"name": "ring"}}],
        },
        "status": status,
    }


@dataclasses.dataclass
class Harness:
    raw: dict[str, Any]
    body: kopf.Body
    memo: kopf.Memo
    api: Api
    source: Source
    stopper: aioenums.FlagSetter[Any]
    posted: list[tuple[str, str]]
    task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.task = asyncio.ensure_future(
            handler.eventpoll_daemon(
                stopped=self.stopper.async_waiter,
                body=self.body,
                memo=self.memo,
                logger=logging.getLogger("test.eventpoll"),
                connections={(NAMESPACE, "site"): [CONNECTION]},
            )
        )

    async def event(self, **metadata: Any) -> None:
        """A watch event: the live body changes, and kopf calls the event hook."""
        self.raw["metadata"].update(metadata)
        await handler.eventpoll_event(
            event={"type": "MODIFIED", "object": self.raw},
            body=self.body,
            memo=self.memo,
            namespace=NAMESPACE,
            name=NAME,
        )

    async def stop(self) -> None:
        self.stopper.set()
        assert self.task is not None
        await asyncio.wait_for(self.task, timeout=5)


@pytest.fixture
async def harness(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Callable[..., Harness]]:
    made: list[Harness] = []

    def make(*, status: dict[str, Any] | None = None, interval: str = "30s") -> Harness:
        raw = eventpoll_body(status=status or {}, interval=interval)
        source = Source()
        api = Api(raw["status"], source)
        memo = kopf.Memo()
        memo.kube = Kube()
        memo.sites = Registry(source)
        memo[handler.HTTP_CLIENT_KEY] = None  # only ConfigMap sinks here
        memo[handler.SPREAD_KEY] = spread.Spread()
        memo["topics"] = wakeups.Topics()
        posted: list[tuple[str, str]] = []
        monkeypatch.setattr(kopfapi, "patch_status", api.patch_status)
        monkeypatch.setattr(
            kopf, "event", lambda body, **event: posted.append((event["type"], event["reason"]))
        )
        monkeypatch.setattr(handler, "WRITE_RETRY_DELAYS", (0.01, 0.02))
        h = Harness(raw, kopf.Body(raw), memo, api, source, aioenums.FlagSetter(), posted)
        made.append(h)
        return h

    yield make
    for h in made:
        if h.task is not None and not h.task.done():
            await h.stop()


async def until(predicate: Callable[[], bool], *, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.005)


def ready_reason(status: Mapping[str, Any]) -> str | None:
    return next((c["reason"] for c in status.get("conditions", []) if c["type"] == "Ready"), None)


async def test_a_new_eventpoll_polls_at_once_and_writes_one_patch(harness: Callable[..., Harness]) -> None:
    h = harness()
    h.source.add(100, 101, 102)
    h.start()
    await until(lambda: "cursor" in h.api.status)
    assert h.api.status["cursor"] == {"timestamp": 102}
    assert (h.api.status["eventsDelivered"], h.api.status["observedGeneration"]) == (2, 1)
    assert len(h.api.patches) == 1
    assert h.source.requests == [100]  # startFrom 100: everything up to 100 counts as delivered
    assert h.posted == []  # a healthy start posts no Event


async def test_a_failed_status_write_is_retried_before_the_next_poll(harness: Callable[..., Harness]) -> None:
    h = harness(interval="1s")
    h.source.add(101)
    h.api.failures = [kube.Conflict("changed"), RuntimeError("API down"), TimeoutError()]
    h.start()
    await until(lambda: bool(h.api.patches))
    assert h.api.status["cursor"] == {"timestamp": 101}
    # Three failed writes, then success, all before a second poll: nothing polled while unpersisted.
    assert h.api.attempts[:4] == [(1, False), (1, False), (1, False), (1, True)]
    h.source.add(102)
    await until(lambda: h.api.status["cursor"] == {"timestamp": 102}, timeout=3)
    assert h.source.requests[:2] == [100, 100]  # 101 is the open edge second: asked again from 100
    assert [p.get("cursor") for p in h.api.patches if "cursor" in p] == [
        {"timestamp": 101},
        {"timestamp": 102},
    ]


async def test_a_stop_during_a_poll_commits_nothing(harness: Callable[..., Harness]) -> None:
    h = harness(status={"cursor": {"timestamp": 100}, "edgeKeys": ["100:*"]})
    h.source.add(101)
    h.source.gate = asyncio.Event()  # the poll hangs
    h.start()
    await asyncio.wait_for(h.source.entered.wait(), timeout=5)
    await h.stop()
    assert h.api.patches == []
    assert h.api.status["cursor"] == {"timestamp": 100}
    assert h.memo.kube.configmaps == {}


async def test_the_spec_and_the_reset_annotation_wake_the_loop_other_churn_does_not(
    harness: Callable[..., Harness],
) -> None:
    h = harness(status={"cursor": {"timestamp": 100}, "edgeKeys": ["100:*"]})
    h.source.add(101, NOW - 5)
    h.start()
    await until(lambda: len(h.api.patches) == 1)  # never handled: at once; then sleeps up to 30 s
    await h.event(annotations={"argocd.argoproj.io/tracking-id": "x"}, labels={"team": "a"})
    await asyncio.sleep(0.05)  # let a (wrong) wake-up start its pass, if there were one
    await h.event(annotations={"drupal-orchestration.io/reset-cursor": "now"})
    await until(lambda: h.api.status.get("cursorReset") == "now")
    assert h.api.status["cursor"] == {"timestamp": NOW - 5}
    assert h.posted == [("Normal", "CursorReset")]
    assert len(h.source.requests) == 2
    h.raw["spec"]["suspend"] = True
    await h.event(generation=2)
    await until(lambda: ready_reason(h.api.status) == "Suspended")
    assert (h.api.status["observedGeneration"], len(h.source.requests)) == (2, 2)
    assert h.posted[-1] == ("Normal", "Suspended")
    h.raw["spec"]["suspend"] = False
    await h.event(generation=3)
    await until(lambda: h.api.status["observedGeneration"] == 3)
    assert ready_reason(h.api.status) == "Polling"
    assert len(h.source.requests) == 3


async def test_a_restarted_daemon_waits_for_its_slot_unless_woken(
    harness: Callable[..., Harness], monkeypatch: pytest.MonkeyPatch
) -> None:
    h = harness(status={"cursor": {"timestamp": 100}, "edgeKeys": ["100:*"], "observedGeneration": 1})
    slots: list[float] = []

    def first_delay(target: Any, status: Any, *, interval: float, now: float, phase: Any) -> float:
        slots.append(interval)
        return 60.0

    monkeypatch.setattr(handler.pollpass, "first_delay", first_delay)
    h.source.add(101)
    h.start()
    await until(lambda: slots == [30.0])
    await h.event(annotations={"drupal-orchestration.io/reset-cursor": "100"})
    await until(lambda: h.api.status.get("cursorReset") == "100")
    assert h.source.requests == [100]  # the reset's poll only: the slot was not reached


@pytest.mark.parametrize("publish", [True, False], ids=["woken by the Connection's topic", "interval"])
async def test_a_connection_that_is_not_ready_is_looked_up_again(
    harness: Callable[..., Harness], publish: bool
) -> None:
    h = harness(interval="1s" if not publish else "30s")
    not_ready = copy.deepcopy(CONNECTION)
    not_ready["status"]["conditions"][0].update(status="False", reason="Unauthorized", message="401")
    index = {(NAMESPACE, "site"): [not_ready]}
    h.task = asyncio.ensure_future(
        handler.eventpoll_daemon(
            stopped=h.stopper.async_waiter,
            body=h.body,
            memo=h.memo,
            logger=logging.getLogger("test.eventpoll"),
            connections=index,
        )
    )
    await until(lambda: ready_reason(h.api.status) == "ConnectionNotReady")
    assert h.source.requests == []
    topics: wakeups.Topics = h.memo["topics"]
    await until(lambda: topics.subscribers(wakeups.connection_topic(NAMESPACE, "site")) == 1)
    patches = len(h.api.patches)
    index[(NAMESPACE, "site")] = [CONNECTION]
    if publish:  # what the Connection's event hook does when its readiness changes
        topics.publish(wakeups.connection_topic(NAMESPACE, "site"), reason="connection")
    await until(lambda: ready_reason(h.api.status) == "Polling", timeout=3)
    assert len(h.api.patches) == patches + 1  # waiting wrote once, not once per look
    await h.stop()
    assert topics.subscribers(wakeups.connection_topic(NAMESPACE, "site")) == 0  # the daemon is gone


async def test_a_connection_ready_while_the_pass_ran_is_not_missed(harness: Callable[..., Harness]) -> None:
    h = harness(interval="30s")  # only the topic can bring the next pass within the test's deadline
    not_ready = copy.deepcopy(CONNECTION)
    not_ready["status"]["conditions"][0].update(status="False", reason="Unauthorized", message="401")
    index = {(NAMESPACE, "site"): [not_ready]}
    topics: wakeups.Topics = h.memo["topics"]

    def ready_meanwhile(status: Mapping[str, Any]) -> None:
        # The Connection turns Ready after the pass looked at it, before the pass is over.
        if any(c.get("reason") == "ConnectionNotReady" for c in status.get("conditions") or []):
            index[(NAMESPACE, "site")] = [CONNECTION]
            topics.publish(wakeups.connection_topic(NAMESPACE, "site"), reason="connection")

    h.api.on_write = ready_meanwhile
    h.task = asyncio.ensure_future(
        handler.eventpoll_daemon(
            stopped=h.stopper.async_waiter,
            body=h.body,
            memo=h.memo,
            logger=logging.getLogger("test.eventpoll"),
            connections=index,
        )
    )
    await until(lambda: ready_reason(h.api.status) == "Polling", timeout=3)
    assert len(h.source.requests) == 1
