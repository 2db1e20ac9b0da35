"""What the chart renders, with default and non-default values (real `helm template`)."""

from __future__ import annotations

import pathlib
from typing import Any

import pytest
import yaml
from chartlib import CHART, FULLNAME, NAMESPACE, ROOT, Helm, Rendered

from orchestration_operator.testing import k8s_models

GROUP = "drupal-orchestration.io"
KINDS = ["orchestrationconnections", "orchestrationwebhooks", "serviceruns", "eventpolls"]

NAMESPACED_RULES = [
    {"apiGroups": [GROUP], "resources": KINDS, "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": [GROUP], "resources": ["serviceruns"], "verbs": ["delete"]},
    {"apiGroups": [GROUP], "resources": [f"{k}/status" for k in KINDS], "verbs": ["get", "patch", "update"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch"]},
    {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "create", "update", "patch", "delete"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "update", "patch", "delete"]},
]
CRD_RULE = {
    "apiGroups": ["apiextensions.k8s.io"],
    "resources": ["customresourcedefinitions"],
    "verbs": ["get", "list", "watch"],
}
NAMESPACES_RULE = {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["list", "watch"]}


def peering_rules(resource: str, name: str) -> list[dict[str, Any]]:
    return [
        {"apiGroups": ["kopf.dev"], "resources": [resource], "verbs": ["list", "watch"]},
        {
            "apiGroups": ["kopf.dev"],
            "resources": [resource],
            "resourceNames": [name],
            "verbs": ["get", "patch"],
        },
    ]


def canonical_crds() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted((ROOT / "crds").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc
    ]


SA_SUBJECT = [{"kind": "ServiceAccount", "name": FULLNAME, "namespace": NAMESPACE}]

# Named sets of non-default values; every one is rendered once and checked against Kubernetes schemas.
SCENARIOS: dict[str, dict[str, Any]] = {
    "default": {},
    "namespaced": {"watchNamespaces": ["team-a", "team-b"]},
    "peering-cluster": {"peering": {"enabled": True}, "replicaCount": 3},
    "peering-namespaced": {
        "watchNamespaces": ["team-a", "team-b"],
        "peering": {"enabled": True, "name": "shared", "priority": 10},
        "replicaCount": 2,
    },
    "everything": {
        "image": {"digest": "sha256:" + "a" * 64},
        "imagePullSecrets": [{"name": "registry"}],
        "metrics": {
            "serviceMonitor": {"enabled": True, "scrapeTimeout": "10s", "labels": {"release": "prom"}}
        },
        "networkPolicy": {
            "enabled": True,
            "ingress": {"metricsFrom": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}]},
            "egress": {
                "dns": {
                    "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}]
                },
                "apiServer": {"to": [{"ipBlock": {"cidr": "10.0.0.1/32"}}]},
                "drupal": {
                    "ports": [8443],
                    "to": [{"ipBlock": {"cidr": "192.0.2.0/24", "except": ["192.0.2.9/32"]}}],
                },
                "extra": [{"to": [{"ipBlock": {"cidr": "198.51.100.7/32"}}], "ports": [{"port": 9000}]}],
            },
        },
        "extraArgs": ["--verbose-kopf"],
        "extraEnv": [{"name": "ORCHESTRATION_OPERATOR_SECRET_CACHE_SECONDS", "value": "30"}],
        "serviceAccount": {"annotations": {"iam.example/role": "operator"}},
        "podAnnotations": {"example/scrape": "true"},
        "podLabels": {"team": "platform"},
        "priorityClassName": "system-cluster-critical",
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "tolerations": [{"key": "dedicated", "operator": "Equal", "value": "ops", "effect": "NoSchedule"}],
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "arch", "operator": "In", "values": ["amd64"]}]}
                    ]
                }
            }
        },
        "podSecurityContext": {"runAsUser": None, "runAsGroup": None, "fsGroup": None},
        "logging": {"level": "debug", "format": "text"},
        "serviceRuns": {"successEvents": False},
        "crds": {"enabled": False},
    },
    "no-rbac-no-sa": {"rbac": {"create": False}, "serviceAccount": {"create": False, "name": "existing"}},
}


def deployment(rendered: Rendered, name: str = FULLNAME) -> dict[str, Any]:
    return rendered.one("Deployment", name, NAMESPACE)


