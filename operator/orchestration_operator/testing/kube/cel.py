"""CRD ``x-kubernetes-validations`` rules, evaluated with cel-python as kube-apiserver evaluates them.

The sandbox server calls :func:`validate_rules` after :func:`.schema.validate` on every create and update
of a custom resource (``old`` is the stored object on updates, ``None`` on creates), and may call
:func:`compile_errors` when a CRD is written, to refuse rules that do not compile.

What the apiserver does and this module reproduces:

- Every rule of every schema node is evaluated with ``self`` bound to the node's value, converted by the
  schema (``integer`` to int, ``number`` to double even when written ``1``, ``format: byte`` to bytes,
  ``date-time`` to timestamp, ``duration`` to duration; at a resource root ``metadata`` shows only
  ``name`` and ``generateName``). Null values are not validated.
- Transition rules (those naming ``oldSelf``) run only on updates, and only where the old value can be
  correlated: same property, same map key, same keys in an ``x-kubernetes-list-type: map`` list.
- Ratcheting (``CRDValidationRatcheting``, on by default since 1.30): other rules are skipped where the
  value equals its correlated old value, so an update never fails on a part it did not touch.
- Failures: ``message`` (trimmed), else ``messageExpression`` (a non-empty single-line string, else the
  default), else ``failed rule: <rule>``; ``reason`` picks the cause type (``FieldValueInvalid`` by
  default); ``fieldPath`` extends the node's path. A rule that fails to evaluate reports
  ``<error> evaluating rule: <rule>``. The bad value shown is the node's schema type (``Invalid value:
  "object": ...``); a rule on the object root has Go's nil path ``<nil>``.

Speed (the server validates on every write): programs are compiled once per rule text, the schema walk is
planned once per schema object, and outcomes are cached per rule and value (CEL is pure), so an unchanged
spec costs a lookup. A cold evaluation costs about 60-110 µs for a simple rule and 200-300 µs for a
macro over a short list on this machine's cores, with celpy's own interpreter (see :class:`_Evaluator`).

Left out: the CEL cost budget, optional syntax (``?.``, ``optional.of``: cel-python does not parse it;
``optionalOldSelf`` rules get ``oldSelf`` with ``hasValue()``, ``value()`` and ``orValue()``),
set/map-list equality that ignores order, and the quantity, IP/CIDR and semver libraries.
"""

from __future__ import annotations

import base64
import binascii
import collections
import dataclasses
import functools
import itertools
import json
import re
import threading
import typing
from typing import Any, Final

import celpy
import celpy.celtypes as celtypes
import lark
from celpy import celparser, evaluation

from orchestration_operator.testing.kube import cellib, fielderrors, schema

FieldError = fielderrors.FieldError

_REASONS: Final = frozenset(
    {fielderrors.INVALID, fielderrors.FORBIDDEN, fielderrors.REQUIRED, fielderrors.DUPLICATE}
)
_ENVIRONMENT: Final = celpy.Environment()
_PLAN_CACHE_SIZE: Final = 256


# --- compilation -----------------------------------------------------------------------------------

# Parse-tree rules that only pass their single child through: celpy's evaluator spends most of its time
# walking these chains (a bare `self` sits under eight of them), so compiled trees drop them. Every rule
# that carries meaning (operators, member access, calls, macros, literals) is kept as celpy built it.
_PASS_THROUGH: Final = frozenset(
    {"expr", "conditionalor", "conditionaland", "relation", "addition", "multiplication", "unary", "member"}
)


def _collapse(tree: lark.Tree[Any]) -> lark.Tree[Any]:
    while tree.data in _PASS_THROUGH and len(tree.children) == 1 and isinstance(tree.children[0], lark.Tree):
        tree = tree.children[0]
    # Rule names are lark Tokens, whose == runs in Python; the evaluator compares them with strings
    # several times per node, so plain strings (same text) make each comparison a C call.
    tree.data = str(tree.data)
    tree.children = [_collapse(c) if isinstance(c, lark.Tree) else c for c in tree.children]
    return tree


