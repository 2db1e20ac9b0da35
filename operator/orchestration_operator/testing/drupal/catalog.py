"""The emulated site's services, what each does when executed, and its poll sources.

A catalog comes from a YAML or JSON file (``load_catalog``), from plain data (``Catalog.from_data``) or
from Python objects. File format::

    services:
      - id: eca::send_welcome_email          # provider::service, listed sorted by label
        label: Send welcome email
        description: Sends a welcome email to a given user.
        config:                               # the nine fields; missing ones get Drupal-like defaults,
          - key: user_id                      # unknown ones are kept and listed as they are
            label: User ID
            required: true
            weight: 0
        behaviour: undefined                  # see below; default: echo
        x_extra_field: kept                   # unknown service fields are listed too
    polls:
      - name: new_articles                    # the "Event ID" of an ECA poll event
        mode: timestamp                       # or: id
        items:
          - {timestamp: 1748000000, data: {nid: 1}}
    settings:                                 # optional initial variant settings (see settings.py)
      poll_order: descending

Behaviours (a name, or a mapping with ``kind``; every kind also takes ``latency_ms``, the service's
run time, slept with ``asyncio.sleep`` so other requests go on):

- ``echo``: answers the ``config`` it received (``null`` when none).
- ``{kind: value, value: ANY}``: a fixed object, list, string or number.
- ``undefined``: the string ``"undefined"`` (an ECA model that returned nothing).
- ``{kind: large, size: N}``: a JSON string whose encoded body is exactly N bytes.
- ``{kind: error, message: TEXT}``: the service throws: 500 ``{"error": TEXT}``.
- ``{kind: failure, message: TEXT}``: 200 ``{"success": false, "error": TEXT}`` (AI agents do this).
- ``counter``: ``{"calls": n}``, the number of executions of this service so far, this one included.
- Python only, ``Behaviour.python(fn)``: ``fn(config)`` (or an async function) returns the result;
  ``ServiceError`` (or any exception) becomes a 500 ``{"error": str(exc)}``.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
import pathlib
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast, get_args

import yaml

from orchestration_operator.testing.drupal import errors

DEMO_CATALOG_PATH = pathlib.Path(__file__).with_name("demo_catalog.yaml")

BehaviourKind = Literal["echo", "value", "undefined", "large", "error", "failure", "counter", "python"]
BEHAVIOUR_KINDS: tuple[str, ...] = get_args(BehaviourKind)
PollMode = Literal["timestamp", "id"]
POLL_MODES: tuple[str, ...] = get_args(PollMode)

# What a config item looks like when its provider leaves a field unset ("label" defaults to the key).
CONFIG_DEFAULTS: dict[str, Any] = {
    "description": "",
    "required": False,
    "type": "string",
    "editable": True,
    "default_value": "",
    "weight": 0,
    "options": [],
}
CONFIG_FIELDS = ("key", "label", *CONFIG_DEFAULTS)

PythonBehaviour = Callable[[Any], Any | Awaitable[Any]]


class ServiceError(Exception):
    """Raised by a behaviour: the module answers 500 ``{"error": <message>}``."""


@dataclass(frozen=True)
class Behaviour:
    """What a service does when executed. Build with the class methods."""

    kind: BehaviourKind = "echo"
    value: Any = None
    message: str = ""
    size: int = 0
    latency_ms: int = 0
    function: PythonBehaviour | None = field(default=None, compare=False)

    @classmethod
    def echo(cls, *, latency_ms: int = 0) -> Behaviour:
        return cls("echo", latency_ms=latency_ms)

    @classmethod
    def returning(cls, value: Any, *, latency_ms: int = 0) -> Behaviour:
        return cls("value", value=copy.deepcopy(value), latency_ms=latency_ms)

    @classmethod
    def undefined(cls, *, latency_ms: int = 0) -> Behaviour:
        return cls("undefined", latency_ms=latency_ms)

    @classmethod
    def large(cls, size: int, *, latency_ms: int = 0) -> Behaviour:
        return cls("large", size=size, latency_ms=latency_ms)._checked()

    @classmethod
    def error(cls, message: str, *, latency_ms: int = 0) -> Behaviour:
        return cls("error", message=message, latency_ms=latency_ms)

    @classmethod
    def failure(cls, message: str, *, latency_ms: int = 0) -> Behaviour:
        return cls("failure", message=message, latency_ms=latency_ms)

    @classmethod
    def counter(cls, *, latency_ms: int = 0) -> Behaviour:
        return cls("counter", latency_ms=latency_ms)

    @classmethod
    def python(cls, function: PythonBehaviour, *, latency_ms: int = 0) -> Behaviour:
        return cls("python", function=function, latency_ms=latency_ms)

    def _checked(self) -> Behaviour:
        if self.kind not in BEHAVIOUR_KINDS:
            raise errors.CatalogError(f"unknown behaviour {self.kind!r}; expected one of {BEHAVIOUR_KINDS}")
        if self.kind == "large" and self.size < 2:
            raise errors.CatalogError("a 'large' behaviour needs size >= 2 (the two quotes of a JSON string)")
        if self.latency_ms < 0:
            raise errors.CatalogError("latency_ms must not be negative")
        if self.kind == "python" and self.function is None:
            raise errors.CatalogError("a 'python' behaviour needs a function")
        return self

    @classmethod
    def from_data(cls, data: object) -> Behaviour:
        if data is None:
            return cls.echo()
        if isinstance(data, str):
            data = {"kind": data}
        if not isinstance(data, Mapping):
            raise errors.CatalogError(f"a behaviour is a name or a mapping, not {type(data).__name__}")
        known = {"kind", "value", "message", "size", "latency_ms"}
        unknown = set(data) - known
        if unknown:
            raise errors.CatalogError(f"unknown behaviour fields: {sorted(unknown)}")
        kind = data.get("kind", "echo")
        if kind == "python" or kind not in BEHAVIOUR_KINDS:
            raise errors.CatalogError(f"unknown behaviour {kind!r}; expected one of {BEHAVIOUR_KINDS[:-1]}")
        try:
            behaviour = cls(
                kind=kind,
                value=copy.deepcopy(data.get("value")),
                message=str(data.get("message", "")),
                size=int(data.get("size", 0)),
                latency_ms=int(data.get("latency_ms", 0)),
            )
        except (TypeError, ValueError) as exc:
            raise errors.CatalogError(f"invalid behaviour {dict(data)!r}: {exc}") from exc
        return behaviour._checked()

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        if self.kind == "value":
            data["value"] = copy.deepcopy(self.value)
        if self.kind in ("error", "failure"):
            data["message"] = self.message
        if self.kind == "large":
            data["size"] = self.size
        if self.latency_ms:
            data["latency_ms"] = self.latency_ms
        return data

    async def run(self, config: Any, *, calls: int) -> Any:
        """Return the service's result for ``config``; ``calls`` counts executions, this one included."""
        if self.kind == "echo":
            return copy.deepcopy(config)
        if self.kind == "value":
            return copy.deepcopy(self.value)
        if self.kind == "undefined":
            return "undefined"
        if self.kind == "large":
            return "x" * (self.size - 2)
        if self.kind == "error":
            raise ServiceError(self.message)
        if self.kind == "failure":
            return {"success": False, "error": self.message}
        if self.kind == "counter":
            return {"calls": calls}
        assert self.function is not None
        result = self.function(config)
        if inspect.isawaitable(result):
            result = await result
        return result


