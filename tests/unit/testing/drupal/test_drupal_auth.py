"""Authentication and access as Drupal decides them: 401 vs 403, flood control, sessions and CSRF."""

from __future__ import annotations

import base64
import pathlib
import shutil
import ssl
import subprocess
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from orchestration_operator.testing.drupal import ThreadedEmulator, User

Clients = Callable[..., httpx.Client]
EXECUTE = "/orchestration/service/execute"
WELCOME = {"id": "eca::send_welcome_email", "config": {"user_id": "1"}}


def _login(client: httpx.Client, name: str = "admin", password: str = "admin") -> httpx.Response:
    return client.post("/user/login?_format=json", json={"name": name, "pass": password})


@pytest.mark.parametrize(
    ("page_format", "content_type", "marker"),
    [("html", "text/html", "Please log in"), ("json", "application/json", "No authentication credentials")],
)
def test_no_credentials_is_401_with_challenge(
    site: ThreadedEmulator, anon: httpx.Client, page_format: str, content_type: str, marker: str
) -> None:
    site.update_settings(error_page_format=page_format, site_name="Acme Intranet")
    response = anon.get("/orchestration/services")
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="Acme Intranet"'
    assert response.headers["content-type"].startswith(content_type)
    assert marker in response.text
    if page_format == "json":
        assert response.json() == {"message": "No authentication credentials provided."}
    assert site.calls("services", status=401, user=None, auth=None)


def test_empty_site_name_gives_drupal_default_realm(site: ThreadedEmulator, anon: httpx.Client) -> None:
    site.update_settings(site_name="")
    assert (
        anon.get("/orchestration/services").headers["www-authenticate"] == 'Basic realm="Access restricted"'
    )


@pytest.mark.parametrize(
    "authorization",
    ["Basic", "Basic !!!", f"Basic {base64.b64encode(b'no-colon').decode()}", "Bearer abc", "Digest x"],
)
def test_malformed_basic_header_is_no_credentials(
    site: ThreadedEmulator, anon: httpx.Client, authorization: str
) -> None:
    assert anon.get("/orchestration/services", headers={"Authorization": authorization}).status_code == 401


@pytest.mark.parametrize(
    ("auth", "page_format", "message"),
    [
        (("admin", "wrong"), "json", "The 'use orchestration connect' permission is required."),
        (("nobody", "x"), "json", "The 'use orchestration connect' permission is required."),
        (("blocked", "blocked"), "json", "The 'use orchestration connect' permission is required."),
        (("editor", "editor"), "json", "The 'use orchestration connect' permission is required."),
        (("admin", "wrong"), "html", None),
        (("editor", "editor"), "html", None),
    ],
)
def test_refused_credentials_are_403_not_401(
    site: ThreadedEmulator, clients: Clients, auth: tuple[str, str], page_format: str, message: str | None
) -> None:
    site.update_settings(error_page_format=page_format)
    response = clients(site, auth=auth).post(EXECUTE, json=WELCOME)
    assert response.status_code == 403
    assert "www-authenticate" not in response.headers
    if message is None:
        assert response.headers["content-type"].startswith("text/html")
        assert "<title>Access denied | Drupal</title>" in response.text
    else:
        assert response.json() == {"message": message}
    assert site.execute_count("eca::send_welcome_email") == 0


def test_editor_is_authenticated_but_lacks_the_permission(site: ThreadedEmulator, clients: Clients) -> None:
    clients(site, auth=("editor", "editor")).get("/orchestration/services")
    (record,) = site.calls("services")
    assert (record.user, record.auth, record.status) == ("editor", "basic", 403)


def test_basic_flood_per_user_blocks_even_the_right_password(
    site: ThreadedEmulator, clients: Clients
) -> None:
    wrong, right = clients(site, auth=("admin", "wrong")), clients(site)
    for _ in range(4):
        assert wrong.get("/orchestration/services").status_code == 403
    assert right.get("/orchestration/services").status_code == 200  # success clears the user's count
    for _ in range(5):
        assert wrong.get("/orchestration/services").status_code == 403
    assert right.get("/orchestration/services").status_code == 403
    assert (
        clients(site, auth=("editor", "editor")).get("/orchestration/services").status_code == 403
    )  # no perm
    site.reset_flood()
    assert right.get("/orchestration/services").status_code == 200