def _erase_runtime_typing() -> None:
    """Stop celpy's evaluator from building typing generics on every step.

    celpy.evaluation writes casts such as ``cast(List[Result], values)`` in its hot paths; each one
    subscripts a typing generic, and hashing the large ``Result`` union for typing's cache costs tens of
    microseconds, several times per node visited (over half of a small rule's evaluation). These names
    serve only as annotations and cast targets there (``Sequence`` and ``Mapping``, which it also uses in
    ``isinstance``, are left alone), so they are rebound in that module to a stand-in that subscripts to
    itself. Evaluation results are unchanged; the CEL tests cover them.
    """

    class _Erased:
        def __getitem__(self, _: object) -> _Erased:
            return self

    erased = _Erased()
    for name in (
        "Callable",
        "Dict",
        "Iterable",
        "Iterator",
        "List",
        "Optional",
        "Sized",
        "Tuple",
        "Type",
        "Union",
    ):
        if getattr(evaluation, name, None) is getattr(typing, name):
            setattr(evaluation, name, erased)


_erase_runtime_typing()

# Variables resolve in a small activation chained to this one, built once: celpy's own runner rebuilds
# the type annotations and the function table on every evaluation.
_BASE_ACTIVATION: Final = evaluation.Activation(
    annotations=dict(celpy.googleapis), functions=cellib.FUNCTIONS
)


_UNSET: Final[Any] = object()


class _Evaluator(evaluation.Evaluator):
    """celpy's reference interpreter, with two costs taken out of its inner loops.

    - Macro variables (``x`` in ``list.all(x, ...)``) get a scope chained to the enclosing one instead of
      a deep copy of it for every element (celpy clones the whole activation).
    - A literal's value is computed once per compiled tree instead of on every evaluation.
    """

    def sub_evaluator(self, ast: lark.Tree[Any]) -> evaluation.Evaluator:
        return _Evaluator(ast, activation=self.activation)

    def set_activation(self, values: Any) -> evaluation.Evaluator:
        self.activation = self.base_activation.nested_activation(vars=values)
        return self

    def literal(self, tree: lark.Tree[Any]) -> Any:
        value = getattr(tree, "_literal_value", _UNSET)
        if value is _UNSET:
            value = super().literal(tree)
            if not isinstance(value, evaluation.CELEvalError):
                tree._literal_value = value  # type: ignore[attr-defined]
        return value


class _Runner:
    """Evaluates a compiled tree with :class:`_Evaluator`."""

    def __init__(self, tree: lark.Tree[Any]) -> None:
        self.tree = tree

    def evaluate(self, variables: dict[str, Any]) -> Any:
        activation = _BASE_ACTIVATION.nested_activation(vars=variables)
        return _Evaluator(ast=self.tree, activation=activation).evaluate()


@dataclasses.dataclass(frozen=True)
class Program:
    """A compiled CEL expression, or the reason it does not compile."""

    source: str
    runner: _Runner | None = None
    uses_old_self: bool = False
    error: str = ""


@functools.lru_cache(maxsize=4096)
def compile_expression(source: str) -> Program:
    """Parse and prepare one expression; cached by its text, so each rule is compiled once."""
    try:
        tree = _ENVIRONMENT.compile(source)
    except celparser.CELParseError as exc:
        return Program(source=source, error=str(exc).strip())
    except Exception as exc:  # lark errors that celpy does not wrap
        return Program(source=source, error=f"{type(exc).__name__}: {exc}")
    uses_old_self = any(
        token == "oldSelf"
        for token in tree.scan_values(lambda v: isinstance(v, lark.Token) and v.type == "IDENT")
    )
    return Program(source=source, runner=_Runner(_collapse(tree)), uses_old_self=uses_old_self)


class EvaluationError(Exception):
    """A CEL expression failed to evaluate; the message is worded as cel-go words it."""


_NO_SUCH_MEMBER: Final = re.compile(r"no such member in mapping: '?(.*?)'?$")


def evaluate(program: Program, activation: dict[str, Any]) -> Any:
    """Run a compiled expression; raises :class:`EvaluationError` with cel-go's wording on failure."""
    if program.runner is None:
        raise EvaluationError(program.error)
    try:
        return program.runner.evaluate(activation)
    except evaluation.CELEvalError as exc:
        raise EvaluationError(_describe(exc)) from exc
    except RecursionError as exc:
        raise EvaluationError("expression too deeply nested") from exc
    except Exception as exc:  # celpy lets some Python errors through; a rule must never crash a write
        raise EvaluationError(f"{type(exc).__name__}: {exc}") from exc


def _describe(exc: evaluation.CELEvalError) -> str:
    message = str(exc.args[0]) if exc.args else str(exc)
    cause = exc.args[1] if len(exc.args) > 1 else None
    member = _NO_SUCH_MEMBER.match(message)
    if member:
        return f"no such key: {member.group(1)}"
    if "overload" in message or cause is TypeError:
        return "no such overload"
    if cause is ZeroDivisionError or message == "divide by zero":
        return "division by zero"
    if message == "return error for overflow" and cause is not ValueError:
        return "integer overflow"
    if cause is ValueError and len(exc.args) > 2 and exc.args[2]:
        return str(exc.args[2][0])
    return message