def container(rendered: Rendered, name: str = FULLNAME) -> dict[str, Any]:
    containers = deployment(rendered, name)["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["operator"]
    return containers[0]


def test_default_render_has_exactly_the_expected_objects(default: Rendered) -> None:
    crds = [("CustomResourceDefinition", None, crd["metadata"]["name"]) for crd in canonical_crds()]
    assert default.keys() == sorted(
        [
            ("ClusterRole", None, FULLNAME),
            ("ClusterRoleBinding", None, FULLNAME),
            ("Deployment", NAMESPACE, FULLNAME),
            ("Service", NAMESPACE, f"{FULLNAME}-metrics"),
            ("ServiceAccount", NAMESPACE, FULLNAME),
            *crds,
        ]
    )


def test_default_deployment_meets_the_restricted_pod_security_standard(default: Rendered) -> None:
    pod = deployment(default)["spec"]["template"]["spec"]
    assert pod["securityContext"] == {
        "runAsNonRoot": True,
        "runAsUser": 65532,
        "runAsGroup": 65532,
        "fsGroup": 65532,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert container(default)["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
        "seccompProfile": {"type": "RuntimeDefault"},
    }
    assert not {"hostNetwork", "hostPID", "hostIPC"} & pod.keys()
    assert pod["volumes"] == [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}]
    assert container(default)["volumeMounts"] == [{"name": "tmp", "mountPath": "/tmp"}]


def test_default_deployment_runs_one_standalone_replica_with_probes(default: Rendered) -> None:
    spec = deployment(default)["spec"]
    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    main = container(default)
    assert main["image"] == "ghcr.io/drupal-orchestration/orchestration-operator:0.1.0"
    assert "command" not in main  # the image's entrypoint: orchestration-operator run
    assert main["args"] == [
        "--all-namespaces",
        "--standalone",
        "--health-port=8080",
        "--metrics-port=9090",
        "--log-format=json",
        "--log-level=info",
    ]
    assert "env" not in main
    assert main["ports"] == [
        {"name": "health", "containerPort": 8080, "protocol": "TCP"},
        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
    ]
    health = {"httpGet": {"path": "/healthz", "port": "health"}}
    assert main["startupProbe"] == {**health, "periodSeconds": 5, "timeoutSeconds": 5, "failureThreshold": 24}
    assert main["livenessProbe"] == {
        **health,
        "periodSeconds": 20,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }
    assert main["readinessProbe"] == {
        **health,
        "periodSeconds": 10,
        "timeoutSeconds": 5,
        "failureThreshold": 3,
    }
    assert main["resources"] == {"requests": {"cpu": "50m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}}
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == FULLNAME
    assert pod["automountServiceAccountToken"] is True


def test_default_rbac_is_one_cluster_role_with_the_operator_rules(default: Rendered) -> None:
    assert default.one("ClusterRole", FULLNAME)["rules"] == [*NAMESPACED_RULES, CRD_RULE]
    binding = default.one("ClusterRoleBinding", FULLNAME)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": FULLNAME,
    }
    assert binding["subjects"] == SA_SUBJECT


def test_metrics_service_selects_the_operator_pods_on_the_metrics_port(default: Rendered) -> None:
    service = default.one("Service", f"{FULLNAME}-metrics", NAMESPACE)
    pod_labels = deployment(default)["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 9090, "targetPort": "metrics", "protocol": "TCP"}
    ]


def test_watch_namespaces_give_a_role_per_namespace_and_no_cluster_wide_secrets(helm: Helm) -> None:
    rendered = helm.template(SCENARIOS["namespaced"])
    for namespace in ("team-a", "team-b"):
        assert rendered.one("Role", FULLNAME, namespace)["rules"] == NAMESPACED_RULES
        binding = rendered.one("RoleBinding", FULLNAME, namespace)
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": FULLNAME,
        }
        assert binding["subjects"] == SA_SUBJECT
    assert [role["metadata"]["name"] for role in rendered.all("ClusterRole")] == [f"{FULLNAME}-cluster"]
    assert rendered.one("ClusterRole", f"{FULLNAME}-cluster")["rules"] == [CRD_RULE, NAMESPACES_RULE]
    assert rendered.one("ClusterRoleBinding", f"{FULLNAME}-cluster")["subjects"] == SA_SUBJECT
    assert container(rendered)["args"][:3] == ["--namespace=team-a", "--namespace=team-b", "--standalone"]


def test_peering_cluster_wide_gives_standby_deployments_with_distinct_priorities(helm: Helm) -> None:
    rendered = helm.template(SCENARIOS["peering-cluster"])
    names = [FULLNAME, f"{FULLNAME}-standby-1", f"{FULLNAME}-standby-2"]
    assert sorted(d["metadata"]["name"] for d in rendered.all("Deployment")) == sorted(names)
    priorities = []
    selectors = []
    for replica, name in enumerate(names):
        spec = deployment(rendered, name)["spec"]
        assert spec["replicas"] == 1
        assert spec["strategy"] == {"type": "Recreate"}
        selectors.append(spec["selector"]["matchLabels"])
        assert spec["selector"]["matchLabels"]["drupal-orchestration.io/replica"] == str(replica)
        args = container(rendered, name)["args"]
        assert args[:3] == ["--all-namespaces", f"--peering={FULLNAME}", f"--priority={100 - replica}"]
        priorities.append(args[2])
        assert container(rendered, name)["env"] == [
            {"name": "POD_ID", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
        ]
    assert len(set(priorities)) == 3
    # No Deployment's selector matches another Deployment's pods.
    for index, selector in enumerate(selectors):
        for other, name in enumerate(names):
            labels = deployment(rendered, name)["spec"]["template"]["metadata"]["labels"]
            assert (selector.items() <= labels.items()) == (index == other)
    assert rendered.one("ClusterKopfPeering", FULLNAME)["apiVersion"] == "kopf.dev/v1"
    assert rendered.one("ClusterRole", FULLNAME)["rules"] == [
        *NAMESPACED_RULES,
        CRD_RULE,
        *peering_rules("clusterkopfpeerings", FULLNAME),
    ]
    assert rendered.all("KopfPeering") == []


def test_peering_namespaced_gives_a_kopf_peering_and_its_rules_per_namespace(helm: Helm) -> None:
    rendered = helm.template(SCENARIOS["peering-namespaced"])
    for namespace in ("team-a", "team-b"):
        assert rendered.one("KopfPeering", "shared", namespace)["apiVersion"] == "kopf.dev/v1"
        assert rendered.one("Role", FULLNAME, namespace)["rules"] == [
            *NAMESPACED_RULES,
            *peering_rules("kopfpeerings", "shared"),
        ]
    assert rendered.all("ClusterKopfPeering") == []
    assert container(rendered)["args"][:4] == [
        "--namespace=team-a",
        "--namespace=team-b",
        "--peering=shared",
        "--priority=10",
    ]
    assert container(rendered, f"{FULLNAME}-standby-1")["args"][3] == "--priority=9"


def test_kopf_peering_crds_ship_in_helms_crd_folder() -> None:
    crds = list(yaml.safe_load_all((CHART / "crds" / "kopf-peering.yaml").read_text()))
    assert [(c["metadata"]["name"], c["spec"]["scope"]) for c in crds] == [
        ("clusterkopfpeerings.kopf.dev", "Cluster"),
        ("kopfpeerings.kopf.dev", "Namespaced"),
    ]
    for crd in crds:
        assert k8s_models.problems(crd) == []
        (version,) = crd["spec"]["versions"]
        assert version["name"] == "v1"
        assert version["schema"]["openAPIV3Schema"]["properties"]["status"] == {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
        }


def test_everything_scenario_renders_the_optional_objects(helm: Helm) -> None:
    rendered = helm.template(SCENARIOS["everything"])
    assert rendered.all("CustomResourceDefinition") == []
    main = container(rendered)
    assert main["image"] == "ghcr.io/drupal-orchestration/orchestration-operator@sha256:" + "a" * 64
    assert main["args"][-4:] == [
        "--log-format=text",
        "--log-level=debug",
        "--no-success-events",
        "--verbose-kopf",
    ]
    assert main["env"] == [{"name": "ORCHESTRATION_OPERATOR_SECRET_CACHE_SECONDS", "value": "30"}]
    pod = deployment(rendered)["spec"]["template"]
    assert pod["metadata"]["labels"]["team"] == "platform"
    assert pod["metadata"]["annotations"] == {"example/scrape": "true"}
    # null values drop the ids (OpenShift assigns them); the restricted settings stay.
    assert pod["spec"]["securityContext"] == {
        "runAsNonRoot": True,
        "seccompProfile": {"type": "RuntimeDefault"},
    }

    monitor = rendered.one("ServiceMonitor", FULLNAME, NAMESPACE)
    service = rendered.one("Service", f"{FULLNAME}-metrics", NAMESPACE)
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert monitor["spec"]["namespaceSelector"] == {"matchNames": [NAMESPACE]}
    assert monitor["spec"]["endpoints"] == [
        {"port": "metrics", "path": "/metrics", "interval": "30s", "scrapeTimeout": "10s"}
    ]

    policy = rendered.one("NetworkPolicy", FULLNAME, NAMESPACE)["spec"]
    assert policy["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    assert policy["policyTypes"] == ["Ingress", "Egress"]
    assert policy["ingress"] == [
        {
            "ports": [{"port": "metrics", "protocol": "TCP"}],
            "from": [{"namespaceSelector": {"matchLabels": {"name": "monitoring"}}}],
        }
    ]
    assert policy["egress"] == [
        {
            "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
            "to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        },
        {
            "ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}],
            "to": [{"ipBlock": {"cidr": "10.0.0.1/32"}}],
        },
        {
            "ports": [{"port": 8443, "protocol": "TCP"}],
            "to": [{"ipBlock": {"cidr": "192.0.2.0/24", "except": ["192.0.2.9/32"]}}],
        },
        {"to": [{"ipBlock": {"cidr": "198.51.100.7/32"}}], "ports": [{"port": 9000}]},
    ]


def test_network_policy_defaults_allow_any_destination_on_the_needed_ports(helm: Helm) -> None:
    rendered = helm.template({"networkPolicy": {"enabled": True}})
    policy = rendered.one("NetworkPolicy", FULLNAME, NAMESPACE)["spec"]
    assert policy["ingress"] == [{"ports": [{"port": "metrics", "protocol": "TCP"}]}]
    assert [rule.get("to") for rule in policy["egress"]] == [None, None, None]
    assert [[p["port"] for p in rule["ports"]] for rule in policy["egress"]] == [
        [53, 53],
        [443, 6443],
        [443, 80],
    ]


def test_without_rbac_and_service_account_the_existing_account_is_used(helm: Helm) -> None:
    rendered = helm.template(SCENARIOS["no-rbac-no-sa"])
    assert rendered.kinds() == sorted(
        ["Deployment", "Service", *["CustomResourceDefinition"] * len(canonical_crds())]
    )
    assert deployment(rendered)["spec"]["template"]["spec"]["serviceAccountName"] == "existing"


def test_names_are_truncated_to_63_characters(helm: Helm) -> None:
    rendered = helm.template({"fullnameOverride": "x" * 70, "peering": {"enabled": True}, "replicaCount": 2})
    names = sorted(obj["metadata"]["name"] for obj in rendered.objects if obj["kind"] == "Deployment")
    assert names == ["x" * 50 + "-standby-1", "x" * 63]


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_rendered_objects_pass_kubernetes_schemas_and_carry_the_standard_labels(
    helm: Helm, scenario: str
) -> None:
    rendered = helm.template(SCENARIOS[scenario])
    custom = {"kopf.dev/v1", "monitoring.coreos.com/v1"}
    for obj in rendered.objects:
        if obj["apiVersion"] not in custom:
            assert k8s_models.problems(obj) == []
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/name"] == "orchestration-operator"
        assert labels["app.kubernetes.io/instance"] == "oo"
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "orchestration-operator-0.1.0"


PLACEHOLDER_CRD = """\
# A placeholder in the shape of the canonical CRDs (the real ones come from crds/).
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.org
  annotations:
    example.org/origin: test
spec:
  group: example.org
  names: {kind: Widget, plural: widgets, singular: widget, listKind: WidgetList}
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      subresources: {status: {}}
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec:
              type: object
              properties:
                size: {type: integer, minimum: 1, maximum: 1000000}
                mode: {type: string, enum: ["on", "off", "y"]}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.example.org
spec:
  group: example.org
  names: {kind: Gadget, plural: gadgets}
  scope: Cluster
  versions:
    - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: {type: object}}}
"""


@pytest.mark.parametrize("keep", [True, False])
def test_crd_template_renders_every_document_unchanged_but_for_labels_and_keep(
    helm: Helm, chart_copy: pathlib.Path, keep: bool
) -> None:
    (chart_copy / "files" / "crds" / "widgets.yaml").write_text(PLACEHOLDER_CRD)
    rendered = helm.template({"crds": {"keep": keep}}, chart=chart_copy)
    sources = [doc for doc in yaml.safe_load_all(PLACEHOLDER_CRD) if doc]
    crds = rendered.all("CustomResourceDefinition")
    assert len(crds) == 2
    for source in sources:
        crd = rendered.one("CustomResourceDefinition", source["metadata"]["name"])
        metadata = dict(crd["metadata"])
        labels = metadata.pop("labels")
        annotations = metadata.pop("annotations", {})
        assert labels["app.kubernetes.io/instance"] == "oo"
        expected_annotations = dict(source["metadata"].get("annotations", {}))
        if keep:
            expected_annotations["helm.sh/resource-policy"] = "keep"
        assert annotations == expected_annotations
        assert {**crd, "metadata": metadata} == {
            **source,
            "metadata": {k: v for k, v in source["metadata"].items() if k != "annotations"},
        }
        assert k8s_models.problems(crd) == []

    disabled = helm.template({"crds": {"enabled": False}}, chart=chart_copy)
    assert disabled.all("CustomResourceDefinition") == []


def test_crd_template_renders_the_canonical_crds_unchanged(default: Rendered) -> None:
    for source in canonical_crds():
        crd = default.one("CustomResourceDefinition", source["metadata"]["name"])
        assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
        assert crd["spec"] == source["spec"]
