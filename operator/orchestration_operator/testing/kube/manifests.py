"""Reading Kubernetes manifests (YAML files or directories) into objects, in the order to apply them.

Namespaces and CRDs come first, as on a real cluster (a custom resource needs its CRD established).
``KubeSandbox.apply_objects`` and the ``sandbox --apply`` option use it.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

import yaml

T = TypeVar("T", bound=Mapping[str, Any])
_FIRST = {"Namespace": 0, "CustomResourceDefinition": 1}


def _documents(text: str) -> Iterable[dict[str, Any]]:
    for doc in yaml.safe_load_all(text):
        if not isinstance(doc, dict):
            continue
        if doc.get("kind") == "List" or (doc.get("kind", "").endswith("List") and "items" in doc):
            yield from (item for item in doc.get("items") or [] if isinstance(item, dict))
        else:
            yield doc


def load(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Every object in a YAML file, or in the ``*.yaml``/``*.yml`` files under a directory (sorted)."""
    root = pathlib.Path(path)
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml")) if root.is_dir() else [root]
    objects = [doc for file in files for doc in _documents(file.read_text())]
    return ordered(objects)


def ordered(objects: Iterable[T]) -> list[T]:
    """Namespaces, then CRDs, then everything else, each group in its original order."""
    return sorted(objects, key=lambda obj: _FIRST.get(obj.get("kind", ""), 2))
