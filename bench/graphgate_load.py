"""The run workloads against graphgate, over its public HTTP API: POST a task, follow the session's SSE stream.

A client keeps one SSE connection per session open (as the web widget does) and posts its runs into that
session one after another. "First graph output" is the run's first ``node.completed`` event, "completion"
its ``task.completed`` event, both timed from just before the POST was sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.stats import Latency, Throughput
from bench.systems import bearer

TERMINAL = {"task.completed", "task.failed", "task.cancelled"}
EVENT_TIMEOUT = 60.0


@dataclass
class Arrival:
    type: str
    task_id: str
    at: float  # time.perf_counter() when the client read it
    envelope: dict[str, Any]


@dataclass
class SessionFeed:
    """One SSE connection on a session; events land in ``queue`` with the time they were read."""

    http: httpx.AsyncClient
    session_id: str
    queue: asyncio.Queue[Arrival] = field(default_factory=asyncio.Queue)
    _task: asyncio.Task[None] | None = None

    async def open(self, after: str = "0-0") -> SessionFeed:
        connected = asyncio.get_running_loop().create_future()
        self._task = asyncio.create_task(self._read(after, connected))
        await connected
        return self

    async def _read(self, after: str, connected: asyncio.Future[None]) -> None:
        try:
            async with self.http.stream(
                "GET",
                f"/api/v1/events/{self.session_id}",
                headers={"Last-Event-ID": after},
                timeout=httpx.Timeout(10, read=None),
            ) as resp:
                resp.raise_for_status()
                connected.set_result(None)
                kind = ""
                async for line in resp.aiter_lines():
                    if line.startswith("event:"):
                        kind = line[6:].strip()
                    elif line.startswith("data:") and kind:
                        at = time.perf_counter()
                        env = json.loads(line[5:])
                        self.queue.put_nowait(Arrival(kind, env.get("task_id", ""), at, env))
                        kind = ""
        except Exception as exc:  # surfaced to whoever waits on the feed
            if not connected.done():
                connected.set_exception(exc)

    async def until(self, task_id: str, types: set[str]) -> Arrival:
        """The next event of ``task_id`` whose type is in ``types`` (earlier events of the task are skipped).

        A terminal event that is not wanted ends the wait with ``RunFailed``.
        """
        while True:
            arrival = await asyncio.wait_for(self.queue.get(), EVENT_TIMEOUT)
            if arrival.task_id != task_id:
                continue
            if arrival.type in types:
                return arrival
            if arrival.type in TERMINAL:
                raise RunFailed(f"{arrival.type}: {arrival.envelope.get('data')}")

    async def close(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)


class RunFailed(Exception):
    """A run ended in another state than the one waited for."""


def client(url: str, connections: int = 100) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=url, headers=bearer(), timeout=httpx.Timeout(30), limits=limits)


async def post_task(http: httpx.AsyncClient, graph: str, text: str, session_id: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"graph": graph, "input": {"text": text}}
    if session_id:
        body["session_id"] = session_id
    resp = await http.post("/api/v1/tasks", json=body)
    resp.raise_for_status()
    return resp.json()


async def run_echo(http: httpx.AsyncClient, feed: SessionFeed, text: str) -> tuple[float, float]:
    """One echo run in the feed's session: (ms to first graph output, ms to completion)."""
    t0 = time.perf_counter()
    task = await post_task(http, "echo", text, feed.session_id)
    first = await feed.until(task["task_id"], {"node.completed"})
    done = await feed.until(task["task_id"], {"task.completed"})
    return (first.at - t0) * 1000, (done.at - t0) * 1000


async def new_session(http: httpx.AsyncClient, graph: str) -> tuple[SessionFeed, dict[str, Any]]:
    """A new session started with one run of ``graph``, and a feed following it (from its first event)."""
    task = await post_task(http, graph, "hello")
    feed = await SessionFeed(http, task["session_id"]).open()
    return feed, task


