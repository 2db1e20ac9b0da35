"""What reconcile code needs from Kubernetes, as protocols; ``handlers/kube.py`` implements them.

Keeping Kubernetes I/O behind these small interfaces lets reconcile steps be plain async functions
tested with in-memory fakes (tables of rows), and keeps kopf and the Kubernetes client out of here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class SecretReader(Protocol):
    async def read_secret(self, *, namespace: str, name: str) -> Mapping[str, bytes] | None:
        """The Secret's decoded data, or None when it does not exist."""
        ...


class OwnedObjects(Protocol):
    """ConfigMaps and Secrets that the operator creates, owned by one of our resources."""

    async def get_configmap(self, *, namespace: str, name: str) -> Mapping[str, str] | None: ...

    async def put_configmap(
        self, *, namespace: str, name: str, data: Mapping[str, str], owner: Mapping[str, Any]
    ) -> None: ...

    async def put_secret(
        self, *, namespace: str, name: str, data: Mapping[str, bytes], owner: Mapping[str, Any]
    ) -> None: ...
