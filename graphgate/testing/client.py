"""A small HTTP + SSE client for tests, speaking to a running gateway over real HTTP."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from httpx_sse import connect_sse

from graphgate.testing.stack import token as make_token

TERMINAL = {"task.completed", "task.failed", "task.cancelled"}


@dataclass
class Received:
    id: str
    type: str
    envelope: dict[str, Any]

    @property
    def data(self) -> dict[str, Any]:
        return self.envelope["data"]

    @property
    def task_id(self) -> str:
        return self.envelope["task_id"]


class Api:
    def __init__(self, base_url: str, sub: str = "alice", token: str | None = None) -> None:
        self.base_url = base_url
        self.sub = sub
        self.http = httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token or make_token(sub)}"},
            timeout=httpx.Timeout(10, read=30),
        )

    def create(self, expect: int = 202, **body: Any) -> dict[str, Any]:
        resp = self.http.post("/api/v1/tasks", json=body)
        assert resp.status_code == expect, resp.text
        return resp.json()

    def get(self, task_id: str) -> dict[str, Any]:
        resp = self.http.get(f"/api/v1/tasks/{task_id}")
        assert resp.status_code == 200, resp.text
        return resp.json()

    def wait_status(self, task_id: str, statuses: set[str], timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            task = self.get(task_id)
            if task["status"] in statuses:
                return task
            if time.monotonic() > deadline:
                raise AssertionError(f"task {task_id} stayed {task['status']}, wanted {statuses}")
            time.sleep(0.05)

    def resume(self, task_id: str, answer: Any, interrupt_id: str | None = None) -> httpx.Response:
        body: dict[str, Any] = {"answer": answer}
        if interrupt_id is not None:
            body["interrupt_id"] = interrupt_id
        return self.http.post(f"/api/v1/tasks/{task_id}/resume", json=body)

    def cancel(self, task_id: str) -> httpx.Response:
        return self.http.post(f"/api/v1/tasks/{task_id}/cancel")

    def events(
        self,
        session_id: str,
        until: Callable[[Received], bool],
        *,
        last_event_id: str | None = None,
        timeout: float = 60,
        on_event: Callable[[Received], None] | None = None,
    ) -> list[Received]:
        """Follow the session's SSE stream until ``until(event)`` is true; every event received, in order."""
        headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
        out: list[Received] = []
        deadline = time.monotonic() + timeout
        with connect_sse(
            self.http, "GET", f"/api/v1/events/{session_id}", headers=headers, timeout=httpx.Timeout(10, read=timeout)
        ) as source:
            assert source.response.status_code == 200, source.response.read()
            for sse in source.iter_sse():
                if not sse.data:  # keep-alive
                    continue
                env = json.loads(sse.data)
                assert env["type"] == sse.event
                event = Received(sse.id, sse.event, env)
                out.append(event)
                if on_event:
                    on_event(event)
                if until(event):
                    return out
                if time.monotonic() > deadline:
                    break
        raise AssertionError(f"stream ended before the condition; got {[e.type for e in out]}")


def terminal_of(task_id: str) -> Callable[[Received], bool]:
    return lambda e: e.task_id == task_id and e.type in TERMINAL
