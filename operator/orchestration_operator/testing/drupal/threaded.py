"""``ThreadedEmulator``: a ``DrupalEmulator`` serving from a background thread, driven synchronously.

Synchronous tests call kubectl, helm or other subprocesses that block; an emulator on the test's own
event loop would freeze meanwhile. This one runs on a ``testing.background.BackgroundLoop`` (shared or
its own). The state methods of ``DrupalEmulator`` are thread-safe, so most calls go straight to it;
only coroutines (start, stop, dispatch) are run on the loop.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

from orchestration_operator.testing import background
from orchestration_operator.testing.drupal import catalog, requestlog, server
from orchestration_operator.testing.drupal import faults as faults_
from orchestration_operator.testing.drupal import settings as settings_
from orchestration_operator.testing.drupal import users as users_
from orchestration_operator.testing.drupal import webhooks as webhooks_


class ThreadedEmulator:
    """A started ``DrupalEmulator`` on a background loop; ``stop()`` (or ``with``) ends it."""

    def __init__(
        self, emulator: server.DrupalEmulator, *, loop: background.BackgroundLoop | None = None
    ) -> None:
        self.emulator = emulator
        self._own_loop = loop is None
        self._loop = loop if loop is not None else background.BackgroundLoop(name="drupal-emulator")
        self._started = False

    @classmethod
    def start(
        cls,
        *,
        loop: background.BackgroundLoop | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        ssl_context: ssl.SSLContext | None = None,
        **options: Any,
    ) -> ThreadedEmulator:
        """Create a ``DrupalEmulator(**options)`` and start it on ``loop`` (a new one by default)."""
        threaded = cls(server.DrupalEmulator(**options), loop=loop)
        try:
            threaded._loop.call(threaded.emulator.start(host, port, ssl_context=ssl_context))
        except BaseException:
            if threaded._own_loop:
                threaded._loop.close()
            raise
        threaded._started = True
        return threaded

    def stop(self) -> None:
        if self._started:
            self._started = False
            self._loop.call(self.emulator.stop())
        if self._own_loop:
            self._loop.close()

    def __enter__(self) -> ThreadedEmulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def loop(self) -> background.BackgroundLoop:
        return self._loop

    @property
    def url(self) -> str:
        return self.emulator.url

    @property
    def control_url(self) -> str:
        return self.emulator.control_url

    @property
    def session_cookie_name(self) -> str:
        return self.emulator.session_cookie_name

    # request log
    @property
    def request_log(self) -> list[requestlog.RequestRecord]:
        return self.emulator.request_log

    def calls(self, route: str | None = None, /, **match: Any) -> list[requestlog.RequestRecord]:
        return self.emulator.calls(route, **match)

    def execute_count(self, service_id: str) -> int:
        return self.emulator.execute_count(service_id)

    def request_count(self, route: str | None = None) -> int:
        return self.emulator.request_count(route)

    def counts(self) -> dict[str, dict[str, int]]:
        return self.emulator.counts()

    def reset_log(self) -> int:
        return self.emulator.reset_log()

    # settings, catalog, users
    @property
    def settings(self) -> settings_.EmulatorSettings:
        return self.emulator.settings

    def update_settings(self, **changes: Any) -> dict[str, Any]:
        return self.emulator.update_settings(**changes)

    def set_catalog(self, new: catalog.Catalog | Mapping[str, Any]) -> None:
        self.emulator.set_catalog(new)

    def add_service(self, service: catalog.Service | Mapping[str, Any]) -> None:
        self.emulator.add_service(service)

    def remove_service(self, service_id: str) -> bool:
        return self.emulator.remove_service(service_id)

    @property
    def users(self) -> dict[str, users_.User]:
        return self.emulator.users

    def set_user(self, user: users_.User) -> users_.User:
        return self.emulator.set_user(user)

    def remove_user(self, name: str) -> bool:
        return self.emulator.remove_user(name)

    def expire_sessions(self, *, username: str | None = None) -> int:
        return self.emulator.expire_sessions(username=username)

    def reset_flood(self) -> None:
        self.emulator.reset_flood()

    def reset(self) -> None:
        self.emulator.reset()

    # polls
    @property
    def poll_sources(self) -> dict[str, dict[str, Any]]:
        return self.emulator.poll_sources

    def add_poll_items(self, name: str, mode: str, items: Iterable[Mapping[str, Any]]) -> int:
        return self.emulator.add_poll_items(name, mode, items)

    def clear_poll_items(self, name: str | None = None) -> None:
        self.emulator.clear_poll_items(name)

    # webhooks
    @property
    def webhooks(self) -> dict[str, webhooks_.WebhookRecord]:
        return self.emulator.webhooks

    def set_webhook(self, key: str, url: Any, **fields: Any) -> webhooks_.WebhookRecord:
        return self.emulator.set_webhook(key, url, **fields)

    def remove_webhook(self, key: str) -> bool:
        return self.emulator.remove_webhook(key)

    def dispatch_webhook(self, key: str, data: Any, *, timeout: float = 60.0) -> webhooks_.DispatchResult:
        return self._loop.call(self.emulator.dispatch_webhook(key, data), timeout=timeout)

    @property
    def dispatches(self) -> list[webhooks_.DispatchResult]:
        return self.emulator.dispatches

    # faults
    def add_fault(self, kind: str, **options: Any) -> faults_.Fault:
        return self.emulator.add_fault(kind, **options)

    @property
    def faults(self) -> list[faults_.Fault]:
        return self.emulator.faults

    def remove_fault(self, fault_id: int) -> bool:
        return self.emulator.remove_fault(fault_id)

    def clear_faults(self) -> int:
        return self.emulator.clear_faults()
