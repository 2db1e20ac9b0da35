"""Decoding the protobuf bodies the real kubectl sends (captured in fixtures/), and refusing the rest."""

from __future__ import annotations

import base64
import pathlib
from typing import Any

import pytest

from orchestration_operator.testing.kube import protobuf

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
BINARY = b"\x00\x01\x02\xff\xfebinary\x80"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


CAPTURED = [
    (
        "secret-generic",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "app-credentials", "namespace": "default"},
            "data": {"blob": b64(BINARY), "password": b64(b"s3cr3t!"), "username": b64(b"admin")},
        },
    ),
    (
        "secret-basic-auth",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "tls-ish", "namespace": "team-a"},
            "data": {"password": b64(b"p"), "username": b64(b"u")},
            "type": "kubernetes.io/basic-auth",
        },
    ),
    (
        "secret-empty",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "empty", "namespace": "default"}},
    ),
    (
        "configmap",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "app-config", "namespace": "default"},
            "data": {"mode": "fast", "notes": "line1\nline2\n"},
            "binaryData": {"blob": b64(BINARY)},
        },
    ),
    (
        "configmap-unicode",
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "unicode-config", "namespace": "default"},
            "data": {"empty": "", "greeting": "héllo_wörld_✓"},
        },
    ),
    (
        "namespace",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}, "spec": {}, "status": {}},
    ),
]


@pytest.mark.parametrize(("name", "expected"), CAPTURED, ids=[c[0] for c in CAPTURED])
def test_decodes_what_kubectl_sent(name: str, expected: dict[str, Any]) -> None:
    body = (FIXTURES / f"{name}.bin").read_bytes()
    assert protobuf.decode(body) == expected


@pytest.mark.parametrize("name", [c[0] for c in CAPTURED])
def test_encoding_the_decoded_object_gives_kubectls_bytes_back(name: str) -> None:
    body = (FIXTURES / f"{name}.bin").read_bytes()
    assert protobuf.encode(protobuf.decode(body)) == body


FULL_OBJECTS = [
    {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": "full",
            "generateName": "full-",
            "namespace": "ns",
            "uid": "0f5c3c1e-1111-2222-3333-444455556666",
            "resourceVersion": "42",
            "generation": 3,
            "creationTimestamp": "2024-05-06T07:08:09Z",
            "deletionTimestamp": "2024-05-06T08:00:00Z",
            "deletionGracePeriodSeconds": 0,
            "labels": {"app": "x", "tier": "db"},
            "annotations": {"note": "ünïcode", "empty": ""},
            "ownerReferences": [
                {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": "u-1", "controller": True},
                {"apiVersion": "v1", "kind": "Pod", "name": "p", "uid": "u-2", "blockOwnerDeletion": False},
            ],
            "finalizers": ["a/b", "c/d"],
        },
        "immutable": True,
        "stringData": {"token": "plain"},
        "data": {"bin": b64(bytes(range(256)))},
        "type": "Opaque",
    },
    {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "namespace": "ns", "generation": -5},
        "immutable": False,
        "data": {"k": "v"},
    },
    {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "n"},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {
            "phase": "Terminating",
            "conditions": [
                {
                    "type": "NamespaceDeletionContentFailure",
                    "status": "False",
                    "lastTransitionTime": "2024-01-02T03:04:05Z",
                    "reason": "ContentDeleted",
                    "message": "All content successfully deleted",
                }
            ],
        },
    },
]


@pytest.mark.parametrize("obj", FULL_OBJECTS, ids=[o["kind"] for o in FULL_OBJECTS])
def test_every_field_survives_encode_then_decode(obj: dict[str, Any]) -> None:
    assert protobuf.decode(protobuf.encode(obj)) == obj


def _unknown(api_version: bytes, kind: bytes, raw: bytes = b"") -> bytes:
    type_meta = b"\x0a" + bytes([len(api_version)]) + api_version + b"\x12" + bytes([len(kind)]) + kind
    return b"k8s\x00\x0a" + bytes([len(type_meta)]) + type_meta + b"\x12" + bytes([len(raw)]) + raw


REFUSED = [
    (
        "no magic",
        b'{"kind": "Secret"}',
        "not a Kubernetes protobuf body: it does not start with the k8s\\x00 magic",
    ),
    (
        "other kind",
        _unknown(b"apps/v1", b"Deployment", b"\x0a\x00"),
        "cannot decode protobuf apps/v1/Deployment: the sandbox reads protobuf only for v1 Secret, "
        "ConfigMap and Namespace (what kubectl create sends); send JSON instead",
    ),
    (
        "no type meta",
        b"k8s\x00\x12\x00",
        "cannot decode protobuf an object without apiVersion and kind: the sandbox reads protobuf only for "
        "v1 Secret, ConfigMap and Namespace (what kubectl create sends); send JSON instead",
    ),
    (
        "truncated",
        (FIXTURES / "secret-generic.bin").read_bytes()[:60],
        "truncated protobuf: field 2 needs 104 bytes",
    ),
    ("bad varint", b"k8s\x00\x08" + b"\xff" * 11, "malformed protobuf: a varint is longer than 10 bytes"),
    ("group wire type", b"k8s\x00\x0b", "unsupported protobuf wire type 3 (field 1)"),
    (
        "not utf-8",
        _unknown(b"v1", b"Secret", b"\x0a\x03\x0a\x01\xff"),
        "malformed protobuf: ObjectMeta.name is not valid UTF-8",
    ),
    (
        "encoded content",
        b"k8s\x00\x1a\x04gzip",
        "unsupported protobuf contentEncoding 'gzip'",
    ),
]


@pytest.mark.parametrize(("body", "message"), [r[1:] for r in REFUSED], ids=[r[0] for r in REFUSED])
def test_refuses_with_a_clear_message(body: bytes, message: str) -> None:
    with pytest.raises(protobuf.ProtobufError) as caught:
        protobuf.decode(body)
    assert str(caught.value) == message
    assert isinstance(caught.value, ValueError)


def test_skips_fields_it_does_not_know() -> None:
    # A newer kubectl may send fields this decoder has no name for; proto decoders skip them.
    metadata = b"\x0a\x03\x0a\x01x"  # 1: ObjectMeta{1: "x"}
    unknown_fields = (
        b"\x78\x01" + b"\x82\x01\x03abc" + b"\x8d\x01\x00\x00\x00\x00"
    )  # 15 varint, 16 bytes, 17 fixed32
    body = _unknown(b"v1", b"ConfigMap", metadata + unknown_fields)
    assert protobuf.decode(body) == {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
