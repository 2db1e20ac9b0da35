"""Every example in deploy/examples/ is accepted by the API server's schema and CEL validation.

The real kubectl applies crds/ then the examples to the sandbox, which prunes, defaults and validates
them (strict field validation, CEL rules) like kube-apiserver; then a broken copy of each kind is
refused with the rule's own message, so the test can fail.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml

from orchestration_operator.testing.kube import kubectl as kubectl_module

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "deploy" / "examples").glob("*.yaml"))


def _apply_crds(kubectl: kubectl_module.Kubectl) -> None:
    kubectl("apply", "-f", str(ROOT / "crds"))
    kubectl("wait", "--for=condition=established", "--timeout=30s", "-f", str(ROOT / "crds"))


def test_examples_exist() -> None:
    kinds = {
        doc["kind"]
        for path in EXAMPLES
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("apiVersion", "").startswith("drupal-orchestration.io/")
    }
    assert kinds == {"OrchestrationConnection", "OrchestrationWebhook", "ServiceRun", "EventPoll"}


def test_every_example_is_accepted(kubectl: kubectl_module.Kubectl) -> None:
    _apply_crds(kubectl)
    for path in EXAMPLES:
        kubectl("apply", "--validate=strict", "-f", str(path))
    listed = kubectl.json("get", "orchestration", "-o", "json")
    assert sorted(item["kind"] for item in listed["items"]) == sorted(
        ["OrchestrationConnection", "OrchestrationWebhook", "ServiceRun", "EventPoll"]
    )


@pytest.mark.parametrize(
    ("kind", "change", "message"),
    [
        ("ServiceRun", {"serviceId": "eca:send_welcome_email"}, "double colon"),
        ("OrchestrationWebhook", {"urlFrom": {"secretKeyRef": {"name": "s", "key": "k"}}}, "exactly one"),
        ("OrchestrationConnection", {"auth": {}}, "exactly one"),
    ],
)
def test_a_broken_example_is_refused_with_the_rule_message(
    kubectl: kubectl_module.Kubectl,
    tmp_path: pathlib.Path,
    kind: str,
    change: dict[str, object],
    message: str,
) -> None:
    _apply_crds(kubectl)
    doc = next(
        d for path in EXAMPLES for d in yaml.safe_load_all(path.read_text()) if d and d.get("kind") == kind
    )
    doc["spec"].update(change)
    doc["metadata"]["name"] = "broken"
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(doc))
    with pytest.raises(kubectl_module.KubectlError) as excinfo:
        kubectl("apply", "--validate=strict", "-f", str(broken))
    assert message in str(excinfo.value)
