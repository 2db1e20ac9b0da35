"""The chart's values: lint, a schema that refuses typos, `fail` on contradictions, documentation."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from chartlib import CHART, Helm
from kubernetes.client import models as k8s_models

SCHEMA = json.loads((CHART / "values.schema.json").read_text())
VALUES_TEXT = (CHART / "values.yaml").read_text()
VALUES = yaml.safe_load(VALUES_TEXT)


def test_helm_lint_passes_strictly_with_default_and_non_default_values(helm: Helm) -> None:
    result = helm.run("lint", "--strict", str(CHART))
    assert result.returncode == 0, result.stdout + result.stderr
    values = {
        "watchNamespaces": ["a"],
        "peering": {"enabled": True},
        "replicaCount": 2,
        "metrics": {"serviceMonitor": {"enabled": True}},
        "networkPolicy": {"enabled": True},
    }
    with tempfile.NamedTemporaryFile("w", suffix=".yaml") as handle:
        yaml.safe_dump(values, handle)
        handle.flush()
        result = helm.run("lint", "--strict", str(CHART), "-f", handle.name)
    assert result.returncode == 0, result.stdout + result.stderr


SCHEMA_ERRORS: list[tuple[dict[str, Any], str]] = [
    ({"replicas": 2}, "at '': additional properties 'replicas' not allowed"),
    ({"crds": {"enable": False}}, "at '/crds': additional properties 'enable' not allowed"),
    ({"image": {"tags": "1"}}, "at '/image': additional properties 'tags' not allowed"),
    (
        {"metrics": {"serviceMonitor": {"enable": True}}},
        "at '/metrics/serviceMonitor': additional properties 'enable' not allowed",
    ),
    (
        {"networkPolicy": {"egress": {"drupal": {"port": [443]}}}},
        "at '/networkPolicy/egress/drupal': additional properties 'port' not allowed",
    ),
    (
        {"networkPolicy": {"egress": {"drupal": {"to": [{"ipblock": {"cidr": "10.0.0.0/8"}}]}}}},
        "at '/networkPolicy/egress/drupal/to/0': additional properties 'ipblock' not allowed",
    ),
    (
        {"podSecurityContext": {"runAsUsr": 1000}},
        "at '/podSecurityContext': additional properties 'runAsUsr' not allowed",
    ),
    (
        {"securityContext": {"capabilities": {"dropp": ["ALL"]}}},
        "at '/securityContext/capabilities': additional properties 'dropp' not allowed",
    ),
    (
        {"affinity": {"nodeAffinity": {"requiredDuringScheduling": {}}}},
        "at '/affinity/nodeAffinity': additional properties 'requiredDuringScheduling' not allowed",
    ),
    (
        {"probes": {"liveness": {"period": 5}}},
        "at '/probes/liveness': additional properties 'period' not allowed",
    ),
    ({"replicaCount": "2"}, "at '/replicaCount': got string, want integer"),
    ({"logging": {"level": "verbose"}}, "at '/logging/level': value must be one of"),
    ({"watchNamespaces": ["Team_A"]}, "at '/watchNamespaces/0': 'Team_A' does not match pattern"),
    ({"health": {"port": 70000}}, "at '/health/port': maximum: got 70,000, want 65,535"),
    ({"image": {"digest": "latest"}}, "at '/image/digest': 'latest' does not match pattern"),
]


@pytest.mark.parametrize(("values", "error"), SCHEMA_ERRORS)
def test_schema_refuses_typos_and_wrong_types(schema_errors: str, values: dict[str, Any], error: str) -> None:
    assert "values don't meet the specifications of the schema" in schema_errors
    assert error in schema_errors


def _merge(into: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value
    return into


@pytest.fixture(scope="module")
def schema_errors(helm: Helm) -> str:
    """One `helm template` with every bad value at once: the schema reports all of them together."""
    merged: dict[str, Any] = {}
    for param in SCHEMA_ERRORS:
        _merge(merged, param[0])
    return helm.template_error(merged)


def test_each_schema_error_is_reported_alone_too(helm: Helm) -> None:
    values, error = SCHEMA_ERRORS[0]
    stderr = helm.template_error(values)
    assert error in stderr
    assert len([line for line in stderr.splitlines() if line.startswith("- at ")]) == 1


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"replicaCount": 2},
            "replicaCount is 2 but peering.enabled is false: several replicas without kopf peering would all "
            "handle every resource; set peering.enabled=true (standby replicas) or replicaCount=1",
        ),
        (
            {"watchNamespaces": ["a", "b", "a"]},
            "watchNamespaces lists a namespace more than once: a, b, a",
        ),
        (
            {"health": {"port": 9090}},
            "health.port and metrics.port are both 9090: "
            "the health and metrics endpoints need distinct ports",
        ),
        (
            {"serviceAccount": {"create": False}},
            "serviceAccount.create is false and serviceAccount.name is empty: name the existing "
            "ServiceAccount the operator runs as",
        ),
        (
            {"watchNamespaces": ["a"], "extraArgs": ["--all-namespaces"]},
            "extraArgs contains --all-namespaces, which the chart sets from its values (watchNamespaces, "
            "peering, health.port, metrics.port, logging, serviceRuns); a second value would contradict what "
            "the chart renders",
        ),
        (
            {"extraArgs": ["--namespace=other"]},
            "extraArgs contains --namespace, which the chart sets from its values (watchNamespaces, "
            "peering, health.port, metrics.port, logging, serviceRuns); a second value would contradict what "
            "the chart renders",
        ),
        (
            {"extraEnv": [{"name": "ORCHESTRATION_OPERATOR_NAMESPACES", "value": "a,b"}]},
            "extraEnv sets ORCHESTRATION_OPERATOR_NAMESPACES, which the chart sets from its values "
            "(watchNamespaces, peering, health.port, metrics.port, logging, serviceRuns)",
        ),
        (
            {"extraArgs": ["--no-success-events"]},
            "extraArgs contains --no-success-events, which the chart sets from its values (watchNamespaces, "
            "peering, health.port, metrics.port, logging, serviceRuns); a second value would contradict what "
            "the chart renders",
        ),
        (
            {"extraEnv": [{"name": "ORCHESTRATION_OPERATOR_SUCCESS_EVENTS", "value": "false"}]},
            "extraEnv sets ORCHESTRATION_OPERATOR_SUCCESS_EVENTS, which the chart sets from its values "
            "(watchNamespaces, peering, health.port, metrics.port, logging, serviceRuns)",
        ),
    ],
)
def test_contradictory_values_fail_with_an_exact_message(
    helm: Helm, values: dict[str, Any], message: str
) -> None:
    stderr = helm.template_error(values)
    assert re.search(
        r"execution error at \(orchestration-operator/templates/deployment\.yaml:\d+:\d+\): (.*)", stderr
    )
    assert stderr.splitlines()[0].split("): ", 1)[1] == message


def _nodes(schema: Any, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    if isinstance(schema, dict):
        yield path, schema
        for key, value in schema.items():
            yield from _nodes(value, f"{path}/{key}")
    elif isinstance(schema, list):
        for index, value in enumerate(schema):
            yield from _nodes(value, f"{path}/{index}")


def test_schema_refuses_unknown_keys_at_every_level() -> None:
    for path, node in _nodes(SCHEMA, ""):
        if "properties" in node:
            assert node.get("additionalProperties") is False, path
        if node.get("type") == "object" and path != "/properties/global":
            # Either a structure (no unknown keys) or a map whose values have a schema.
            assert "additionalProperties" in node, path


def test_kubernetes_types_in_the_schema_mirror_the_kubernetes_models() -> None:
    definitions = SCHEMA["definitions"]
    mirrored = {name: node for name, node in definitions.items() if name.startswith("io.k8s.")}
    assert mirrored, "the schema mirrors Kubernetes types under definitions/io.k8s.*"
    for name, node in mirrored.items():
        model = getattr(k8s_models, name.removeprefix("io.k8s."))
        assert set(node["properties"]) <= set(model.attribute_map.values()), name


def _keys(values: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in values.items():
        yield f"{prefix}{key}", value
        if isinstance(value, dict) and value:
            yield from _keys(value, f"{prefix}{key}.")


# Values that hold Kubernetes types (or quantities): only some of their fields have defaults.
KUBERNETES_TYPED = {
    "podSecurityContext",
    "securityContext",
    "affinity",
    "resources.requests",
    "resources.limits",
}


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in node:
        return dict(SCHEMA["definitions"][node["$ref"].rsplit("/", 1)[1]])
    return node


def _schema_keys(node: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, child in node.get("properties", {}).items():
        yield f"{prefix}{key}"
        if f"{prefix}{key}" not in KUBERNETES_TYPED:
            yield from _schema_keys(_resolve(child), f"{prefix}{key}.")


def test_values_yaml_and_the_schema_declare_the_same_chart_keys() -> None:
    declared = {path for path, _ in _keys(VALUES)}
    in_schema = set(_schema_keys(SCHEMA))
    chart_declared = {
        path for path in declared if not any(path.startswith(f"{k}.") for k in KUBERNETES_TYPED)
    }
    assert sorted(chart_declared - in_schema) == []
    assert sorted(in_schema - declared - {"global"}) == []
    for path in declared - chart_declared:  # a default inside a Kubernetes type is one of its fields
        node: dict[str, Any] = SCHEMA
        for part in path.split("."):
            node = _resolve(node["properties"][part])


def test_every_values_key_has_a_comment_above_it() -> None:
    lines = VALUES_TEXT.splitlines()
    undocumented = []
    for number, line in enumerate(lines):
        if re.match(r"^\s*[A-Za-z][\w-]*:", line):
            above = lines[number - 1].strip() if number else ""
            if not above.startswith("#"):
                undocumented.append(f"values.yaml:{number + 1}: {line.strip()}")
    assert undocumented == []


def test_chart_readme_explains_the_standby_approach_and_the_rbac_modes() -> None:
    readme = (CHART / "README.md").read_text()
    for topic in ("## Standby replicas", "## RBAC", "## CRDs", "## Uninstall", "scripts/sync-chart-crds"):
        assert topic in readme
