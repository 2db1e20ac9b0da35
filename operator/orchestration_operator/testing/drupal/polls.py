"""Poll sources: what the site's ECA "Poll by timestamp" / "Poll by ID" models compute on each poll.

The module stores and consumes nothing: every ``POST /orchestration/poll`` recomputes the items newer
than the cursor, so polling twice gives the same answer. Here a source is a list of items fed by tests
(``PollSources.add``); ``select`` applies the site's choices from the settings (comparison, order).

Items: ``{"timestamp": int, "data": any}`` in timestamp mode, ``{"id": str, "data": any}`` in id mode.
A timestamp left out is "now"; an id left out is one more than the largest numeric id of the source.
Ids compare numerically when both are digit strings, as text otherwise.
"""

from __future__ import annotations

import copy
import random
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from orchestration_operator.testing.drupal import catalog, errors, settings


@dataclass(frozen=True)
class PollItem:
    """One item of a source: its cursor value (``int`` timestamp or ``str`` id) and data."""

    key: int | str
    data: Any

    def answer(self, mode: catalog.PollMode) -> dict[str, Any]:
        return {mode: self.key, "data": copy.deepcopy(self.data)}


def id_sort_key(value: str) -> tuple[int, int, str]:
    """Numeric ids first, in numeric order; then other ids as text."""
    return (0, int(value), "") if value.isdigit() else (1, 0, value)


def _compare(left: int | float | str, right: int | float | str) -> int:
    if isinstance(left, str) and isinstance(right, str):
        if left.isdigit() and right.isdigit():
            left, right = int(left), int(right)
    elif isinstance(left, str) or isinstance(right, str):
        left, right = str(left), str(right)
    return (left > right) - (left < right)  # type: ignore[operator]


class PollSources:
    """Every poll source of the site, by name (thread-safe)."""

    def __init__(self) -> None:
        self._sources: dict[str, tuple[catalog.PollMode, list[PollItem]]] = {}
        self._lock = threading.Lock()

    def add(self, name: str, mode: str, items: Iterable[Mapping[str, Any]]) -> int:
        """Append items to source ``name`` (created on first use); return the source's item count."""
        if mode not in catalog.POLL_MODES:
            raise errors.CatalogError(f"poll mode must be one of {catalog.POLL_MODES}, not {mode!r}")
        with self._lock:
            existing = self._sources.get(name)
            if existing is not None and existing[0] != mode:
                raise errors.CatalogError(f"poll source {name!r} is in {existing[0]} mode, not {mode}")
            working = list(existing[1]) if existing is not None else []
            for item in items:  # all or nothing: the source changes only if every item is valid
                working.append(self._item(name, mode, item, working))
            self._sources[name] = (mode, working)  # type: ignore[assignment]
            return len(working)

    @staticmethod
    def _item(name: str, mode: str, item: Mapping[str, Any], stored: list[PollItem]) -> PollItem:
        if not isinstance(item, Mapping) or set(item) - {mode, "data"}:
            raise errors.CatalogError(f"poll source {name!r}: items have only {mode!r} and 'data'")
        key = item.get(mode)
        if mode == "timestamp":
            key = int(time.time()) if key is None else key
            if not isinstance(key, int) or isinstance(key, bool):
                raise errors.CatalogError(f"poll source {name!r}: timestamps are integers, not {key!r}")
        else:
            if key is None:
                numeric = [int(i.key) for i in stored if isinstance(i.key, str) and i.key.isdigit()]
                key = str(max(numeric, default=0) + 1)
            if isinstance(key, int) and not isinstance(key, bool):
                key = str(key)
            if not isinstance(key, str):
                raise errors.CatalogError(f"poll source {name!r}: ids are strings, not {key!r}")
        return PollItem(key=key, data=copy.deepcopy(item.get("data")))

    def clear(self, name: str | None = None) -> None:
        with self._lock:
            if name is None:
                self._sources.clear()
            else:
                self._sources.pop(name, None)

    def mode(self, name: str) -> catalog.PollMode | None:
        with self._lock:
            source = self._sources.get(name)
            return None if source is None else source[0]

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {
                name: {"mode": mode, "items": [item.answer(mode) for item in items]}
                for name, (mode, items) in self._sources.items()
            }

    def select(
        self, name: str, mode: catalog.PollMode, cursor: int | float | str, config: settings.EmulatorSettings
    ) -> list[dict[str, Any]] | None:
        """The items a poll answers, or ``None`` when no source of that name exists.

        A source polled in the other mode answers ``[]``: no model reacts to that event.
        """
        with self._lock:
            source = self._sources.get(name)
            if source is None:
                return None
            source_mode, items = source[0], list(source[1])
        if source_mode != mode:
            return []
        if config.poll_comparison == "gt":
            chosen = [item for item in items if _compare(item.key, cursor) > 0]
        elif config.poll_comparison == "ge":
            chosen = [item for item in items if _compare(item.key, cursor) >= 0]
        else:
            chosen = items
        if config.poll_order in ("ascending", "descending"):
            if mode == "timestamp":
                chosen.sort(key=lambda item: item.key)
            else:
                chosen.sort(key=lambda item: id_sort_key(str(item.key)))
            if config.poll_order == "descending":
                chosen.reverse()
        elif config.poll_order == "shuffled":
            random.Random(config.poll_shuffle_seed).shuffle(chosen)
        return [item.answer(mode) for item in chosen]
