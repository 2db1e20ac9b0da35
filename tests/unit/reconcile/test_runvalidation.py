"""Config checks against a catalog entry: types as lenient as Drupal's casting, options as loose as PHP."""

from __future__ import annotations

from typing import Any

import pytest

from orchestration_operator import client
from orchestration_operator.reconcile import runconfig, runvalidation


def service(*items: dict[str, Any]) -> client.Service:
    return client.Service.model_validate({"id": "eca::s", "config": list(items)})


def config(values: dict[str, Any], origins: dict[str, runconfig.Origin] | None = None) -> runconfig.Config:
    return runconfig.Config(values=values, origins=origins or dict.fromkeys(values, runconfig.SPEC))


@pytest.mark.parametrize(
    ("type_", "value"),
    [
        ("string", "text"),
        ("string", 42),
        ("string", 1.5),
        ("email", "a@example.com"),
        ("boolean", True),
        ("boolean", 0),
        ("boolean", 1),
        ("boolean", "true"),
        ("boolean", "FALSE"),
        ("boolean", "1"),
        ("integer", 7),
        ("integer", -7),
        ("integer", 3.0),
        ("integer", "42"),
        ("integer", " -3 "),
        ("timestamp", 1748000000),
        ("timestamp", "1748000000"),
        ("float", 1.5),
        ("float", 2),
        ("float", "2.5e3"),
        ("decimal", "10.25"),
        ("datetime_iso8601", "2025-05-01"),
        ("datetime_iso8601", "2025-05-01T12:00:00Z"),
        ("datetime_iso8601", "2025-05-01T12:00:00+02:00"),
        ("map", {"a": 1}),
        ("entity:node", 12),
        ("entity:node", {"target_id": 12}),
        ("some_contrib_type", [1, "x"]),
        ("", "blank type is string"),
        ("integer", [1, "2"]),  # multi-valued items: each value is checked
    ],
)
def test_values_that_drupal_accepts_pass(type_: str, value: Any) -> None:
    findings = runvalidation.check(service({"key": "k", "type": type_}), config({"k": value}))
    assert findings == runvalidation.Findings()


@pytest.mark.parametrize(
    ("type_", "value", "problem"),
    [
        ("string", True, 'config key "k" must be text (quote it in YAML) (catalog type "string"), not true'),
        (
            "string",
            {"a": 1},
            'config key "k" must be text (quote it in YAML) (catalog type "string"), not an object',
        ),
        (
            "boolean",
            "yes",
            'config key "k" must be a boolean (true or false) (catalog type "boolean"), not \'yes\'',
        ),
        ("boolean", 2, 'config key "k" must be a boolean (true or false) (catalog type "boolean"), not 2'),
        ("integer", "4.5", 'config key "k" must be an integer (catalog type "integer"), not \'4.5\''),
        ("integer", True, 'config key "k" must be an integer (catalog type "integer"), not true'),
        ("integer", [1, "x"], 'config key "k" must be an integer (catalog type "integer"), not \'x\''),
        (
            "timestamp",
            "2025-05-01",
            'config key "k" must be an integer (catalog type "timestamp"), not \'2025-05-01\'',
        ),
        ("float", "NaN", 'config key "k" must be a number (catalog type "float"), not \'NaN\''),
        ("float", False, 'config key "k" must be a number (catalog type "float"), not false'),
        (
            "datetime_iso8601",
            "yesterday",
            'config key "k" must be an ISO 8601 date or date-time such as 2025-05-01T12:00:00Z (catalog type '
            "\"datetime_iso8601\"), not 'yesterday'",
        ),
        ("map", [1], 'config key "k" must be an object (catalog type "map"), not 1'),
    ],
)
def test_values_of_the_wrong_type_are_refused_with_what_to_write(
    type_: str, value: Any, problem: str
) -> None:
    findings = runvalidation.check(service({"key": "k", "type": type_}), config({"k": value}))
    assert findings.problems == (problem,)


@pytest.mark.parametrize(
    ("options", "value", "ok"),
    [
        ([{"key": "a", "name": "A"}], "a", True),
        ([{"key": "a", "name": "A"}], "A", False),  # keys are sent, not names
        ([{"key": 1, "name": "One"}], "1", True),  # PHP: "1" == 1
        ([{"key": "1", "name": "One"}], 1, True),
        ([{"key": "1", "name": "One"}], 1.0, True),
        ([{"key": "1", "name": "One"}], True, False),
        ([{"key": True, "name": "Yes"}], True, True),
        ([{"key": "a"}, {"key": "b"}], ["a", "b"], True),
        ([{"key": "a"}, {"key": "b"}], ["a", "c"], False),
        ([{"key": "a"}], {"a": 1}, False),
    ],
)
def test_options_compare_like_php(options: list[dict[str, Any]], value: Any, ok: bool) -> None:
    findings = runvalidation.check(service({"key": "k", "options": options}), config({"k": value}))
    assert (findings.problems == ()) is ok


def test_an_options_message_lists_keys_names_and_how_many_more() -> None:
    options = [{"key": f"o{i}", "name": f"Option {i}"} for i in range(15)]
    findings = runvalidation.check(service({"key": "k", "options": options}), config({"k": "x"}))
    listed = ", ".join(f"o{i} (Option {i})" for i in range(12))
    assert findings.problems == (f"config key \"k\": 'x' is not one of the options {listed}, and 3 more",)


def test_values_from_secrets_are_never_shown_and_the_source_is_named() -> None:
    origin = runconfig.Origin("Secret", "creds", "pin")
    findings = runvalidation.check(
        service({"key": "k", "type": "integer"}), config({"k": "s3cret"}, {"k": origin})
    )
    assert findings.problems == (
        'config key "k" must be an integer (catalog type "integer"), not the value '
        '(from Secret "creds" key "pin")',
    )


@pytest.mark.parametrize(
    ("items", "values", "unknown", "message"),
    [
        (
            [{"key": "user_id"}],
            {"user_id": 1, "userid": 2},
            ("userid",),
            'config key "userid" is not declared by the service; did you mean "user_id"?',
        ),
        (
            [{"key": "a"}, {"key": "b"}],
            {"zzz": 1},
            ("zzz",),
            'config key "zzz" is not declared by the service (declared: a, b)',
        ),
        ([], {"x": 1}, ("x",), 'config key "x" is not declared: the service takes no config'),
    ],
)
def test_unknown_keys_are_reported_with_a_hint(
    items: list[dict[str, Any]], values: dict[str, Any], unknown: tuple[str, ...], message: str
) -> None:
    findings = runvalidation.check(service(*items), config(values))
    assert findings.problems == ()
    assert findings.unknown == unknown
    assert findings.unknown_message == message


def test_a_missing_service_message_suggests_close_ids() -> None:
    assert runvalidation.missing_service("eca:foo", ["eca::foo", "eca::bar"], connection="site") == (
        'service "eca:foo" is not in the catalog of connection "site" (2 services); did you mean "eca::foo"? '
        "Check spec.serviceId against the connection's status.services and create a new ServiceRun (the spec "
        "is immutable). Execute was not called."
    )
