"""Where the time of one echo run goes (``python -m bench.trace``): each event's envelope ``ts`` (when the
API or the worker wrote it) and the time the SSE client read it, relative to the moment the POST was sent.

Starts its own graphgate (private Redis, one API, one worker, SQLite checkpoints), runs ``--runs`` echo
runs one after another in one session and prints the p50 of each milestone, so the gaps show which hop
costs what: API before its Redis write, the queue hop to the worker, the worker until the first node's
event, each further node, the SSE delivery.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench import graphgate_load as gl
from bench.systems import Graphgate
from graphgate.testing.stack import RedisServer

WANTED = {"task.queued", "task.started", "node.completed", "task.completed"}


async def trace(url: str, runs: int, warmup: int) -> dict[str, list[float]]:
    milestones: dict[str, list[float]] = {}
    async with gl.client(url) as http:
        feed, task = await gl.new_session(http, "echo")
        try:
            await feed.until(task["task_id"], {"task.completed"})
            for i in range(warmup + runs):
                sent_wall, sent = time.time(), time.perf_counter()
                task = await gl.post_task(http, "echo", f"trace {i}", feed.session_id)
                answered = time.perf_counter()
                seen = [("POST answered", (answered - sent) * 1000)]
                while True:
                    arrival = await feed.until(task["task_id"], WANTED)
                    name = arrival.type
                    if name == "node.completed":
                        name = f"node {arrival.envelope['data']['node']}"
                    seen.append((f"{name}: written", (arrival.envelope["ts"] - sent_wall) * 1000))
                    seen.append((f"{name}: read by the client", (arrival.at - sent) * 1000))
                    if arrival.type == "task.completed":
                        break
                if i >= warmup:
                    for label, ms in seen:
                        milestones.setdefault(label, []).append(ms)
        finally:
            await feed.close()
    return milestones


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.trace", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--worker-concurrency", type=int, default=4)
    parser.add_argument("--worker-pool", default="prefork", choices=["prefork", "threads", "solo"])
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="gg-trace-"))
    redis = RedisServer(work / "redis").start()
    gg = Graphgate("graphgate", redis, work / "graphgate", concurrency=args.worker_concurrency, pool=args.worker_pool)
    try:
        gg.start()
        milestones = asyncio.run(trace(gg.url, args.runs, args.warmup))
    finally:
        gg.stop()
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)
    order = sorted(milestones, key=lambda k: statistics.median(milestones[k]))
    print(f"echo, {args.runs} sequential runs: ms after the POST was sent (p50)")
    for label in order:
        print(f"  {statistics.median(milestones[label]):7.1f}  {label}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