# --- conversion of JSON values to CEL values, directed by the schema ---------------------------------


def to_cel(value: Any, node: dict[str, Any] | None, *, resource_root: bool = False) -> Any:
    """The CEL value of a JSON value, typed by its schema as the apiserver's UnstructuredToVal types it."""
    if value is None:
        return None
    if isinstance(value, bool):
        return celtypes.BoolType(value)
    declared = node.get("type") if node else None
    if isinstance(value, int):
        return celtypes.DoubleType(float(value)) if declared == "number" else celtypes.IntType(value)
    if isinstance(value, float):
        if declared == "integer" and value.is_integer():
            return celtypes.IntType(int(value))
        return celtypes.DoubleType(value)
    if isinstance(value, str):
        return _string_to_cel(value, (node or {}).get("format") if declared == "string" else None)
    if isinstance(value, list):
        items = node.get("items") if node else None
        return celtypes.ListType([to_cel(item, items) for item in value])
    if isinstance(value, dict):
        properties = (node.get("properties") or {}) if node else {}
        additional = node.get("additionalProperties") if node else None
        additional = additional if isinstance(additional, dict) else None
        embedded = resource_root or bool(node and node.get(schema.EMBEDDED))
        out = celtypes.MapType()
        for key, item in value.items():
            if embedded and key == "metadata" and isinstance(item, dict):
                # A resource's metadata shows only these to CEL.
                meta = {k: item[k] for k in ("name", "generateName") if k in item}
                out[celtypes.StringType(key)] = to_cel(meta, None)
            else:
                out[celtypes.StringType(key)] = to_cel(item, properties.get(key, additional))
        return out
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _string_to_cel(value: str, fmt: Any) -> Any:
    try:
        if fmt == "byte":
            return celtypes.BytesType(base64.b64decode(value, validate=True))
        if fmt in ("date-time", "datetime"):
            return celtypes.TimestampType(value)
        if fmt == "date":
            return celtypes.TimestampType(f"{value}T00:00:00Z")
        if fmt == "duration":
            return celtypes.DurationType(value)
    except (ValueError, TypeError, binascii.Error):
        pass  # an invalid value was reported by the schema check; CEL sees the plain string
    return celtypes.StringType(value)


# --- the plan: rules of a schema, compiled, with which parts of the tree need visiting ----------------


_serials = itertools.count()


@dataclasses.dataclass
class _Rule:
    rule: str
    program: Program
    message: str
    message_expression: Program | None
    reason: str
    field_path: str
    optional_old_self: bool
    immutability: bool  # the rule is `self == oldSelf`, the usual way to make a field immutable
    serial: int = dataclasses.field(default_factory=lambda: next(_serials))  # the result cache's key


@dataclasses.dataclass
class _Node:
    schema: dict[str, Any]  # the structural node: types the value for CEL
    rules: list[_Rule]
    properties: dict[str, _Node]
    additional: _Node | None
    items: _Node | None
    all_of: list[_Node]
    has_transition: bool  # a transition rule here or below
    resource_root: bool
    list_map_keys: list[str] | None


def _build(validations: dict[str, Any], node_schema: dict[str, Any], resource_root: bool) -> _Node | None:
    """The plan for one schema node (None when neither it nor anything below has rules)."""
    rules = [_make_rule(raw, node_schema) for raw in validations.get("x-kubernetes-validations") or ()]
    properties: dict[str, _Node] = {}
    node_properties = node_schema.get("properties") or {}
    for key, sub in (validations.get("properties") or {}).items():
        if key in node_properties:
            child = _build(sub, node_properties[key], bool(node_properties[key].get(schema.EMBEDDED)))
            if child is not None:
                properties[key] = child
    additional = None
    sub_additional = validations.get("additionalProperties")
    node_additional = node_schema.get("additionalProperties")
    if isinstance(sub_additional, dict) and isinstance(node_additional, dict):
        additional = _build(sub_additional, node_additional, bool(node_additional.get(schema.EMBEDDED)))
    items = None
    if isinstance(validations.get("items"), dict) and isinstance(node_schema.get("items"), dict):
        node_items = node_schema["items"]
        items = _build(validations["items"], node_items, bool(node_items.get(schema.EMBEDDED)))
    all_of = [
        built
        for sub in validations.get("allOf") or ()
        if (built := _build(sub, node_schema, resource_root)) is not None
    ]
    if not (rules or properties or additional or items or all_of):
        return None
    has_transition = (
        any(r.program.uses_old_self for r in rules)
        or any(c.has_transition for c in properties.values())
        or any(c.has_transition for c in (additional, items) if c is not None)
        or any(c.has_transition for c in all_of)
    )
    list_map_keys = None
    if node_schema.get(schema.LIST_TYPE) == "map" and node_schema.get(schema.LIST_MAP_KEYS):
        list_map_keys = list(node_schema[schema.LIST_MAP_KEYS])
    return _Node(
        schema=node_schema,
        rules=rules,
        properties=properties,
        additional=additional,
        items=items,
        all_of=all_of,
        has_transition=has_transition,
        resource_root=resource_root,
        list_map_keys=list_map_keys,
    )


