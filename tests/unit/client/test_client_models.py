"""Response models keep unknown fields and PHP's accidental shapes; request models forbid extras."""

from __future__ import annotations

from typing import Any

import pydantic
import pytest

from orchestration_operator.client import ConfigItem, ExecuteResult, Option, PollItem, Service, models

SERVICE = {
    "id": "eca::send_welcome_email",
    "label": "Send welcome email",
    "description": "Sends a welcome email to a given user.",
    "config": [
        {
            "key": "user_id",
            "label": "User ID",
            "description": "The numeric user ID.",
            "required": True,
            "type": "entity:user",
            "editable": False,
            "default_value": "1",
            "weight": -3,
            "options": [{"key": "1", "name": "Admin"}, {"key": 2, "name": "Editor"}],
            "x_future": {"nested": True},
        }
    ],
    "provider_label": "ECA",
}


def test_service_with_all_nine_config_fields() -> None:
    (service,) = models.ServiceList.validate_python([SERVICE])
    assert service.id == "eca::send_welcome_email"
    assert service.label == "Send welcome email"
    assert service.description == "Sends a welcome email to a given user."
    assert service.config == [
        ConfigItem(
            key="user_id",
            label="User ID",
            description="The numeric user ID.",
            required=True,
            type="entity:user",
            editable=False,
            default_value="1",
            weight=-3,
            options=[Option(key="1", name="Admin"), Option(key=2, name="Editor")],
            x_future={"nested": True},
        )
    ]


def test_unknown_fields_are_kept_at_every_level() -> None:
    (service,) = models.ServiceList.validate_python([SERVICE])
    assert service.model_extra == {"provider_label": "ECA"}
    assert service.config[0].model_extra == {"x_future": {"nested": True}}
    assert service.model_dump()["config"][0]["x_future"] == {"nested": True}


def test_config_item_defaults_when_fields_are_missing() -> None:
    assert ConfigItem.model_validate({"key": "k"}) == ConfigItem(
        key="k",
        label="",
        description="",
        required=False,
        type="string",
        editable=True,
        default_value=None,
        weight=0,
        options=[],
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # A PHP array that is not a 0..n-1 list is JSON-encoded as an object.
        ({"config": {"a": {"key": "a"}, "b": {"key": "b"}}}, {"config": ["a", "b"]}),
        ({"config": []}, {"config": []}),
        ({"description": None}, {"description": ""}),
        ({"label": 12}, {"label": "12"}),
    ],
)
def test_service_tolerates_php_shapes(raw: dict[str, Any], expected: dict[str, Any]) -> None:
    service = Service.model_validate({"id": "eca::x", **raw})
    if "config" in expected:
        assert [item.key for item in service.config] == expected["config"]
    for field in ("description", "label"):
        if field in expected:
            assert getattr(service, field) == expected[field]


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ([{"key": "a", "name": "A"}], [Option(key="a", name="A")]),
        ({"0": {"key": "a", "name": "A"}}, [Option(key="a", name="A")]),
        ({"a": "A", "b": "B"}, [Option(key="a", name="A"), Option(key="b", name="B")]),
        (["x", 3], [Option(key="x", name="x"), Option(key=3, name="3")]),
        ([{"key": True, "name": None}], [Option(key=True, name="")]),
    ],
)
def test_options_shapes(options: Any, expected: list[Option]) -> None:
    assert ConfigItem.model_validate({"key": "k", "options": options}).options == expected


@pytest.mark.parametrize(
    ("weight", "expected"),
    [(0, 0), ("5", 5), (-2, -2), (1.5, 1.5)],
)
def test_weight_accepts_numbers_and_numeric_strings(weight: Any, expected: float) -> None:
    assert ConfigItem.model_validate({"key": "k", "weight": weight}).weight == expected


def test_service_list_given_as_object_keeps_order() -> None:
    services = models.ServiceList.validate_python({"5": {"id": "b::1"}, "2": {"id": "a::2"}})
    assert [s.id for s in services] == ["b::1", "a::2"]


