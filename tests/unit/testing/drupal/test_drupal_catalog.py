"""Catalog and users files: formats, defaults, validation, and the shipped demo catalog."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from orchestration_operator.testing.drupal import (
    Behaviour,
    Catalog,
    CatalogError,
    Service,
    UsersError,
    demo_catalog,
    load_catalog,
    load_users,
)

CATALOG_YAML = """
services:
  - id: eca::b
    label: B service
    config:
      - {key: second, weight: 5}
      - {key: first, weight: -1, x_custom: kept}
    behaviour: undefined
    x_service_extra: {nested: true}
  - id: tool::entity:load
    label: A service
polls:
  - name: feed
    mode: timestamp
    items: [{timestamp: 10, data: x}]
settings:
  poll_order: descending
"""


def test_yaml_catalog_with_defaults_unknown_fields_and_order(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "catalog.yaml"
    path.write_text(CATALOG_YAML)
    catalog = load_catalog(path)
    listing = catalog.listing()
    assert [service["id"] for service in listing] == ["tool::entity:load", "eca::b"]  # by label
    assert listing[1] == {
        "id": "eca::b",
        "label": "B service",
        "description": "",
        "config": [
            {
                "key": "first",
                "label": "first",
                "description": "",
                "required": False,
                "type": "string",
                "editable": True,
                "default_value": "",
                "weight": -1,
                "options": [],
                "x_custom": "kept",
            },
            {
                "key": "second",
                "label": "second",
                "description": "",
                "required": False,
                "type": "string",
                "editable": True,
                "default_value": "",
                "weight": 5,
                "options": [],
            },
        ],
        "x_service_extra": {"nested": True},
    }
    assert catalog.services["eca::b"].behaviour == Behaviour.undefined()
    assert catalog.services["tool::entity:load"].behaviour == Behaviour.echo()
    assert catalog.polls[0].items == [{"timestamp": 10, "data": "x"}]
    assert catalog.settings == {"poll_order": "descending"}


def test_json_catalog_and_round_trip(tmp_path: pathlib.Path) -> None:
    original = Catalog.of(
        [Service("ai_agent::x", "X", behaviour=Behaviour.large(100, latency_ms=5), config=[{"key": "k"}])]
    )
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(original.to_data()))
    assert load_catalog(path).to_data() == original.to_data()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"services": [{"label": "no id"}]}, "non-empty string 'id'"),
        ({"services": [{"id": "a::b", "config": [{"label": "no key"}]}]}, "string 'key'"),
        ({"services": [{"id": "a::b", "config": {"key": "x"}}]}, "'config' must be a list"),
        ({"services": [{"id": "a::b", "config": [{"key": "x", "options": "no"}]}]}, "'options'"),
        ({"services": [{"id": "a::b", "config": [{"key": "x", "weight": "1"}]}]}, "'weight'"),
        ({"services": [{"id": "a::b"}, {"id": "a::b"}]}, "declared twice"),
        ({"services": [{"id": "a::b", "behaviour": "explode"}]}, "unknown behaviour"),
        ({"services": [{"id": "a::b", "behaviour": {"kind": "python"}}]}, "unknown behaviour"),
        ({"services": [{"id": "a::b", "behaviour": {"kind": "large", "size": 1}}]}, "size >= 2"),
        ({"services": [{"id": "a::b", "behaviour": {"kind": "echo", "latency_ms": -1}}]}, "negative"),
        (
            {"services": [{"id": "a::b", "behaviour": {"kind": "echo", "sleep": 1}}]},
            "unknown behaviour fields",
        ),
        ({"services": [{"id": "a::b", "behaviour": 5}]}, "a name or a mapping"),
        ({"polls": [{"name": "p", "mode": "cursor"}]}, "mode must be one of"),
        ({"polls": [{"mode": "id"}]}, "string 'name'"),
        ({"polls": [{"name": "p", "mode": "id", "items": [1]}]}, "list of mappings"),
        ({"extra": []}, "unknown catalog sections"),
        ([], "a catalog is a mapping"),
    ],
)
def test_invalid_catalogs_are_refused_clearly(data: Any, message: str) -> None:
    with pytest.raises(CatalogError, match=message):
        Catalog.from_data(data)


@pytest.mark.parametrize(
    ("content", "suffix", "message"),
    [("services: [", ".yaml", "not valid yaml"), ("{", ".json", "not valid json")],
)
def test_unreadable_catalog_files(tmp_path: pathlib.Path, content: str, suffix: str, message: str) -> None:
    path = tmp_path / f"catalog{suffix}"
    path.write_text(content)
    with pytest.raises(CatalogError, match=message):
        load_catalog(path)
    with pytest.raises(CatalogError, match="cannot read catalog"):
        load_catalog(tmp_path / "missing.yaml")


def test_demo_catalog_shows_every_trait_of_the_api() -> None:
    catalog = demo_catalog()
    kinds = {service.behaviour.kind for service in catalog.services.values()}
    assert kinds == {"echo", "value", "undefined", "large", "error", "failure", "counter"}
    assert {"eca::send_welcome_email", "ai_agent::summarize", "tool::entity:load"} <= set(catalog.services)
    assert any(service.behaviour.latency_ms >= 1000 for service in catalog.services.values())
    assert {(poll.name, poll.mode) for poll in catalog.polls} == {
        ("new_articles", "timestamp"),
        ("order_updates", "id"),
    }
    labels = [service["label"] for service in catalog.listing()]
    assert labels == sorted(labels)


def test_users_file(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(
        "users:\n"
        "  - {name: platform, password: s3cret}\n"
        "  - {name: reader, password: r, permissions: [], blocked: true, roles: [authenticated, reader]}\n"
    )
    platform, reader = load_users(path)
    assert (platform.name, platform.can_connect, platform.blocked) == ("platform", True, False)
    assert (reader.can_connect, reader.blocked, reader.roles) == (False, True, ("authenticated", "reader"))
    assert "s3cret" not in repr(platform)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("users: [{name: x}]", "'name' and 'password'"),
        ("users: [{name: x, password: y, admin: true}]", "unknown fields"),
        ("users: [{name: x, password: y, permissions: yes}]", "list of strings"),
        ("users: 5", "expected a list"),
        ("[", "not valid"),
    ],
)
def test_invalid_users_files(tmp_path: pathlib.Path, content: str, message: str) -> None:
    path = tmp_path / "users.yaml"
    path.write_text(content)
    with pytest.raises(UsersError, match=message):
        load_users(path)
