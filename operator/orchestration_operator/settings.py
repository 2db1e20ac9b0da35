"""Operator settings: command-line flags over environment variables over defaults.

Every environment variable has the prefix ``ORCHESTRATION_OPERATOR_``. This module is the one place
that lists them (the README and the Helm chart refer to it):

=============================  ==========================================================  =========
variable                       meaning                                                     default
=============================  ==========================================================  =========
``NAMESPACES``                 comma-separated namespaces (or globs) to watch              (all)
``ALL_NAMESPACES``             ``true`` to watch the whole cluster                         ``false``
``STANDALONE``                 ``true``: no kopf peering (one replica only)                ``false``
``PEERING``                    kopf peering object name (standby replicas)                 (see below)
``PRIORITY``                   this replica's peering priority (higher wins)               ``0``
``HEALTH_PORT``                liveness endpoint port (``/healthz``); ``0`` disables        ``8080``
``METRICS_PORT``               Prometheus ``/metrics`` port; ``0`` disables                 ``9090``
``LOG_FORMAT``                 ``text`` or ``json``                                        ``text``
``LOG_LEVEL``                  ``debug``, ``info``, ``warning``, ``error``                 ``info``
``SECRET_CACHE_SECONDS``       how long a read Secret is reused before it is read again    ``10``
``SUCCESS_EVENTS``             ``false`` (``--no-success-events``): no Normal Succeeded     ``true``
                               Event per successful ServiceRun (failures always post
                               one); for bursts of thousands of runs (a write each)
=============================  ==========================================================  =========

The default peering name is ``orchestration-operator``.

No kopf and no httpx here: handlers/ and client/ read the resulting :class:`Settings`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

PREFIX = "ORCHESTRATION_OPERATOR_"

LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("debug", "info", "warning", "error")


class SettingsError(ValueError):
    """A setting has a value that cannot be used; the message names the variable."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class Settings:
    namespaces: tuple[str, ...] = ()
    all_namespaces: bool = False
    standalone: bool = False
    peering: str = "orchestration-operator"
    priority: int = 0
    health_port: int = 8080
    metrics_port: int = 9090
    log_format: str = "text"
    log_level: str = "info"
    secret_cache_seconds: float = 10.0
    success_events: bool = True

    @property
    def clusterwide(self) -> bool:
        return self.all_namespaces or not self.namespaces


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{PREFIX}{name}={raw!r}: expected true or false")


def _int(name: str, raw: str, *, minimum: int = 0, maximum: int = 2**31) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{PREFIX}{name}={raw!r}: expected an integer") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{PREFIX}{name}={raw!r}: expected {minimum}..{maximum}")
    return value


def _choice(name: str, raw: str, choices: tuple[str, ...]) -> str:
    lowered = raw.strip().lower()
    if lowered not in choices:
        raise SettingsError(f"{PREFIX}{name}={raw!r}: expected one of {', '.join(choices)}")
    return lowered


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    """Read :class:`Settings` from environment variables; unknown values raise :class:`SettingsError`."""
    env = os.environ if env is None else env
    values: dict[str, object] = {}

    def get(name: str) -> str | None:
        return env.get(PREFIX + name)

    if (raw := get("NAMESPACES")) is not None:
        values["namespaces"] = tuple(ns.strip() for ns in raw.split(",") if ns.strip())
    if (raw := get("ALL_NAMESPACES")) is not None:
        values["all_namespaces"] = _bool("ALL_NAMESPACES", raw)
    if (raw := get("STANDALONE")) is not None:
        values["standalone"] = _bool("STANDALONE", raw)
    if (raw := get("PEERING")) is not None:
        values["peering"] = raw.strip()
    if (raw := get("PRIORITY")) is not None:
        values["priority"] = _int("PRIORITY", raw, minimum=-(2**31))
    if (raw := get("HEALTH_PORT")) is not None:
        values["health_port"] = _int("HEALTH_PORT", raw, maximum=65535)
    if (raw := get("METRICS_PORT")) is not None:
        values["metrics_port"] = _int("METRICS_PORT", raw, maximum=65535)
    if (raw := get("LOG_FORMAT")) is not None:
        values["log_format"] = _choice("LOG_FORMAT", raw, LOG_FORMATS)
    if (raw := get("LOG_LEVEL")) is not None:
        values["log_level"] = _choice("LOG_LEVEL", raw, LOG_LEVELS)
    if (raw := get("SECRET_CACHE_SECONDS")) is not None:
        values["secret_cache_seconds"] = float(_int("SECRET_CACHE_SECONDS", raw, maximum=3600))
    if (raw := get("SUCCESS_EVENTS")) is not None:
        values["success_events"] = _bool("SUCCESS_EVENTS", raw)
    settings = Settings(**values)  # type: ignore[arg-type]
    if settings.all_namespaces and settings.namespaces:
        raise SettingsError(f"{PREFIX}ALL_NAMESPACES and {PREFIX}NAMESPACES contradict each other")
    return settings


_current: Settings | None = None


def use(settings: Settings) -> None:
    """The settings this process runs with (``run`` resolves flags over the environment, then calls this)."""
    global _current
    _current = settings


def current() -> Settings:
    """What the handlers read: the settings ``run`` resolved, else the environment's."""
    return _current if _current is not None else from_env()
