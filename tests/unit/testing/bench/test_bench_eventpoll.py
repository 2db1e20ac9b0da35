"""The EventPoll benchmark's pure parts and its command line (the benchmark never runs in the suite)."""

from __future__ import annotations

import pytest

from orchestration_operator import cli
from orchestration_operator.testing.bench import eventpoll


@pytest.mark.parametrize(
    ("times", "buckets"),
    [
        ([], [0, 0, 0]),
        ([100.0, 100.99, 101.0, 102.5], [2, 1, 1]),
        ([99.99, 103.0, 250.0], [0, 0, 0]),  # outside the window
    ],
)
def test_histogram(times: list[float], buckets: list[int]) -> None:
    assert eventpoll.histogram(times, start=100.0, seconds=3) == buckets


@pytest.mark.parametrize(
    ("per_second", "peak_rss", "ratio", "passed"),
    [
        ([33, 34, 33], 150.0, 34 / (100 / 3), True),
        ([10, 60, 30], 150.0, 1.8, True),
        ([5, 90, 5], 150.0, 2.7, False),  # a burst
        ([33, 33, 33], 300.0, 1.0, False),  # too much memory
    ],
)
def test_the_report_judges_spread_and_memory(
    per_second: list[int], peak_rss: float, ratio: float, passed: bool
) -> None:
    report = eventpoll.Report(
        objects=1000, interval=30, window=2, per_second=per_second, peak_rss_mib=peak_rss
    )
    assert report.ratio == pytest.approx(ratio)
    assert report.passed is passed
    assert f"busiest / mean            {ratio:.2f} (target <= 2)" in [line.strip() for line in report.lines()]


def test_the_command_line_takes_the_targets_options() -> None:
    args = cli.build_parser().parse_args(["bench", "eventpoll", "--objects", "10", "--interval", "5"])
    assert (args.target, args.objects, args.interval, args.window, args.concurrency, args.serviceruns) == (
        "eventpoll",
        10,
        5,
        2,
        20,
        10000,  # the RSS target holds 10,000 ServiceRuns besides
    )
