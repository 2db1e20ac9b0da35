"""The project's own CRDs (crds/) through the sandbox's write pipeline: prune, default, validate, CEL."""

from __future__ import annotations

import copy
import pathlib
from typing import Any

import pytest
import yaml

from orchestration_operator.testing.kube import cel, schema

CRDS = pathlib.Path(__file__).resolve().parents[4] / "crds"
CRD_FILES = sorted(CRDS.glob("*.yaml"))


def version_schema(path: pathlib.Path, index: int = 0) -> dict[str, Any]:
    crd = yaml.safe_load(path.read_text())
    found: dict[str, Any] = crd["spec"]["versions"][index]["schema"]["openAPIV3Schema"]
    return found


@pytest.mark.parametrize("path", CRD_FILES, ids=[p.stem for p in CRD_FILES])
def test_every_rule_compiles(path: pathlib.Path) -> None:
    crd = yaml.safe_load(path.read_text())
    for i, version in enumerate(crd["spec"]["versions"]):
        where = f"spec.versions[{i}].schema.openAPIV3Schema"
        assert cel.compile_errors(version["schema"]["openAPIV3Schema"], path=where) == []


SERVICE_RUN = version_schema(CRDS / "drupal-orchestration.io_serviceruns.yaml")


def write(
    obj: dict[str, Any], old: dict[str, Any] | None = None
) -> tuple[dict[str, Any], list[str], list[str]]:
    """What the sandbox does on a write: the stored object, unknown field paths, and error lines."""
    pruned, unknown = schema.prune(obj, SERVICE_RUN)
    defaulted = schema.apply_defaults(pruned, SERVICE_RUN)
    errors = schema.validate(defaulted, SERVICE_RUN, old=old) + cel.validate_rules(
        defaulted, old, SERVICE_RUN
    )
    return defaulted, unknown, [str(e) for e in errors]


def service_run(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "drupal-orchestration.io/v1alpha1",
        "kind": "ServiceRun",
        "metadata": {"name": "welcome", "namespace": "default"},
        "spec": {"connectionRef": {"name": "site"}, "serviceId": "eca::send_welcome_email", **spec},
    }


def test_a_valid_run_is_stored_with_its_defaults() -> None:
    stored, unknown, errors = write(service_run(config={"to": "a@example.com", "nested": {"x": [1]}}))
    assert (unknown, errors) == ([], [])
    assert stored["spec"] == {
        "connectionRef": {"name": "site"},
        "serviceId": "eca::send_welcome_email",
        "config": {"to": "a@example.com", "nested": {"x": [1]}},
        "timeout": "60s",
        "retry": {
            "maxAttempts": 3,
            "backoff": {"initialInterval": "1s", "maxInterval": "1m"},
            "unknownOutcome": "Stop",
        },
        "result": {"maxStatusBytes": 4096, "sensitive": False},
        "unknownKeys": "Warn",
    }


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (
            {"serviceId": "cron"},
            [
                "spec.serviceId: Invalid value: \"cron\": spec.serviceId in body should match '^[^:]+::.+$'",
                'spec.serviceId: Invalid value: "string": must be <provider>::<service> with a double colon, '
                "for example eca::send_welcome_email",
            ],
        ),
        ({"timeout": "2h"}, ['spec.timeout: Invalid value: "string": must be at most 1h']),
        ({"timeout": "1.5s"}, []),
        (
            {"retry": {"backoff": {"initialInterval": "10m", "maxInterval": "1m"}}},
            [
                'spec.retry.backoff: Invalid value: "object": '
                "initialInterval must not be longer than maxInterval",
            ],
        ),
        (
            {
                "configFrom": [
                    {
                        "key": "a",
                        "secretKeyRef": {"name": "s", "key": "k"},
                        "configMapKeyRef": {"name": "c", "key": "k"},
                    }
                ]
            },
            [
                'spec.configFrom[0]: Invalid value: "object": '
                "set exactly one of secretKeyRef or configMapKeyRef"
            ],
        ),
        (
            {"configFrom": [{"key": "a", "configMapKeyRef": {"name": "c", "key": "k"}}] * 2},
            ['spec.configFrom[1]: Duplicate value: map[string]interface {}{"key":"a"}'],
        ),
        (
            {"retry": {"maxAttempts": 0, "unknownOutcome": "Maybe"}},
            [
                "spec.retry.maxAttempts: Invalid value: 0: "
                "spec.retry.maxAttempts in body should be greater than or equal to 1",
                'spec.retry.unknownOutcome: Unsupported value: "Maybe": supported values: "Stop", "Retry"',
            ],
        ),
    ],
)
def test_invalid_runs_are_refused_with_the_apiservers_words(
    spec: dict[str, Any], expected: list[str]
) -> None:
    _, _, errors = write(service_run(**spec))
    assert errors == expected


def test_unknown_fields_are_reported_for_strict_validation() -> None:
    _, unknown, _ = write(service_run(timeOut="5s", retry={"maxAtempts": 2}))
    assert unknown == ["spec.retry.maxAtempts", "spec.timeOut"]


def test_spec_is_immutable_but_status_writes_go_through() -> None:
    stored, _, _ = write(service_run())
    with_status = copy.deepcopy(stored)
    with_status["status"] = {"observedGeneration": 1, "phase": "Running"}
    assert write(with_status, old=stored)[2] == []
    changed = copy.deepcopy(stored)
    changed["spec"]["timeout"] = "90s"
    assert write(changed, old=stored)[2] == [
        'spec: Invalid value: "object": spec is immutable; create a new ServiceRun or set the '
        "drupal-orchestration.io/rerun annotation"
    ]
