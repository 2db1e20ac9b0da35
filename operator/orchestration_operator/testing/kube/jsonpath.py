"""The subset of Kubernetes JSONPath that printer columns and selectable fields use.

``find(obj, '.status.conditions[?(@.type=="Ready")].status')`` returns every match in document order:
child names (``.a``, ``['a']``, with ``\\.`` escaping a dot inside a name), indexes and slices
(``[0]``, ``[-1]``, ``[1:3]``), wildcards (``[*]``, ``.*``), recursive descent (``..a``) and filters
``[?(@.path OP literal)]`` with ``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` or a bare ``@.path`` existence
test. ``tables`` renders printer columns with it. Syntax errors raise ``JSONPathError``.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping
from typing import Any


class JSONPathError(ValueError):
    """The expression is not valid JSONPath (of the supported subset)."""


@dataclasses.dataclass(frozen=True)
class _Step:
    kind: str  # "child", "index", "slice", "wild", "recurse", "filter"
    arg: Any = None


_FILTER_RE = re.compile(r"^\s*@((?:\.[^\s=!<>]+|\[[^\]]*\])*)\s*(?:(==|!=|<=|>=|<|>)\s*(.+?))?\s*$")


def _parse_literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    try:
        return json.loads(text)
    except ValueError as exc:
        raise JSONPathError(f"unrecognized literal {text!r}") from exc


def _read_name(expr: str, pos: int) -> tuple[str, int]:
    chars = []
    while pos < len(expr) and expr[pos] not in ".[":
        if expr[pos] == "\\" and pos + 1 < len(expr):
            chars.append(expr[pos + 1])
            pos += 2
            continue
        chars.append(expr[pos])
        pos += 1
    return "".join(chars), pos


def _matching_bracket(expr: str, pos: int) -> int:
    depth, quote = 0, ""
    for index in range(pos, len(expr)):
        char = expr[index]
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth == 0:
                return index
    raise JSONPathError(f"unclosed bracket in {expr!r}")


def parse(expr: str) -> list[_Step]:
    text = expr.strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    if text.startswith("$"):
        text = text[1:]
    steps: list[_Step] = []
    pos = 0
    while pos < len(text):
        if text.startswith("..", pos):
            steps.append(_Step("recurse"))
            pos += 2
            if pos < len(text) and text[pos] not in ".[":
                name, pos = _read_name(text, pos)
                steps.append(_Step("wild") if name == "*" else _Step("child", name))
            continue
        char = text[pos]
        if char == ".":
            pos += 1
            if pos >= len(text):
                break
            if text[pos] == "[":
                continue
            name, pos = _read_name(text, pos)
            steps.append(_Step("wild") if name == "*" else _Step("child", name))
        elif char == "[":
            end = _matching_bracket(text, pos)
            inner = text[pos + 1 : end].strip()
            pos = end + 1
            steps.append(_bracket(inner))
        else:
            name, pos = _read_name(text, pos)
            steps.append(_Step("child", name))
    return steps


def _bracket(inner: str) -> _Step:
    if inner == "*":
        return _Step("wild")
    if inner.startswith("?"):
        body = inner[1:].strip()
        if not (body.startswith("(") and body.endswith(")")):
            raise JSONPathError(f"invalid filter [{inner}]")
        match = _FILTER_RE.match(body[1:-1])
        if not match:
            raise JSONPathError(f"unsupported filter [{inner}]")
        path, op, literal = match.groups()
        return _Step("filter", (parse(path or ""), op, _parse_literal(literal) if op else None))
    if len(inner) >= 2 and inner[0] == inner[-1] and inner[0] in "'\"":
        return _Step("child", inner[1:-1])
    if ":" in inner:
        parts = [p.strip() for p in inner.split(":")]
        try:
            bounds = tuple(int(p) if p else None for p in parts[:3])
        except ValueError as exc:
            raise JSONPathError(f"invalid slice [{inner}]") from exc
        return _Step("slice", bounds)
    try:
        return _Step("index", int(inner))
    except ValueError as exc:
        raise JSONPathError(f"invalid array index [{inner}]") from exc


def _descend(value: Any) -> list[Any]:
    out = [value]
    if isinstance(value, Mapping):
        for item in value.values():
            out.extend(_descend(item))
    elif isinstance(value, list):
        for item in value:
            out.extend(_descend(item))
    return out


def _compare(left: Any, op: str, right: Any) -> bool:
    if op == "==":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    try:
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)
    except TypeError:
        return False


def _apply(step: _Step, values: list[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if step.kind == "child":
            if isinstance(value, Mapping) and step.arg in value:
                out.append(value[step.arg])
        elif step.kind == "index":
            if isinstance(value, list) and -len(value) <= step.arg < len(value):
                out.append(value[step.arg])
        elif step.kind == "slice":
            if isinstance(value, list):
                out.extend(value[slice(*step.arg)])
        elif step.kind == "wild":
            if isinstance(value, Mapping):
                out.extend(value.values())
            elif isinstance(value, list):
                out.extend(value)
        elif step.kind == "recurse":
            out.extend(_descend(value))
        elif step.kind == "filter":
            path, op, literal = step.arg
            items = (
                value
                if isinstance(value, list)
                else list(value.values())
                if isinstance(value, Mapping)
                else []
            )
            for item in items:
                found = _run(path, [item])
                if op is None:
                    if found:
                        out.append(item)
                elif any(_compare(f, op, literal) for f in found):
                    out.append(item)
    return out


def _run(steps: list[_Step], values: list[Any]) -> list[Any]:
    for step in steps:
        values = _apply(step, values)
    return values


def find(obj: Any, expr: str) -> list[Any]:
    """Every value ``expr`` selects in ``obj``."""
    return _run(parse(expr), [obj])