def _make_rule(raw: dict[str, Any], node_schema: dict[str, Any]) -> _Rule:
    source = str(raw.get("rule", ""))
    message_expression = raw.get("messageExpression")
    reason = raw.get("reason") or fielderrors.INVALID
    return _Rule(
        rule=source,
        program=compile_expression(source),
        message=str(raw.get("message") or "").strip(),
        message_expression=compile_expression(message_expression) if message_expression else None,
        reason=reason if reason in _REASONS else fielderrors.INVALID,
        field_path=_normalize_field_path(str(raw.get("fieldPath") or ""), node_schema),
        optional_old_self=bool(raw.get("optionalOldSelf")),
        immutability="".join(source.split()) in ("self==oldSelf", "oldSelf==self"),
    )


_FIELD_PATH_TOKEN: Final = re.compile(r"\.([^.\[\]]+)|\[\s*'((?:[^'\\]|\\.)*)'\s*\]")


def _normalize_field_path(field_path: str, node_schema: dict[str, Any]) -> str:
    """A rule's ``fieldPath`` (``.spec.x``, ``['key']``) as the field.Path string the apiserver adds."""
    if not field_path:
        return ""
    out = ""
    current: dict[str, Any] | None = node_schema
    for match in _FIELD_PATH_TOKEN.finditer(field_path):
        name = match.group(1) if match.group(1) is not None else re.sub(r"\\(.)", r"\1", match.group(2))
        properties = (current or {}).get("properties")
        additional = (current or {}).get("additionalProperties")
        if properties is None and isinstance(additional, dict):
            out += f"[{name}]"
            current = additional
        else:
            out = f"{out}.{name}" if out else name
            current = (properties or {}).get(name)
    return out


_plans: collections.OrderedDict[int, tuple[dict[str, Any], _Node | None]] = collections.OrderedDict()
_plans_lock = threading.Lock()


def _plan(root: dict[str, Any]) -> _Node | None:
    """The cached plan of a root schema, keyed by the schema object (kept alive, so its id is stable)."""
    key = id(root)
    with _plans_lock:
        cached = _plans.get(key)
        if cached is not None and cached[0] is root:
            _plans.move_to_end(key)
            return cached[1]
    plan = _build(root, root, True)
    with _plans_lock:
        _plans[key] = (root, plan)
        while len(_plans) > _PLAN_CACHE_SIZE:
            _plans.popitem(last=False)
    return plan


# --- evaluation ------------------------------------------------------------------------------------

_ABSENT: Final[Any] = object()
# How a rule sees oldSelf: not at all, as the old value, or as an optional (``optionalOldSelf: true``).
_PLAIN: Final = "plain"
_TRANSITION: Final = "transition"
_OPTIONAL: Final = "optional"


def validate_rules(
    obj: dict[str, Any], old: dict[str, Any] | None, schema_root: dict[str, Any]
) -> list[FieldError]:
    """Evaluate every ``x-kubernetes-validations`` rule of ``schema_root`` on ``obj`` (``old`` on updates)."""
    if not schema_root:
        return []
    plan = _plan(schema_root)
    if plan is None:
        return []
    errors: list[FieldError] = []
    _walk(plan, obj, old if old is not None else _ABSENT, fielderrors.ROOT_PATH, False, True, errors)
    return errors


def _child_path(path: str, key: str) -> str:
    return key if path == fielderrors.ROOT_PATH else f"{path}.{key}"


