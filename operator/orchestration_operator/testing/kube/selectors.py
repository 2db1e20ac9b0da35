"""Label and field selectors, parsed from their query-string form as kube-apiserver does.

``parse_labels("app=x,tier in (a,b),!legacy")`` and ``parse_fields("metadata.name=x")`` return matchers
the store uses for LIST and the watch hub for every event. A syntax error is a 400 ``BadRequest``
(``errors.BadRequest``) with kube-apiserver's wording.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from typing import Any

from orchestration_operator.testing.kube import errors

_KEY_RE = re.compile(
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
)
_VALUE_RE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


@dataclasses.dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "gt", "lt"
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            return not present or value not in self.values
        if not present:
            return False
        try:
            number = int(value or "")
        except ValueError:
            return False
        bound = int(self.values[0])
        return number > bound if self.op == "gt" else number < bound


@dataclasses.dataclass(frozen=True)
class LabelSelector:
    requirements: tuple[Requirement, ...] = ()

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        labels = labels or {}
        return all(r.matches(labels) for r in self.requirements)

    def __bool__(self) -> bool:
        return bool(self.requirements)


def _split_top(text: str) -> list[str]:
    """Split at commas outside parentheses."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _bad_label(why: str) -> errors.BadRequest:
    return errors.BadRequest(f"unable to parse requirement: {why}")


def _check_key(key: str) -> str:
    if not key or not _KEY_RE.match(key) or len(key.rsplit("/", 1)[-1]) > 63:
        raise _bad_label(
            f'key: Invalid value: "{key}": name part must consist of alphanumeric characters, '
            "'-', '_' or '.', and must start and end with an alphanumeric character"
        )
    return key


def _check_value(value: str) -> str:
    if len(value) > 63 or not _VALUE_RE.match(value):
        raise _bad_label(
            f'values[0]: Invalid value: "{value}": a valid label must be an empty string or '
            "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character"
        )
    return value


_SET_RE = re.compile(r"^\s*(\S+?)\s+(in|notin)\s*\((.*)\)\s*$")
_OP_RE = re.compile(r"^\s*([^=!<>\s]+)\s*(==|=|!=|>|<)\s*(.*?)\s*$")


def parse_labels(text: str | None) -> LabelSelector:
    """Parse a ``labelSelector`` query value (empty selects everything)."""
    if not text or not text.strip():
        return LabelSelector()
    requirements = []
    for raw in _split_top(text):
        term = raw.strip()
        if not term:
            raise _bad_label(f"found '{text}', expected: identifier")
        set_match = _SET_RE.match(term)
        if set_match:
            key, op, inner = set_match.groups()
            values = tuple(
                sorted(_check_value(v.strip()) for v in inner.split(",") if v.strip() or inner.strip())
            )
            requirements.append(Requirement(_check_key(key), op, values))
            continue
        op_match = _OP_RE.match(term)
        if op_match:
            key, op, value = op_match.groups()
            if op in (">", "<"):
                if not re.fullmatch(r"-?\d+", value):
                    raise _bad_label(f"for 'Gt', 'Lt' operators, the value must be an integer: {value}")
                requirements.append(Requirement(_check_key(key), "gt" if op == ">" else "lt", (value,)))
            else:
                requirements.append(
                    Requirement(_check_key(key), "!=" if op == "!=" else "=", (_check_value(value),))
                )
            continue
        if term.startswith("!"):
            requirements.append(Requirement(_check_key(term[1:].strip()), "!"))
            continue
        requirements.append(Requirement(_check_key(term), "exists"))
    return LabelSelector(tuple(requirements))


@dataclasses.dataclass(frozen=True)
class FieldTerm:
    field: str
    value: str
    negate: bool


@dataclasses.dataclass(frozen=True)
class FieldSelector:
    terms: tuple[FieldTerm, ...] = ()

    def matches(self, get_field: Callable[[str], str]) -> bool:
        return all((get_field(t.field) == t.value) != t.negate for t in self.terms)

    def name(self) -> str | None:
        """The exact name selected with ``metadata.name=X`` (lets the store skip a scan)."""
        for term in self.terms:
            if term.field == "metadata.name" and not term.negate:
                return term.value
        return None

    def namespace(self) -> str | None:
        for term in self.terms:
            if term.field == "metadata.namespace" and not term.negate:
                return term.value
        return None

    def __bool__(self) -> bool:
        return bool(self.terms)


def _split_escaped(text: str, sep: str) -> list[str]:
    parts, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_fields(text: str | None, *, supported: tuple[str, ...] = ()) -> FieldSelector:
    """Parse a ``fieldSelector``; fields other than metadata.name/namespace must be in ``supported``."""
    if not text or not text.strip():
        return FieldSelector()
    terms = []
    for raw in _split_escaped(text, ","):
        term = raw.strip()
        for op in ("!=", "==", "="):
            index = term.find(op)
            if index > 0:
                field, value = term[:index].strip(), _unescape(term[index + len(op) :].strip())
                negate = op == "!="
                break
        else:
            raise errors.BadRequest(f"invalid selector: '{text}'; can't understand '{term}'")
        if field not in ("metadata.name", "metadata.namespace") and field not in supported:
            raise errors.BadRequest(f"field label not supported: {field}")
        terms.append(FieldTerm(field, value, negate))
    return FieldSelector(tuple(terms))


def field_value(obj: Mapping[str, Any], field: str) -> str:
    """The string value of a dotted field path (``""`` when absent), as field selectors compare."""
    if field == "source":  # core events: "source" selects source.component
        field = "source.component"
    current: Any = obj
    for part in field.split("."):
        if not isinstance(current, Mapping):
            return ""
        current = current.get(part)
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    return str(current)
