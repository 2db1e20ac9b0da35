"""Settings from environment variables and flags."""

from __future__ import annotations

import pytest

from orchestration_operator import cli, settings
from orchestration_operator.commands import run


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, settings.Settings()),
        ({"ORCHESTRATION_OPERATOR_NAMESPACES": "a, b,,c"}, settings.Settings(namespaces=("a", "b", "c"))),
        ({"ORCHESTRATION_OPERATOR_ALL_NAMESPACES": "true"}, settings.Settings(all_namespaces=True)),
        ({"ORCHESTRATION_OPERATOR_STANDALONE": "yes"}, settings.Settings(standalone=True)),
        ({"ORCHESTRATION_OPERATOR_PRIORITY": "-5"}, settings.Settings(priority=-5)),
        ({"ORCHESTRATION_OPERATOR_HEALTH_PORT": "0"}, settings.Settings(health_port=0)),
        ({"ORCHESTRATION_OPERATOR_LOG_FORMAT": "JSON"}, settings.Settings(log_format="json")),
        ({"ORCHESTRATION_OPERATOR_SECRET_CACHE_SECONDS": "3"}, settings.Settings(secret_cache_seconds=3.0)),
        ({"ORCHESTRATION_OPERATOR_SUCCESS_EVENTS": "false"}, settings.Settings(success_events=False)),
    ],
)
def test_from_env(env: dict[str, str], expected: settings.Settings) -> None:
    assert settings.from_env(env) == expected


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ORCHESTRATION_OPERATOR_STANDALONE": "maybe"},
            "ORCHESTRATION_OPERATOR_STANDALONE='maybe': expected true or false",
        ),
        (
            {"ORCHESTRATION_OPERATOR_PRIORITY": "x"},
            "ORCHESTRATION_OPERATOR_PRIORITY='x': expected an integer",
        ),
        (
            {"ORCHESTRATION_OPERATOR_HEALTH_PORT": "70000"},
            "ORCHESTRATION_OPERATOR_HEALTH_PORT='70000': expected 0..65535",
        ),
        (
            {"ORCHESTRATION_OPERATOR_LOG_FORMAT": "xml"},
            "ORCHESTRATION_OPERATOR_LOG_FORMAT='xml': expected one of text, json",
        ),
        (
            {"ORCHESTRATION_OPERATOR_ALL_NAMESPACES": "1", "ORCHESTRATION_OPERATOR_NAMESPACES": "a"},
            "ORCHESTRATION_OPERATOR_ALL_NAMESPACES and ORCHESTRATION_OPERATOR_NAMESPACES"
            " contradict each other",
        ),
    ],
)
def test_from_env_refuses_bad_values(env: dict[str, str], message: str) -> None:
    with pytest.raises(settings.SettingsError) as excinfo:
        settings.from_env(env)
    assert str(excinfo.value) == message


def test_clusterwide_when_no_namespace() -> None:
    assert settings.Settings().clusterwide
    assert not settings.Settings(namespaces=("a",)).clusterwide


@pytest.mark.parametrize(
    ("env", "argv", "success_events"),
    [
        ({}, [], True),
        ({}, ["--no-success-events"], False),
        ({"ORCHESTRATION_OPERATOR_SUCCESS_EVENTS": "false"}, [], False),
        ({"ORCHESTRATION_OPERATOR_SUCCESS_EVENTS": "false"}, ["--success-events"], True),  # flags win
    ],
)
def test_run_resolves_flags_over_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], argv: list[str], success_events: bool
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    args = cli.build_parser().parse_args(["run", *argv])
    assert run.resolve(args).success_events is success_events


def test_handlers_read_what_run_resolved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHESTRATION_OPERATOR_SECRET_CACHE_SECONDS", "7")
    monkeypatch.setattr(settings, "_current", None)
    assert settings.current() == settings.Settings(secret_cache_seconds=7.0)  # nothing resolved: env
    settings.use(settings.Settings(success_events=False))
    assert settings.current() == settings.Settings(success_events=False)