async def latency(url: str, runs: int, warmup: int) -> dict[str, Latency]:
    """``runs`` sequential echo runs in one session (after ``warmup`` untimed ones)."""
    async with client(url) as http:
        feed, task = await new_session(http, "echo")
        try:
            await feed.until(task["task_id"], {"task.completed"})
            first_ms: list[float] = []
            done_ms: list[float] = []
            for i in range(warmup + runs):
                first, done = await run_echo(http, feed, f"run {i}")
                if i >= warmup:
                    first_ms.append(first)
                    done_ms.append(done)
        finally:
            await feed.close()
    return {"first_output": Latency.of(first_ms), "completion": Latency.of(done_ms)}


async def throughput(url: str, runs: int, concurrency: int) -> Throughput:
    """``runs`` echo runs by ``concurrency`` clients at once, each posting into its own session."""
    remaining = runs
    errors = 0
    done_ms: list[float] = []

    async def one_client(http: httpx.AsyncClient) -> None:
        nonlocal remaining, errors
        feed: SessionFeed | None = None
        try:
            while remaining > 0:
                remaining -= 1
                t0 = time.perf_counter()
                try:
                    if feed is None:
                        feed, task = await new_session(http, "echo")
                    else:
                        task = await post_task(http, "echo", "load", feed.session_id)
                    done = await feed.until(task["task_id"], {"task.completed"})
                    done_ms.append((done.at - t0) * 1000)
                except (TimeoutError, httpx.HTTPError, RunFailed):
                    errors += 1
        finally:
            if feed is not None:
                await feed.close()

    async with client(url, connections=2 * concurrency + 10) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*(one_client(http) for _ in range(concurrency)))
        seconds = time.perf_counter() - t0
    return Throughput(runs, seconds, errors, Latency.of(done_ms))


async def interrupt(url: str, rounds: int, warmup: int) -> dict[str, Latency]:
    """``rounds`` of: start ``ask``, wait for its interrupt, answer it. Timed from the resume request to the
    next graph output (the ``ask`` node completing with the answer) and to completion."""
    async with client(url) as http:
        feed, task = await new_session(http, "ask")
        try:
            output_ms: list[float] = []
            done_ms: list[float] = []
            for i in range(warmup + rounds):
                if i > 0:
                    task = await post_task(http, "ask", "hello", feed.session_id)
                asked = await feed.until(task["task_id"], {"interrupt"})
                t0 = time.perf_counter()
                resp = await http.post(
                    f"/api/v1/tasks/{task['task_id']}/resume",
                    json={"answer": f"Bench {i}", "interrupt_id": asked.envelope["data"]["interrupt_id"]},
                )
                resp.raise_for_status()
                out = await feed.until(task["task_id"], {"node.completed"})
                done = await feed.until(task["task_id"], {"task.completed"})
                if i >= warmup:
                    output_ms.append((out.at - t0) * 1000)
                    done_ms.append((done.at - t0) * 1000)
        finally:
            await feed.close()
    return {"next_output": Latency.of(output_ms), "completion": Latency.of(done_ms)}


async def create_sessions(url: str, count: int, concurrency: int = 16) -> list[tuple[str, str]]:
    """``count`` new sessions of the bench principal, each started with one echo run that has finished:
    (session id, task id) pairs."""
    sessions: list[tuple[str, str]] = []
    pending = count

    async def one(http: httpx.AsyncClient) -> None:
        nonlocal pending
        while pending > 0:
            pending -= 1
            task = await post_task(http, "echo", "session")
            while True:
                resp = await http.get(f"/api/v1/tasks/{task['task_id']}")
                resp.raise_for_status()
                if resp.json()["status"] in ("completed", "failed", "cancelled"):
                    break
                await asyncio.sleep(0.05)
            sessions.append((task["session_id"], task["task_id"]))

    async with client(url, connections=concurrency + 5) as http:
        await asyncio.gather(*(one(http) for _ in range(min(concurrency, count))))
    return sessions
