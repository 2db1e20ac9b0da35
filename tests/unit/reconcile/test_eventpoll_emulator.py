"""The whole EventPoll chain over real loopback HTTP: the Drupal emulator (every poll variant), the real
client, ``poll_once``, and the HTTP sink posting CloudEvents to a real receiver that fails on demand.

The emulator was written independently from the same API page, so this cross-checks the cursor against
a second reading of the route's rules (the property tests use ``testing.drupal.poll_rules``).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp.web
import pytest

from orchestration_operator import client
from orchestration_operator.api import eventpoll as api
from orchestration_operator.client import cloudevents
from orchestration_operator.reconcile import cursor, eventpoll, sinks
from orchestration_operator.testing.drupal import server

NAME = "articles"


class Receiver:
    """A CloudEvents receiver on 127.0.0.1 that answers ``fail_next`` 503s before accepting again."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.fail_next = 0
        self.url = ""
        self._runner: aiohttp.web.AppRunner | None = None

    async def _handle(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        event = json.loads(await request.read())
        if self.fail_next:
            self.fail_next -= 1
            return aiohttp.web.Response(status=503)
        self.received.append(event)
        return aiohttp.web.Response(status=202)

    async def start(self) -> None:
        app = aiohttp.web.Application()
        app.router.add_post("/events", self._handle)
        self._runner = aiohttp.web.AppRunner(app)
        await self._runner.setup()
        await aiohttp.web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}/events"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    await receiver.start()
    yield receiver
    await receiver.stop()


SCRIPTS: dict[str, list[list[dict[str, Any]]]] = {
    # Each inner list is added to the site before one cycle; same-second late arrivals included.
    "timestamp": [
        [{"timestamp": 100, "data": "a"}, {"timestamp": 100, "data": "b"}, {"timestamp": 99, "data": "c"}],
        [{"timestamp": 100, "data": "d"}, {"timestamp": 101, "data": "e"}],
        [{"timestamp": 101, "data": "f"}],
        [],
        [],
    ],
    "id": [
        [{"id": "9", "data": "a"}, {"id": "10", "data": "b"}, {"id": "8", "data": "c"}],
        [{"id": "11", "data": "d"}, {"id": "100", "data": "e"}],
        [{"id": "101", "data": "f"}],
        [],
        [],
    ],
}


@pytest.mark.parametrize("mode", ["timestamp", "id"])
@pytest.mark.parametrize("comparison", ["gt", "ge", "all"])
@pytest.mark.parametrize("order", ["ascending", "descending", "shuffled"])
async def test_every_event_reaches_the_receiver_once_per_id(
    drupal_emulator_async: server.DrupalEmulator,
    receiver: Receiver,
    mode: cursor.Mode,
    comparison: str,
    order: str,
) -> None:
    emulator = drupal_emulator_async
    emulator.update_settings(poll_comparison=comparison, poll_order=order, poll_shuffle_seed=5)
    status = api.EventPollStatus()
    spec = api.EventPollSpec.model_validate(
        {
            "connectionRef": {"name": "site"},
            "name": NAME,
            "mode": mode,
            "startFrom": {"position": "beginning"},
            "sinks": [{"name": "web", "http": {"url": receiver.url}}],
        }
    )

    async def no_sleep(delay: float) -> None:
        return None

    outcomes: list[eventpoll.PollOutcome] = []
    async with (
        client.OrchestrationClient(emulator.url, auth=client.BasicAuth("admin", "admin")) as site,
        cloudevents.new_http_client() as http,
    ):
        sender = cloudevents.CloudEventSender(
            receiver.url, client=http, policy=cloudevents.DeliveryPolicy(attempts=1, sleep=no_sleep)
        )
        web = sinks.HttpSink("web", sender, source=sinks.event_source("ns", "articles"), poll_name=NAME)
        for cycle, items in enumerate(SCRIPTS[mode]):
            if items:
                emulator.add_poll_items(NAME, mode, items)
            receiver.fail_next = 1 if cycle == 2 else 0  # the third cycle's delivery fails once
            # Every cycle starts from the persisted status, as after a restart.
            start = eventpoll.starting_state(spec, status)
            outcome = await eventpoll.poll_once(
                poll_name=NAME, state=start.state, source=site, sinks=[web], clock=lambda: 1_750_000_000
            )
            outcomes.append(outcome)
            status = api.EventPollStatus.model_validate(
                {**status.to_dict(), **outcome.status_patch(status, sink_names=["web"])}
            )

    assert [o.committed for o in outcomes] == [True, True, False, True, True]
    assert [o.verdict.reason for o in outcomes] == ["Polling", "Polling", "SinkFailing", "Polling", "Polling"]
    delivered = [(e["data"], e["id"]) for e in receiver.received]
    assert sorted(data for data, _ in delivered) == ["a", "b", "c", "d", "e", "f"]
    assert len({event_id for _, event_id in delivered}) == 6
    # The first batch is ascending by cursor value (the two items of second 100 in the site's order).
    first = [e["data"] for e in receiver.received[:3]]
    assert first == ["c", "a", "b"] if mode == "id" else (first[0], set(first[1:])) == ("c", {"a", "b"})
    # The failed delivery of "f" came back in the next cycle with the same id.
    assert outcomes[2].events[0].id == outcomes[3].events[0].id
    assert status.events_delivered == 6
    assert status.cursor is not None
    assert (status.cursor.timestamp, status.cursor.id) == (
        (101, None) if mode == "timestamp" else (None, "101")
    )
    # The site was always asked with exactly one key, timestamps as integers.
    for record in emulator.calls("poll"):
        body = record.body
        assert isinstance(body, dict)
        assert set(body) == {"name", mode}
        assert isinstance(body[mode], int if mode == "timestamp" else str)
