"""Key properties of the Dockerfile, checked statically: no container engine runs in the tests.

`docker build` itself is not exercised here; these checks hold the properties a reviewer looks for:
a pinned base, two stages, a non-root numeric user equal to the chart's, the `run` entrypoint, and no
test extras in the image.
"""

from __future__ import annotations

import json
import pathlib
import re
import tomllib

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    found = []
    for line in joined.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            found.append((keyword.upper(), " ".join(rest.split())))
    return found


def resolved_bases() -> list[str]:
    args = {}
    bases = []
    for keyword, rest in instructions():
        if keyword == "ARG" and "=" in rest:
            name, _, value = rest.partition("=")
            args[name] = value
        elif keyword == "FROM":
            image = rest.split(" AS ")[0].split(" as ")[0]
            bases.append(re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], image))
    return bases


def test_base_image_is_pinned_to_a_python_patch_release_on_slim_bookworm() -> None:
    bases = resolved_bases()
    assert len(bases) == 2, "a build stage and a run stage"
    for base in bases:
        assert re.fullmatch(r"python:3\.11\.\d+-slim-bookworm(@sha256:[0-9a-f]{64})?", base), base
    assert len(set(bases)) == 1, "both stages on the same base (the venv links to its interpreter)"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert requires == ">=3.11"


def test_image_runs_as_the_non_root_user_the_chart_expects() -> None:
    users = [rest for keyword, rest in instructions() if keyword == "USER"]
    assert users == ["65532:65532"]
    values = yaml.safe_load((ROOT / "charts" / "orchestration-operator" / "values.yaml").read_text())
    assert values["podSecurityContext"]["runAsUser"] == 65532
    assert values["podSecurityContext"]["runAsGroup"] == 65532
    steps = instructions()
    last_from = max(i for i, (keyword, _) in enumerate(steps) if keyword == "FROM")
    user_at = next(i for i, (keyword, _) in enumerate(steps) if keyword == "USER")
    assert user_at > last_from, "USER is set in the final stage"


def test_entrypoint_is_the_run_command() -> None:
    entrypoints = [rest for keyword, rest in instructions() if keyword == "ENTRYPOINT"]
    assert [json.loads(e) for e in entrypoints] == [["orchestration-operator", "run"]]
    assert not [keyword for keyword, _ in instructions() if keyword == "CMD"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["orchestration-operator"] == "orchestration_operator.cli:main"


def test_image_installs_a_wheel_without_test_extras() -> None:
    runs = " ".join(rest for keyword, rest in instructions() if keyword == "RUN")
    assert "pip wheel --no-deps" in runs
    assert "/wheels/orchestration_operator-*.whl" in runs
    assert not re.search(r"\[(testing|dev)\]", runs)
    assert " -e " not in runs
    assert "--editable" not in runs
    copies = [rest for keyword, rest in instructions() if keyword == "COPY"]
    assert copies[-1] == "--from=build /opt/venv /opt/venv", "the run stage copies only the venv"


@pytest.mark.parametrize("source", ["pyproject.toml", "README.md", "operator"])
def test_build_context_holds_what_the_dockerfile_copies(source: str) -> None:
    assert (ROOT / source).exists()
    allowed = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line.startswith("!")]
    assert any(line.rstrip("/") == f"!{source}" for line in allowed)


def test_dockerignore_starts_by_excluding_everything() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    assert lines[0] == "*"
