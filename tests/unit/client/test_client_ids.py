"""``webhook_key`` (Drupal's ``Html::getId``) and ``parse_service_id``."""

from __future__ import annotations

import pytest

from orchestration_operator.client import InvalidServiceId, ServiceId, parse_service_id, webhook_key


@pytest.mark.parametrize(
    ("webhook_id", "key"),
    [
        ("my_webhook", "my-webhook"),
        ("My_Hook 1", "my-hook-1"),
        ("ABC123", "abc123"),
        ("a_b", "a-b"),
        ("a-b", "a-b"),
        ("A__B", "a-b"),
        ("a--b", "a-b"),
        ("a - _ b", "a-b"),
        ("--a--", "-a-"),  # no trimming: only runs collapse
        ("  ", "-"),
        ("", ""),
        ("__init__", "-init-"),
        ("x[0]", "x-0"),
        ("x[a][b]", "x-a-b"),
        ("a[]b", "a-b"),
        ("a]b", "ab"),
        ("hook.v2:x", "hookv2x"),  # periods and colons are dropped
        ("a/b", "ab"),  # unlike cleanCssIdentifier(), getId() has no '/' => '-'
        ("a\tb\nc", "abc"),  # only the space character becomes a dash
        ("ÉCOLE été", "cole-t"),  # non-ASCII letters are dropped (the pattern has no /u)
        ("日本語", ""),
        ("naïve_hook", "nave-hook"),
        ("ß", ""),
        ("😀hook😀", "hook"),  # beyond U+FFFF
        ("\u212aelvin", "kelvin"),  # KELVIN SIGN lower-cases to ASCII 'k' in PHP and Python alike
        ("İstanbul", "istanbul"),  # U+0130 lower-cases to 'i' + U+0307; the combining dot is dropped
        ("hook\u00a0one", "hookone"),  # a no-break space is not ' '
        ("A_[B] c", "a-b-c"),
    ],
)
def test_webhook_key_is_drupal_html_get_id(webhook_id: str, key: str) -> None:
    assert webhook_key(webhook_id) == key


def test_ids_differing_in_case_and_separators_are_one_webhook() -> None:
    assert {webhook_key(i) for i in ("a_b", "a-b", "A__B", "A b", "a[b]")} == {"a-b"}


@pytest.mark.parametrize(
    ("text", "provider", "service"),
    [
        ("eca::send_welcome_email", "eca", "send_welcome_email"),
        ("tool::entity:load", "tool", "entity:load"),
        ("ai_agent::content:summarize:v2", "ai_agent", "content:summarize:v2"),
        ("a::b::c", "a", "b::c"),
        ("my.module::x", "my.module", "x"),
    ],
)
def test_parse_service_id_splits_on_the_first_double_colon(text: str, provider: str, service: str) -> None:
    parsed = parse_service_id(text)
    assert parsed == ServiceId(provider, service)
    assert str(parsed) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("eca:foo", "service id 'eca:foo' has a single colon; use a double colon: eca::foo"),
        (
            "tool:entity:load",
            "service id 'tool:entity:load' has a single colon; use a double colon: tool::entity:load",
        ),
        ("::foo", "service id '::foo' has an empty provider before '::'"),
        ("eca::", "service id 'eca::' has an empty service name after '::'"),
        ("", "service id is empty; use provider::service"),
        ("foo", "service id 'foo' has no provider; use provider::service, for example eca::foo"),
        (" eca::foo", "service id ' eca::foo' has leading or trailing whitespace"),
        ("eca::foo\n", "service id 'eca::foo\\n' has leading or trailing whitespace"),
    ],
)
def test_parse_service_id_refuses_with_an_actionable_message(text: str, message: str) -> None:
    with pytest.raises(InvalidServiceId) as caught:
        parse_service_id(text)
    assert str(caught.value) == message
    assert caught.value.reason == "InvalidServiceId"
    assert isinstance(caught.value, ValueError)
