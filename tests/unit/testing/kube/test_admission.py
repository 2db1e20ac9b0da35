"""CRD schemas on writes: unknown fields per fieldValidation, defaults, 422 causes, CEL and ratcheting."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from orchestration_operator.testing.kube import samples

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/sandbox.example.com/v1/namespaces/default/widgets"
MERGE = {"Content-Type": "application/merge-patch+json"}

IMMUTABLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {"size": {"type": "integer"}, "color": {"type": "string"}},
            "x-kubernetes-validations": [
                {
                    "rule": "!has(oldSelf.color) || self.color == oldSelf.color",
                    "message": "color is immutable",
                }
            ],
        },
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}


@pytest.fixture
async def strict(client: httpx.AsyncClient) -> None:
    response = await client.post(CRDS, json=samples.crd(schema=samples.STRICT_SCHEMA))
    assert response.status_code == 201, response.text


@pytest.mark.usefixtures("strict")
async def test_unknown_field_under_strict_is_400(client: httpx.AsyncClient) -> None:
    body = samples.obj("w", spec={"size": 1, "bogus": 1, "other": 2})
    response = await client.post(WIDGETS, params={"fieldValidation": "Strict"}, json=body)
    assert response.status_code == 400
    assert response.json()["message"] == (
        'Widget in version "v1" cannot be handled as a Widget: strict decoding error: '
        'unknown field "spec.bogus", unknown field "spec.other"'
    )


@pytest.mark.usefixtures("strict")
async def test_unknown_field_under_warn_is_dropped_with_a_warning(client: httpx.AsyncClient) -> None:
    response = await client.post(
        WIDGETS, params={"fieldValidation": "Warn"}, json=samples.obj("w", spec={"bogus": 1})
    )
    assert response.status_code == 201
    assert response.headers.get_list("Warning") == ['299 - "unknown field \\"spec.bogus\\""']
    assert response.json()["spec"] == {"size": 1}  # pruned, then defaulted


@pytest.mark.usefixtures("strict")
async def test_unknown_field_in_a_strict_patch_is_400(client: httpx.AsyncClient) -> None:
    await client.post(WIDGETS, json=samples.obj("w", spec={"size": 1}))
    response = await client.patch(
        f"{WIDGETS}/w", params={"fieldValidation": "Strict"}, content='{"spec":{"bogus":1}}', headers=MERGE
    )
    assert (response.status_code, response.json()["message"]) == (
        400,
        'strict decoding error: unknown field "spec.bogus"',
    )


@pytest.mark.usefixtures("strict")
async def test_ignore_drops_silently(client: httpx.AsyncClient) -> None:
    response = await client.post(
        WIDGETS, params={"fieldValidation": "Ignore"}, json=samples.obj("w", spec={"x": 1})
    )
    assert response.status_code == 201
    assert "Warning" not in response.headers


@pytest.mark.usefixtures("strict")
async def test_schema_violations_are_422_with_causes(client: httpx.AsyncClient) -> None:
    response = await client.post(WIDGETS, json=samples.obj("w", spec={"size": -1, "color": "pink"}))
    assert response.status_code == 422
    status = response.json()
    assert status["reason"] == "Invalid"
    assert status["details"]["kind"] == "Widget"
    assert status["details"]["group"] == "sandbox.example.com"
    causes = {c["field"]: c["reason"] for c in status["details"]["causes"]}
    assert causes == {"spec.size": "FieldValueInvalid", "spec.color": "FieldValueNotSupported"}
    assert status["message"].startswith('Widget.sandbox.example.com "w" is invalid: [')
    assert (
        'spec.color: Unsupported value: "pink": supported values: "red", "green", "blue"' in status["message"]
    )


@pytest.mark.usefixtures("strict")
async def test_cel_rule_message(client: httpx.AsyncClient) -> None:
    response = await client.post(WIDGETS, json=samples.obj("w", spec={"size": 50, "color": "red"}))
    assert response.status_code == 422
    assert response.json()["message"] == (
        'Widget.sandbox.example.com "w" is invalid: spec: Invalid value: "object": red widgets are small'
    )


async def test_ratcheting_lets_an_untouched_invalid_part_through(client: httpx.AsyncClient) -> None:
    await client.post(CRDS, json=samples.crd())  # loose at first
    assert (await client.post(WIDGETS, json=samples.obj("w", spec={"size": 5000}))).status_code == 201
    crd = (await client.get(f"{CRDS}/widgets.sandbox.example.com")).json()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"] = samples.STRICT_SCHEMA  # size <= 1000 now
    assert (await client.put(f"{CRDS}/widgets.sandbox.example.com", json=crd)).status_code == 200
    untouched = await client.patch(f"{WIDGETS}/w", content='{"spec":{"color":"blue"}}', headers=MERGE)
    assert untouched.status_code == 200, untouched.text
    touched = await client.patch(f"{WIDGETS}/w", content='{"spec":{"size":6000}}', headers=MERGE)
    assert touched.status_code == 422
    assert [c["field"] for c in touched.json()["details"]["causes"]] == ["spec.size"]


async def test_transition_rule_with_old_self(client: httpx.AsyncClient) -> None:
    await client.post(CRDS, json=samples.crd(schema=IMMUTABLE_SCHEMA))
    created = await client.post(WIDGETS, json=samples.obj("w", spec={"size": 1, "color": "red"}))
    assert created.status_code == 201
    resized = await client.patch(f"{WIDGETS}/w", content='{"spec":{"size":2}}', headers=MERGE)
    assert resized.status_code == 200
    recolored = await client.patch(f"{WIDGETS}/w", content='{"spec":{"color":"blue"}}', headers=MERGE)
    assert recolored.status_code == 422
    assert recolored.json()["details"]["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "object": color is immutable',
            "field": "spec",
        }
    ]


async def test_a_crd_whose_rule_does_not_compile_is_refused(client: httpx.AsyncClient) -> None:
    broken = json.loads(json.dumps(IMMUTABLE_SCHEMA))
    broken["properties"]["spec"]["x-kubernetes-validations"] = [{"rule": "self.size >"}]
    response = await client.post(CRDS, json=samples.crd(schema=broken))
    assert response.status_code == 422
    fields = [c["field"] for c in response.json()["details"]["causes"]]
    assert fields == [
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].x-kubernetes-validations[0].rule"
    ]


@pytest.mark.usefixtures("strict")
async def test_status_writes_are_validated_and_pruned_too(client: httpx.AsyncClient) -> None:
    await client.post(WIDGETS, json=samples.obj("w", spec={"size": 1}))
    response = await client.patch(
        f"{WIDGETS}/w/status", content=json.dumps({"status": {"anything": {"goes": True}}}), headers=MERGE
    )
    assert response.json()["status"] == {"anything": {"goes": True}}  # preserve-unknown-fields
