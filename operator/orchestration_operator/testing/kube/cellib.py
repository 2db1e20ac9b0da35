"""The Kubernetes CEL library functions that cel-python lacks, for :mod:`.cel`.

kube-apiserver evaluates ``x-kubernetes-validations`` with cel-go plus its extension libraries. cel-python
(``celpy``) implements the CEL language and standard functions (``size``, ``contains``, ``startsWith``,
``endsWith``, ``matches`` with RE2, conversions, macros ``has``/``all``/``exists``/``exists_one``/``map``/
``filter``); this module adds what CRDs commonly use from the rest, with the same semantics:

- cel-go ``ext.Strings``: ``charAt``, ``indexOf``, ``lastIndexOf``, ``lowerAscii``, ``upperAscii``,
  ``replace``, ``split``, ``substring``, ``trim``, ``join``, ``reverse``, ``format`` (``%s %d %f %%``).
- Kubernetes lists: ``isSorted``, ``sum``, ``max`` (``min`` is a celpy macro), list ``indexOf`` and
  ``lastIndexOf``.
- Kubernetes regex: ``find``, ``findAll``.
- Kubernetes URLs: ``url``, ``isURL``, ``getScheme``, ``getHost``, ``getHostname``, ``getPort``,
  ``getEscapedPath``, ``getQuery``.
- Optionals, for ``oldSelf`` in rules with ``optionalOldSelf: true``: ``hasValue``, ``value``,
  ``orValue`` (the ``?.`` syntax is not parsed by cel-python).

celpy calls a function with the receiver as first argument (``s.split(',')`` is ``split(s, ',')``). A
``TypeError`` becomes CEL's "no such overload", a ``ValueError`` an evaluation error.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any, Final

import celpy.celtypes as celtypes
import re2  # type: ignore[import-untyped]  # google-re2: Go's regexp syntax, as cel-go uses

_ASCII_LOWER: Final = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_ASCII_UPPER: Final = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"no such overload: expected string, got {type(value).__name__}")
    return value


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"no such overload: expected int, got {type(value).__name__}")
    return value


# --- strings ---------------------------------------------------------------------------------------


def char_at(text: Any, index: Any) -> celtypes.StringType:
    text, index = _string(text), _int(index)
    if index < 0 or index > len(text):
        raise ValueError(f"index out of range: {index}")
    return celtypes.StringType(text[index : index + 1])


def index_of(container: Any, item: Any, start: Any = None) -> celtypes.IntType:
    if isinstance(container, list):
        for i, element in enumerate(container):
            if _equal(element, item):
                return celtypes.IntType(i)
        return celtypes.IntType(-1)
    text, sub = _string(container), _string(item)
    offset = 0 if start is None else _int(start)
    if offset < 0 or offset > len(text):
        raise ValueError(f"index out of range: {offset}")
    return celtypes.IntType(text.find(sub, offset))


def last_index_of(container: Any, item: Any, end: Any = None) -> celtypes.IntType:
    if isinstance(container, list):
        for i in range(len(container) - 1, -1, -1):
            if _equal(container[i], item):
                return celtypes.IntType(i)
        return celtypes.IntType(-1)
    text, sub = _string(container), _string(item)
    if end is None:
        return celtypes.IntType(text.rfind(sub))
    last = _int(end)
    if last < 0 or last >= max(len(text), 1):
        raise ValueError(f"index out of range: {last}")
    return celtypes.IntType(text.rfind(sub, 0, last + len(sub)))


def lower_ascii(text: Any) -> celtypes.StringType:
    return celtypes.StringType(_string(text).translate(_ASCII_LOWER))


def upper_ascii(text: Any) -> celtypes.StringType:
    return celtypes.StringType(_string(text).translate(_ASCII_UPPER))


def replace(text: Any, old: Any, new: Any, count: Any = None) -> celtypes.StringType:
    limit = -1 if count is None else _int(count)
    return celtypes.StringType(_string(text).replace(_string(old), _string(new), limit))


def split(text: Any, separator: Any, count: Any = None) -> celtypes.ListType:
    """Go's strings.SplitN: n == 0 gives no parts, n < 0 all of them, "" splits into characters."""
    text, separator = _string(text), _string(separator)
    limit = -1 if count is None else _int(count)
    if limit == 0:
        return celtypes.ListType([])
    if separator == "":
        parts = list(text)
        if 0 < limit < len(parts):
            parts = [*parts[: limit - 1], "".join(parts[limit - 1 :])]
    else:
        parts = text.split(separator, limit - 1) if limit > 0 else text.split(separator)
    return celtypes.ListType([celtypes.StringType(p) for p in parts])


