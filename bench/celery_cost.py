"""Celery's own CPU per task on this machine (``python -m bench.celery_cost``): the no-op task of
bench/celery_noop.py, configured as graphgate's worker, against variants of its settings.

For each variant (and each of ``--rounds`` rounds, alternating, to spread the machine's noise), starts a private
redis-server and a prefork Celery worker with one pool process, sends ``--tasks`` no-op tasks (``--window`` in
flight at a time, as a busy queue has them), waits for all, and prints the CPU of the worker's processes and of
Redis per task (the sender's own CPU is not counted).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from celery import Celery

from bench import celery_noop
from bench.systems import cpu_seconds, process_tree
from graphgate.testing.stack import ROOT, RedisServer

VARIANTS = {
    "graphgate's settings": {},
    "task events off": {"BENCH_CELERY_NO_EVENTS": "1"},
    "rate limits off": {"BENCH_CELERY_NO_RATE_LIMITS": "1"},
    "prefetch 4": {"BENCH_CELERY_PREFETCH": "4"},
}


def one(variant: dict[str, str], tasks: int, window: int) -> tuple[float, float]:
    work = Path(tempfile.mkdtemp(prefix="gg-celery-"))
    server = RedisServer(work / "redis").start()
    env = {**os.environ, **variant, "BENCH_REDIS_URL": server.url}
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "bench.celery_noop", "worker", "-Q", "bench.noop", "-c", "1",
         "--pool", "prefork", "-l", "warning", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    sender = Celery("bench_sender", broker=server.url, backend=server.url)
    try:
        sender.conf.update(
            task_default_queue=celery_noop.QUEUE, task_send_sent_event="BENCH_CELERY_NO_EVENTS" not in variant
        )
        sender.send_task("bench.noop").get(timeout=60)  # the worker is up
        time.sleep(0.5)
        pids = process_tree(worker.pid)
        before = sum(cpu_seconds(p) for p in pids), cpu_seconds(server.proc.pid if server.proc else 0)
        pending = []
        for _ in range(tasks):
            pending.append(sender.send_task("bench.noop"))
            if len(pending) >= window:
                pending.pop(0).get(timeout=60)
        for result in pending:
            result.get(timeout=60)
        after = sum(cpu_seconds(p) for p in pids), cpu_seconds(server.proc.pid if server.proc else 0)
        return 1000 * (after[0] - before[0]) / tasks, 1000 * (after[1] - before[1]) / tasks
    finally:
        sender.close()
        worker.terminate()
        worker.wait(10)
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.celery_cost", description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--window", type=int, default=8, help="tasks in flight at a time")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    seen: dict[str, list[tuple[float, float]]] = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, variant in VARIANTS.items():
            seen[name].append(one(variant, args.tasks, args.window))
    for name, runs in seen.items():
        workers, redis = [w for w, _ in runs], [r for _, r in runs]
        print(
            f"{name:22s} worker CPU {statistics.median(workers):.2f} ms/task "
            f"({min(workers):.2f}-{max(workers):.2f}), Redis {statistics.median(redis):.2f} ms/task"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