def _walk(
    node: _Node,
    value: Any,
    old: Any,
    path: str,
    parent_unchanged: bool,
    correlated: bool,
    errors: list[FieldError],
) -> None:
    if value is None:
        return  # only non-null values are validated
    has_old = old is not _ABSENT and old is not None
    # Ratcheting: the nearest correlated value decides whether this part changed.
    unchanged = schema.same_value(value, old) if has_old and correlated else parent_unchanged
    if unchanged and not node.has_transition:
        return
    if node.rules:
        subject = _Subject(node, value, old if has_old else None)
        for rule in node.rules:
            if rule.program.uses_old_self:
                # Transition rules run only with an old value, unless oldSelf is optional.
                if rule.immutability and has_old and unchanged and correlated:
                    continue  # `self == oldSelf` holds for an unchanged value: skip converting both
                if has_old or rule.optional_old_self:
                    _check(rule, subject, _OPTIONAL if rule.optional_old_self else _TRANSITION, path, errors)
            elif not unchanged:
                _check(rule, subject, _PLAIN, path, errors)
    for sub in node.all_of:
        # allOf rules apply to the same value; like the apiserver, they ratchet with the parent.
        _walk(sub, value, old, path, parent_unchanged, False, errors)
    if isinstance(value, dict):
        old_map = old if has_old and isinstance(old, dict) else None
        declared = node.schema.get("properties") or {}
        for key, item in value.items():
            child = node.properties.get(key)
            if child is not None:
                child_path = _child_path(path, key)
            elif node.additional is not None and key not in declared:
                child = node.additional
                child_path = f"{path}[{key}]" if path != fielderrors.ROOT_PATH else f"[{key}]"
            else:
                continue
            old_item = old_map.get(key, _ABSENT) if old_map is not None else _ABSENT
            _walk(child, item, old_item, child_path, unchanged, True, errors)
    elif isinstance(value, list) and node.items is not None:
        lookup = _list_map_lookup(node, old) if has_old else None
        for i, item in enumerate(value):
            old_item = lookup(item) if lookup is not None else _ABSENT
            _walk(node.items, item, old_item, f"{path}[{i}]", unchanged, True, errors)


def _list_map_lookup(node: _Node, old: Any) -> Any:
    keys = node.list_map_keys
    if not keys or not isinstance(old, list):
        return None
    index: dict[tuple[Any, ...], Any] = {}
    for item in old:
        if isinstance(item, dict):
            index.setdefault(_list_key(item, keys), item)

    def lookup(item: Any) -> Any:
        if not isinstance(item, dict):
            return _ABSENT
        return index.get(_list_key(item, keys), _ABSENT)

    return lookup


def _list_key(item: dict[str, Any], keys: list[str]) -> tuple[Any, ...]:
    return tuple(_freeze(item[k]) if k in item else ("absent",) for k in keys)


class _Subject:
    """The value a node's rules look at, converted to CEL only when a rule really has to run."""

    def __init__(self, node: _Node, value: Any, old: Any) -> None:
        self.node = node
        self.value = value
        self.old = old
        self._activation: dict[str, Any] | None = None

    def activation(self, mode: str) -> dict[str, Any]:
        if self._activation is None:
            root = self.node.resource_root
            self._activation = {"self": to_cel(self.value, self.node.schema, resource_root=root)}
            if self.old is not None:
                self._activation["oldSelf"] = to_cel(self.old, self.node.schema, resource_root=root)
        if mode == _TRANSITION:
            return self._activation
        if mode == _OPTIONAL:
            old = cellib.Optional(self._activation.get("oldSelf"), present=self.old is not None)
            return {"self": self._activation["self"], "oldSelf": old}
        return {"self": self._activation["self"]}


# Outcomes of rule evaluations, by rule and value: CEL is pure, so an unchanged spec seen again (every
# status write, objects created alike) costs a lookup instead of an evaluation.
_RESULT_CACHE_SIZE: Final = 8192
_MAX_KEY_LENGTH: Final = 16384
_results: collections.OrderedDict[tuple[Any, ...], tuple[bool, str]] = collections.OrderedDict()
_results_lock = threading.Lock()


def _freeze(value: Any) -> Any:
    """A hashable key for a JSON value that tells ``1`` from ``1.0`` and ``true``."""
    if isinstance(value, str):
        return ("s", value)
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, (int, float)):
        return (type(value).__name__, value)
    if value is None:
        return ("n",)
    return ("j", json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False))


