"""Security headers on every kind of response (HTML, JSON, errors, event streams), and CORS answered only
for the configured origins."""

from __future__ import annotations

import httpx

from graphgate.testing.client import Api
from graphgate.testing.stack import Stack
from tests.security.conftest import ALLOWED_ORIGIN, bearer

SECURITY = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer", "x-frame-options": "DENY"}


def assert_secure(resp: httpx.Response) -> None:
    for name, value in SECURITY.items():
        assert resp.headers.get(name) == value, (
            f"{resp.request.method} {resp.request.url.path} {resp.status_code}: {name}"
        )


def test_security_headers_everywhere(secured: Stack, user: Api) -> None:
    http = httpx.Client(base_url=secured.url, timeout=10)
    auth = {"Authorization": f"Bearer {bearer('alice')}"}
    page = http.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert_secure(page)
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert_secure(http.get("/docs"))
    assert_secure(http.get("/openapi.json"))
    assert_secure(http.get("/healthz"))
    assert_secure(http.get("/api/v1/tasks", headers=auth))
    created = user.create(graph="echo", input={"text": "headers"})
    with http.stream("GET", f"/api/v1/events/{created['session_id']}", headers=auth) as sse:
        assert sse.headers["content-type"].startswith("text/event-stream")
        assert sse.headers["cache-control"] == "no-store"
        assert_secure(sse)
    # errors carry them as well: 401, 404, 405, 413, 422
    assert_secure(http.get("/api/v1/tasks"))
    assert_secure(http.get("/api/v1/tasks/nope", headers=auth))
    assert_secure(http.delete("/api/v1/tasks", headers=auth))
    assert_secure(http.post("/api/v1/tasks", headers=auth, content=b"x" * 1_100_000))
    assert_secure(http.post("/api/v1/tasks", headers={**auth, "Content-Type": "application/json"}, content=b"{"))


def test_cors_answers_the_configured_origin_only(secured: Stack) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    allowed = httpx.options(f"{secured.url}/api/v1/tasks", headers={"Origin": ALLOWED_ORIGIN, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-credentials" not in allowed.headers  # bearer tokens, never cookies

    for origin in (
        "https://evil.example",
        "null",
        ALLOWED_ORIGIN + ".evil.example",
        ALLOWED_ORIGIN.replace("https", "http"),
    ):
        refused = httpx.options(f"{secured.url}/api/v1/tasks", headers={"Origin": origin, **preflight})
        assert refused.status_code == 400, origin
        assert "access-control-allow-origin" not in refused.headers, origin

    auth = {"Authorization": f"Bearer {bearer('alice')}"}
    simple = httpx.get(f"{secured.url}/api/v1/tasks", headers={**auth, "Origin": ALLOWED_ORIGIN})
    assert simple.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
    other = httpx.get(f"{secured.url}/api/v1/tasks", headers={**auth, "Origin": "https://evil.example"})
    assert other.status_code == 200 and "access-control-allow-origin" not in other.headers


def test_no_cors_without_configured_origins(stack: Stack) -> None:
    """The shared stack configures no origins: no browser on another origin may read its answers."""
    for origin in ("https://evil.example", "http://127.0.0.1:1"):
        resp = httpx.options(
            f"{stack.url}/api/v1/tasks", headers={"Origin": origin, "Access-Control-Request-Method": "POST"}
        )
        assert "access-control-allow-origin" not in resp.headers
        resp = httpx.get(f"{stack.url}/healthz", headers={"Origin": origin})
        assert "access-control-allow-origin" not in resp.headers


def test_405_lists_every_method_of_the_path(stack: Stack) -> None:
    resp = httpx.request("OPTIONS", f"{stack.url}/api/v1/tasks")
    assert resp.status_code == 405
    assert set(resp.headers["allow"].split(", ")) >= {"GET", "POST"}
    assert resp.json()["error"]["code"] == "method_not_allowed"
