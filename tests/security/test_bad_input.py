"""Bodies that are not what the API takes, over real HTTP: each gets a clear 4xx in the error envelope
(never a 5xx, never the framework's bare ``{"detail": ...}``), and nothing is created or queued.

Complements tests/e2e/test_access.py (unknown graph 404, input failing the graph's schema 422, malformed
JSON 422, bodies over the limit 413, reserved config keys, bad session ids)."""

from __future__ import annotations

import pytest
import redis

from graphgate.testing.client import Api
from graphgate.testing.stack import Stack
from tests.security.conftest import bearer

JSON = {"Content-Type": "application/json"}
DEEP = b"[" * 200_000 + b"]" * 200_000


@pytest.mark.parametrize(
    "name, content, headers, status, code",
    [
        (
            "not JSON content type",
            b'{"graph":"echo","input":{"text":"a"}}',
            {"Content-Type": "text/plain"},
            422,
            "invalid_request",
        ),
        ("form encoded", b"graph=echo", {"Content-Type": "application/x-www-form-urlencoded"}, 422, "invalid_request"),
        ("JSON array", b"[]", JSON, 422, "invalid_request"),
        ("JSON string", b'"echo"', JSON, 422, "invalid_request"),
        ("JSON null", b"null", JSON, 422, "invalid_request"),
        ("invalid UTF-8", b'{"graph":"echo","input":{"text":"\xff\xfe"}}', JSON, 422, "invalid_request"),
        ("nested 200k deep", b'{"graph":"echo","input":{"text":"a","x":' + DEEP + b"}}", JSON, 422, "invalid_request"),
        (
            "5000-digit number",
            b'{"graph":"echo","input":{"text":"a","x":' + b"9" * 5000 + b"}}",
            JSON,
            422,
            "invalid_request",
        ),
        ("NaN", b'{"graph":"echo","input":{"text":"a","x":NaN}}', JSON, 422, "invalid_request"),
        (
            "Infinity in config",
            b'{"graph":"echo","input":{"text":"a"},"config":{"k":-Infinity}}',
            JSON,
            422,
            "invalid_request",
        ),
        ("input not an object", b'{"graph":"echo","input":[1]}', JSON, 422, "invalid_request"),
        ("graph name too long", b'{"graph":"' + b"g" * 200 + b'"}', JSON, 422, "invalid_request"),
        ("unicode session id", '{"graph":"echo","session_id":"séance"}'.encode(), JSON, 422, "invalid_input"),
        ("session id too long", b'{"graph":"echo","session_id":"' + b"s" * 129 + b'"}', JSON, 422, "invalid_request"),
        ("input of the wrong type", b'{"graph":"echo","input":{"text":5}}', JSON, 422, "invalid_input"),
    ],
)
def test_bad_bodies_are_refused_and_change_nothing(
    secured: Stack, redis_url: str, name: str, content: bytes, headers: dict, status: int, code: str
) -> None:
    api = Api(secured.url, "badinput", token=bearer("badinput"))
    queue = redis.Redis.from_url(redis_url)
    queued_before = queue.llen(f"{secured.prefix}.runs")
    before = api.http.get("/api/v1/tasks").json()["tasks"]
    resp = api.http.post("/api/v1/tasks", content=content, headers=headers)
    assert resp.status_code == status, (name, resp.text[:300])
    error = resp.json()["error"]
    assert error["code"] == code and error["message"], name
    assert api.http.get("/api/v1/tasks").json()["tasks"] == before
    assert queue.llen(f"{secured.prefix}.runs") <= queued_before  # nothing was queued (a worker may take some)


def test_bad_resume_answers(secured: Stack) -> None:
    api = Api(secured.url, "badinput", token=bearer("badinput"))
    created = api.create(graph="ask")
    api.events(created["session_id"], lambda e: e.type == "interrupt")
    for body in (b'{"answer": NaN}', b'{"answer": null}', b"{}", b'{"answer": "x", "extra": 1}', b"[1]"):
        resp = api.http.post(f"/api/v1/tasks/{created['task_id']}/resume", content=body, headers=JSON)
        assert resp.status_code == 422 and resp.json()["error"]["message"], body
    assert api.get(created["task_id"])["status"] == "waiting_input"


def test_unknown_routes_and_methods_use_the_error_envelope(secured: Stack) -> None:
    api = Api(secured.url, "badinput", token=bearer("badinput"))
    for method, path, status in [
        ("GET", "/api/v1/nope", 404),
        ("GET", "/api/v1/tasks/..%2F..%2Fetc%2Fpasswd", 404),
        ("GET", "/api/v1/events/..%2Fx", 404),
        ("DELETE", "/api/v1/tasks", 405),
        ("PUT", "/api/v1/tasks/x/cancel", 405),
    ]:
        resp = api.http.request(method, path)
        assert resp.status_code == status, (method, path)
        assert set(resp.json()) == {"error"} and resp.json()["error"]["message"], (method, path)
    assert "POST" in api.http.delete("/api/v1/tasks").headers["allow"]


def test_unknown_query_parameters_are_refused_and_change_nothing(secured: Stack) -> None:
    api = Api(secured.url, "badquery", token=bearer("badquery"))
    for path in ("/api/v1/tasks?limt=5", "/api/v1/approvals?x=1", "/api/v1/feedback?graph=echo&score=1"):
        resp = api.http.get(path)
        assert resp.status_code == 422, path
        assert "unknown query parameter" in resp.json()["error"]["message"], path
    resp = api.http.post("/api/v1/tasks?graph=echo", json={"graph": "echo", "input": {"text": "x"}})
    assert resp.status_code == 422 and "graph" in resp.json()["error"]["message"]
    assert api.http.get("/api/v1/tasks").json()["tasks"] == []  # nothing was created
    assert api.http.get("/api/v1/tasks?limit=5").status_code == 200  # the parameters a route takes still work
