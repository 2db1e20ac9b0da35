"""The real ``helm`` binary for tests: where it is, and ``helm template`` to a list of objects.

The chart tests (``tests/chart/``) check the rendered objects themselves; the end-to-end tests apply the
rendered RBAC to the Kubernetes API sandbox and run the operator with the rendered arguments, so a
chart that forgets a permission the operator needs fails a test. helm is ``$HELM``, else the checkout's
``.tools/bin/helm`` (what ``scripts/fetch-tools`` installs), else ``helm`` on ``PATH``, else
``/tmp/tools-test/helm``.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from typing import Any

import yaml

CHECKOUT = pathlib.Path(__file__).resolve().parents[3]
"""The repository root when the package runs from a checkout (``operator/`` is the source root)."""


class HelmError(AssertionError):
    """helm failed (an AssertionError, so pytest reports it as a failed expectation)."""


def find_binary() -> str | None:
    """The helm to use (see the module doc), or None."""
    explicit = os.environ.get("HELM")
    if explicit:
        return explicit
    local = CHECKOUT / ".tools" / "bin" / "helm"
    if local.is_file():
        return str(local)
    on_path = shutil.which("helm")
    if on_path:
        return on_path
    spare = pathlib.Path("/tmp/tools-test/helm")
    return str(spare) if spare.is_file() else None


def template(
    chart: str | os.PathLike[str],
    *,
    release: str,
    namespace: str,
    values: Mapping[str, Any] | None = None,
    binary: str | None = None,
    timeout: float = 60.0,
) -> list[dict[str, Any]]:
    """``helm template RELEASE CHART --namespace NAMESPACE -f VALUES``: the rendered objects, in order."""
    helm = binary or find_binary()
    if helm is None:
        raise HelmError("no helm binary: run `scripts/fetch-tools .tools/bin`, or set HELM")
    with tempfile.TemporaryDirectory(prefix="helm-values-") as directory:
        values_file = pathlib.Path(directory) / "values.yaml"
        values_file.write_text(yaml.safe_dump(dict(values or {})))
        command = [
            helm,
            "template",
            release,
            os.fspath(chart),
            "--namespace",
            namespace,
            "-f",
            str(values_file),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    if result.returncode != 0:
        raise HelmError(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr.strip()}")
    return [obj for obj in yaml.safe_load_all(result.stdout) if obj]
