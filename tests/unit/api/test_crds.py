"""The CRDs in crds/: generated from the models, structural, documented, and what kubectl users need."""

from __future__ import annotations

import pathlib
from typing import Any

import pydantic
import pytest
import yaml

from orchestration_operator.api import crdgen, kinds, names

from . import crdcheck

ROOT = pathlib.Path(__file__).resolve().parents[3]
CRDS = ROOT / "crds"
REGENERATE = f"out of date: regenerate with `PYTHONPATH=operator {crdgen.REGENERATE}`"

KIND_IDS = [kind.kind for kind in kinds.ALL]


def openapi(kind: names.Kind) -> dict[str, Any]:
    schema: dict[str, Any] = crdgen.crd(kind)["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def test_crds_directory_is_generated_from_the_models() -> None:
    assert crdgen.differences(CRDS) == [], REGENERATE


@pytest.mark.parametrize("kind", kinds.ALL, ids=KIND_IDS)
def test_crd_file_loads_as_the_generated_object(kind: names.Kind) -> None:
    loaded = yaml.safe_load((CRDS / crdgen.filename(kind)).read_text(encoding="utf-8"))
    assert loaded == crdgen.crd(kind), REGENERATE


def test_check_mode_reports_drift(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert crdgen.main(["--write", str(tmp_path)]) == 0
    assert crdgen.main(["--check", str(tmp_path)]) == 0
    first = tmp_path / crdgen.filename(kinds.ALL[0])
    first.write_text(first.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
    (tmp_path / "stray.yaml").write_text("{}\n", encoding="utf-8")
    assert crdgen.main(["--check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{first}: differs from the models" in err
    assert f"{tmp_path / 'stray.yaml'}: not generated from any model" in err
    assert crdgen.REGENERATE in err


@pytest.mark.parametrize("kind", kinds.ALL, ids=KIND_IDS)
def test_every_node_has_a_description_and_a_type(kind: names.Kind) -> None:
    for path, node in crdcheck.nodes(openapi(kind)):
        assert node.get("description"), f"{kind.kind}{path}: no description"
        if "type" not in node:
            # Structural schemas allow a typeless node only when it preserves anything (status.result).
            assert node.get("x-kubernetes-preserve-unknown-fields") is True, f"{kind.kind}{path}: no type"


@pytest.mark.parametrize("kind", kinds.ALL, ids=KIND_IDS)
def test_schema_is_structural(kind: names.Kind) -> None:
    forbidden = {
        "$ref",
        "$defs",
        "definitions",
        "anyOf",
        "oneOf",
        "allOf",
        "not",
        "title",
        "const",
        "nullable",
    }
    for path, node in crdcheck.nodes(openapi(kind)):
        assert not forbidden & set(node), f"{kind.kind}{path}: {sorted(forbidden & set(node))}"
        assert not ("properties" in node and "additionalProperties" in node), f"{kind.kind}{path}"
        if node.get("type") == "object" and path != ".metadata":  # the API server owns metadata's schema
            assert "properties" in node or node.get("x-kubernetes-preserve-unknown-fields"), path
        if node.get("type") == "array":
            assert "items" in node, path
        if "x-kubernetes-list-map-keys" in node:
            # Map-list keys must be required (or defaulted) scalars of the items.
            for key in node["x-kubernetes-list-map-keys"]:
                assert key in node["items"]["required"], f"{kind.kind}{path}: {key}"


@pytest.mark.parametrize("kind", kinds.ALL, ids=KIND_IDS)
def test_spec_strings_and_lists_are_bounded_for_cel_cost(kind: names.Kind) -> None:
    """CEL cost estimation assumes unbounded sizes otherwise, and the API server refuses costly rules."""
    spec = openapi(kind)["properties"]["spec"]
    for path, node in crdcheck.nodes(spec):
        if node.get("type") == "string":
            assert "maxLength" in node or "enum" in node, f"{kind.kind}.spec{path}: no maxLength"
        if node.get("type") == "array":
            assert "maxItems" in node, f"{kind.kind}.spec{path}: no maxItems"


@pytest.mark.parametrize("kind", kinds.ALL, ids=KIND_IDS)
def test_every_cel_rule_compiles_and_has_a_message(kind: names.Kind) -> None:
    found = list(crdcheck.rules(openapi(kind)))
    assert found, "every kind has at least one rule"
    for path, rule in found:
        assert set(rule) == {"rule", "message"}, path
        assert rule["message"], path
        crdcheck.evaluate(rule["rule"], {})  # compiles (evaluation on {} may fail: only parsing matters)


@pytest.mark.parametrize("kind", kinds.ALL, ids=KIND_IDS)
def test_names_subresources_and_columns(kind: names.Kind) -> None:
    crd = crdgen.crd(kind)
    assert crd["metadata"]["name"] == f"{kind.plural}.drupal-orchestration.io"
    assert crd["spec"]["group"] == "drupal-orchestration.io"
    assert crd["spec"]["scope"] == "Namespaced"
    assert crd["spec"]["names"]["categories"] == ["orchestration"]
    assert crd["spec"]["names"]["listKind"] == f"{kind.kind}List"
    (version,) = crd["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    columns = {column["name"]: column for column in version["additionalPrinterColumns"]}
    assert columns["Ready"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].status'
    assert columns["Reason"]["jsonPath"] == '.status.conditions[?(@.type=="Ready")].reason'
    assert columns["Age"] == {
        "name": "Age",
        "type": "date",
        "jsonPath": ".metadata.creationTimestamp",
        "description": "Time since the resource was created.",
    }
    for column in version["additionalPrinterColumns"]:
        assert column["type"] in {"string", "integer", "number", "boolean", "date"}
        assert column["description"]


@pytest.mark.parametrize(
    ("kind", "short_name", "columns"),
    [
        ("OrchestrationConnection", "oconn", ["Ready", "Reason", "Services", "URL", "Checked", "Age"]),
        ("OrchestrationWebhook", "owh", ["Ready", "Reason", "Key", "Connection", "Registered", "Age"]),
        ("ServiceRun", "srun", ["Service", "Phase", "Ready", "Reason", "Attempts", "Completed", "Age"]),
        ("EventPoll", "epoll", ["Mode", "Cursor", "Last Poll", "Ready", "Reason", "Delivered", "Age"]),
    ],
)
def test_short_names_and_column_order(kind: str, short_name: str, columns: list[str]) -> None:
    crd = crdgen.crd(kinds.by_kind(kind))
    assert crd["spec"]["names"]["shortNames"] == [short_name]
    assert [column["name"] for column in crd["spec"]["versions"][0]["additionalPrinterColumns"]] == columns


@pytest.mark.parametrize("kind", kinds.ALL, ids=KIND_IDS)
def test_status_schema_has_no_defaults_and_the_common_fields(kind: names.Kind) -> None:
    status = openapi(kind)["properties"]["status"]
    assert all("default" not in node for _, node in crdcheck.nodes(status))
    assert status["properties"]["observedGeneration"]["type"] == "integer"
    conditions = status["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    assert set(conditions["items"]["properties"]) == {
        "type",
        "status",
        "reason",
        "message",
        "lastTransitionTime",
        "observedGeneration",
    }


def test_free_form_fields_preserve_unknown_fields() -> None:
    run = openapi(kinds.by_kind("ServiceRun"))
    assert run["properties"]["spec"]["properties"]["config"] == {
        "description": "The service's config values, checked against the site's catalog before execution.",
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    result = run["properties"]["status"]["properties"]["result"]
    assert result["x-kubernetes-preserve-unknown-fields"] is True
    assert "type" not in result  # any JSON value: object, list, string ("undefined"), number


def test_servicerun_rules_the_api_page_asks_for() -> None:
    spec = openapi(kinds.by_kind("ServiceRun"))["properties"]["spec"]
    assert spec["x-kubernetes-validations"] == [
        {
            "rule": "self == oldSelf",
            "message": "spec is immutable; create a new ServiceRun or set the drupal-orchestration.io/rerun "
            "annotation",
        }
    ]
    service_id = spec["properties"]["serviceId"]
    assert service_id["pattern"] == "^[^:]+::.+$"
    assert service_id["x-kubernetes-validations"][0]["rule"] == "self.contains('::')"
    assert "double colon" in service_id["x-kubernetes-validations"][0]["message"]


class _Union(pydantic.BaseModel):
    """A model with a union, which structural schemas cannot express."""

    value: int | str = pydantic.Field(description="Either.")


class _Untyped(pydantic.BaseModel):
    """A model with an untyped field."""

    value: Any = pydantic.Field(description="Anything.")


class _OpenDict(pydantic.BaseModel):
    """A model with a plain dict."""

    value: dict[str, Any] = pydantic.Field(description="Anything.")


@pytest.mark.parametrize(
    ("model", "message"),
    [
        (_Union, "_Union.value: unions (anyOf) have no structural equivalent"),
        (_Untyped, "_Untyped.value: no type (use fields.JsonValue for a free-form value)"),
        (_OpenDict, "_OpenDict.value: an object without properties must use fields.JsonObject"),
    ],
)
def test_generator_refuses_what_it_cannot_express(model: type[pydantic.BaseModel], message: str) -> None:
    with pytest.raises(crdgen.CRDGenerationError) as info:
        crdgen.schema_of(model)
    assert str(info.value) == message
