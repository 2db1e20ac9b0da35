"""``run``: httpx's request lines (full URLs, a sink's token) are off at every level; the settings it
resolves (flags over the environment) are what the handlers read."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pytest_mock import MockerFixture

from orchestration_operator import cli, settings
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


def test_run_hands_its_resolved_settings_to_the_handlers(
    mocker: MockerFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    started = mocker.patch("kopf.run")
    mocker.patch.object(run.metrics, "serve")
    mocker.patch.object(run, "configure_logging")
    monkeypatch.setattr(settings, "_current", None)
    args = cli.build_parser().parse_args(["run", "--standalone", "--no-success-events"])
    assert run.main(args) == 0
    started.assert_called_once()
    assert settings.current().success_events is False
    assert settings.current().standalone is True