def _config_item(data: object, *, service_id: str) -> dict[str, Any]:
    if not isinstance(data, Mapping) or not isinstance(data.get("key"), str) or not data["key"]:
        raise errors.CatalogError(f"service {service_id!r}: every config item needs a string 'key'")
    item: dict[str, Any] = {"key": data["key"], "label": data.get("label", data["key"])}
    for name, default in CONFIG_DEFAULTS.items():
        item[name] = copy.deepcopy(data.get(name, default))
    for name, value in data.items():  # unknown fields, kept in their own order after the nine
        if name not in item:
            item[name] = copy.deepcopy(value)
    if not isinstance(item["options"], list):
        raise errors.CatalogError(f"service {service_id!r}: 'options' of {item['key']!r} must be a list")
    if not isinstance(item["weight"], int | float) or isinstance(item["weight"], bool):
        raise errors.CatalogError(f"service {service_id!r}: 'weight' of {item['key']!r} must be a number")
    return item


@dataclass
class Service:
    """One service of the catalog as ``GET /orchestration/services`` lists it, plus its behaviour."""

    id: str
    label: str
    description: str = ""
    config: list[dict[str, Any]] = field(default_factory=list)
    behaviour: Behaviour = field(default_factory=Behaviour.echo)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise errors.CatalogError("every service needs a non-empty string 'id'")
        self.config = [_config_item(item, service_id=self.id) for item in self.config]

    @classmethod
    def from_data(cls, data: object) -> Service:
        if not isinstance(data, Mapping):
            raise errors.CatalogError(f"a service is a mapping, not {type(data).__name__}")
        service_id = data.get("id")
        if not isinstance(service_id, str) or not service_id:
            raise errors.CatalogError("every service needs a non-empty string 'id'")
        config = data.get("config", [])
        if not isinstance(config, list):
            raise errors.CatalogError(f"service {service_id!r}: 'config' must be a list")
        known = {"id", "label", "description", "config", "behaviour"}
        return cls(
            id=service_id,
            label=str(data.get("label", service_id)),
            description=str(data.get("description", "")),
            config=config,
            behaviour=Behaviour.from_data(data.get("behaviour")),
            extra={key: copy.deepcopy(value) for key, value in data.items() if key not in known},
        )

    def listing(self) -> dict[str, Any]:
        """The JSON object of this service in the services list (config items sorted by weight)."""
        config = sorted(self.config, key=lambda item: item["weight"])  # stable, like PHP 8's usort
        return {
            "id": self.id,
            "label": self.label,
            "description": self.description,
            "config": copy.deepcopy(config),
            **copy.deepcopy(self.extra),
        }

    def to_data(self) -> dict[str, Any]:
        data = self.listing()
        data["config"] = copy.deepcopy(self.config)
        data["behaviour"] = self.behaviour.to_data()
        return data