def test_basic_flood_per_ip(site: ThreadedEmulator, clients: Clients) -> None:
    site.update_settings(flood_ip_limit=10)
    for number in range(10):
        assert clients(site, auth=(f"ghost{number}", "x")).get("/orchestration/services").status_code == 403
    assert clients(site).get("/orchestration/services").status_code == 403
    site.update_settings(flood_ip_limit=50)
    assert clients(site).get("/orchestration/services").status_code == 200


def test_blocked_user_does_not_count_against_its_own_flood(site: ThreadedEmulator, clients: Clients) -> None:
    site.update_settings(flood_ip_limit=1000)
    for _ in range(10):
        clients(site, auth=("blocked", "blocked")).get("/orchestration/services")
    site.set_user(User("blocked", "blocked"))  # unblocked by an administrator
    assert clients(site, auth=("blocked", "blocked")).get("/orchestration/services").status_code == 200


def test_login_opens_a_session(site: ThreadedEmulator, anon: httpx.Client) -> None:
    response = _login(anon)
    assert response.status_code == 200
    body = response.json()
    assert body["current_user"] == {"uid": "1", "roles": ["authenticated", "administrator"], "name": "admin"}
    assert isinstance(body["csrf_token"], str)
    assert isinstance(body["logout_token"], str)
    assert body["csrf_token"] != body["logout_token"]
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(site.session_cookie_name + "=")
    assert site.session_cookie_name.startswith("SESS")
    assert len(site.session_cookie_name) == 4 + 32
    assert "HttpOnly" in cookie
    assert "Path=/;" in cookie
    assert "Secure" not in cookie
    assert anon.get("/orchestration/services").status_code == 200
    assert anon.get("/user/login_status?_format=json").text == "1"
    assert site.calls("services", user="admin", auth="cookie")
    assert site.calls("login", user="admin", auth="login", status=200)


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({}, 400, "Missing credentials."),
        ({"pass": "x"}, 400, "Missing credentials.name."),
        ({"name": "admin"}, 400, "Missing credentials.pass."),
        ({"name": "admin", "pass": "wrong"}, 400, "Sorry, unrecognized username or password."),
        ({"name": "nobody", "pass": "x"}, 400, "Sorry, unrecognized username or password."),
        ({"name": "blocked", "pass": "blocked"}, 400, "The user has not been activated or is blocked."),
        ("name=admin&pass=admin", 400, "Missing credentials."),
    ],
)
def test_login_errors(
    site: ThreadedEmulator, anon: httpx.Client, body: Any, status: int, message: str
) -> None:
    if isinstance(body, str):
        response = anon.post("/user/login?_format=json", content=body)
    else:
        response = anon.post("/user/login?_format=json", json=body)
    assert (response.status_code, response.json()) == (status, {"message": message})
    assert "set-cookie" not in response.headers


def test_login_without_format_is_the_html_form(anon: httpx.Client) -> None:
    response = anon.post("/user/login", json={"name": "admin", "pass": "admin"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "set-cookie" not in response.headers


def test_login_flood(site: ThreadedEmulator, anon: httpx.Client) -> None:
    for _ in range(5):
        assert _login(anon, password="wrong").status_code == 400
    response = _login(anon)
    assert response.status_code == 403
    assert response.json() == {
        "message": "Too many failed login attempts from your IP address. "
        "This IP address is temporarily blocked."
    }
    site.update_settings(flood_ip_limit=3)
    assert _login(anon, name="ghost").json() == {
        "message": "Access is blocked because of IP based flood prevention."
    }
    site.reset_flood()
    assert _login(anon).status_code == 200


def test_login_twice_is_refused(anon: httpx.Client) -> None:
    assert _login(anon).status_code == 200
    response = _login(anon)
    assert (response.status_code, response.json()) == (
        403,
        {"message": "This route can only be accessed by anonymous users."},
    )


@pytest.mark.parametrize("token_source", ["login", "session_token"])
def test_session_post_needs_the_csrf_header(
    site: ThreadedEmulator, anon: httpx.Client, token_source: str
) -> None:
    login_token = _login(anon).json()["csrf_token"]
    token = login_token if token_source == "login" else anon.get("/session/token").text
    assert anon.post(EXECUTE, json=WELCOME).status_code == 403
    assert anon.post(EXECUTE, json=WELCOME, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert anon.post(EXECUTE, json=WELCOME, headers={"X-CSRF-Token": token}).status_code == 200
    assert site.execute_count("eca::send_welcome_email") == 1
    site.update_settings(csrf_required=False)
    assert anon.post(EXECUTE, json=WELCOME).status_code == 200


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "X-CSRF-Token request header is missing"),
        ({"X-CSRF-Token": "x"}, "X-CSRF-Token request header is invalid"),
    ],
)
def test_csrf_refusal_messages(
    site: ThreadedEmulator, anon: httpx.Client, headers: dict[str, str], message: str
) -> None:
    site.update_settings(error_page_format="json")
    _login(anon)
    assert anon.post(EXECUTE, json=WELCOME, headers=headers).json() == {"message": message}


