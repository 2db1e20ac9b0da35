"""Kubernetes protobuf bodies, for the few built-in kinds kubectl sends that way.

``kubectl create secret generic``, ``kubectl create configmap`` and ``kubectl create namespace`` POST
``Content-Type: application/vnd.kubernetes.protobuf`` and do not fall back to JSON. The body is the magic
``k8s\\x00`` followed by a ``runtime.Unknown`` message (``1: TypeMeta{1: apiVersion, 2: kind}``, ``2: raw``
object bytes, ``3: contentEncoding``, ``4: contentType``). The sandbox server (:mod:`.server`) turns such a
body into the object's JSON form with :func:`decode` and then treats it like any JSON request.

Only what those commands create is understood: v1 ``Secret``, ``ConfigMap`` and ``Namespace`` with their
``ObjectMeta``; anything else raises :class:`ProtobufError` (a ``ValueError``) saying so. Field numbers
come from ``k8s.io/api/core/v1/generated.proto`` and ``k8s.io/apimachinery/pkg/apis/meta/v1/generated.proto``.
The JSON form is what the apiserver's JSON encoding of the decoded object gives: empty strings, zero
numbers and empty maps are left out, ``bytes`` map values are base64 (``data`` of a Secret,
``binaryData`` of a ConfigMap), times are RFC 3339 in UTC.

:func:`encode` is the inverse, written the way Go's generated marshalers write (every plain field, empty
or not, in field order; map entries sorted by key), so ``encode(decode(body)) == body`` holds for the
bodies kubectl sends; tests build fixtures with it.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import datetime
from collections.abc import Iterator
from typing import Any, Final

MAGIC: Final = b"k8s\x00"
CONTENT_TYPE: Final = "application/vnd.kubernetes.protobuf"

_VARINT: Final = 0
_FIXED64: Final = 1
_LENGTH: Final = 2
_FIXED32: Final = 5


class ProtobufError(ValueError):
    """A body that is not Kubernetes protobuf, is damaged, or holds a kind this module cannot read."""


# --- wire format -----------------------------------------------------------------------------------


def _read_varint(data: bytes, pos: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while True:
        if pos >= len(data):
            raise ProtobufError("truncated protobuf: a varint runs past the end of the message")
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift >= 70:
            raise ProtobufError("malformed protobuf: a varint is longer than 10 bytes")


def _fields(data: bytes) -> Iterator[tuple[int, int, Any]]:
    """Yield (field number, wire type, value): an int for varints and fixed-size values, bytes otherwise."""
    pos = 0
    while pos < len(data):
        key, pos = _read_varint(data, pos)
        number, wire_type = key >> 3, key & 7
        value: Any
        if number == 0:
            raise ProtobufError("malformed protobuf: field number 0")
        if wire_type == _VARINT:
            value, pos = _read_varint(data, pos)
        elif wire_type == _LENGTH:
            length, pos = _read_varint(data, pos)
            if pos + length > len(data):
                raise ProtobufError(f"truncated protobuf: field {number} needs {length} bytes")
            value = data[pos : pos + length]
            pos += length
        elif wire_type == _FIXED64:
            if pos + 8 > len(data):
                raise ProtobufError(f"truncated protobuf: field {number} needs 8 bytes")
            value = int.from_bytes(data[pos : pos + 8], "little")
            pos += 8
        elif wire_type == _FIXED32:
            if pos + 4 > len(data):
                raise ProtobufError(f"truncated protobuf: field {number} needs 4 bytes")
            value = int.from_bytes(data[pos : pos + 4], "little")
            pos += 4
        else:
            raise ProtobufError(f"unsupported protobuf wire type {wire_type} (field {number})")
        yield number, wire_type, value


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64 two's complement, ten bytes on the wire
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _key(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _length_field(number: int, payload: bytes) -> bytes:
    return _key(number, _LENGTH) + _varint(len(payload)) + payload


def _int64(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, bytes):
        raise ProtobufError(f"malformed protobuf: {where} is not a length-delimited string")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ProtobufError(f"malformed protobuf: {where} is not valid UTF-8") from exc


def _payload(value: Any, where: str) -> bytes:
    if not isinstance(value, bytes):
        raise ProtobufError(f"malformed protobuf: {where} is not length-delimited")
    return value


# --- message descriptions --------------------------------------------------------------------------

# Field kinds. "string"/"int"/"message" fields are plain Go fields: always written, left out of JSON when
# empty. "bool?"/"int?"/"time?" are Go pointers: written and shown only when set.


@dataclasses.dataclass(frozen=True)
class _Field:
    number: int
    name: str
    kind: str  # string, int, int?, bool?, time, time?, bytes-json, map-string, map-bytes, strings, message
    message: _Message | None = None
    repeated: bool = False


@dataclasses.dataclass(frozen=True)
class _Message:
    name: str
    fields: tuple[_Field, ...]
    always_in_json: bool = False  # Go structs (not pointers) that JSON keeps even when empty

    def by_number(self) -> dict[int, _Field]:
        return {f.number: f for f in self.fields}


_FIELDS_V1 = _Message("FieldsV1", (_Field(1, "raw", "bytes-json"),))
_MANAGED_FIELDS_ENTRY = _Message(
    "ManagedFieldsEntry",
    (
        _Field(1, "manager", "string"),
        _Field(2, "operation", "string"),
        _Field(3, "apiVersion", "string"),
        _Field(4, "time", "time?"),
        _Field(6, "fieldsType", "string"),
        _Field(7, "fieldsV1", "message?", _FIELDS_V1),
        _Field(8, "subresource", "string"),
    ),
)
_OWNER_REFERENCE = _Message(
    "OwnerReference",
    (
        _Field(1, "kind", "string"),
        _Field(3, "name", "string"),
        _Field(4, "uid", "string"),
        _Field(5, "apiVersion", "string"),
        _Field(6, "controller", "bool?"),
        _Field(7, "blockOwnerDeletion", "bool?"),
    ),
)
_OBJECT_META = _Message(
    "ObjectMeta",
    (
        _Field(1, "name", "string"),
        _Field(2, "generateName", "string"),
        _Field(3, "namespace", "string"),
        _Field(4, "selfLink", "string"),
        _Field(5, "uid", "string"),
        _Field(6, "resourceVersion", "string"),
        _Field(7, "generation", "int"),
        _Field(8, "creationTimestamp", "time"),
        _Field(9, "deletionTimestamp", "time?"),
        _Field(10, "deletionGracePeriodSeconds", "int?"),
        _Field(11, "labels", "map-string"),
        _Field(12, "annotations", "map-string"),
        _Field(13, "ownerReferences", "message", _OWNER_REFERENCE, repeated=True),
        _Field(14, "finalizers", "strings"),
        _Field(17, "managedFields", "message", _MANAGED_FIELDS_ENTRY, repeated=True),
    ),
    always_in_json=True,
)
_SECRET = _Message(
    "Secret",
    (
        _Field(1, "metadata", "message", _OBJECT_META),
        _Field(2, "data", "map-bytes"),
        _Field(3, "type", "string"),
        _Field(4, "stringData", "map-string"),
        _Field(5, "immutable", "bool?"),
    ),
)
_CONFIG_MAP = _Message(
    "ConfigMap",
    (
        _Field(1, "metadata", "message", _OBJECT_META),
        _Field(2, "data", "map-string"),
        _Field(3, "binaryData", "map-bytes"),
        _Field(4, "immutable", "bool?"),
    ),
)
_NAMESPACE_CONDITION = _Message(
    "NamespaceCondition",
    (
        _Field(1, "type", "string"),
        _Field(2, "status", "string"),
        _Field(4, "lastTransitionTime", "time"),
        _Field(5, "reason", "string"),
        _Field(6, "message", "string"),
    ),
)
_NAMESPACE = _Message(
    "Namespace",
    (
        _Field(1, "metadata", "message", _OBJECT_META),
        _Field(2, "spec", "message", _Message("NamespaceSpec", (_Field(1, "finalizers", "strings"),), True)),
        _Field(
            3,
            "status",
            "message",
            _Message(
                "NamespaceStatus",
                (
                    _Field(1, "phase", "string"),
                    _Field(2, "conditions", "message", _NAMESPACE_CONDITION, repeated=True),
                ),
                True,
            ),
        ),
    ),
)

KINDS: Final[dict[tuple[str, str], _Message]] = {
    ("v1", "Secret"): _SECRET,
    ("v1", "ConfigMap"): _CONFIG_MAP,
    ("v1", "Namespace"): _NAMESPACE,
}


# --- decoding --------------------------------------------------------------------------------------


def decode(body: bytes) -> dict[str, Any]:
    """The JSON form of a Kubernetes protobuf request body (v1 Secret, ConfigMap or Namespace)."""
    if not body.startswith(MAGIC):
        raise ProtobufError("not a Kubernetes protobuf body: it does not start with the k8s\\x00 magic")
    api_version = kind = ""
    raw = b""
    encoding = ""
    for number, _, value in _fields(body[len(MAGIC) :]):
        if number == 1:
            for sub, _, item in _fields(_payload(value, "Unknown.typeMeta")):
                if sub == 1:
                    api_version = _text(item, "TypeMeta.apiVersion")
                elif sub == 2:
                    kind = _text(item, "TypeMeta.kind")
        elif number == 2:
            raw = _payload(value, "Unknown.raw")
        elif number == 3:
            encoding = _text(value, "Unknown.contentEncoding")
    if encoding:
        raise ProtobufError(f"unsupported protobuf contentEncoding {encoding!r}")
    message = KINDS.get((api_version, kind))
    if message is None:
        shown = f"{api_version}/{kind}" if api_version or kind else "an object without apiVersion and kind"
        raise ProtobufError(
            f"cannot decode protobuf {shown}: the sandbox reads protobuf only for v1 Secret, ConfigMap and "
            "Namespace (what kubectl create sends); send JSON instead"
        )
    obj: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    obj.update(_decode_message(raw, message))
    return obj


def _decode_message(data: bytes, message: _Message) -> dict[str, Any]:
    fields = message.by_number()
    out: dict[str, Any] = {}
    for number, wire_type, value in _fields(data):
        field = fields.get(number)
        if field is None:
            continue  # unknown fields are skipped, as proto decoders do
        where = f"{message.name}.{field.name}"
        kind = field.kind
        if kind == "string":
            text = _text(value, where)
            if text:
                out[field.name] = text
        elif kind in ("int", "int?"):
            if wire_type != _VARINT:
                raise ProtobufError(f"malformed protobuf: {where} is not a varint")
            number_value = _int64(value)
            if number_value or kind == "int?":
                out[field.name] = number_value
        elif kind == "bool?":
            if wire_type != _VARINT:
                raise ProtobufError(f"malformed protobuf: {where} is not a varint")
            out[field.name] = bool(value)
        elif kind in ("time", "time?"):
            stamp = _decode_time(_payload(value, where))
            if stamp is not None:
                out[field.name] = stamp
        elif kind in ("map-string", "map-bytes"):
            key, item = _decode_map_entry(_payload(value, where), where, binary=kind == "map-bytes")
            out.setdefault(field.name, {})[key] = item
        elif kind == "strings":
            out.setdefault(field.name, []).append(_text(value, where))
        elif kind == "bytes-json":
            out[field.name] = _payload(value, where).decode("utf-8", errors="replace")
        elif kind in ("message", "message?"):
            assert field.message is not None
            sub = _decode_message(_payload(value, where), field.message)
            if field.repeated:
                out.setdefault(field.name, []).append(sub)
            elif sub or field.message.always_in_json or kind == "message?":
                out[field.name] = sub
    for field in message.fields:
        # JSON keeps Go structs even when empty (spec: {} of a Namespace).
        if (
            field.kind == "message"
            and not field.repeated
            and field.message is not None
            and field.message.always_in_json
            and field.name not in out
        ):
            out[field.name] = {}
    if message is _FIELDS_V1:
        return dict(_json_loads(out.get("raw", "{}")))
    return out


def _json_loads(text: str) -> dict[str, Any]:
    import json

    try:
        value = json.loads(text)
    except ValueError as exc:
        raise ProtobufError("malformed protobuf: FieldsV1 does not hold JSON") from exc
    return value if isinstance(value, dict) else {}


def _decode_map_entry(data: bytes, where: str, *, binary: bool) -> tuple[str, str]:
    key = ""
    item: str = ""
    for number, _, value in _fields(data):
        if number == 1:
            key = _text(value, f"{where} key")
        elif number == 2:
            item = base64.b64encode(_payload(value, where)).decode("ascii") if binary else _text(value, where)
    return key, item


def _decode_time(data: bytes) -> str | None:
    seconds = 0
    for number, _, value in _fields(data):
        if number == 1:
            seconds = _int64(value)
    if seconds == 0 and not data:
        return None  # the zero time: Go writes an empty message and JSON shows nothing useful
    try:
        stamp = datetime.datetime.fromtimestamp(seconds, tz=datetime.UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise ProtobufError(f"malformed protobuf: time {seconds} is out of range") from exc
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


# --- encoding (fixtures for tests) -----------------------------------------------------------------


def encode(obj: dict[str, Any]) -> bytes:
    """The protobuf body kubectl would send for ``obj`` (v1 Secret, ConfigMap or Namespace)."""
    api_version, kind = obj.get("apiVersion", ""), obj.get("kind", "")
    message = KINDS.get((api_version, kind))
    if message is None:
        raise ProtobufError(f"cannot encode {api_version}/{kind} as protobuf")
    type_meta = _length_field(1, api_version.encode()) + _length_field(2, kind.encode())
    raw = _encode_message(obj, message)
    unknown = (
        _length_field(1, type_meta) + _length_field(2, raw) + _length_field(3, b"") + _length_field(4, b"")
    )
    return MAGIC + unknown


def _encode_message(obj: dict[str, Any], message: _Message) -> bytes:
    if message is _FIELDS_V1:
        import json

        return _length_field(1, json.dumps(obj, separators=(",", ":"), sort_keys=True).encode())
    out = bytearray()
    for field in message.fields:
        value = obj.get(field.name)
        kind = field.kind
        if kind == "string":
            out += _length_field(field.number, str(value or "").encode())
        elif kind == "int":
            out += _key(field.number, _VARINT) + _varint(int(value or 0))
        elif kind in ("int?", "bool?"):
            if value is not None:
                out += _key(field.number, _VARINT) + _varint(int(value))
        elif kind in ("time", "time?"):
            if value is not None or kind == "time":
                out += _length_field(field.number, _encode_time(value))
        elif kind in ("map-string", "map-bytes"):
            mapping: dict[str, Any] = value or {}
            for key in sorted(mapping):
                item = mapping[key]
                payload = _decode_base64(item, field.name) if kind == "map-bytes" else str(item).encode()
                out += _length_field(field.number, _length_field(1, key.encode()) + _length_field(2, payload))
        elif kind == "strings":
            for item in value or ():
                out += _length_field(field.number, str(item).encode())
        elif kind in ("message", "message?"):
            assert field.message is not None
            if field.repeated:
                for item in value or ():
                    out += _length_field(field.number, _encode_message(item, field.message))
            elif value is not None or kind == "message":
                out += _length_field(field.number, _encode_message(value or {}, field.message))
    return bytes(out)


def _decode_base64(text: Any, name: str) -> bytes:
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ProtobufError(f"{name} values must be base64") from exc


def _encode_time(value: Any) -> bytes:
    if not value:
        return b""
    stamp = datetime.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC)
    return _key(1, _VARINT) + _varint(int(stamp.timestamp()))
