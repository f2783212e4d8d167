"""`graphgate up` as a user runs it, the original README's client example against it, and a clean stop."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import requests
import sseclient

from graphgate.cli.processes import free_port, wait_until

ROOT = Path(__file__).resolve().parents[2]


def descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.add(child)
            todo.append(child)
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except OSError:
        return False


class Up:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, env: dict[str, str], log: Path) -> None:
        self.proc, self.url, self.env, self.log = proc, url, env, log

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "graphgate.cli", *args],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            input=input,
        )


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    work = tmp_path_factory.mktemp("up")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHGATE_")}
    env.update(GRAPHGATE_DATA_DIR=str(work / "data"), PYTHONPATH=str(ROOT), GRAPHGATE_KEY_PREFIX="up-test")
    log = work / "up.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "graphgate.cli", "up", "--port", str(port), "--private-redis"],
            env=env,
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        assert proc.poll() is None, log.read_text()
        return "graphgate: ready" in log.read_text()

    assert wait_until(ready, 120, 0.2), log.read_text()
    yield Up(proc, url, env, log)
    if proc.poll() is None:
        proc.kill()


def test_token_command_prints_token_on_last_line(up: Up) -> None:
    result = up.cli("token", "--sub", "alice")
    assert result.returncode == 0
    token = result.stdout.strip().splitlines()[-1]
    resp = httpx.get(f"{up.url}/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200 and resp.json() == {"tasks": []}


def test_doctor(up: Up) -> None:
    redis_url = next(line.split(" at ")[1] for line in up.log.read_text().splitlines() if "private Redis at" in line)
    result = subprocess.run(
        [sys.executable, "-m", "graphgate.cli", "doctor"],
        env={**up.env, "GRAPHGATE_REDIS_URL": redis_url},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ok   graphs" in result.stdout and "writer" in result.stdout
    assert "warn" not in result.stdout  # up's own Redis keeps an AOF and never evicts
    bad = subprocess.run(
        [sys.executable, "-m", "graphgate.cli", "doctor"],
        env={**up.env, "GRAPHGATE_REDIS_URL": "redis://127.0.0.1:1/0"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 1 and "FAIL redis" in bad.stdout


def test_original_readme_example(up: Up) -> None:
    """The request and scenario of the original README, with an Authorization header added."""
    token = up.cli("token", "--sub", "reader").stdout.strip().splitlines()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    response = requests.post(
        f"{up.url}/api/v1/tasks",
        headers=headers,
        json={
            "topic": "人工智能在医疗诊断中的应用",
            "mode": "interactive",
            "config": {
                "target_audience": "医疗专业人士",
                "depth_level": "deep",
                "target_length": 3000,
            },
        },
    )
    task_id = response.json()["task_id"]
    session_id = response.json()["session_id"]

    stream = requests.get(f"{up.url}/api/v1/events/{session_id}", headers=headers, stream=True)
    events = sseclient.SSEClient(stream)
    seen = []
    for event in events.events():
        seen.append(event.event)
        data = json.loads(event.data)
        if event.event == "interrupt":
            resp = requests.post(
                f"{up.url}/api/v1/tasks/{task_id}/resume",
                headers=headers,
                json={"answer": "approve", "interrupt_id": data["data"]["interrupt_id"]},
            )
            assert resp.status_code == 202
        if event.event == "task.completed":
            article = data["data"]["output"]["article"]
            break
    stream.close()
    assert "interrupt" in seen and "message.delta" in seen
    assert article.startswith("# 人工智能在医疗诊断中的应用")


def test_run_command_streams_and_answers(up: Up) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "graphgate.cli",
            "run",
            "writer",
            "--input",
            json.dumps({"topic": "tide pools"}),
            "--set",
            json.dumps({"target_length": 300}),
            "--url",
            up.url,
            "--sub",
            "cli-user",
            "--answer",
            "1",
        ],
        env=up.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Approve this outline?" in result.stdout and "[1] Approve" in result.stdout
    assert "# tide pools" in result.stdout
    assert "✓ write" in result.stderr


def test_sigint_stops_everything_without_orphans(up: Up) -> None:
    kids = descendants(up.proc.pid)
    assert len(kids) >= 4  # redis, api, worker and its pool
    up.proc.send_signal(signal.SIGINT)
    assert up.proc.wait(60) == 0
    assert wait_until(lambda: not any(alive(pid) for pid in kids), 20), [p for p in kids if alive(p)]
    assert "graphgate: stopped" in up.log.read_text()