def substring(text: Any, start: Any, end: Any = None) -> celtypes.StringType:
    text = _string(text)
    begin = _int(start)
    finish = len(text) if end is None else _int(end)
    if begin < 0 or begin > len(text) or finish < begin or finish > len(text):
        raise ValueError(f"index out of range: {begin}..{finish}")
    return celtypes.StringType(text[begin:finish])


def trim(text: Any) -> celtypes.StringType:
    return celtypes.StringType(_string(text).strip())


def join(items: Any, separator: Any = "") -> celtypes.StringType:
    if not isinstance(items, list):
        raise TypeError("no such overload: join on a non-list")
    return celtypes.StringType(_string(separator).join(_string(item) for item in items))


def reverse(text: Any) -> celtypes.StringType:
    return celtypes.StringType(_string(text)[::-1])


_FORMAT_VERB: Final = re.compile(r"%(?:\.(\d+))?([sdfe%xob])")


def format_string(template: Any, args: Any) -> celtypes.StringType:
    """cel-go's ``"...".format([args])`` for the common verbs."""
    template = _string(template)
    if not isinstance(args, list):
        raise TypeError("no such overload: format takes a list")
    values = iter(args)

    def substitute(match: re.Match[str]) -> str:
        precision, verb = match.group(1), match.group(2)
        if verb == "%":
            return "%"
        try:
            value = next(values)
        except StopIteration:
            raise ValueError("format: not enough arguments") from None
        if verb == "s":
            return _display(value)
        if verb == "d":
            return str(_int(value))
        if verb in ("f", "e"):
            return f"{float(value):.{int(precision) if precision else 6}{verb}}"
        number = _int(value)
        return {"x": f"{number:x}", "o": f"{number:o}", "b": f"{number:b}"}[verb]

    return celtypes.StringType(_FORMAT_VERB.sub(substitute, template))


def _display(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_display(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_display(k)}: {_display(v)}" for k, v in value.items()) + "}"
    return str(value)


# --- lists -----------------------------------------------------------------------------------------


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except TypeError:
        return False


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise TypeError("no such overload: expected a list")
    return value


def is_sorted(items: Any) -> celtypes.BoolType:
    values = _list(items)
    return celtypes.BoolType(all(values[i] <= values[i + 1] for i in range(len(values) - 1)))


def sum_of(items: Any) -> Any:
    values = _list(items)
    if not values:
        return celtypes.IntType(0)
    total = values[0]
    for value in values[1:]:
        total = total + value
    return total


def max_of(items: Any) -> Any:
    values = _list(items)
    if not values:
        raise ValueError("max of an empty list")
    return max(values)


# --- regex -----------------------------------------------------------------------------------------


def find(text: Any, pattern: Any) -> celtypes.StringType:
    match = re2.search(_string(pattern), _string(text))
    return celtypes.StringType(match.group(0) if match else "")


def find_all(text: Any, pattern: Any, count: Any = None) -> celtypes.ListType:
    limit = -1 if count is None else _int(count)
    found = [m.group(0) for m in re2.finditer(_string(pattern), _string(text))]
    if limit >= 0:
        found = found[:limit]
    return celtypes.ListType([celtypes.StringType(f) for f in found])


# --- optionals (oldSelf of rules with optionalOldSelf: true) ----------------------------------------


