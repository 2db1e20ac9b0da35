"""Helpers of the chart tests: the real helm binary and a cached `helm template`.

helm is found by `orchestration_operator.testing.helm.find_binary` ($HELM, the repository's .tools/bin
that `make test` fills with scripts/fetch-tools, PATH, /tmp/tools-test). Renders are cached per set of
values: one `helm template` (~50 ms) serves every assertion on the same values.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import subprocess
import tempfile
from collections.abc import Mapping
from typing import Any

import yaml

from orchestration_operator.testing import helm

ROOT = pathlib.Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "orchestration-operator"
RELEASE = "oo"
NAMESPACE = "ops"
FULLNAME = "oo-orchestration-operator"


def find_helm() -> str | None:
    return helm.find_binary()


@dataclasses.dataclass(frozen=True)
class Rendered:
    """The objects of one `helm template`, with lookups by kind and name."""

    objects: tuple[dict[str, Any], ...]

    def kinds(self) -> list[str]:
        return sorted(obj["kind"] for obj in self.objects)

    def all(self, kind: str) -> list[dict[str, Any]]:
        return [obj for obj in self.objects if obj["kind"] == kind]

    def one(self, kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
        found = [
            obj
            for obj in self.all(kind)
            if obj["metadata"]["name"] == name and obj["metadata"].get("namespace") == namespace
        ]
        assert len(found) == 1, f"{kind} {namespace}/{name}: found {len(found)} in {self.keys()}"
        return found[0]

    def keys(self) -> list[tuple[str, str | None, str]]:
        return sorted(
            (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"]) for obj in self.objects
        )


class Helm:
    """The helm CLI, with `helm template` cached per (chart, values)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._cache: dict[tuple[str, str], Rendered] = {}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([self.path, *args], capture_output=True, text=True, timeout=60, check=False)

    def _template(
        self, values: Mapping[str, Any] | None, chart: pathlib.Path
    ) -> subprocess.CompletedProcess[str]:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as handle:
            yaml.safe_dump(dict(values or {}), handle)
        try:
            return self.run("template", RELEASE, str(chart), "--namespace", NAMESPACE, "-f", handle.name)
        finally:
            pathlib.Path(handle.name).unlink()

    def template(self, values: Mapping[str, Any] | None = None, *, chart: pathlib.Path = CHART) -> Rendered:
        key = (str(chart), json.dumps(values or {}, sort_keys=True))
        if key not in self._cache:
            result = self._template(values, chart)
            assert result.returncode == 0, result.stderr
            objects = tuple(obj for obj in yaml.safe_load_all(result.stdout) if obj)
            self._cache[key] = Rendered(objects)
        return self._cache[key]

    def template_error(self, values: Mapping[str, Any], *, chart: pathlib.Path = CHART) -> str:
        result = self._template(values, chart)
        assert result.returncode != 0, f"helm template accepted {values}"
        return result.stderr
