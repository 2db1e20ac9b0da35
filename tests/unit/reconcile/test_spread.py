"""Spreading EventPolls over their interval: even slots whatever the order, stable phases, bounded memory."""

from __future__ import annotations

import collections
import math
import random
import uuid

import pytest

from orchestration_operator.reconcile import eventpoll, spread

UIDS = [str(uuid.UUID(int=random.Random(11).getrandbits(128) ^ n)) for n in range(1000)]
NOW = 1_750_000_000.0


@pytest.mark.parametrize(("interval", "slots"), [(30.0, 30), (1.0, 1), (2.5, 2), (86_400.0, 3600)])
def test_slots_differ_by_at_most_one_eventpoll(interval: float, slots: int) -> None:
    phases = spread.Spread()
    fractions = [phases.phase(uid, interval) for uid in UIDS]
    load = phases.load(interval)
    assert len(load) == slots
    assert max(load) - min(load) <= 1
    assert sum(load) == len(UIDS) == len(phases)
    assert all(0 <= f < 1 for f in fractions)


@pytest.mark.parametrize("now", [NOW, NOW + 0.5, NOW + 12_345.678])
def test_no_second_sees_more_than_its_share(now: float) -> None:
    phases = spread.Spread()
    interval = 30.0
    per_second = collections.Counter(
        math.floor(now + eventpoll.delay_to_phase(phases.phase(uid, interval), interval, now)) for uid in UIDS
    )
    assert max(per_second.values()) <= math.ceil(len(UIDS) / interval) + 1
    hashed = collections.Counter(math.floor(now + eventpoll.next_delay(uid, interval, now)) for uid in UIDS)
    assert max(hashed.values()) > max(per_second.values())  # what the uid's hash alone would give


def test_a_phase_is_stable_and_moves_with_the_interval() -> None:
    phases = spread.Spread()
    uid = UIDS[0]
    first = phases.phase(uid, 30.0)
    assert phases.phase(uid, 30.0) == first
    assert phases.load(30.0).count(1) == 1
    phases.phase(uid, 60.0)  # the spec's interval changed: the old slot is freed
    assert phases.load(30.0) == []
    assert sum(phases.load(60.0)) == 1


def test_release_frees_the_slot_and_forgets_empty_intervals() -> None:
    phases = spread.Spread()
    for uid in UIDS[:40]:
        phases.phase(uid, 30.0)
    assert phases.load(30.0).count(2) == 10
    for uid in UIDS[:40]:
        phases.release(uid)
    phases.release(UIDS[0])  # twice is harmless
    assert (len(phases), phases.load(30.0)) == (0, [])


def test_a_new_eventpoll_fills_the_emptiest_slot() -> None:
    phases = spread.Spread()
    for uid in UIDS[:60]:
        phases.phase(uid, 30.0)
    emptied = int(phases.phase(UIDS[5], 30.0) * 30)
    phases.release(UIDS[5])
    assert int(phases.phase(UIDS[999], 30.0) * 30) == emptied
