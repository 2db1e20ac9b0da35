"""The HTTP surface: discovery, OpenAPI, verbs, content types, tables, watch streams over HTTP."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from orchestration_operator.testing.kube import endpoints, samples, server

CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WIDGETS = "/apis/sandbox.example.com/v1/namespaces/default/widgets"
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"
TABLE = (
    "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,"
    "application/json"
)


async def add_crd(client: httpx.AsyncClient, **kw: Any) -> None:
    response = await client.post(CRDS, json=samples.crd(**kw))
    assert response.status_code == 201, response.text


async def test_version_and_core_discovery(client: httpx.AsyncClient, sandbox: server.KubeSandbox) -> None:
    assert (await client.get("/version")).json()["gitVersion"] == "v1.32.0-sandbox"
    assert (await client.get("/api")).json() == {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": f"127.0.0.1:{sandbox.port}"}
        ],
    }
    core = (await client.get("/api/v1")).json()
    secrets = next(r for r in core["resources"] if r["name"] == "secrets")
    assert (secrets["kind"], secrets["namespaced"], secrets["singularName"]) == ("Secret", True, "secret")
    assert set(secrets["verbs"]) == {
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    }


async def test_a_crd_is_discoverable_at_once(client: httpx.AsyncClient) -> None:
    groups = [g["name"] for g in (await client.get("/apis")).json()["groups"]]
    assert "sandbox.example.com" not in groups
    assert "coordination.k8s.io" in groups
    assert "rbac.authorization.k8s.io" in groups
    await add_crd(client)
    listed = (await client.get("/apis")).json()["groups"]
    group = next(g for g in listed if g["name"] == "sandbox.example.com")
    assert group["preferredVersion"] == {"groupVersion": "sandbox.example.com/v1", "version": "v1"}
    assert (await client.get("/apis/sandbox.example.com")).json()["kind"] == "APIGroup"
    resources = (await client.get("/apis/sandbox.example.com/v1")).json()["resources"]
    assert [(r["name"], r["verbs"] if "/" in r["name"] else None) for r in resources] == [
        ("widgets", None),
        ("widgets/status", ["get", "patch", "update"]),
    ]
    assert resources[0]["shortNames"] == ["wd"]
    assert resources[0]["categories"] == ["sandbox"]


async def test_openapi_v3_has_what_kubectl_apply_checks(client: httpx.AsyncClient) -> None:
    await add_crd(client)
    index = (await client.get("/openapi/v3")).json()["paths"]
    url = index["apis/sandbox.example.com/v1"]["serverRelativeURL"]
    assert url.startswith("/openapi/v3/apis/sandbox.example.com/v1?hash=")
    document = (await client.get(url)).json()
    patch = document["paths"]["/apis/sandbox.example.com/v1/namespaces/{namespace}/widgets/{name}"]["patch"]
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "sandbox.example.com",
        "version": "v1",
        "kind": "Widget",
    }
    assert {"fieldValidation", "fieldManager", "dryRun", "force"} <= {p["name"] for p in patch["parameters"]}
    schema = document["components"]["schemas"]["com.example.sandbox.v1.Widget"]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": "sandbox.example.com", "version": "v1", "kind": "Widget"}
    ]
    core = (await client.get(index["api/v1"]["serverRelativeURL"])).json()
    assert "/api/v1/namespaces/{namespace}/secrets/{name}" in core["paths"]
    assert (await client.get("/openapi/v2")).status_code == 404


async def test_create_get_update_patch_delete(client: httpx.AsyncClient) -> None:
    await add_crd(client)
    created = await client.post(WIDGETS, json=samples.obj("w", spec={"size": 1}))
    assert created.status_code == 201
    body = created.json()
    got = (await client.get(f"{WIDGETS}/w")).json()
    assert got == body
    stale = dict(body, spec={"size": 2})
    assert (await client.put(f"{WIDGETS}/w", json=stale)).status_code == 200
    conflict = await client.put(f"{WIDGETS}/w", json=dict(body, spec={"size": 3}))
    assert conflict.status_code == 409
    assert conflict.json()["reason"] == "Conflict"
    patched = await client.patch(
        f"{WIDGETS}/w",
        content=json.dumps({"spec": {"size": 4}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.json()["spec"] == {"size": 4}
    assert patched.json()["metadata"]["generation"] == 3
    status = await client.patch(
        f"{WIDGETS}/w/status",
        content=json.dumps({"status": {"phase": "Ready"}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert status.json()["status"] == {"phase": "Ready"}
    deleted = await client.delete(f"{WIDGETS}/w")
    assert deleted.status_code == 200
    missing = await client.get(f"{WIDGETS}/w")
    assert missing.status_code == 404
    assert missing.json()["message"] == 'widgets.sandbox.example.com "w" not found'


async def test_strategic_merge_patch_is_415_on_custom_resources_only(client: httpx.AsyncClient) -> None:
    await add_crd(client)
    await client.post(WIDGETS, json=samples.obj("w"))
    smp = {"Content-Type": "application/strategic-merge-patch+json"}
    refused = await client.patch(f"{WIDGETS}/w", content="{}", headers=smp)
    assert refused.status_code == 415
    assert refused.json()["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )
    await client.post(CONFIGMAPS, json={"metadata": {"name": "c"}, "data": {"a": "1"}})
    accepted = await client.patch(f"{CONFIGMAPS}/c", content='{"data":{"b":"2"}}', headers=smp)
    assert accepted.json()["data"] == {"a": "1", "b": "2"}


async def test_apply_patch_creates_with_201_then_updates(client: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/apply-patch+yaml"}
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: '1'\n"
    first = await client.patch(f"{CONFIGMAPS}/c?fieldManager=test", content=manifest, headers=headers)
    assert first.status_code == 201
    second = await client.patch(
        f"{CONFIGMAPS}/c?fieldManager=test", content=manifest.replace("'1'", "'2'"), headers=headers
    )
    assert (second.status_code, second.json()["data"]) == (200, {"a": "2"})


async def test_delete_with_finalizers_is_202_until_they_are_gone(client: httpx.AsyncClient) -> None:
    await add_crd(client)
    await client.post(WIDGETS, json=samples.obj("w", metadata={"name": "w", "finalizers": ["x/y"]}))
    pending = await client.request("DELETE", f"{WIDGETS}/w", json={"propagationPolicy": "Background"})
    assert pending.status_code == 202
    assert pending.json()["metadata"]["deletionTimestamp"]
    ops = [{"op": "remove", "path": "/metadata/finalizers"}]
    await client.patch(
        f"{WIDGETS}/w", content=json.dumps(ops), headers={"Content-Type": "application/json-patch+json"}
    )
    assert (await client.get(f"{WIDGETS}/w")).status_code == 404


async def test_tables_for_get_and_list(client: httpx.AsyncClient) -> None:
    await add_crd(client)
    await client.post(WIDGETS, json=samples.obj("w", spec={"size": 5}))
    await client.patch(
        f"{WIDGETS}/w/status",
        content=json.dumps({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    listed = (await client.get(WIDGETS, headers={"Accept": TABLE})).json()
    assert (listed["kind"], listed["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert [c["name"] for c in listed["columnDefinitions"]] == ["Name", "Ready", "Size", "Age"]
    assert listed["rows"][0]["cells"][:3] == ["w", "True", 5]
    single = (
        await client.get(f"{WIDGETS}/w", headers={"Accept": TABLE}, params={"includeObject": "Object"})
    ).json()
    assert single["rows"][0]["object"]["spec"] == {"size": 5}


async def test_partial_object_metadata(client: httpx.AsyncClient) -> None:
    await client.post(CONFIGMAPS, json={"metadata": {"name": "c", "labels": {"a": "b"}}, "data": {"k": "v"}})
    accept = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
    listed = (await client.get(CONFIGMAPS, headers={"Accept": accept})).json()
    assert listed["kind"] == "PartialObjectMetadataList"
    assert listed["items"][0]["metadata"]["labels"] == {"a": "b"}
    assert "data" not in listed["items"][0]


async def test_list_with_limit_and_continue(client: httpx.AsyncClient) -> None:
    for n in range(5):
        await client.post(CONFIGMAPS, json={"metadata": {"name": f"c{n}"}})
    first = (await client.get(CONFIGMAPS, params={"limit": 2})).json()
    assert [i["metadata"]["name"] for i in first["items"]] == ["c0", "c1"]
    assert first["metadata"]["remainingItemCount"] == 3
    second = (
        await client.get(CONFIGMAPS, params={"limit": 2, "continue": first["metadata"]["continue"]})
    ).json()
    assert [i["metadata"]["name"] for i in second["items"]] == ["c2", "c3"]
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert first["kind"] == "ConfigMapList"
    assert first["apiVersion"] == "v1"


async def test_deletecollection_with_a_label_selector(client: httpx.AsyncClient) -> None:
    for n in range(4):
        await client.post(CONFIGMAPS, json={"metadata": {"name": f"c{n}", "labels": {"odd": str(n % 2)}}})
    response = await client.delete(CONFIGMAPS, params={"labelSelector": "odd=1"})
    assert [i["metadata"]["name"] for i in response.json()["items"]] == ["c1", "c3"]
    remaining = (await client.get(CONFIGMAPS)).json()["items"]
    assert [i["metadata"]["name"] for i in remaining] == ["c0", "c2"]


async def test_events_share_storage_across_both_apis(client: httpx.AsyncClient) -> None:
    event = {
        "metadata": {"generateName": "w."},
        "involvedObject": {"kind": "Widget", "name": "w", "namespace": "default"},
        "reason": "Hello",
        "message": "hello world",
        "type": "Normal",
    }
    created = await client.post("/api/v1/namespaces/default/events", json=event)
    assert created.status_code == 201
    assert created.json()["metadata"]["name"].startswith("w.")
    viewed = (await client.get("/apis/events.k8s.io/v1/namespaces/default/events")).json()
    assert viewed["kind"] == "EventList"
    assert viewed["apiVersion"] == "events.k8s.io/v1"
    item = viewed["items"][0]
    assert (item["apiVersion"], item["note"], item["regarding"]["name"]) == (
        "events.k8s.io/v1",
        "hello world",
        "w",
    )
    selected = (
        await client.get(
            "/api/v1/namespaces/default/events",
            params={"fieldSelector": "involvedObject.name=w,reason=Hello"},
        )
    ).json()["items"]
    assert len(selected) == 1


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/apis/nothing.example.com/v1/things", 404),
        ("/api/v1/namespaces/default/secrets/s/status", 404),  # no such subresource
        ("/api/v1/namespaces/default/namespaces", 404),  # cluster-scoped under a namespace
        ("/api/v1/secrets/s", 404),  # namespaced item without a namespace
        ("/nowhere", 404),
    ],
)
async def test_unknown_paths_are_404(client: httpx.AsyncClient, path: str, status: int) -> None:
    response = await client.get(path)
    assert response.status_code == status
    assert response.json()["kind"] == "Status"


async def test_bad_bodies(client: httpx.AsyncClient) -> None:
    bad_json = await client.post(CONFIGMAPS, content="{", headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400
    other = await client.post(CONFIGMAPS, content="x", headers={"Content-Type": "application/cbor"})
    assert other.status_code == 415
    yaml_body = await client.post(
        CONFIGMAPS, content="metadata:\n  name: y\n", headers={"Content-Type": "application/yaml"}
    )
    assert yaml_body.status_code == 201
    bad_validation = await client.post(
        CONFIGMAPS, params={"fieldValidation": "Loose"}, json={"metadata": {"name": "z"}}
    )
    assert bad_validation.status_code == 400


# --------------------------------------------------------------------------------------------- watch


async def lines(response: httpx.Response, count: int) -> list[dict[str, Any]]:
    out = []
    async with asyncio.timeout(5):
        async for line in response.aiter_lines():
            if line:
                out.append(json.loads(line))
            if len(out) == count:
                break
    return out


async def test_watch_over_http(client: httpx.AsyncClient) -> None:
    listed = (await client.get(CONFIGMAPS)).json()
    rv = listed["metadata"]["resourceVersion"]
    params = {"watch": "true", "resourceVersion": rv, "allowWatchBookmarks": "true"}
    async with client.stream("GET", CONFIGMAPS, params=params) as response:
        assert response.headers["Content-Type"].startswith("application/json")
        await client.post(CONFIGMAPS, json={"metadata": {"name": "c"}})
        events = await lines(response, 2)  # the ADDED, then a bookmark after 0.2 s of quiet
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"]
    assert (
        events[1]["object"]["metadata"]["resourceVersion"]
        == events[0]["object"]["metadata"]["resourceVersion"]
    )


async def test_watch_timeout_seconds_ends_the_stream(client: httpx.AsyncClient) -> None:
    async with asyncio.timeout(5):
        response = await client.get(CONFIGMAPS, params={"watch": "1", "timeoutSeconds": "0.3"})
    assert (response.status_code, response.text) == (200, "")


async def test_watch_disconnect_is_noticed(client: httpx.AsyncClient, sandbox: server.KubeSandbox) -> None:
    async with client.stream("GET", CONFIGMAPS, params={"watch": "true"}) as response:
        assert response.status_code == 200
        assert sandbox.watch_count(resource="configmaps") == 1
    async with asyncio.timeout(5):
        while sandbox.watch_count(resource="configmaps"):
            await asyncio.sleep(0.01)


async def test_closed_watches_end_and_compacted_history_is_410(
    client: httpx.AsyncClient, sandbox: server.KubeSandbox
) -> None:
    rv = (await client.get(CONFIGMAPS)).json()["metadata"]["resourceVersion"]
    async with client.stream("GET", CONFIGMAPS, params={"watch": "true", "resourceVersion": rv}) as response:
        await asyncio.sleep(0)
        async with asyncio.timeout(5):
            while not sandbox.watch_count(resource="configmaps"):
                await asyncio.sleep(0.01)
        assert sandbox.close_watches(resource="configmaps") == 1
        assert await lines(response, 1) == []  # the stream just ends
    sandbox.compact()
    async with client.stream("GET", CONFIGMAPS, params={"watch": "true", "resourceVersion": rv}) as response:
        (event,) = await lines(response, 1)
    assert (response.status_code, event["type"], event["object"]["code"]) == (200, "ERROR", 410)


async def test_table_watch_over_http(client: httpx.AsyncClient) -> None:
    async with client.stream(
        "GET", CONFIGMAPS, params={"watch": "true"}, headers={"Accept": TABLE}
    ) as response:
        await client.post(CONFIGMAPS, json={"metadata": {"name": "c"}, "data": {"a": "b"}})
        (event,) = await lines(response, 1)
    assert event["type"] == "ADDED"
    assert event["object"]["kind"] == "Table"
    assert event["object"]["rows"][0]["cells"][:2] == ["c", 1]


async def test_requests_are_recorded(client: httpx.AsyncClient, sandbox: server.KubeSandbox) -> None:
    await client.get("/api/v1/namespaces/default/secrets/missing")
    assert sandbox.request_log()[-1] == (
        "GET",
        "/api/v1/namespaces/default/secrets/missing",
        "",
        404,
        "sandbox-admin",
    )


async def test_the_request_log_names_who_sent_each_request(sandbox: server.KubeSandbox) -> None:
    sandbox.add_token("reader-token", user="reader", rules=[])
    path = "/api/v1/namespaces/default/configmaps"
    async with httpx.AsyncClient(base_url=sandbox.url) as http:
        for headers in ({"Authorization": "Bearer reader-token"}, {"Authorization": "Bearer wrong"}, {}):
            await http.get(path, headers=headers)
    assert [(r.user, r.status) for r in sandbox.request_log()[-3:]] == [
        ("reader", 403),
        ("", 401),
        ("system:anonymous", 200),
    ]


async def test_request_log_is_bounded_and_positioned() -> None:
    async with server.KubeSandbox(record_requests=3) as small, httpx.AsyncClient(base_url=small.url) as http:
        for n in range(5):
            await http.get(f"/api/v1/namespaces/default/configmaps/c{n}")
        assert small.request_count == 5
        assert [r.path.rsplit("/", 1)[1] for r in small.request_log()] == ["c2", "c3", "c4"]
        assert [r.path.rsplit("/", 1)[1] for r in small.request_log(since=4)] == ["c4"]
        assert small.request_log(since=5) == []


@pytest.mark.parametrize(
    ("path", "parsed"),
    [
        ("/api", None),
        ("/api/v1", None),
        ("/apis/apps/v1", None),
        ("/api/v1/namespaces", endpoints.ResourcePath("", "v1", "namespaces")),
        ("/api/v1/namespaces/team", endpoints.ResourcePath("", "v1", "namespaces", name="team")),
        (
            "/api/v1/namespaces/team/status",
            endpoints.ResourcePath("", "v1", "namespaces", name="team", subresource="status"),
        ),
        ("/api/v1/namespaces/team/secrets", endpoints.ResourcePath("", "v1", "secrets", namespace="team")),
        (
            "/api/v1/namespaces/team/secrets/s",
            endpoints.ResourcePath("", "v1", "secrets", namespace="team", name="s"),
        ),
        (
            "/apis/x.io/v1/namespaces/team/things/t/status",
            endpoints.ResourcePath("x.io", "v1", "things", namespace="team", name="t", subresource="status"),
        ),
        ("/apis/x.io/v1/things", endpoints.ResourcePath("x.io", "v1", "things")),
    ],
)
def test_parse_path(path: str, parsed: endpoints.ResourcePath | None) -> None:
    assert endpoints.parse_path(path) == parsed


async def test_async_fixture_serves_on_the_test_loop(async_kube_sandbox: server.KubeSandbox) -> None:
    async with httpx.AsyncClient(base_url=async_kube_sandbox.url) as http:
        assert (await http.get("/version")).json()["minor"] == "32"
    assert async_kube_sandbox.get_object("", "v1", "namespaces", None, "default") is not None
