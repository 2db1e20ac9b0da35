"""The project's Kubernetes names: API group, version, annotations, finalizer, and the kinds.

Everything that must be spelled the same in the models (``api/``), the generated CRDs (``crds/``), the
handlers (kopf registrations) and the chart lives here, so a rename is one edit. The per-kind
:class:`Kind` records are filled in by each kind's module (``connection``, ``webhook``, ``servicerun``,
``eventpoll``) and collected by :mod:`orchestration_operator.api.kinds`.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import pydantic

GROUP: Final = "drupal-orchestration.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
CATEGORY: Final = "orchestration"

#: The prefix of every annotation, finalizer and kopf persistence key the operator owns
#: (never kopf's default ``kopf.zalando.org``).
PREFIX: Final = GROUP
FINALIZER: Final = f"{PREFIX}/finalizer"
#: On a ServiceRun: each new value executes the service once more; the value handled is ``status.rerun``.
RERUN_ANNOTATION: Final = f"{PREFIX}/rerun"
#: On an EventPoll: sets the cursor to the given value (or ``now``); the value handled is
#: ``status.cursorReset``.
RESET_CURSOR_ANNOTATION: Final = f"{PREFIX}/reset-cursor"


@dataclasses.dataclass(frozen=True)
class PrinterColumn:
    """One ``additionalPrinterColumns`` entry of a CRD (what ``kubectl get`` shows)."""

    name: str
    type: str
    json_path: str
    description: str
    priority: int = 0
    format: str | None = None

    def to_crd(self) -> dict[str, Any]:
        column: dict[str, Any] = {"name": self.name, "type": self.type}
        if self.format is not None:
            column["format"] = self.format
        column["jsonPath"] = self.json_path
        column["description"] = self.description
        if self.priority:
            column["priority"] = self.priority
        return column


def ready_columns() -> tuple[PrinterColumn, PrinterColumn]:
    """The ``Ready`` and ``Reason`` columns every kind shows (the summary condition)."""
    return (
        PrinterColumn(
            name="Ready",
            type="string",
            json_path='.status.conditions[?(@.type=="Ready")].status',
            description="Whether the resource is Ready (the summary condition).",
        ),
        PrinterColumn(
            name="Reason",
            type="string",
            json_path='.status.conditions[?(@.type=="Ready")].reason',
            description="Why the resource is, or is not, Ready.",
        ),
    )


AGE_COLUMN: Final = PrinterColumn(
    name="Age",
    type="date",
    json_path=".metadata.creationTimestamp",
    description="Time since the resource was created.",
)


@dataclasses.dataclass(frozen=True)
class Kind:
    """One custom resource kind: its names, its models and what ``kubectl get`` prints."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    resource: type[pydantic.BaseModel]
    spec: type[pydantic.BaseModel]
    status: type[pydantic.BaseModel]
    printer_columns: tuple[PrinterColumn, ...]

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def crd_name(self) -> str:
        return f"{self.plural}.{GROUP}"

    @property
    def api_version(self) -> str:
        return API_VERSION
