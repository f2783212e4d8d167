"""No secret reaches a log: a stack whose Redis needs a password runs tasks (one failing with a traceback),
refuses forged tokens and serves streams by bearer and by ``?token=``; then the API's and the worker's
logs are searched for the JWT secret, the signing key, the Redis password and every token used."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from graphgate.cli.processes import free_port, redis_reachable, wait_until
from graphgate.testing.client import Api, terminal_of
from graphgate.testing.stack import JWT_SECRET, SECRET_KEY, Stack


@pytest.fixture
def password_redis(tmp_path: Path) -> Iterator[tuple[str, str]]:
    password = "rp-" + secrets.token_hex(16)
    port = free_port()
    proc = subprocess.Popen(
        [
            shutil.which("redis-server") or "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
            "--requirepass",
            password,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    try:
        assert wait_until(lambda: redis_reachable(url, 0.2), 10), "redis-server did not start"
        yield url, password
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_secrets_never_reach_the_logs(password_redis: tuple[str, str], tmp_path: Path, level: str) -> None:
    url, password = password_redis
    stack = Stack(redis_url=url, workdir=tmp_path / "stack", extra_env={"GRAPHGATE_LOG_LEVEL": level})
    used: list[str] = []
    try:
        stack.start_worker(concurrency=1)
        stack.start_api()
        api = Api(stack.url, "alice")
        used.append(api.http.headers["Authorization"].split()[1])
        done = api.create(graph="echo", input={"text": "hello"})
        failed = api.create(graph="echo", input={"text": "x", "fail": True})
        asked = api.create(graph="ask")
        api.events(asked["session_id"], lambda e: e.type == "interrupt")
        assert api.resume(asked["task_id"], "Ada").status_code == 202
        stream = api.http.post(f"/api/v1/events/{done['session_id']}/token").json()["token"]
        used.append(stream)
        with httpx.stream("GET", f"{stack.url}/api/v1/events/{done['session_id']}", params={"token": stream}) as s:
            assert s.status_code == 200
        for forged in (
            jwt.encode({"sub": "eve", "exp": 1}, JWT_SECRET, algorithm="HS256"),
            jwt.encode({"sub": "eve", "exp": 2**31}, "wrong-secret-wrong-secret-wrong-secret", algorithm="HS256"),
        ):
            used.append(forged)
            assert (
                httpx.get(f"{stack.url}/api/v1/tasks", headers={"Authorization": f"Bearer {forged}"}).status_code == 401
            )
        for task in (done, failed, asked):
            api.events(task["session_id"], terminal_of(task["task_id"]), timeout=60)
    finally:
        stack.stop()
    logs = {p.name: p.read_text(errors="replace") for p in (tmp_path / "stack").glob("*.log")}
    assert any("echo asked to fail" in text for text in logs.values())  # the logs do say what happened
    assert any(":**@127.0.0.1" in text for text in logs.values())  # and name the broker, password masked
    secrets_ = {"JWT secret": JWT_SECRET, "signing key": SECRET_KEY, "Redis password": password}
    secrets_.update({f"token {i}": t for i, t in enumerate(used)})
    secrets_.update({f"signature of token {i}": t.rsplit(".", 1)[1] for i, t in enumerate(used)})
    for name, text in logs.items():
        for what, value in secrets_.items():
            assert value not in text, f"{what} found in {name}"
