"""CORS for browser clients on another origin (the LangGraph JS SDK, useStream, Agent Chat UI): the preflight
allows the methods and headers they send, and the headers they read are exposed. In-process: a preflight is
answered by the middleware before any route or Redis is touched."""

from __future__ import annotations

from fastapi.testclient import TestClient

from graphgate.core.settings import Settings
from graphgate.gateway.app import create_app

ORIGIN = "http://ui.example.test"


def client() -> TestClient:
    return TestClient(create_app(Settings(cors_origins=[ORIGIN], jwt_secret="x" * 32, secret_key="y" * 32)))


def test_a_preflight_allows_what_the_langgraph_sdk_sends() -> None:
    for method in ("GET", "POST", "PATCH", "DELETE"):
        answer = client().options(
            "/threads/t-1",
            headers={
                "Origin": ORIGIN,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": "x-api-key, content-type, last-event-id",
            },
        )
        assert answer.status_code == 200, (method, answer.text)
        assert answer.headers["access-control-allow-origin"] == ORIGIN


def test_another_origin_is_refused_and_the_sdks_headers_are_exposed() -> None:
    refused = client().options(
        "/threads", headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "POST"}
    )
    assert refused.status_code == 400
    answer = client().get("/info", headers={"Origin": ORIGIN})
    exposed = {h.strip().lower() for h in answer.headers["access-control-expose-headers"].split(",")}
    assert {"content-location", "x-pagination-next"} <= exposed
