"""Owned objects are written in one call: created first when new, replaced first when written before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes.client import exceptions as k8s_exceptions

from orchestration_operator.handlers import kube


class FakeCore:
    """CoreV1Api's create/replace of ConfigMaps against a dict; records every call."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], Any] = {}
        self.calls: list[tuple[str, str]] = []

    def create_namespaced_config_map(self, namespace: str, body: Any, **_: Any) -> None:
        name = body.metadata.name
        self.calls.append(("create", name))
        if (namespace, name) in self.objects:
            raise k8s_exceptions.ApiException(status=409, reason="AlreadyExists")
        self.objects[(namespace, name)] = body

    def replace_namespaced_config_map(self, name: str, namespace: str, body: Any, **_: Any) -> None:
        self.calls.append(("replace", name))
        if (namespace, name) not in self.objects:
            raise k8s_exceptions.ApiException(status=404, reason="NotFound")
        self.objects[(namespace, name)] = body


@pytest.fixture
def core(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeCore]:
    fake = FakeCore()
    kube.reset()
    monkeypatch.setattr(kube, "_core", lambda: fake)
    yield fake
    kube.reset()


OWNER = {
    "apiVersion": "drupal-orchestration.io/v1alpha1",
    "kind": "EventPoll",
    "metadata": {"name": "p", "uid": "u"},
}


@pytest.mark.parametrize(
    ("steps", "calls"),
    [
        # A new object (a run's result): one create.
        ([("write", "ring")], [("create", "ring")]),
        # Rewritten by this process (an EventPoll's ring): one replace each time after the first.
        ([("write", "ring")] * 3, [("create", "ring"), ("replace", "ring"), ("replace", "ring")]),
        # Made by someone else (or by the previous operator process): create refused, then replace.
        ([("exists", "ring"), ("write", "ring")], [("create", "ring"), ("replace", "ring")]),
        # Deleted since this process wrote it: replace refused, then create.
        (
            [("write", "ring"), ("delete", "ring"), ("write", "ring")],
            [("create", "ring"), ("replace", "ring"), ("create", "ring")],
        ),
    ],
)
async def test_writes_take_one_call_when_the_guess_is_right(
    core: FakeCore, steps: list[tuple[str, str]], calls: list[tuple[str, str]]
) -> None:
    store = kube.KubeObjects()
    for step, name in steps:
        if step == "write":
            await store.put_configmap(namespace="team", name=name, data={"k": "v"}, owner=OWNER)
        elif step == "exists":
            core.objects[("team", name)] = object()
        else:
            del core.objects[("team", name)]
    assert core.calls == calls
    assert ("team", "ring") in core.objects


async def test_other_failures_are_raised(core: FakeCore, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*_: Any, **__: Any) -> None:
        raise k8s_exceptions.ApiException(status=403, reason="Forbidden")

    monkeypatch.setattr(core, "create_namespaced_config_map", forbidden)
    with pytest.raises(k8s_exceptions.ApiException) as excinfo:
        await kube.KubeObjects().put_configmap(namespace="team", name="ring", data={}, owner=OWNER)
    assert excinfo.value.status == 403
    assert core.calls == []
