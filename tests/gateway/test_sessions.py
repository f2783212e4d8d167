"""``GET /api/v1/sessions`` in-process over HTTP (the app on a real Redis): a person's conversations, each titled
by its first message and showing where its latest task stands, most recently active first; nobody else's;
bad queries refused."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient

from graphgate.core.conversations import TITLE_CHARS, title_of
from graphgate.core.events import input_text
from graphgate.core.settings import Settings
from graphgate.gateway.app import create_app
from graphgate.testing.stack import cluster_settings

SECRET = "s" * 32


def bearer(sub: str) -> dict[str, str]:
    return {"authorization": f"Bearer {jwt.encode({'sub': sub, 'exp': 4102444800}, SECRET, algorithm='HS256')}"}


@pytest.fixture
def client(redis_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        redis_url=redis_url,
        key_prefix=f"s{uuid.uuid4().hex[:8]}",
        jwt_secret=SECRET,
        secret_key="k" * 32,
        data_dir=tmp_path,
        **cluster_settings(),
    )
    with TestClient(create_app(settings)) as c:
        yield c


def create(client: TestClient, sub: str, graph_input: dict, session_id: str | None = None) -> dict:
    body: dict = {"graph": "echo", "input": graph_input}
    if session_id:
        body["session_id"] = session_id
    resp = client.post("/api/v1/tasks", json=body, headers=bearer(sub))
    assert resp.status_code == 202, resp.text
    return resp.json()


def test_conversations_are_titled_by_their_first_message_and_listed_by_last_activity(client: TestClient) -> None:
    first = create(client, "alice", {"messages": [{"role": "user", "content": "Plan a\n  bee garden"}]})
    second = create(client, "alice", {"text": "x" * 200})
    client.post(f"/api/v1/tasks/{first['task_id']}/cancel", headers=bearer("alice"))
    later = create(client, "alice", {"text": "and the hives?"}, session_id=first["session_id"])
    create(client, "bob", {"text": "bob's own"})

    resp = client.get("/api/v1/sessions", headers=bearer("alice"))
    assert resp.status_code == 200, resp.text
    listed = resp.json()["sessions"]
    assert [s["session_id"] for s in listed] == [first["session_id"], second["session_id"]]
    top = listed[0]
    # the title is the first message on one line, whatever came later; the latest task is the one shown
    assert top["title"] == "Plan a bee garden"
    assert (top["task_id"], top["status"], top["active"], top["graph"]) == (later["task_id"], "queued", True, "echo")
    assert top["updated_at"] >= top["created_at"]
    assert listed[1]["title"] == "x" * (TITLE_CHARS - 1) + "…"
    assert [s["title"] for s in client.get("/api/v1/sessions", headers=bearer("bob")).json()["sessions"]] == [
        "bob's own"
    ]
    assert len(client.get("/api/v1/sessions?limit=1", headers=bearer("alice")).json()["sessions"]) == 1


def test_an_empty_session_is_listed_untitled_and_bad_queries_change_nothing(client: TestClient) -> None:
    made = client.post("/threads", json={"metadata": {}}, headers=bearer("carol"))
    assert made.status_code == 200, made.text
    [empty] = client.get("/api/v1/sessions", headers=bearer("carol")).json()["sessions"]
    assert (empty["title"], empty["status"], empty["task_id"], empty["active"]) == ("", None, None, False)
    assert client.get("/api/v1/sessions").status_code == 401
    for query in ("limit=0", "limit=101", "limit=x", "colour=red"):
        resp = client.get(f"/api/v1/sessions?{query}", headers=bearer("carol"))
        assert resp.status_code == 422, (query, resp.text)
        assert resp.json()["error"]["message"]


@pytest.mark.parametrize(
    ("graph_input", "text"),
    [
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "hi"}, {"type": "image"}]}]}, "hi"),
        ({"topic": "bees", "depth": "deep"}, "bees"),
        ({"n": 3, "label": "first string"}, "first string"),
        ({"n": 3}, None),
        ("plain", "plain"),
    ],
)
def test_the_words_of_an_input(graph_input: object, text: str | None) -> None:
    assert input_text(graph_input) == text
    assert title_of(None) == ""
