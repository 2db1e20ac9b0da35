"""Prometheus' text format for tests: scrape ``/metrics`` and look samples up by name and labels.

The operator's metrics (``orchestration_operator.metrics``) are checked the way Prometheus sees them:
over HTTP, parsed by ``prometheus_client``'s own parser, so a metric that is registered but never
exported, or exported with other labels than documented, fails a test.
"""

from __future__ import annotations

import dataclasses
import urllib.request
from collections.abc import Iterable, Mapping

from prometheus_client import parser


@dataclasses.dataclass(frozen=True)
class Sample:
    name: str  # with its suffix: ``_total``, ``_bucket``, ``_count``, ``_sum``
    labels: Mapping[str, str]
    value: float


class Samples:
    """The samples of one scrape."""

    def __init__(self, samples: Iterable[Sample]) -> None:
        self.samples = tuple(samples)

    def names(self) -> set[str]:
        return {sample.name for sample in self.samples}

    def find(self, metric: str, /, **labels: str) -> list[Sample]:
        """The samples of ``metric`` whose labels include ``labels``."""
        return [
            sample
            for sample in self.samples
            if sample.name == metric and all(sample.labels.get(k) == v for k, v in labels.items())
        ]

    def value(self, metric: str, /, **labels: str) -> float:
        """The value of the one sample of ``metric`` with these labels (AssertionError unless exactly one)."""
        found = self.find(metric, **labels)
        assert len(found) == 1, f"{metric}{labels}: {len(found)} samples: {found}"
        return found[0].value

    def total(self, metric: str, /, **labels: str) -> float:
        """The sum over the samples of ``metric`` with these labels (0 when there are none)."""
        return sum(sample.value for sample in self.find(metric, **labels))

    def label_values(self, metric: str, label: str, /, **labels: str) -> set[str]:
        """The values ``label`` takes among the samples of ``metric`` with these labels."""
        return {sample.labels.get(label, "") for sample in self.find(metric, **labels)}


def parse(text: str) -> Samples:
    return Samples(
        Sample(sample.name, dict(sample.labels), sample.value)
        for family in parser.text_string_to_metric_families(text)
        for sample in family.samples
    )


def scrape(url: str, *, timeout: float = 5.0) -> tuple[str, Samples]:
    """GET ``url`` (a ``/metrics`` endpoint); the text and its samples."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        text = response.read().decode()
    return text, parse(text)
