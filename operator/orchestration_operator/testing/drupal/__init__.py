"""A faithful emulator of the Drupal ``orchestration`` module's HTTP API, for tests and local trials.

It plays the five routes of ORCHESTRATION_API.md (services, execute, webhook register/unregister,
poll) with Drupal's authentication (HTTP Basic, cookie sessions with ``/user/login`` and
``/session/token``, CSRF header, flood control, 401 challenge vs 403), switches for every behaviour
the real module leaves open (settings.py), faults on demand (faults.py), a request log for exact
assertions (requestlog.py) and a JSON control API for other processes (control.py). It is
independent of ``orchestration_operator.client`` on purpose: the client is tested against it.

Entry points:

- ``DrupalEmulator`` (server.py): ``async with DrupalEmulator(catalog=..., users=...) as site``;
- ``ThreadedEmulator`` (threaded.py): the same in a background thread, with a synchronous API;
- ``RemoteEmulator`` (remote.py) and ``EmulatorProcess`` (process.py): an emulator in another
  process, driven through its control API;
- pytest fixtures (fixtures.py): ``drupal_emulator``, ``drupal_emulator_factory``,
  ``drupal_emulator_async``, ``drupal_emulator_process``;
- ``orchestration-operator emulator --port N --catalog FILE`` (commands/emulator.py).

Route names used by the log, ``calls()`` and faults: ``services``, ``execute``, ``register``,
``unregister``, ``poll``, ``login``, ``logout``, ``login_status``, ``session_token``, ``front``
(``None`` for a path Drupal does not know).
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orchestration_operator.testing.drupal.catalog import (
        DEMO_CATALOG_PATH,
        Behaviour,
        Catalog,
        PollSourceSpec,
        Service,
        ServiceError,
        demo_catalog,
        load_catalog,
    )
    from orchestration_operator.testing.drupal.errors import (
        CatalogError,
        ControlError,
        EmulatorError,
        FaultError,
        ProcessError,
        SettingsError,
        UsersError,
    )
    from orchestration_operator.testing.drupal.facade import EmulatorControl
    from orchestration_operator.testing.drupal.faults import FAULT_KINDS, Fault
    from orchestration_operator.testing.drupal.htmlid import get_id
    from orchestration_operator.testing.drupal.process import EmulatorProcess
    from orchestration_operator.testing.drupal.remote import RemoteEmulator
    from orchestration_operator.testing.drupal.requestlog import RequestRecord
    from orchestration_operator.testing.drupal.server import DrupalEmulator
    from orchestration_operator.testing.drupal.settings import EmulatorSettings
    from orchestration_operator.testing.drupal.threaded import ThreadedEmulator
    from orchestration_operator.testing.drupal.users import (
        DEMO_ADMIN,
        DEMO_BLOCKED,
        DEMO_EDITOR,
        DEMO_USERS,
        PERMISSION,
        User,
        load_users,
    )
    from orchestration_operator.testing.drupal.webhooks import DispatchResult, WebhookRecord

# Names resolve on first use (PEP 562), so ``orchestration-operator emulator`` does not pay for httpx
# (remote.py, process.py) and a plain ``import orchestration_operator.testing.drupal.catalog`` stays light.
_LAZY: dict[str, str] = {
    "Behaviour": "catalog",
    "Catalog": "catalog",
    "CatalogError": "errors",
    "ControlError": "errors",
    "DEMO_ADMIN": "users",
    "DEMO_BLOCKED": "users",
    "DEMO_CATALOG_PATH": "catalog",
    "DEMO_EDITOR": "users",
    "DEMO_USERS": "users",
    "DispatchResult": "webhooks",
    "DrupalEmulator": "server",
    "EmulatorControl": "facade",
    "EmulatorError": "errors",
    "EmulatorProcess": "process",
    "EmulatorSettings": "settings",
    "FAULT_KINDS": "faults",
    "Fault": "faults",
    "FaultError": "errors",
    "PERMISSION": "users",
    "PollSourceSpec": "catalog",
    "ProcessError": "errors",
    "RemoteEmulator": "remote",
    "RequestRecord": "requestlog",
    "Service": "catalog",
    "ServiceError": "catalog",
    "SettingsError": "errors",
    "ThreadedEmulator": "threaded",
    "User": "users",
    "UsersError": "errors",
    "WebhookRecord": "webhooks",
    "demo_catalog": "catalog",
    "get_id": "htmlid",
    "load_catalog": "catalog",
    "load_users": "users",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


__all__ = [
    "DEMO_ADMIN",
    "DEMO_BLOCKED",
    "DEMO_CATALOG_PATH",
    "DEMO_EDITOR",
    "DEMO_USERS",
    "FAULT_KINDS",
    "PERMISSION",
    "Behaviour",
    "Catalog",
    "CatalogError",
    "ControlError",
    "DispatchResult",
    "DrupalEmulator",
    "EmulatorControl",
    "EmulatorError",
    "EmulatorProcess",
    "EmulatorSettings",
    "Fault",
    "FaultError",
    "PollSourceSpec",
    "ProcessError",
    "RemoteEmulator",
    "RequestRecord",
    "Service",
    "ServiceError",
    "SettingsError",
    "ThreadedEmulator",
    "User",
    "UsersError",
    "WebhookRecord",
    "demo_catalog",
    "get_id",
    "load_catalog",
    "load_users",
]
