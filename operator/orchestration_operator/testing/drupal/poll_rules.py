"""The rules of ``POST /orchestration/poll`` as pure functions: which items a site returns, in what order.

The real route stores nothing: every poll re-runs the site's models, and the site decides whether it
returns items ``> cursor`` (the intended contract), ``>= cursor`` or everything, in insertion, ascending,
descending or no particular order. ``select`` plays every such variant over a feed of items; the HTTP
emulator serves it, and the EventPoll property tests drive it directly (no HTTP) to explore thousands of
schedules quickly. ``PollFeed`` is a small in-memory site: named feeds that grow over time.

Comparisons follow PHP 8, which the site's models run on: two numeric strings compare as numbers,
anything else as byte strings.
"""

from __future__ import annotations

import dataclasses
import decimal
import random
import re
from collections.abc import Sequence
from typing import Any, Final, Literal

Comparison = Literal["strict", "inclusive", "everything"]
Order = Literal["insertion", "ascending", "descending", "shuffled"]
COMPARISONS: Final[tuple[Comparison, ...]] = ("strict", "inclusive", "everything")
ORDERS: Final[tuple[Order, ...]] = ("insertion", "ascending", "descending", "shuffled")

_PHP_NUMERIC: Final = re.compile(r"[ \t\n\r\v\f]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ \t\n\r\v\f]*\Z")


class NoCursor(ValueError):
    """Neither ``timestamp`` nor ``id`` was given: the route answers 400 ``No timestamp or id provided.``"""


@dataclasses.dataclass(frozen=True)
class FeedItem:
    """One item a site's model produces: a ``timestamp`` (timestamp mode) or an ``id`` (id mode)."""

    data: Any = None
    timestamp: int | None = None
    id: str | None = None


@dataclasses.dataclass(frozen=True, kw_only=True)
class Variant:
    """How one site behaves."""

    comparison: Comparison = "strict"
    order: Order = "insertion"


def php_compare(a: str, b: str) -> int:
    """PHP 8's ``<=>`` on two strings: numerically when both are numeric strings, else bytewise."""
    if _PHP_NUMERIC.match(a) and _PHP_NUMERIC.match(b):
        x, y = decimal.Decimal(a.strip()), decimal.Decimal(b.strip())
        return (x > y) - (x < y)
    p, q = a.encode(), b.encode()
    return (p > q) - (p < q)


def select(
    feed: Sequence[FeedItem],
    *,
    timestamp: int | float | None = None,
    id: str | None = None,  # noqa: A002 (the route's field name)
    variant: Variant = Variant(),
    rng: random.Random | None = None,
) -> list[dict[str, Any]]:
    """The JSON items a site of ``variant`` answers. ``timestamp`` wins when both are given."""
    if timestamp is not None:
        cursor_ts = timestamp
        candidates = [item for item in feed if item.timestamp is not None]

        def cmp(item: FeedItem) -> int:
            value = item.timestamp or 0
            return (value > cursor_ts) - (value < cursor_ts)

        def sort_key(item: FeedItem) -> Any:
            return item.timestamp

    elif id is not None:
        cursor_id = str(id)
        candidates = [item for item in feed if item.id is not None]

        def cmp(item: FeedItem) -> int:
            return php_compare(item.id or "", cursor_id)

        def sort_key(item: FeedItem) -> Any:
            text = item.id or ""
            return (0, decimal.Decimal(text.strip()), "") if _PHP_NUMERIC.match(text) else (1, 0, text)

    else:
        raise NoCursor("No timestamp or id provided.")

    if variant.comparison == "strict":
        chosen = [item for item in candidates if cmp(item) > 0]
    elif variant.comparison == "inclusive":
        chosen = [item for item in candidates if cmp(item) >= 0]
    else:
        chosen = list(candidates)

    if variant.order == "ascending":
        chosen.sort(key=sort_key)
    elif variant.order == "descending":
        chosen.reverse()  # newest insertion first among equal values, like a "newest first" model
        chosen.sort(key=sort_key, reverse=True)
    elif variant.order == "shuffled":
        (rng or random.Random()).shuffle(chosen)

    if timestamp is not None:
        return [{"timestamp": item.timestamp, "data": item.data} for item in chosen]
    return [{"id": item.id, "data": item.data} for item in chosen]


class PollFeed:
    """Named feeds that grow over time, answered with the rules of one :class:`Variant`."""

    def __init__(self, *, variant: Variant = Variant(), seed: int | None = None) -> None:
        self.variant = variant
        self.rng = random.Random(seed)
        self._feeds: dict[str, list[FeedItem]] = {}

    def add(self, name: str, *items: FeedItem) -> None:
        self._feeds.setdefault(name, []).extend(items)

    def items(self, name: str) -> list[FeedItem]:
        return list(self._feeds.get(name, ()))

    def poll(
        self,
        name: str,
        *,
        timestamp: int | float | None = None,
        id: str | None = None,  # noqa: A002
    ) -> list[dict[str, Any]]:
        """An unknown name answers ``[]``, like the real route most likely does."""
        return select(
            self._feeds.get(name, ()), timestamp=timestamp, id=id, variant=self.variant, rng=self.rng
        )
