"""String formats a CRD schema may name, checked as leniently as kube-apiserver checks them.

:mod:`.schema` asks :func:`check` whether a string fits its ``format``. The apiserver keeps only the
formats in its supported list (``apiextensions-apiserver/pkg/apiserver/validation/formats.go``, names
compared without dashes, so ``date-time`` is ``datetime``) and ignores every other one; so does this module.
The checks follow go-openapi's ``strfmt`` registry closely enough for the values people write; the few
exotic formats (ISBN, credit card, BSON object id) are accepted unchecked.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import ipaddress
import re
import urllib.parse
from collections.abc import Callable
from typing import Final

_DATE_TIME: Final = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?)?([Zz]|[+-]\d{2}:?\d{2})?$"
)
_DATE: Final = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
# Go's time.ParseDuration, or strfmt's "<number> <unit>" form ("3 days").
_GO_DURATION: Final = re.compile(
    r"^[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h)(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))*$"
)
_UNIT_DURATION: Final = re.compile(
    r"^(\d+)\s*(ns|nanoseconds?|us|µs|microseconds?|ms|milliseconds?|s|seconds?|sec|m|minutes?|min|h|hours?|hr|"
    r"d|days?|w|weeks?|wk)$"
)
# k8s.io/apimachinery resource.Quantity.
_QUANTITY: Final = re.compile(r"^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$")
_HOSTNAME_LABEL: Final = r"[a-zA-Z0-9](?:[-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?"
_HOSTNAME: Final = re.compile(rf"^{_HOSTNAME_LABEL}(?:\.{_HOSTNAME_LABEL})*$")
_MAC: Final = re.compile(
    r"^(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}$|^(?:[0-9A-Fa-f]{2}[:-]){7}[0-9A-Fa-f]{2}$|"
    r"^(?:[0-9A-Fa-f]{4}\.){2}[0-9A-Fa-f]{4}$"
)
_UUID: Final = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_UUID3: Final = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
_UUID4: Final = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
_UUID5: Final = re.compile(r"(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
_BASE64: Final = re.compile(
    r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})?$"
)
_HEXCOLOR: Final = re.compile(r"^#?(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_RGBCOLOR: Final = re.compile(r"^rgb\(\s*(\d{1,3})\s*,\s*(\d{1,3})\s*,\s*(\d{1,3})\s*\)$")
_SSN: Final = re.compile(r"^\d{3}[- ]?\d{2}[- ]?\d{4}$")
_EMAIL: Final = re.compile(r"^[^@\s<>]+@[^@\s<>]+$")


def _date_time(text: str) -> bool:
    match = _DATE_TIME.match(text)
    if not match:
        return False
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups()[:6])
    try:
        datetime.datetime(year, month, day, hour, minute, min(second, 59))
    except ValueError:
        return False
    return second <= 60  # a leap second is valid RFC 3339


def _date(text: str) -> bool:
    match = _DATE.match(text)
    if not match:
        return False
    try:
        datetime.date(*(int(g) for g in match.groups()))
    except ValueError:
        return False
    return True


def _ip(version: int) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        try:
            return ipaddress.ip_address(text).version == version
        except ValueError:
            return False

    return check


def _cidr(text: str) -> bool:
    if "/" not in text:
        return False
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


def _uri(text: str) -> bool:
    # Go's url.ParseRequestURI: an absolute URI or an absolute path.
    if not text or any(c.isspace() for c in text):
        return False
    if text.startswith("/"):
        return True
    parsed = urllib.parse.urlsplit(text)
    return bool(parsed.scheme) and bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", parsed.scheme))


def _byte(text: str) -> bool:
    if not _BASE64.match(text):
        return False
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _rgbcolor(text: str) -> bool:
    match = _RGBCOLOR.match(text)
    return match is not None and all(int(g) <= 255 for g in match.groups())


def _hostname(text: str) -> bool:
    return len(text) <= 255 and bool(_HOSTNAME.match(text))


def _duration(text: str) -> bool:
    return bool(_GO_DURATION.match(text) or _UNIT_DURATION.match(text) or text == "0")


def _anything(_: str) -> bool:
    return True


def _matches(pattern: re.Pattern[str]) -> Callable[[str], bool]:
    return lambda text: bool(pattern.match(text))


# Keyed by the name without dashes, as go-openapi normalizes format names.
_CHECKS: Final[dict[str, Callable[[str], bool]]] = {
    "bsonobjectid": _anything,
    "uri": _uri,
    "email": _matches(_EMAIL),
    "hostname": _hostname,
    "ipv4": _ip(4),
    "ipv6": _ip(6),
    "cidr": _cidr,
    "mac": _matches(_MAC),
    "uuid": _matches(_UUID),
    "uuid3": _matches(_UUID3),
    "uuid4": _matches(_UUID4),
    "uuid5": _matches(_UUID5),
    "isbn": _anything,
    "isbn10": _anything,
    "isbn13": _anything,
    "creditcard": _anything,
    "ssn": _matches(_SSN),
    "hexcolor": _matches(_HEXCOLOR),
    "rgbcolor": _rgbcolor,
    "byte": _byte,
    "password": _anything,
    "date": _date,
    "duration": _duration,
    "datetime": _date_time,
    "quantity": _matches(_QUANTITY),
}


def is_supported(format_name: str) -> bool:
    """Whether the apiserver checks this string format at all (unsupported ones are ignored)."""
    return format_name.replace("-", "") in _CHECKS


def check(format_name: str, text: str) -> bool:
    """Whether ``text`` fits ``format_name``; unknown formats accept anything, as the apiserver's do."""
    checker = _CHECKS.get(format_name.replace("-", ""))
    return checker is None or checker(text)
