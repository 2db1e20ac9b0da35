"""Durations: parsing, formatting, and agreement with the CRD pattern and CEL's duration()."""

from __future__ import annotations

import datetime
import re

import pytest

from orchestration_operator.api import durations

from . import crdcheck

td = datetime.timedelta


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0s", td(0)),
        ("30s", td(seconds=30)),
        ("5m", td(minutes=5)),
        ("1h", td(hours=1)),
        ("1h30m", td(hours=1, minutes=30)),
        ("1h30m15s", td(hours=1, minutes=30, seconds=15)),
        ("250ms", td(milliseconds=250)),
        ("1.5h", td(minutes=90)),
        ("0.5s", td(milliseconds=500)),
        ("1s500ms", td(milliseconds=1500)),
        ("30s5m", td(minutes=5, seconds=30)),  # Go accepts units in any order, so does the pattern
        ("90m", td(minutes=90)),
        ("1.0000001s", td(seconds=1)),  # below a microsecond: truncated
        ("2562047h", td(hours=2562047)),  # just under Go's int64-nanosecond limit
    ],
)
def test_parse(text: str, expected: datetime.timedelta) -> None:
    assert durations.parse(text) == expected
    assert durations.seconds(text) == expected.total_seconds()


@pytest.mark.parametrize(
    "text",
    ["", "30", "s", "5 m", " 5m", "5m ", "-5m", "+5m", "1d", "1w", "5M", "5S", "1.h", ".5s", "1e3s", "5us",
     "5ns", "1h 30m", "PT5M", "5mins", "2562048h", "1" * 31 + "s"],
)  # fmt: skip
def test_parse_refuses(text: str) -> None:
    with pytest.raises(durations.DurationError) as info:
        durations.parse(text)
    assert str(info.value).startswith("invalid duration ")


def test_parse_error_says_how_to_write_one() -> None:
    with pytest.raises(durations.DurationError) as info:
        durations.parse("5 minutes")
    assert str(info.value) == (
        "invalid duration '5 minutes': use a number with a unit (ms, s, m or h), for example 30s, 5m or 1h30m"
    )


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (td(0), "0s"),
        (td(seconds=30), "30s"),
        (td(minutes=5), "5m"),
        (td(hours=1, minutes=30), "1h30m"),
        (td(hours=2, seconds=1), "2h1s"),
        (td(hours=25), "25h"),
        (td(milliseconds=250), "250ms"),
        (td(seconds=1, milliseconds=500), "1.5s"),
        (td(microseconds=1500), "0.0015s"),
        (td(minutes=1, milliseconds=5), "1m5ms"),
    ],
)
def test_format_round_trips(delta: datetime.timedelta, text: str) -> None:
    assert durations.format(delta) == text
    assert durations.parse(text) == delta


def test_format_refuses_negative() -> None:
    with pytest.raises(durations.DurationError):
        durations.format(td(seconds=-1))


@pytest.mark.parametrize(
    "text", ["0s", "30s", "1h30m", "1.5h", "250ms", "0.5s", "30s5m", "1s500ms", "2562047h", "1.25m"]
)
def test_cel_duration_agrees(text: str) -> None:
    """The CRD's CEL bounds use duration(); it must read every accepted string as parse() does."""
    assert re.search(durations.PATTERN, text)
    result = crdcheck.evaluate("duration(self)", text)
    assert isinstance(result, datetime.timedelta)
    assert result == durations.parse(text)


@pytest.mark.parametrize("text", ["", "5", "1d", "-1s", "5 m", "1.h", "5us"])
def test_crd_pattern_agrees_on_refusals(text: str) -> None:
    assert not re.search(durations.PATTERN, text)