class Optional:
    """CEL's ``optional_type``, as far as rules with ``optionalOldSelf`` use it."""

    def __init__(self, value: Any, *, present: bool) -> None:
        self.held = value
        self.present = present

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Optional):
            raise TypeError("no such overload: optional compared with a non-optional")
        return self.present == other.present and (not self.present or _equal(self.held, other.held))

    def __hash__(self) -> int:
        return hash(self.present)

    def __repr__(self) -> str:
        return f"optional.of({self.held!r})" if self.present else "optional.none()"


def _optional(value: Any) -> Optional:
    if not isinstance(value, Optional):
        raise TypeError("no such overload: expected an optional")
    return value


def has_value(value: Any) -> celtypes.BoolType:
    return celtypes.BoolType(_optional(value).present)


def optional_value(value: Any) -> Any:
    optional = _optional(value)
    if not optional.present:
        raise ValueError("optional.none() dereference")
    return optional.held


def or_value(value: Any, default: Any) -> Any:
    optional = _optional(value)
    return optional.held if optional.present else default


# --- URLs ------------------------------------------------------------------------------------------


class URL:
    """The value ``url(s)`` returns: a parsed absolute URI or absolute path (Go's url.ParseRequestURI)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.parts = urllib.parse.urlsplit(text)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, URL) and self.text == other.text

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"URL({self.text!r})"


def _parse_url(text: str) -> URL | None:
    if not text or any(c.isspace() for c in text):
        return None
    if text.startswith("/"):
        return URL(text)
    parts = urllib.parse.urlsplit(text)
    if not parts.scheme or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parts.scheme):
        return None
    return URL(text)


def url(text: Any) -> URL:
    parsed = _parse_url(_string(text))
    if parsed is None:
        raise ValueError(f"URL parse error during conversion from string: {text}")
    return parsed


def is_url(text: Any) -> celtypes.BoolType:
    return celtypes.BoolType(_parse_url(_string(text)) is not None)


def _url(value: Any) -> URL:
    if not isinstance(value, URL):
        raise TypeError("no such overload: expected a URL")
    return value


def get_scheme(value: Any) -> celtypes.StringType:
    return celtypes.StringType(_url(value).parts.scheme)


def get_host(value: Any) -> celtypes.StringType:
    return celtypes.StringType(_url(value).parts.netloc.rpartition("@")[2])


def get_hostname(value: Any) -> celtypes.StringType:
    host = _url(value).parts.netloc.rpartition("@")[2]
    if host.startswith("["):
        return celtypes.StringType(host[1 : host.find("]")])
    return celtypes.StringType(host.rpartition(":")[0] if ":" in host else host)


def get_port(value: Any) -> celtypes.StringType:
    host = _url(value).parts.netloc.rpartition("@")[2]
    tail = host[host.find("]") + 1 :] if host.startswith("[") else host
    return celtypes.StringType(tail.rpartition(":")[2] if ":" in tail else "")


def get_escaped_path(value: Any) -> celtypes.StringType:
    return celtypes.StringType(_url(value).parts.path)


def get_query(value: Any) -> celtypes.MapType:
    query = urllib.parse.parse_qs(_url(value).parts.query, keep_blank_values=True)
    return celtypes.MapType(
        {
            celtypes.StringType(k): celtypes.ListType([celtypes.StringType(v) for v in vs])
            for k, vs in query.items()
        }
    )


FUNCTIONS: Final[dict[str, Any]] = {
    "charAt": char_at,
    "indexOf": index_of,
    "lastIndexOf": last_index_of,
    "lowerAscii": lower_ascii,
    "upperAscii": upper_ascii,
    "replace": replace,
    "split": split,
    "substring": substring,
    "trim": trim,
    "join": join,
    "reverse": reverse,
    "format": format_string,
    "isSorted": is_sorted,
    "sum": sum_of,
    "max": max_of,
    "find": find,
    "findAll": find_all,
    "url": url,
    "isURL": is_url,
    "getScheme": get_scheme,
    "getHost": get_host,
    "getHostname": get_hostname,
    "getPort": get_port,
    "getEscapedPath": get_escaped_path,
    "getQuery": get_query,
    "hasValue": has_value,
    "value": optional_value,
    "orValue": or_value,
}
