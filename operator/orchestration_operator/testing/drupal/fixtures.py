"""pytest fixtures for the Drupal emulator (a plugin loaded by tests/conftest.py).

- ``drupal_emulator``: a started ``ThreadedEmulator`` (demo catalog, demo users ``admin``/``admin``,
  ``editor``/``editor`` without the permission, ``blocked``/``blocked``), one per test, serving from a
  background thread so synchronous tests may block (kubectl, subprocesses) without freezing it.
- ``drupal_emulator_factory``: ``factory(**DrupalEmulator options)`` for other catalogs, users,
  settings or a base path; every emulator it made is stopped after the test.
- ``drupal_emulator_async``: a ``DrupalEmulator`` on the test's own event loop, for async tests.
- ``drupal_emulator_process``: ``factory(*cli_args)`` starting ``orchestration-operator emulator`` as a
  subprocess (``EmulatorProcess``: ``.url``, ``.control``); stopped after the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
import pytest_asyncio

from orchestration_operator.testing import background
from orchestration_operator.testing.drupal import process, server, threaded


@pytest.fixture(scope="session")
def drupal_emulator_loop() -> Iterator[background.BackgroundLoop]:
    """The background event loop every threaded emulator of the session serves from."""
    with background.BackgroundLoop(name="drupal-emulator") as loop:
        yield loop


@pytest.fixture
def drupal_emulator_factory(
    drupal_emulator_loop: background.BackgroundLoop,
) -> Iterator[Callable[..., threaded.ThreadedEmulator]]:
    started: list[threaded.ThreadedEmulator] = []

    def factory(**options: Any) -> threaded.ThreadedEmulator:
        emulator = threaded.ThreadedEmulator.start(loop=drupal_emulator_loop, **options)
        started.append(emulator)
        return emulator

    yield factory
    for emulator in reversed(started):
        emulator.stop()


@pytest.fixture
def drupal_emulator(
    drupal_emulator_factory: Callable[..., threaded.ThreadedEmulator],
) -> threaded.ThreadedEmulator:
    return drupal_emulator_factory()


@pytest_asyncio.fixture
async def drupal_emulator_async() -> AsyncIterator[server.DrupalEmulator]:
    async with server.DrupalEmulator() as emulator:
        yield emulator


@pytest.fixture
def drupal_emulator_process() -> Iterator[Callable[..., process.EmulatorProcess]]:
    started: list[process.EmulatorProcess] = []

    def factory(*args: str, **options: Any) -> process.EmulatorProcess:
        emulator = process.EmulatorProcess(*args, **options)
        started.append(emulator)
        emulator.start()
        return emulator

    yield factory
    for emulator in reversed(started):
        emulator.stop()
