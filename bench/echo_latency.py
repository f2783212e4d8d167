"""Time from POST /api/v1/tasks to the first graph output event and to task.completed, for `echo`.

Starts its own stack (private redis-server, one API, one worker with 2 prefork children, SQLite
checkpoints) unless --url is given, keeps one SSE stream open on one session, and runs tasks one after
another in that session. Prints p50/p95/p99 in milliseconds.

    python bench/echo_latency.py --runs 100
"""

from __future__ import annotations

import argparse
import json
import queue
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.stack import RedisServer, Stack, token  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def measure(url: str, runs: int, warmup: int = 5) -> dict[str, list[float]]:
    http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token('bench')}"}, timeout=30)
    first = http.post("/api/v1/tasks", json={"graph": "echo", "input": {"text": "warm"}}).json()
    session = first["session_id"]
    arrivals: "queue.Queue[tuple[str, str, float]]" = queue.Queue()

    def reader() -> None:
        try:
            _read()
        except httpx.HTTPError:
            pass  # the API stopped at the end of the run

    def _read() -> None:
        with http.stream("GET", f"/api/v1/events/{session}", timeout=httpx.Timeout(30, read=None)) as resp:
            kind = None
            for line in resp.iter_lines():
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: ") and kind:
                    arrivals.put((json.loads(line[6:])["task_id"], kind, time.perf_counter()))

    threading.Thread(target=reader, daemon=True).start()
    out: dict[str, list[float]] = {"first_output_ms": [], "completed_ms": []}
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        task_id = http.post("/api/v1/tasks", json={"graph": "echo", "input": {"text": f"run {i}"}, "session_id": session}).json()["task_id"]
        first_output = None
        while True:
            tid, kind, at = arrivals.get(timeout=30)
            if tid != task_id:
                continue
            if kind == "node.completed" and first_output is None:
                first_output = at
            if kind == "task.completed":
                break
        if i >= warmup:
            out["first_output_ms"].append((first_output - t0) * 1000)
            out["completed_ms"].append((at - t0) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--url")
    args = parser.parse_args()
    stack = redis = None
    url = args.url
    if url is None:
        work = Path(tempfile.mkdtemp(prefix="gg-bench-"))
        redis = RedisServer(work / "redis").start()
        stack = Stack(redis_url=redis.url, workdir=work / "stack")
        stack.start_worker()
        url = stack.start_api()
    try:
        result = measure(url, args.runs)
    finally:
        if stack:
            stack.stop()
        if redis:
            redis.stop()
    print(f"echo, {args.runs} sequential runs (ms)     p50     p95     p99")
    for name, values in result.items():
        print(f"  {name:<32} {statistics.median(values):7.1f} {percentile(values, 95):7.1f} {percentile(values, 99):7.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
