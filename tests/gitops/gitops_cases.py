"""The status objects of status_objects.yaml, shared by the Argo CD and kstatus tests."""

from __future__ import annotations

import dataclasses
import pathlib
from typing import Any

import pytest
import yaml

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parents[1]


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    argocd: tuple[str, str]
    kstatus: str
    object: dict[str, Any]
    conventions_broken: bool = False


def load() -> list[Case]:
    rows = yaml.safe_load((HERE / "status_objects.yaml").read_text())
    cases = [
        Case(
            name=row["name"],
            argocd=(row["argocd"][0], row["argocd"][1]),
            kstatus=row["kstatus"],
            object=row["object"],
            conventions_broken=row.get("conventions_broken", False),
        )
        for row in rows
    ]
    names = [case.name for case in cases]
    assert len(names) == len(set(names)), "status_objects.yaml: row names must be unique"
    return cases


CASES = load()


def params() -> list[Any]:
    return [pytest.param(case, id=case.name) for case in CASES]


def by_name(name: str) -> Case:
    (case,) = [case for case in CASES if case.name == name]
    return case
