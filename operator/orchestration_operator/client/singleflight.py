"""One operation in flight on behalf of every caller that asks meanwhile (a login, a catalog fetch).

The shared work runs in a task of its own so that a caller that is cancelled does not cancel it for the
others. That task never ends with an exception: it *returns* the outcome, and each caller raises it.
A task that ended in an exception nobody awaited is what asyncio reports as "exception was never
retrieved", and what kopf re-raises at shutdown when the task was still running as the operator
stopped: the operator would exit 1 on a plain SIGTERM because a site was unreachable.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class _Outcome(Generic[T]):
    value: T | None = None
    error: Exception | None = None

    def unwrap(self) -> T:
        if self.error is not None:
            raise self.error
        return self.value  # type: ignore[return-value]


async def _capture(operation: Callable[[], Awaitable[T]]) -> _Outcome[T]:
    try:
        return _Outcome(value=await operation())
    except Exception as error:  # handed to every caller, raised there
        return _Outcome(error=error)


class SingleFlight(Generic[T]):
    """Runs one operation on behalf of every caller that asks while it is in flight.

    Callers share its result or its exception; a caller that is cancelled does not cancel it for the
    others. The next call after it finished starts a new one.
    """

    def __init__(self) -> None:
        self._task: asyncio.Task[_Outcome[T]] | None = None

    @property
    def in_flight(self) -> bool:
        return self._task is not None

    async def run(self, operation: Callable[[], Awaitable[T]]) -> T:
        task = self._task
        if task is None:
            task = self._task = asyncio.ensure_future(_capture(operation))
            task.add_done_callback(self._finished)
        outcome = await asyncio.shield(task)
        return outcome.unwrap()

    def _finished(self, task: asyncio.Task[_Outcome[T]]) -> None:
        if self._task is task:
            self._task = None
