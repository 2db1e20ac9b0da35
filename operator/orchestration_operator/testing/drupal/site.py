"""The emulated site's in-memory state, shared by the route handlers, the control API and Python callers.

``Site`` holds the catalog, settings, accounts, poll sources, webhooks, faults and request log. Every
part is safe to read (and to change) from another thread: each keeps its own lock, never held across
an ``await``. ``DrupalEmulator`` (server.py) owns one ``Site`` and serves it over HTTP.
"""

from __future__ import annotations

import asyncio
import copy
import threading
from collections.abc import Iterable
from typing import Any

from orchestration_operator.testing.drupal import (
    accounts,
    faults,
    polls,
    requestlog,
    settings,
    users,
    webhooks,
)
from orchestration_operator.testing.drupal import catalog as catalog_


class Site:
    """Everything the emulated Drupal site knows."""

    def __init__(
        self,
        *,
        initial_catalog: catalog_.Catalog,
        initial_users: Iterable[users.User],
        initial_settings: dict[str, Any],
        log_limit: int,
    ) -> None:
        self._initial_catalog = copy.deepcopy(initial_catalog)
        self._initial_users = list(initial_users)
        self._initial_settings = dict(initial_settings)
        self._catalog_lock = threading.Lock()
        self.settings = settings.EmulatorSettings()
        self.settings.update(**self._initial_settings)
        self.accounts = accounts.Accounts(self._initial_users, config=self.settings)
        self.polls = polls.PollSources()
        self.webhooks = webhooks.WebhookStore()
        self.faults = faults.FaultSet()
        self.log = requestlog.RequestLog(limit=log_limit)
        self.closing = asyncio.Event()  # set at shutdown: hangs and sleeps end early
        self.base_path = ""
        self.https = False
        self._catalog = catalog_.Catalog()
        self.set_catalog(copy.deepcopy(initial_catalog), apply_settings=False)

    # -- catalog ------------------------------------------------------------------------------------

    @property
    def catalog(self) -> catalog_.Catalog:
        with self._catalog_lock:
            return self._catalog

    def set_catalog(self, new: catalog_.Catalog, *, apply_settings: bool = True) -> None:
        """Replace the services and every poll source; apply the catalog's settings on top."""
        if new.settings and apply_settings:
            self.settings.update(**new.settings)
        with self._catalog_lock:
            self._catalog = new
        self.polls.clear()
        for source in new.polls:
            self.polls.add(source.name, source.mode, source.items)

    def add_service(self, service: catalog_.Service) -> None:
        with self._catalog_lock:
            services = dict(self._catalog.services)
            services[service.id] = service
            self._catalog = catalog_.Catalog(services, self._catalog.polls, self._catalog.settings)

    def remove_service(self, service_id: str) -> bool:
        with self._catalog_lock:
            if service_id not in self._catalog.services:
                return False
            services = {key: s for key, s in self._catalog.services.items() if key != service_id}
            self._catalog = catalog_.Catalog(services, self._catalog.polls, self._catalog.settings)
            return True

    def service(self, service_id: str) -> catalog_.Service | None:
        with self._catalog_lock:
            return self._catalog.services.get(service_id)

    def listing(self) -> list[dict[str, Any]]:
        with self._catalog_lock:
            return self._catalog.listing()

    # -- whole-site reset ---------------------------------------------------------------------------

    def reset(self) -> None:
        """Back to the state the emulator started with (catalog, users, settings, nothing recorded)."""
        self.settings.update(**settings.EmulatorSettings().to_dict())
        self.settings.update(**self._initial_settings)
        self.set_catalog(copy.deepcopy(self._initial_catalog), apply_settings=False)
        self.accounts.replace_all(self._initial_users)
        self.accounts.sessions.expire()
        self.accounts.flood.reset()
        self.webhooks.clear()
        self.faults.clear()
        self.log.reset()
