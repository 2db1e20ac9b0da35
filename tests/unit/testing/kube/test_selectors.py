"""Label and field selectors as kube-apiserver parses and matches them."""

from __future__ import annotations

import pytest

from orchestration_operator.testing.kube import errors, selectors

LABELS = {"app": "web", "tier": "front", "release": "3", "legacy": ""}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [
        ("", True),
        ("app=web", True),
        ("app==web", True),
        ("app=db", False),
        ("app!=db", True),
        ("app!=web", False),
        ("missing!=x", True),
        ("app", True),
        ("missing", False),
        ("!missing", True),
        ("!app", False),
        ("tier in (front, back)", True),
        ("tier in (back)", False),
        ("tier notin (back)", True),
        ("missing notin (back)", True),
        ("missing in (back)", False),
        ("release>2", True),
        ("release<3", False),
        ("missing>1", False),
        ("app=web,tier=front", True),
        ("app=web,tier in (back,x)", False),
        ("app=web, tier notin (a,b), !missing", True),
        ("legacy=", True),
        ("example.com/app=web", False),
    ],
)
def test_label_selectors(selector: str, matches: bool) -> None:
    assert selectors.parse_labels(selector).matches(LABELS) is matches


@pytest.mark.parametrize("selector", ["app=w b", "a b=c", "=x", "app=web,", "release>x", "-bad=1"])
def test_invalid_label_selectors_are_400(selector: str) -> None:
    with pytest.raises(errors.BadRequest) as info:
        selectors.parse_labels(selector)
    assert info.value.code == 400


OBJ = {"metadata": {"name": "n1", "namespace": "ns"}, "type": "Opaque", "spec": {"replicas": 3, "on": True}}


@pytest.mark.parametrize(
    ("selector", "supported", "matches"),
    [
        ("metadata.name=n1", (), True),
        ("metadata.name==n1", (), True),
        ("metadata.name!=n1", (), False),
        ("metadata.name=n2", (), False),
        ("metadata.namespace=ns,metadata.name=n1", (), True),
        ("type=Opaque", ("type",), True),
        ("spec.replicas=3", ("spec.replicas",), True),
        ("spec.on=true", ("spec.on",), True),
        ("spec.missing=", ("spec.missing",), True),
    ],
)
def test_field_selectors(selector: str, supported: tuple[str, ...], matches: bool) -> None:
    parsed = selectors.parse_fields(selector, supported=supported)
    assert parsed.matches(lambda f: selectors.field_value(OBJ, f)) is matches


def test_field_selector_names_the_single_object_it_selects() -> None:
    parsed = selectors.parse_fields("metadata.namespace=ns,metadata.name=n1")
    assert (parsed.name(), parsed.namespace()) == ("n1", "ns")
    assert selectors.parse_fields("metadata.name!=n1").name() is None


def test_unsupported_field_label_is_400_with_kube_wording() -> None:
    with pytest.raises(errors.BadRequest, match=r"^field label not supported: spec\.color$"):
        selectors.parse_fields("spec.color=red")


def test_field_selector_without_operator_is_400() -> None:
    with pytest.raises(errors.BadRequest, match="invalid selector"):
        selectors.parse_fields("metadata.name")


def test_escaped_comma_in_field_value() -> None:
    parsed = selectors.parse_fields(r"metadata.name=a\,b")
    assert parsed.terms == (selectors.FieldTerm("metadata.name", "a,b", False),)