def test_session_token_of_another_session_is_invalid(site: ThreadedEmulator, clients: Clients) -> None:
    first, second = clients(site, auth=None), clients(site, auth=None)
    token = _login(first).json()["csrf_token"]
    _login(second)
    assert second.post(EXECUTE, json=WELCOME, headers={"X-CSRF-Token": token}).status_code == 403


def test_expired_sessions_get_403_and_login_again_works(site: ThreadedEmulator, anon: httpx.Client) -> None:
    token = _login(anon).json()["csrf_token"]
    assert site.expire_sessions() == 1
    response = anon.post(EXECUTE, json=WELCOME, headers={"X-CSRF-Token": token})
    assert response.status_code == 403
    assert anon.get("/orchestration/services").status_code == 403  # a stale cookie is not "no credentials"
    assert anon.get("/user/login_status?_format=json").text == "0"
    token = _login(anon).json()["csrf_token"]
    assert anon.post(EXECUTE, json=WELCOME, headers={"X-CSRF-Token": token}).status_code == 200


def test_expire_sessions_of_one_user(site: ThreadedEmulator, clients: Clients) -> None:
    admin, editor = clients(site, auth=None), clients(site, auth=None)
    _login(admin)
    _login(editor, "editor", "editor")
    assert site.expire_sessions(username="editor") == 1
    assert admin.get("/orchestration/services").status_code == 200


def test_blocking_a_user_ends_its_sessions_effect(site: ThreadedEmulator, anon: httpx.Client) -> None:
    _login(anon)
    site.set_user(User("admin", "admin", blocked=True))
    assert anon.get("/orchestration/services").status_code == 403


def test_logout(site: ThreadedEmulator, anon: httpx.Client) -> None:
    logout_token = _login(anon).json()["logout_token"]
    assert anon.post("/user/logout?_format=json").json() == {
        "message": "'csrf_token' URL query argument is missing."
    }
    assert anon.post("/user/logout?_format=json&token=bad").status_code == 403
    assert anon.post(f"/user/logout?_format=json&token={logout_token}").status_code == 204
    assert anon.get("/user/login_status?_format=json").text == "0"
    assert anon.post(f"/user/logout?_format=json&token={logout_token}").status_code == 403


def test_basic_auth_wins_over_a_cookie(site: ThreadedEmulator, clients: Clients) -> None:
    client = clients(site, auth=None)
    _login(client, "editor", "editor")  # the editor's session lacks the permission
    assert client.get("/orchestration/services", auth=("admin", "admin")).status_code == 200
    # ...but a session cookie still makes Drupal ask for the CSRF header on POST
    assert client.post(EXECUTE, json=WELCOME, auth=("admin", "admin")).status_code == 403


def test_get_routes_never_need_csrf(anon: httpx.Client) -> None:
    _login(anon)
    assert anon.get("/orchestration/services").status_code == 200


def test_https_session_cookie(
    drupal_emulator_factory: Callable[..., ThreadedEmulator], tmp_path: pathlib.Path
) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    site = drupal_emulator_factory(ssl_context=server_context)
    assert site.url.startswith("https://127.0.0.1:")
    with httpx.Client(base_url=site.url, verify=ssl.create_default_context(cafile=str(cert))) as client:
        response = _login(client)
        assert response.status_code == 200
        assert site.session_cookie_name.startswith("SSESS")
        assert "Secure" in response.headers["set-cookie"]
