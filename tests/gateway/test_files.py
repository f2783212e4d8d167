"""Files sent with a task, in-process over HTTP (the app on a real Redis): uploaded, read back by their signed
URL or by their owner, refused past the limits with nothing stored, and handed to a graph as content blocks
on the user's message (or refused for a graph that takes text only)."""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from fastapi.testclient import TestClient

from graphgate.core.settings import Settings
from graphgate.gateway.app import create_app
from graphgate.testing.stack import cluster_settings

SECRET = "s" * 32
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def bearer(sub: str) -> dict[str, str]:
    return {"authorization": f"Bearer {jwt.encode({'sub': sub, 'exp': 4102444800}, SECRET, algorithm='HS256')}"}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "files"


@pytest.fixture
def client(redis_url: str, folder: Path, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(
        redis_url=redis_url,
        key_prefix=f"f{uuid.uuid4().hex[:8]}",
        jwt_secret=SECRET,
        secret_key="k" * 32,
        data_dir=tmp_path,
        attachments_dir=folder,
        attachment_max_bytes=4096,
        attachments_per_message=2,
        public_url="https://gg.example",
        **cluster_settings(),
    )
    with TestClient(create_app(settings)) as c:
        yield c


def upload(client: TestClient, data: bytes = PNG, mime: str = "image/png", sub: str = "alice", name: str = "a.png"):  # type: ignore[no-untyped-def]
    return client.post(
        "/api/v1/files", params={"name": name}, content=data, headers={**bearer(sub), "content-type": mime}
    )


def stored(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def test_a_file_is_read_back_by_its_signed_url_or_by_its_owner(client: TestClient) -> None:
    resp = upload(client, name="../../etc/chart.png")
    assert resp.status_code == 201, resp.text
    made = resp.json()
    assert (made["name"], made["mime_type"], made["size"]) == ("chart.png", "image/png", len(PNG))
    assert made["url"].startswith(f"https://gg.example/api/v1/files/{made['file_id']}?sig=")
    path = made["url"].removeprefix("https://gg.example")
    signed = client.get(path)
    assert signed.status_code == 200 and signed.content == PNG
    assert signed.headers["content-type"] == "image/png" and signed.headers["content-disposition"].startswith("inline")
    assert client.get(f"/api/v1/files/{made['file_id']}", headers=bearer("alice")).content == PNG
    assert client.get(f"/api/v1/files/{made['file_id']}").status_code == 401
    assert client.get(f"/api/v1/files/{made['file_id']}", headers=bearer("mallory")).status_code == 404
    assert client.get(f"/api/v1/files/{made['file_id']}?sig={'0' * 32}").status_code == 404
    assert client.get(f"/api/v1/files/{'0' * 32}?sig={'0' * 32}").status_code == 404
    # found by fuzzing: a signature that is not ASCII made compare_digest raise (a 500)
    assert client.get(f"/api/v1/files/{made['file_id']}", params={"sig": "é" * 32}).status_code == 404
    assert client.get("/api/v1/files/%C3%97%F2%AD", params={"sig": "1'ó"}).status_code == 404


@pytest.mark.parametrize(
    ("data", "mime", "status", "words"),
    [
        (b"x" * 5000, "image/png", 413, "files may be at most 4096 bytes"),
        (b"<script>alert(1)</script>", "text/html", 422, "type text/html are not accepted"),
        (b"", "image/png", 422, "empty"),
        (PNG, "", 422, "Content-Type"),
    ],
)
def test_a_file_past_the_limits_is_refused_and_nothing_is_stored(
    client: TestClient, folder: Path, data: bytes, mime: str, status: int, words: str
) -> None:
    headers = {**bearer("alice"), **({"content-type": mime} if mime else {})}
    resp = client.post("/api/v1/files", content=data, headers=headers)
    assert resp.status_code == status, resp.text
    assert words in resp.text
    assert stored(folder) == []


def test_files_reach_a_messages_graph_as_content_blocks_and_a_text_graph_refuses_them(client: TestClient) -> None:
    first, second = upload(client).json(), upload(client, b"%PDF-1.7 tiny", "application/pdf", name="q3.pdf").json()
    resp = client.post(
        "/api/v1/tasks",
        json={
            "graph": "agent",
            "input": {"messages": [{"role": "user", "content": "what is in these?"}]},
            "files": [first["file_id"], second["file_id"]],
        },
        headers=bearer("alice"),
    )
    assert resp.status_code == 202, resp.text
    task = client.get(f"/api/v1/tasks/{resp.json()['task_id']}", headers=bearer("alice")).json()
    [message] = task["input"]["messages"]
    text, image, pdf = message["content"]
    assert text == {"type": "text", "text": "what is in these?"}
    assert (image["type"], image["mime_type"], image["url"]) == ("image", "image/png", first["url"])
    assert (pdf["type"], pdf["mime_type"], pdf["extras"]["filename"]) == ("file", "application/pdf", "q3.pdf")

    refused = [
        ({"graph": "echo", "input": {"text": "hi"}, "files": [first["file_id"]]}, 422, "takes text only"),
        ({"graph": "nope", "input": {"text": "hi"}, "files": [first["file_id"]]}, 404, "not registered"),
        ({"graph": "agent", "input": {"messages": []}, "files": [first["file_id"]] * 3}, 422, "at most 2 files"),
        (
            {"graph": "agent", "input": {"messages": [{"role": "user", "content": "x"}]}, "files": ["f" * 32]},
            404,
            "not found",
        ),
    ]
    for body, status, words in refused:
        answer = client.post("/api/v1/tasks", json=body, headers=bearer("alice"))
        assert answer.status_code == status and words in answer.text, (body, answer.text)
    # someone else's file is not theirs to send
    answer = client.post(
        "/api/v1/tasks",
        json={"graph": "agent", "input": {"messages": [{"role": "user", "content": "x"}]}, "files": [first["file_id"]]},
        headers=bearer("mallory"),
    )
    assert answer.status_code == 404
    assert client.get("/api/v1/tasks", headers=bearer("mallory")).json()["tasks"] == []
    assert len(client.get("/api/v1/tasks", headers=bearer("alice")).json()["tasks"]) == 1


def test_the_sweep_deletes_the_bytes_of_expired_files_only(tmp_path: Path) -> None:
    from graphgate.core.attachments import LocalBlobs

    store = LocalBlobs(tmp_path / "blobs")
    assert store.sweep(60) == 0  # no folder yet
    old, new = "a" * 32, "b" * 32
    store.put(old, b"old", "text/plain")
    store.put(new, b"new", "text/plain")
    half = store._path(old).with_suffix(".part")
    half.write_bytes(b"a crashed write")
    now = time.time()
    os.utime(store._path(old), (now - 7200, now - 7200))
    os.utime(half, (now - 7200, now - 7200))
    assert store.sweep(3600, now=now) == 2
    assert store.get(old) is None and not half.exists() and store.get(new) == b"new"
    assert store.sweep(3600, now=now) == 0