@pytest.mark.parametrize(
    ("raw", "timestamp", "item_id"),
    [
        ({"timestamp": 1748000000, "data": 1}, 1748000000, None),
        ({"timestamp": 1764000000.999}, 1764000000, None),  # floored: the item stays in its second
        ({"timestamp": "1748000000"}, 1748000000, None),
        ({"timestamp": "1748000000.5"}, 1748000000, None),
        ({"timestamp": 0}, 0, None),
        ({"id": "17"}, None, "17"),
        ({"id": 17}, None, "17"),
        ({"id": "0"}, None, "0"),
        ({"id": "node-9"}, None, "node-9"),
    ],
)
def test_poll_item_cursor_fields(raw: dict[str, Any], timestamp: int | None, item_id: str | None) -> None:
    item = PollItem.model_validate(raw)
    assert (item.timestamp, item.id) == (timestamp, item_id)


@pytest.mark.parametrize("timestamp", [True, "soon", [1]])
def test_poll_item_refuses_non_numeric_timestamps(timestamp: Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        PollItem.model_validate({"timestamp": timestamp})


def test_poll_item_keeps_any_data_and_unknown_fields() -> None:
    item = PollItem.model_validate({"id": "3", "data": [{"a": None}], "source": "eca"})
    assert item.data == [{"a": None}]
    assert item.model_extra == {"source": "eca"}


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (models.ExecuteRequest, {"id": "a::b", "config": {}, "extra": 1}),
        (models.RegisterWebhookRequest, {"id": "a", "webHookUrl": "https://x", "secret": "no"}),
        (models.UnregisterWebhookRequest, {"id": "a", "url": "https://x"}),
        (models.PollRequest, {"name": "n", "timestamp": 1, "limit": 10}),
    ],
)
def test_request_models_forbid_unknown_fields(
    model: type[pydantic.BaseModel], fields: dict[str, Any]
) -> None:
    with pytest.raises(pydantic.ValidationError, match="Extra inputs are not permitted"):
        model.model_validate(fields)


@pytest.mark.parametrize(
    "fields",
    [
        {"name": "n"},
        {"name": "n", "timestamp": 1, "id": "1"},
        {"name": "n", "timestamp": 1.5},
        {"name": "n", "timestamp": 1.0},
        {"name": "n", "timestamp": True},
        {"name": "n", "timestamp": -1},
        {"name": "n", "id": 5},
    ],
)
def test_poll_request_needs_exactly_one_integer_or_string_cursor(fields: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        models.PollRequest.model_validate(fields)


@pytest.mark.parametrize(
    ("request_model", "wire"),
    [
        (models.PollRequest(name="n", timestamp=0), {"name": "n", "timestamp": 0}),
        (models.PollRequest(name="n", id="0"), {"name": "n", "id": "0"}),
        (
            models.RegisterWebhookRequest(id="h", url="https://p.example/w"),
            {"id": "h", "webHookUrl": "https://p.example/w"},
        ),
        (models.ExecuteRequest(id="a::b", config={"k": None}), {"id": "a::b", "config": {"k": None}}),
    ],
)
def test_request_wire_form(request_model: models._Request, wire: dict[str, Any]) -> None:
    assert request_model.wire() == wire


@pytest.mark.parametrize(
    ("value", "reported"),
    [
        ({"success": False, "error": "Agent is not available."}, "Agent is not available."),
        ({"success": False, "message": "nope"}, "nope"),
        ({"success": False}, "the service reported success: false"),
        ({"success": True, "error": "ignored"}, None),
        ({"success": 0}, None),
        ("undefined", None),
        ([{"success": False}], None),
    ],
)
def test_execute_result_reported_error(value: Any, reported: str | None) -> None:
    assert ExecuteResult(value=value, raw=b"").reported_error == reported


def test_execute_result_repr_hides_the_value() -> None:
    result = ExecuteResult(value={"email": "jane@example.com"}, raw=b'{"email":"jane@example.com"}')
    assert repr(result) == "ExecuteResult(<dict, 28 bytes>)"
