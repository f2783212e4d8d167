"""Auth, isolation between principals, and bad input: refused with a clear 4xx, nothing changed."""

from __future__ import annotations

import httpx
import pytest

from graphgate.testing.client import Api, terminal_of
from graphgate.testing.stack import Stack, token


def test_requests_without_valid_token_are_401(stack: Stack) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": f"Bearer {token('a', exp=1)}"}):
        resp = httpx.post(f"{stack.url}/api/v1/tasks", json={"graph": "echo"}, headers=headers)
        assert resp.status_code == 401
        assert resp.json()["error"]["code"] == "unauthorized"
        assert resp.headers["www-authenticate"] == "Bearer"
    assert httpx.get(f"{stack.url}/api/v1/events/some-session").status_code == 401


def test_other_principals_see_404(make_api) -> None:  # type: ignore[no-untyped-def]
    alice, mallory = make_api("alice"), make_api("mallory")
    created = alice.create(graph="ask")
    alice.events(created["session_id"], lambda e: e.type == "interrupt")
    task_id, session = created["task_id"], created["session_id"]
    assert mallory.http.get(f"/api/v1/tasks/{task_id}").status_code == 404
    assert mallory.http.post(f"/api/v1/tasks/{task_id}/resume", json={"answer": "x"}).status_code == 404
    assert mallory.http.post(f"/api/v1/tasks/{task_id}/cancel").status_code == 404
    assert mallory.http.get(f"/api/v1/events/{session}").status_code == 404
    assert mallory.http.post(f"/api/v1/events/{session}/token").status_code == 404
    assert mallory.http.get("/api/v1/tasks", params={"session_id": session}).status_code == 404
    assert mallory.http.get("/api/v1/tasks").json() == {"tasks": []}
    # joining someone else's session is refused the same way, and nothing changes
    assert mallory.http.post("/api/v1/tasks", json={"graph": "ask", "session_id": session}).status_code == 404
    assert alice.get(task_id)["status"] == "waiting_input"
    assert len(alice.http.get("/api/v1/tasks", params={"session_id": session}).json()["tasks"]) == 1


def test_session_stream_token(api: Api, stack: Stack) -> None:
    created = api.create(graph="echo", input={"text": "t"})
    other = api.create(graph="echo", input={"text": "u"})
    resp = api.http.post(f"/api/v1/events/{created['session_id']}/token")
    assert resp.status_code == 200
    body = resp.json()
    assert body["events_url"].endswith(f"?token={body['token']}")
    anon = Api(stack.url, token="unused")
    anon.http.headers.pop("Authorization")
    with anon.http.stream("GET", f"/api/v1/events/{created['session_id']}", params={"token": body["token"]}) as s:
        assert s.status_code == 200 and s.headers["content-type"].startswith("text/event-stream")
    assert anon.http.get(f"/api/v1/events/{other['session_id']}", params={"token": body["token"]}).status_code == 403
    assert anon.http.get(f"/api/v1/events/{created['session_id']}", params={"token": "garbage"}).status_code == 401
    # a stream token is not a bearer token
    assert (
        httpx.get(f"{stack.url}/api/v1/tasks", headers={"Authorization": f"Bearer {body['token']}"}).status_code == 401
    )


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"graph": "nope"}, 404, "not_found"),
        ({"graph": "echo", "session_id": "bad id!"}, 422, "invalid_input"),
        ({"graph": "echo", "session_id": "{tag}"}, 422, "invalid_input"),
        ({"graph": "echo", "mode": "sometimes"}, 422, "invalid_request"),
        ({"graph": "echo", "multitask": "maybe"}, 422, "invalid_request"),
        ({"graph": "echo", "input": "text"}, 422, "invalid_request"),
        ({"graph": "echo", "config": {"thread_id": "steal"}}, 422, "invalid_input"),
        ({"graph": "writer", "topic": 42}, 422, "invalid_input"),
        ({"graph": "echo", "input": {"text": "a"}, "text": "b"}, 422, "invalid_input"),
    ],
)
def test_bad_task_requests(api: Api, body: dict, status: int, code: str) -> None:
    before = api.http.get("/api/v1/tasks").json()["tasks"]
    resp = api.http.post("/api/v1/tasks", json=body)
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]["code"] == code and resp.json()["error"]["message"]
    assert api.http.get("/api/v1/tasks").json()["tasks"] == before


def test_malformed_json_and_oversized_bodies(api: Api) -> None:
    resp = api.http.post("/api/v1/tasks", content=b'{"graph": ', headers={"Content-Type": "application/json"})
    assert resp.status_code == 422 and "JSON" in resp.json()["error"]["message"]
    big = {"graph": "echo", "input": {"text": "x" * 1_100_000}}
    resp = api.http.post("/api/v1/tasks", json=big)
    assert resp.status_code == 413 and resp.json()["error"]["code"] == "payload_too_large"

    def chunks():  # type: ignore[no-untyped-def]
        yield b'{"graph": "echo", "input": {"text": "'
        for _ in range(200):
            yield b"y" * 10_000
        yield b'"}}'

    resp = api.http.post("/api/v1/tasks", content=chunks(), headers={"Content-Type": "application/json"})
    assert resp.status_code == 413  # no Content-Length: counted while reading


def test_unknown_task_and_bad_ids(api: Api) -> None:
    assert api.http.get("/api/v1/tasks/does-not-exist").status_code == 404
    assert api.http.post("/api/v1/tasks/does-not-exist/resume", json={"answer": 1}).status_code == 404
    assert api.http.post("/api/v1/tasks/x/resume", json={"answer": 1, "extra": 2}).status_code == 422
    assert api.http.get("/api/v1/tasks", params={"limit": 0}).status_code == 422


def test_security_headers_and_docs(api: Api) -> None:
    resp = api.http.get("/api/v1/tasks")
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert api.http.get("/openapi.json").json()["info"]["title"] == "graphgate"
    assert api.http.get("/docs").status_code == 200


def test_completed_task_cannot_be_resumed_or_cancelled(api: Api) -> None:
    created = api.create(graph="echo", input={"text": "done"})
    api.events(created["session_id"], terminal_of(created["task_id"]))
    assert api.resume(created["task_id"], "x").status_code == 409
    assert api.cancel(created["task_id"]).status_code == 409
