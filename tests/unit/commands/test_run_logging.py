"""``run``'s logging: httpx's request lines (full URLs, a sink's token) are off at every level."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pytest_mock import MockerFixture

from orchestration_operator import settings
from orchestration_operator.commands import run


@pytest.fixture(autouse=True)
def restore_levels() -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in ("", "httpx", "httpcore")]
    levels = [logger.level for logger in loggers]
    yield
    for logger, level in zip(loggers, levels, strict=True):
        logger.setLevel(level)


@pytest.mark.parametrize("level", settings.LOG_LEVELS)
def test_httpx_request_lines_are_off_at_every_level(mocker: MockerFixture, level: str) -> None:
    kopf = mocker.MagicMock()
    run.configure_logging(kopf, settings.Settings(log_level=level))
    assert logging.getLogger("httpx").level == logging.WARNING
    assert logging.getLogger("httpcore").level == logging.WARNING
    assert kopf.configure.call_args.kwargs["debug"] is (level == "debug")
