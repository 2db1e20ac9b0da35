"""Durations written the Kubernetes / Flux way: ``30s``, ``5m``, ``1h30m``, ``1.5h``, ``250ms``.

Spec fields keep the string the user wrote (so the object round-trips through the API server unchanged);
reconcile code turns it into a :class:`datetime.timedelta` with :func:`parse`. :data:`PATTERN` is the
CRD's ``pattern`` (the same as Flux's ``metav1.Duration`` fields); :func:`parse` accepts exactly the
strings that match it and that Go's ``time.ParseDuration`` (and so Kubernetes CEL's ``duration()``) can
represent. The pydantic field type built on this lives in :mod:`orchestration_operator.api.fields`.
"""

from __future__ import annotations

import datetime
import decimal
import functools
import re
from typing import Final

#: The CRD pattern: one or more ``<number><unit>`` with unit ``ms``, ``s``, ``m`` or ``h``.
PATTERN: Final = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$"
#: Longest duration string accepted (also the CRD's ``maxLength``; bounds CEL cost).
MAX_LENGTH: Final = 32

_FULL = re.compile(PATTERN)
_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h)")
_UNIT_MICROSECONDS: Final = {"ms": 1_000, "s": 1_000_000, "m": 60_000_000, "h": 3_600_000_000}
# Go's time.Duration is an int64 of nanoseconds: about 292 years. Longer strings fail in CEL's duration().
_MAX_NANOSECONDS: Final = 2**63 - 1

HINT: Final = "use a number with a unit (ms, s, m or h), for example 30s, 5m or 1h30m"


class DurationError(ValueError):
    """A string that is not a duration this project accepts."""


@functools.lru_cache(maxsize=512)  # the same few spec strings, parsed on every handler call
def parse(text: str) -> datetime.timedelta:
    """Parse ``text`` (``1h30m``, ``1.5s``, ``250ms``, ...) into a timedelta; raise :class:`DurationError`.

    Sub-microsecond fractions are truncated (Python's timedelta resolution).
    """
    if len(text) > MAX_LENGTH or not _FULL.fullmatch(text):
        raise DurationError(f"invalid duration {text[:MAX_LENGTH]!r}: {HINT}")
    nanoseconds = decimal.Decimal(0)
    for number, unit in _PART.findall(text):
        nanoseconds += decimal.Decimal(number) * _UNIT_MICROSECONDS[unit] * 1_000
    if nanoseconds > _MAX_NANOSECONDS:
        raise DurationError(f"invalid duration {text!r}: longer than the maximum of about 292 years")
    return datetime.timedelta(microseconds=int(nanoseconds // 1_000))


def seconds(text: str) -> float:
    """The duration ``text`` in seconds (a float), for APIs that want seconds (httpx, asyncio)."""
    return parse(text).total_seconds()


def format(delta: datetime.timedelta) -> str:  # noqa: A001 - the module's natural verb, used qualified
    """Format ``delta`` compactly in the same syntax: ``1h30m``, ``45s``, ``1.5s``, ``250ms``, ``0s``.

    ``parse(format(d)) == d`` for every non-negative timedelta with millisecond resolution or coarser.
    """
    if delta < datetime.timedelta(0):
        raise DurationError("negative durations have no representation")
    micro = delta // datetime.timedelta(microseconds=1)
    hours, micro = divmod(micro, _UNIT_MICROSECONDS["h"])
    minutes, micro = divmod(micro, _UNIT_MICROSECONDS["m"])
    parts = []
    if hours:
        parts.append(f"{hours}h")
    if minutes:
        parts.append(f"{minutes}m")
    if micro:
        whole, fraction = divmod(micro, _UNIT_MICROSECONDS["s"])
        if whole == 0 and fraction % 1_000 == 0:
            parts.append(f"{fraction // 1_000}ms")
        elif fraction == 0:
            parts.append(f"{whole}s")
        else:
            parts.append(f"{whole}.{fraction:06d}".rstrip("0") + "s")
    return "".join(parts) or "0s"