@dataclass
class PollSourceSpec:
    """A poll source as a catalog declares it: its name, mode and initial items."""

    name: str
    mode: PollMode
    items: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_data(cls, data: object) -> PollSourceSpec:
        if not isinstance(data, Mapping) or not isinstance(data.get("name"), str):
            raise errors.CatalogError("every poll source needs a string 'name'")
        mode = data.get("mode")
        if mode not in POLL_MODES:
            raise errors.CatalogError(f"poll source {data['name']!r}: mode must be one of {POLL_MODES}")
        items = data.get("items", [])
        if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
            raise errors.CatalogError(f"poll source {data['name']!r}: 'items' must be a list of mappings")
        return cls(name=data["name"], mode=cast(PollMode, mode), items=[dict(item) for item in items])


@dataclass
class Catalog:
    """Services (by id, in declaration order), poll sources and initial settings of an emulated site."""

    services: dict[str, Service] = field(default_factory=dict)
    polls: list[PollSourceSpec] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, services: Iterable[Service], *, polls: Iterable[PollSourceSpec] = ()) -> Catalog:
        catalog = cls(polls=list(polls))
        for service in services:
            catalog.add(service)
        return catalog

    def add(self, service: Service) -> None:
        """Add or replace a service."""
        self.services[service.id] = service

    @classmethod
    def from_data(cls, data: object) -> Catalog:
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise errors.CatalogError(f"a catalog is a mapping, not {type(data).__name__}")
        unknown = set(data) - {"services", "polls", "settings"}
        if unknown:
            raise errors.CatalogError(f"unknown catalog sections: {sorted(unknown)}")
        services = data.get("services") or []
        polls = data.get("polls") or []
        settings = data.get("settings") or {}
        if not isinstance(services, list) or not isinstance(polls, list) or not isinstance(settings, Mapping):
            raise errors.CatalogError("'services' and 'polls' are lists, 'settings' is a mapping")
        catalog = cls(polls=[PollSourceSpec.from_data(poll) for poll in polls], settings=dict(settings))
        for service_data in services:
            service = Service.from_data(service_data)
            if service.id in catalog.services:
                raise errors.CatalogError(f"service {service.id!r} is declared twice")
            catalog.add(service)
        return catalog

    def to_data(self) -> dict[str, Any]:
        return {
            "services": [service.to_data() for service in self.services.values()],
            "polls": [{"name": p.name, "mode": p.mode, "items": copy.deepcopy(p.items)} for p in self.polls],
            "settings": dict(self.settings),
        }

    def listing(self) -> list[dict[str, Any]]:
        """The body of ``GET /orchestration/services``: every service, sorted by label."""
        ordered = sorted(self.services.values(), key=lambda service: service.label)
        return [service.listing() for service in ordered]


def load_catalog(path: str | pathlib.Path) -> Catalog:
    """Read a catalog from a YAML or JSON file (``.json`` is parsed as strict JSON)."""
    path = pathlib.Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise errors.CatalogError(f"cannot read catalog {path}: {exc.strerror}") from exc
    try:
        data = json.loads(text) if path.suffix == ".json" else load_yaml(text)
    except (ValueError, yaml.YAMLError) as exc:
        raise errors.CatalogError(f"catalog {path} is not valid {path.suffix.lstrip('.') or 'YAML'}") from exc
    return Catalog.from_data(data)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load``, with libyaml's C loader when PyYAML has it (ten times faster)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load(text, Loader=loader)  # both loaders are the safe ones


@functools.cache
def _demo_data() -> Any:
    return load_yaml(DEMO_CATALOG_PATH.read_text(encoding="utf-8"))


def demo_catalog() -> Catalog:
    """The catalog shipped with the package: realistic services and poll sources for local trials."""
    return Catalog.from_data(copy.deepcopy(_demo_data()))
