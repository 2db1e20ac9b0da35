"""The benchmark's pure helpers and its command line (the benchmark itself never runs in the suite)."""

from __future__ import annotations

import pytest

from orchestration_operator import cli
from orchestration_operator.testing.bench import driver, processes, sandboxproc, servicerun


@pytest.mark.parametrize(
    ("intervals", "peak"),
    [
        ([], 0),
        ([(0.0, 1.0)], 1),
        ([(0.0, 1.0), (1.0, 2.0)], 1),  # one ends as the next starts
        ([(0.0, 2.0), (1.0, 3.0), (1.5, 1.6)], 3),
        ([(0.0, 10.0), (1.0, 2.0), (3.0, 4.0)], 2),
    ],
)
def test_peak_concurrency(intervals: list[tuple[float, float]], peak: int) -> None:
    assert servicerun.peak_concurrency(intervals) == peak


@pytest.mark.parametrize(("fraction", "value"), [(0.5, 50.0), (0.95, 95.0), (1.0, 100.0), (0.0, 1.0)])
def test_percentile(fraction: float, value: float) -> None:
    assert servicerun.percentile([float(i) for i in range(100, 0, -1)], fraction) == value


@pytest.mark.parametrize(
    ("method", "path", "key"),
    [
        (
            "PATCH",
            "/apis/drupal-orchestration.io/v1alpha1/namespaces/bench/serviceruns/run-1/status",
            ("PATCH", "bench", "serviceruns", "status"),
        ),
        (
            "POST",
            "/apis/drupal-orchestration.io/v1alpha1/namespaces/bench/serviceruns",
            ("POST", "bench", "serviceruns", ""),
        ),
        ("POST", "/api/v1/namespaces/bench/events", ("POST", "bench", "events", "")),
        (
            "GET",
            "/apis/drupal-orchestration.io/v1alpha1/serviceruns?watch=true",
            ("GET", "", "serviceruns", ""),
        ),
        ("POST", "/api/v1/namespaces", ("POST", "", "namespaces", "")),
        ("GET", "/version", ("GET", "", "", "")),
    ],
)
def test_sandbox_requests_are_counted_by_resource(method: str, path: str, key: tuple[str, ...]) -> None:
    assert sandboxproc.key_of(method, path) == key


def test_summary_adds_matching_rows() -> None:
    rows = [
        ("PATCH", "bench", "serviceruns", "status", 7),
        ("PATCH", "bench", "serviceruns", "", 2),
        ("PATCH", "other", "serviceruns", "status", 5),
    ]
    assert processes.summary(rows, method="PATCH", namespace="bench") == 9
    assert processes.summary(rows, subresource="status") == 12


def test_cel_rules_are_stripped_everywhere() -> None:
    crd = {"a": {"x-kubernetes-validations": [1], "b": [{"x-kubernetes-validations": [2], "c": 3}]}}
    assert driver.strip_cel(crd) == {"a": {"b": [{"c": 3}]}}


def test_the_command_line_takes_the_targets_options() -> None:
    args = cli.build_parser().parse_args(["bench", "servicerun", "--runs", "10", "--latency-ms", "5"])
    assert (args.target, args.runs, args.latency_ms, args.concurrency) == ("servicerun", 10, 5, 20)
    assert cli.build_parser().parse_args(["bench", "all"]).target == "all"


def test_the_report_says_what_the_issue_asks() -> None:
    report = servicerun.Report(runs=1000, latency_ms=50, concurrency=20, total_seconds=3.0, ideal_seconds=2.5)
    text = "\n".join(report.lines())
    assert "ratio                     1.200 (target <= 1.15)" in text
    for figure in ("total time", "ideal time", "p50", "writes per run", "catalog fetches", "peak concurrent"):
        assert figure in text
    assert report.to_dict()["ratio"] == pytest.approx(1.2)


def test_the_kopf_floor_is_printed_beside_ours() -> None:
    ours = servicerun.Report(
        runs=1000, latency_ms=50, concurrency=20, total_seconds=4.0, ideal_seconds=2.5, cpu_seconds=4.0
    )
    floor = servicerun.Report(
        runs=1000, latency_ms=50, concurrency=20, total_seconds=3.0, ideal_seconds=2.5, cpu_seconds=2.5
    )
    assert servicerun.floor_lines(ours, floor) == [
        "  kopf alone, same writes   ratio 1.200, CPU 2.50 ms per run (bench-kopf-baseline.py: the floor "
        "kopf sets here)",
        "  ours over kopf alone      ratio +0.400, CPU +1.50 ms per run (the operator's own work: "
        "validation, the execute call, results, events)",
    ]
    assert servicerun.KOPF_FLOOR.exists()  # the checkout ships the floor's operator file
    args = cli.build_parser().parse_args(["bench", "servicerun"])
    assert args.kopf_floor is True
    assert cli.build_parser().parse_args(["bench", "servicerun", "--no-kopf-floor"]).kopf_floor is False
