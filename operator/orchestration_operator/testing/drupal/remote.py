"""``RemoteEmulator``: the ``EmulatorControl`` surface over the control API of an emulator in another
process (``orchestration-operator emulator``, the local stack, e2e tests). See control.py for routes.

Records come back as the same dataclasses as in-process (``RequestRecord``, ``WebhookRecord``, ...);
``settings`` is a snapshot (change settings with ``update_settings``). Python behaviours cannot cross
a process boundary: catalogs sent here use the file format only.
"""

from __future__ import annotations

import ssl
import urllib.parse
from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any

import httpx

from orchestration_operator.testing.drupal import catalog as catalog_
from orchestration_operator.testing.drupal import errors, requestlog, users
from orchestration_operator.testing.drupal import faults as faults_
from orchestration_operator.testing.drupal import settings as settings_
from orchestration_operator.testing.drupal import webhooks as webhooks_


def _segment(value: str) -> str:
    return urllib.parse.quote(value, safe="")


class RemoteEmulator:
    """A client of an emulator's control API (``http://127.0.0.1:PORT/_emulator``)."""

    def __init__(
        self, control_url: str, *, timeout: float = 30.0, verify: ssl.SSLContext | bool = True
    ) -> None:
        self._control_url = control_url.rstrip("/")
        self._http = httpx.Client(timeout=timeout, trust_env=False, verify=verify)
        self._url: str | None = None

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RemoteEmulator:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, method: str, path: str, body: Any = None, *, params: dict[str, str] | None = None) -> Any:
        try:
            response = self._http.request(method, f"{self._control_url}{path}", json=body, params=params)
        except httpx.HTTPError as exc:
            raise errors.ControlError(f"control API {method} {path}: {type(exc).__name__}: {exc}") from exc
        try:
            data = response.json()
        except ValueError as exc:
            raise errors.ControlError(
                f"control API {method} {path}: {response.status_code}, not JSON"
            ) from exc
        if response.status_code != 200:
            message = data.get("error") if isinstance(data, dict) else data
            raise errors.ControlError(f"control API {method} {path}: {response.status_code}: {message}")
        return data

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "/health")
        return result

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = str(self.health()["url"])
        return self._url

    @property
    def control_url(self) -> str:
        return self._control_url

    # request log
    @property
    def request_log(self) -> list[requestlog.RequestRecord]:
        return [requestlog.RequestRecord.from_dict(r) for r in self._call("GET", "/requests")["requests"]]

    def calls(self, route: str | None = None, /, **match: Any) -> list[requestlog.RequestRecord]:
        params = {"route": route} if route is not None else None
        records = [
            requestlog.RequestRecord.from_dict(r)
            for r in self._call("GET", "/requests", params=params)["requests"]
        ]
        return [record for record in records if record.matches(route, match)]

    def execute_count(self, service_id: str) -> int:
        return int(self.counts()["executions"].get(service_id, 0))

    def request_count(self, route: str | None = None) -> int:
        requests = self.counts()["requests"]
        return sum(requests.values()) if route is None else int(requests.get(route, 0))

    def counts(self) -> dict[str, dict[str, int]]:
        result: dict[str, dict[str, int]] = self._call("GET", "/counts")
        return result

    def reset_log(self) -> int:
        return int(self._call("DELETE", "/requests")["cleared"])

    # settings, catalog, users
    @property
    def settings(self) -> settings_.EmulatorSettings:
        return settings_.EmulatorSettings(**self._call("GET", "/settings"))

    def update_settings(self, **changes: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("PATCH", "/settings", changes)
        return result

    @property
    def catalog(self) -> catalog_.Catalog:
        return catalog_.Catalog.from_data(self._call("GET", "/catalog"))

    def set_catalog(self, new: catalog_.Catalog | Mapping[str, Any]) -> None:
        data = new.to_data() if isinstance(new, catalog_.Catalog) else dict(new)
        self._call("PUT", "/catalog", data)

    def add_service(self, service: catalog_.Service | Mapping[str, Any]) -> None:
        data = service.to_data() if isinstance(service, catalog_.Service) else dict(service)
        self._call("POST", "/catalog/services", data)

    def remove_service(self, service_id: str) -> bool:
        return bool(self._call("DELETE", f"/catalog/services/{_segment(service_id)}")["removed"])

    def set_user(self, user: users.User) -> dict[str, Any]:
        data = {
            "password": user.password,
            "permissions": sorted(user.permissions),
            "blocked": user.blocked,
            "roles": list(user.roles),
        }
        if user.uid:
            data["uid"] = user.uid
        result: dict[str, Any] = self._call("PUT", f"/users/{_segment(user.name)}", data)
        return result

    def remove_user(self, name: str) -> bool:
        return bool(self._call("DELETE", f"/users/{_segment(name)}")["removed"])

    def expire_sessions(self, *, username: str | None = None) -> int:
        body = {"username": username} if username is not None else {}
        return int(self._call("POST", "/sessions/expire", body)["expired"])

    def reset_flood(self) -> None:
        self._call("POST", "/flood/reset", {})

    def reset(self) -> None:
        self._call("POST", "/reset", {})

    # polls
    @property
    def poll_sources(self) -> dict[str, dict[str, Any]]:
        result: dict[str, dict[str, Any]] = self._call("GET", "/polls")["polls"]
        return result

    def add_poll_items(self, name: str, mode: str, items: Iterable[Mapping[str, Any]]) -> int:
        body = {"mode": mode, "items": [dict(item) for item in items]}
        return int(self._call("POST", f"/polls/{_segment(name)}/items", body)["count"])

    def clear_poll_items(self, name: str | None = None) -> None:
        self._call("DELETE", "/polls" if name is None else f"/polls/{_segment(name)}")

    # webhooks
    @property
    def webhooks(self) -> dict[str, webhooks_.WebhookRecord]:
        stored = self._call("GET", "/webhooks")["webhooks"]
        return {key: webhooks_.WebhookRecord.from_dict(value) for key, value in stored.items()}

    def set_webhook(self, key: str, url: Any, **fields: Any) -> webhooks_.WebhookRecord:
        return webhooks_.WebhookRecord.from_dict(
            self._call("PUT", f"/webhooks/{_segment(key)}", {"url": url, **fields})
        )

    def remove_webhook(self, key: str) -> bool:
        return bool(self._call("DELETE", f"/webhooks/{_segment(key)}")["removed"])

    def dispatch_webhook(self, key: str, data: Any) -> webhooks_.DispatchResult:
        result = self._call("POST", f"/webhooks/{_segment(key)}/dispatch", {"data": data})
        return webhooks_.DispatchResult.from_dict(result)

    @property
    def dispatches(self) -> list[webhooks_.DispatchResult]:
        return [webhooks_.DispatchResult.from_dict(d) for d in self._call("GET", "/dispatches")["dispatches"]]

    # faults
    def add_fault(self, kind: str, **options: Any) -> faults_.Fault:
        return faults_.Fault.from_dict(self._call("POST", "/faults", {"kind": kind, **options}))

    @property
    def faults(self) -> list[faults_.Fault]:
        return [faults_.Fault.from_dict(f) for f in self._call("GET", "/faults")["faults"]]

    def remove_fault(self, fault_id: int) -> bool:
        return bool(self._call("DELETE", f"/faults/{fault_id}")["removed"])

    def clear_faults(self) -> int:
        return int(self._call("DELETE", "/faults")["cleared"])
