"""POST /orchestration/poll: cursor modes and every variant switch of the poll semantics."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from orchestration_operator.testing.drupal import CatalogError, ThreadedEmulator

TS_ITEMS = [
    {"timestamp": 200, "data": "b"},
    {"timestamp": 100, "data": "a"},
    {"timestamp": 300, "data": "c1"},
    {"timestamp": 300, "data": "c2"},
]
ID_ITEMS = [
    {"id": "18", "data": 18},
    {"id": "105", "data": 105},
    {"id": "17", "data": 17},
    {"id": "9", "data": 9},
]


def _poll(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/orchestration/poll", json=body)


@pytest.fixture
def polled(site: ThreadedEmulator) -> ThreadedEmulator:
    site.clear_poll_items()
    site.add_poll_items("ts", "timestamp", TS_ITEMS)
    site.add_poll_items("ids", "id", ID_ITEMS)
    return site


@pytest.mark.parametrize(
    ("comparison", "cursor", "expected"),
    [
        ("gt", 200, ["c1", "c2"]),
        ("ge", 200, ["b", "c1", "c2"]),
        ("all", 200, ["a", "b", "c1", "c2"]),
        ("gt", 0, ["a", "b", "c1", "c2"]),
        ("gt", 300, []),
        ("ge", 300, ["c1", "c2"]),
        ("gt", -5, ["a", "b", "c1", "c2"]),
    ],
)
def test_timestamp_comparisons(
    polled: ThreadedEmulator, http: httpx.Client, comparison: str, cursor: int, expected: list[str]
) -> None:
    polled.update_settings(poll_comparison=comparison)
    response = _poll(http, name="ts", timestamp=cursor)
    assert response.status_code == 200
    assert [item["data"] for item in response.json()] == expected
    assert all(
        set(item) == {"timestamp", "data"} and isinstance(item["timestamp"], int) for item in response.json()
    )


@pytest.mark.parametrize(
    ("comparison", "cursor", "expected"),
    [
        ("gt", "17", [18, 105]),  # numeric: "105" > "18" > "17" though "105" < "17" as text
        ("ge", "17", [17, 18, 105]),
        ("gt", "0", [9, 17, 18, 105]),
        ("all", "105", [9, 17, 18, 105]),
        ("gt", "abc", []),  # text comparison when the cursor is not numeric
    ],
)
def test_id_comparisons_are_numeric_for_digit_strings(
    polled: ThreadedEmulator, http: httpx.Client, comparison: str, cursor: str, expected: list[int]
) -> None:
    polled.update_settings(poll_comparison=comparison)
    response = _poll(http, name="ids", id=cursor)
    assert response.json() == [{"id": str(value), "data": value} for value in expected]


@pytest.mark.parametrize(
    ("order", "expected"),
    [
        ("ascending", ["a", "b", "c1", "c2"]),
        ("descending", ["c2", "c1", "b", "a"]),
        ("insertion", ["b", "a", "c1", "c2"]),
    ],
)
def test_orders(polled: ThreadedEmulator, http: httpx.Client, order: str, expected: list[str]) -> None:
    polled.update_settings(poll_order=order, poll_comparison="all")
    assert [item["data"] for item in _poll(http, name="ts", timestamp=0).json()] == expected


def test_shuffled_order_is_seeded(polled: ThreadedEmulator, http: httpx.Client) -> None:
    polled.add_poll_items("many", "id", [{"id": str(n), "data": n} for n in range(1, 30)])
    polled.update_settings(poll_order="shuffled", poll_shuffle_seed=7)
    first = [item["data"] for item in _poll(http, name="many", id="0").json()]
    assert first == [item["data"] for item in _poll(http, name="many", id="0").json()]
    assert sorted(first) == list(range(1, 30))
    assert first != sorted(first)
    polled.update_settings(poll_shuffle_seed=8)
    assert [item["data"] for item in _poll(http, name="many", id="0").json()] != first


def test_polling_consumes_nothing(polled: ThreadedEmulator, http: httpx.Client) -> None:
    answers = [_poll(http, name="ts", timestamp=150).json() for _ in range(3)]
    assert answers[0] == answers[1] == answers[2] != []
    polled.add_poll_items("ts", "timestamp", [{"timestamp": 300, "data": "late, same second"}])
    assert [item["data"] for item in _poll(http, name="ts", timestamp=300).json()] == []
    polled.update_settings(poll_comparison="ge")
    assert [item["data"] for item in _poll(http, name="ts", timestamp=300).json()] == [
        "c1",
        "c2",
        "late, same second",
    ]


@pytest.mark.parametrize(
    ("body", "status", "answer"),
    [
        ({"name": "ts"}, 400, {"error": "No timestamp or id provided."}),
        ({"name": "ts", "timestamp": None, "id": None}, 400, {"error": "No timestamp or id provided."}),
        (None, 400, {"error": "No timestamp or id provided."}),
        (
            {"name": "ids", "timestamp": None, "id": "17"},
            200,
            [{"id": "18", "data": 18}, {"id": "105", "data": 105}],
        ),
        ({"name": "ts", "timestamp": 0}, 200, None),
        ({"name": "ids", "id": "0"}, 200, None),
        ({"name": "ids", "id": 104}, 200, [{"id": "105", "data": 105}]),
        (
            {"name": "ts", "timestamp": "250"},
            200,
            [{"timestamp": 300, "data": "c1"}, {"timestamp": 300, "data": "c2"}],
        ),
    ],
)
def test_cursor_presence_follows_php_isset(
    polled: ThreadedEmulator, http: httpx.Client, body: Any, status: int, answer: Any
) -> None:
    response = http.post("/orchestration/poll", json=body)
    assert response.status_code == status
    if answer is None:
        assert len(response.json()) == 4
    else:
        assert response.json() == answer


@pytest.mark.parametrize(
    ("variant", "status", "answer"),
    [
        ("timestamp", 200, [{"timestamp": 300, "data": "c1"}, {"timestamp": 300, "data": "c2"}]),
        ("id", 200, []),  # the id cursor on a timestamp source: no model reacts
        ("reject_400", 400, {"error": "Provide either a timestamp or an id, not both."}),
    ],
)
def test_both_cursor_keys(
    polled: ThreadedEmulator, http: httpx.Client, variant: str, status: int, answer: Any
) -> None:
    polled.update_settings(both_cursor_keys=variant)
    response = _poll(http, name="ts", timestamp=200, id="17")
    assert (response.status_code, response.json()) == (status, answer)


@pytest.mark.parametrize(
    ("variant", "status", "content_type"),
    [
        ("accept", 200, "application/json"),
        ("reject_400", 400, "application/json"),
        ("reject_500", 500, "text/html"),
    ],
)
def test_float_timestamps(
    polled: ThreadedEmulator, http: httpx.Client, variant: str, status: int, content_type: str
) -> None:
    polled.update_settings(float_timestamps=variant)
    response = _poll(http, name="ts", timestamp=200.5)
    assert response.status_code == status
    assert response.headers["content-type"].startswith(content_type)
    if status == 200:
        assert [item["data"] for item in response.json()] == ["c1", "c2"]
    if status == 400:
        assert response.json() == {"error": "Invalid timestamp."}


@pytest.mark.parametrize(("mode", "content_type"), [("json", "application/json"), ("html", "text/html")])
@pytest.mark.parametrize(
    "body",
    [{"name": "ts", "timestamp": True}, {"name": "ts", "timestamp": "soon"}, {"name": "ids", "id": [1]}],
)
def test_unreadable_cursors(
    polled: ThreadedEmulator, http: httpx.Client, mode: str, content_type: str, body: Any
) -> None:
    polled.update_settings(malformed_request=mode)
    response = http.post("/orchestration/poll", json=body)
    assert response.status_code == 500
    assert response.headers["content-type"].startswith(content_type)


@pytest.mark.parametrize(
    ("variant", "status", "answer"),
    [("empty", 200, []), ("error_500", 500, {"error": 'No poll event "nobody" is configured.'})],
)
def test_unknown_poll_name(
    polled: ThreadedEmulator, http: httpx.Client, variant: str, status: int, answer: Any
) -> None:
    polled.update_settings(unknown_poll=variant)
    response = _poll(http, name="nobody", timestamp=0)
    assert (response.status_code, response.json()) == (status, answer)


def test_mode_mismatch_is_empty_even_with_error_variant(polled: ThreadedEmulator, http: httpx.Client) -> None:
    polled.update_settings(unknown_poll="error_500")
    assert _poll(http, name="ids", timestamp=0).json() == []


def test_items_without_cursor_get_now_or_next_id(site: ThreadedEmulator) -> None:
    site.clear_poll_items()
    before = int(time.time())
    site.add_poll_items("now", "timestamp", [{"data": 1}])
    site.add_poll_items(
        "seq", "id", [{"id": "41", "data": "x"}, {"data": "y"}, {"data": "z"}, {"id": 7, "data": "w"}]
    )
    (item,) = site.poll_sources["now"]["items"]
    assert before <= item["timestamp"] <= int(time.time())
    assert [i["id"] for i in site.poll_sources["seq"]["items"]] == ["41", "42", "43", "7"]


@pytest.mark.parametrize(
    ("name", "mode", "items", "message"),
    [
        ("x", "cursor", [], "poll mode"),
        ("ts", "id", [], "is in timestamp mode"),
        ("x", "timestamp", [{"timestamp": 1.5}], "integers"),
        ("x", "timestamp", [{"timestamp": 1, "id": "2"}], "only 'timestamp' and 'data'"),
        ("x", "id", [{"id": 1.5}], "ids are strings"),
    ],
)
def test_add_poll_items_validates(
    polled: ThreadedEmulator, name: str, mode: str, items: Any, message: str
) -> None:
    with pytest.raises(CatalogError, match=message):
        polled.add_poll_items(name, mode, items)


def test_demo_poll_sources(site: ThreadedEmulator, http: httpx.Client) -> None:
    articles = _poll(http, name="new_articles", timestamp=1748000000).json()
    assert [item["data"]["nid"] for item in articles] == [102, 103, 104]
    orders = _poll(http, name="order_updates", id="17").json()
    assert [item["id"] for item in orders] == ["18", "105"]
