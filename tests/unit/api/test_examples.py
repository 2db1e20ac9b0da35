"""deploy/examples/: every object parses with the models, fits the CRDs, and the references resolve."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml

from orchestration_operator.api import crdgen, kinds, names

from . import crdcheck

EXAMPLES = pathlib.Path(__file__).resolve().parents[3] / "deploy" / "examples"


def documents() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document is not None:
                found.append((f"{path.name}:{document['kind']}/{document['metadata']['name']}", document))
    return found


DOCUMENTS = documents()
OURS = [(name, doc) for name, doc in DOCUMENTS if doc["apiVersion"] == names.API_VERSION]


def test_every_kind_has_an_example() -> None:
    assert sorted({doc["kind"] for _, doc in OURS}) == sorted(kind.kind for kind in kinds.ALL)


@pytest.mark.parametrize(("name", "document"), OURS, ids=[name for name, _ in OURS])
def test_example_parses_and_fits_the_crd(name: str, document: dict[str, Any]) -> None:
    kind = kinds.by_kind(document["kind"])
    parsed = kind.resource.model_validate(document)
    assert parsed.metadata.name == document["metadata"]["name"]
    schema = crdcheck.spec_schema(crdgen.crd(kind))
    assert crdcheck.errors(schema, crdcheck.default(schema, document["spec"])) == []


def test_references_resolve_within_the_examples() -> None:
    present = {(doc["kind"], doc["metadata"]["name"]) for _, doc in DOCUMENTS}
    connection = next(doc for _, doc in OURS if doc["kind"] == "OrchestrationConnection")
    assert ("Secret", connection["spec"]["auth"]["basic"]["secretRef"]["name"]) in present
    assert connection["spec"]["url"] == "http://127.0.0.1:8081"
    for name, doc in OURS:
        if "connectionRef" in doc["spec"]:
            assert ("OrchestrationConnection", doc["spec"]["connectionRef"]["name"]) in present, name


def test_the_servicerun_example_is_the_welcome_email() -> None:
    run = next(doc for _, doc in OURS if doc["kind"] == "ServiceRun")
    assert run["spec"]["serviceId"] == "eca::send_welcome_email"
    assert run["spec"]["config"] == {"user_id": "42"}


def test_the_eventpoll_example_has_a_config_map_sink() -> None:
    poll = next(doc for _, doc in OURS if doc["kind"] == "EventPoll")
    assert [sink["name"] for sink in poll["spec"]["sinks"] if "configMap" in sink] == ["inspect"]