def _outcome(rule: _Rule, subject: _Subject, mode: str) -> tuple[bool, str]:
    """(passed, evaluation error) of one rule on one value, from the cache when seen before."""
    key: tuple[Any, ...] | None = (
        rule.serial,
        _freeze(subject.value),
        _freeze(subject.old) if mode != _PLAIN else None,
    )
    if key is not None and sum(len(part[1]) for part in key[1:] if part and part[0] == "j") > _MAX_KEY_LENGTH:
        key = None  # too big to be worth keeping
    if key is not None:
        with _results_lock:
            cached = _results.get(key)
            if cached is not None:
                _results.move_to_end(key)
                return cached
    try:
        result = evaluate(rule.program, subject.activation(mode))
        outcome = (isinstance(result, (celtypes.BoolType, bool)) and bool(result), "")
    except EvaluationError as exc:
        outcome = (False, str(exc) or "evaluation error")
    if key is not None:
        with _results_lock:
            _results[key] = outcome
            while len(_results) > _RESULT_CACHE_SIZE:
                _results.popitem(last=False)
    return outcome


def _check(rule: _Rule, subject: _Subject, mode: str, path: str, errors: list[FieldError]) -> None:
    type_name = str(subject.node.schema.get("type") or "")
    if rule.program.error:
        errors.append(fielderrors.invalid(path, type_name, f"rule compile error: {rule.program.error}"))
        return
    if not rule.rule.strip():
        return
    passed, failure = _outcome(rule, subject, mode)
    if passed:
        return
    rule_text = rule.message or rule.rule.strip()
    if failure:
        if failure == "no such overload":
            detail = (
                f"'{failure}': call arguments did not match a supported operator, function or macro "
                f"signature for rule: {rule_text}"
            )
        else:
            detail = f"{failure} evaluating rule: {rule_text}"
        errors.append(fielderrors.invalid(path, type_name, detail))
        return
    target = path
    if rule.field_path:
        target = rule.field_path if path == fielderrors.ROOT_PATH else f"{path}.{rule.field_path}"
    detail = _message(rule, subject, mode)
    if rule.reason == fielderrors.FORBIDDEN:
        errors.append(fielderrors.forbidden(target, detail))
    elif rule.reason == fielderrors.REQUIRED:
        errors.append(fielderrors.required(target, detail))
    elif rule.reason == fielderrors.DUPLICATE:
        errors.append(fielderrors.duplicate(target, type_name))
    else:
        errors.append(fielderrors.invalid(target, type_name, detail))


def _message(rule: _Rule, subject: _Subject, mode: str) -> str:
    if rule.message_expression is not None and not rule.message_expression.error:
        try:
            text = evaluate(rule.message_expression, subject.activation(mode))
        except EvaluationError:
            text = None
        if isinstance(text, str) and text.strip() and "\n" not in text.strip():
            return str(text).strip()
    if rule.message:
        return rule.message
    return f"failed rule: {rule.rule.strip()}"


# --- CRD-time checks -------------------------------------------------------------------------------


def compile_errors(schema_root: dict[str, Any], *, path: str = "") -> list[FieldError]:
    """Rules (and message expressions) that do not compile, as the apiserver refuses them in a CRD.

    ``path`` is where the schema sits in the CRD, e.g. ``spec.versions[0].schema.openAPIV3Schema``.
    """
    errors: list[FieldError] = []
    _collect_compile_errors(schema_root, path, errors)
    return errors


def _collect_compile_errors(node: dict[str, Any], path: str, errors: list[FieldError]) -> None:
    for i, raw in enumerate(node.get("x-kubernetes-validations") or ()):
        base = f"{path}.x-kubernetes-validations[{i}]" if path else f"x-kubernetes-validations[{i}]"
        for field in ("rule", "messageExpression"):
            source = raw.get(field)
            if source:
                program = compile_expression(str(source))
                if program.error:
                    message = f"compilation failed: {program.error}"
                    errors.append(fielderrors.invalid(f"{base}.{field}", str(source), message))
    for key, sub in (node.get("properties") or {}).items():
        if isinstance(sub, dict):
            _collect_compile_errors(
                sub, f"{path}.properties[{key}]" if path else f"properties[{key}]", errors
            )
    for keyword in ("items", "additionalProperties"):
        sub = node.get(keyword)
        if isinstance(sub, dict):
            _collect_compile_errors(sub, f"{path}.{keyword}" if path else keyword, errors)
    for i, sub in enumerate(node.get("allOf") or ()):
        _collect_compile_errors(sub, f"{path}.allOf[{i}]" if path else f"allOf[{i}]", errors)
