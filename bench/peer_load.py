"""The run workloads through the LangGraph Server API with ``langgraph_sdk``: one client for every server that
speaks it (``langgraph dev``, Aegra, graphgate's own LangGraph API), so they are driven alike.

A client keeps one thread per conversation and streams each run on it (``POST /threads/{id}/runs/stream``
with ``stream_mode="updates"``): the request that creates the run is the one that streams its output, so
"first graph output" is the first ``updates`` part and "completion" the end of the stream, both timed from
just before the request was sent. An interrupt is answered with a new run carrying ``Command(resume=...)``.
Aegra ends every stream with an extra ``end`` frame (``{"status": ...}``); it is the end of the stream there,
and an ``error`` status in it counts as a failed run.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.stats import Latency, Throughput

GRAPH_TIMEOUT = 60.0


class PeerRunFailed(Exception):
    """The run streamed an error part."""


def _client(url: str, headers: dict[str, str] | None) -> Any:
    from langgraph_sdk import get_client

    return get_client(url=url, timeout=GRAPH_TIMEOUT, headers=headers)


async def _stream(client: Any, thread_id: str, graph: str, **kwargs: Any) -> tuple[float, float, list[Any]]:
    """Stream one run: (perf_counter of the first ``updates`` part, perf_counter of the end, the parts)."""
    first = 0.0
    parts = []
    async for part in client.runs.stream(thread_id, graph, stream_mode="updates", **kwargs):
        now = time.perf_counter()
        if part.event == "error" or (part.event == "end" and (part.data or {}).get("status") == "error"):
            raise PeerRunFailed(str(part.data)[:300])
        if part.event == "updates" and not first:
            first = now
        parts.append(part)
    return first, time.perf_counter(), parts


async def latency(url: str, runs: int, warmup: int, headers: dict[str, str] | None = None) -> dict[str, Latency]:
    client = _client(url, headers)
    thread = await client.threads.create()
    first_ms: list[float] = []
    done_ms: list[float] = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        first, end, _ = await _stream(client, thread["thread_id"], "echo", input={"text": f"run {i}"})
        if i >= warmup:
            first_ms.append((first - t0) * 1000)
            done_ms.append((end - t0) * 1000)
    return {"first_output": Latency.of(first_ms), "completion": Latency.of(done_ms)}


async def throughput(url: str, runs: int, concurrency: int, headers: dict[str, str] | None = None) -> Throughput:
    client = _client(url, headers)
    remaining = runs
    errors = 0
    done_ms: list[float] = []

    async def one_client() -> None:
        nonlocal remaining, errors
        thread_id: str | None = None
        while remaining > 0:
            remaining -= 1
            t0 = time.perf_counter()
            try:
                if thread_id is None:
                    thread_id = (await client.threads.create())["thread_id"]
                await _stream(client, thread_id, "echo", input={"text": "load"})
                done_ms.append((time.perf_counter() - t0) * 1000)
            except Exception:  # HTTP errors, timeouts and error parts all count as failed runs
                errors += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return Throughput(runs, time.perf_counter() - t0, errors, Latency.of(done_ms))


async def interrupt(url: str, rounds: int, warmup: int, headers: dict[str, str] | None = None) -> dict[str, Latency]:
    client = _client(url, headers)
    thread = await client.threads.create()
    output_ms: list[float] = []
    done_ms: list[float] = []
    for i in range(warmup + rounds):
        _, _, parts = await _stream(client, thread["thread_id"], "ask", input={"text": "hello"})
        if not any(p.event == "updates" and "__interrupt__" in (p.data or {}) for p in parts):
            raise PeerRunFailed("the ask graph did not interrupt")
        t0 = time.perf_counter()
        first, end, _ = await _stream(client, thread["thread_id"], "ask", command={"resume": f"Bench {i}"})
        if i >= warmup:
            output_ms.append((first - t0) * 1000)
            done_ms.append((end - t0) * 1000)
    return {"next_output": Latency.of(output_ms), "completion": Latency.of(done_ms)}
