"""The sandbox benchmark runs end to end (figures are printed, not asserted)."""

from __future__ import annotations

import pytest

from orchestration_operator.testing.kube import bench

pytestmark = pytest.mark.e2e


def test_bench_runs_with_small_numbers() -> None:
    lines: list[str] = []
    result = bench.run(objects=20, concurrency=4, kubectl_objects=5, watchers=2, writes=5, out=lines.append)
    assert result.objects == 20
    assert result.watch_events == 2 * 5
    assert result.aiohttp_creates_per_s > 0
    assert result.httpx_creates_per_s > 0
    assert [line.split(":")[0] for line in lines] == ["sandbox"] * len(lines)
    assert len(lines) == (6 if result.kubectl_creates_per_s is not None else 5)
