"""The CPU of one worker attempt, in-process (``python -m bench.attempt``): where a run's worker time goes
without Celery's hop, measured the same way before and after a change.

Starts a private redis-server, creates ``--runs`` echo tasks with the task service, runs each one's ``Attempt``
(workers/attempt.py) in this process with SQLite checkpoints, and prints the CPU time per attempt and the Redis
commands per run (``INFO commandstats``; commands inside Lua scripts count as commands), and the CPU the task
service spent creating them (the API's share of a POST, without HTTP). ``--durability`` runs
them with another LangGraph durability mode. For a flame graph, run it under py-spy:

    py-spy record --format flamegraph -o attempt.svg -- python -m bench.attempt --runs 1500

docs/performance.md ("A worker's run") reports what this measured.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import redis

from graphgate.core.checkpointer import open_checkpointer
from graphgate.core.registry import load_registry
from graphgate.core.tasks import Principal
from graphgate.testing.stack import RedisServer
from graphgate.testing.world import World
from graphgate.workers.attempt import Attempt
from graphgate.workers.runtime import Runtime

ROOT = Path(__file__).resolve().parents[1]
WARMUP = 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.attempt", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=800)
    parser.add_argument("--durability", choices=["sync", "async", "exit"], default=None)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="gg-attempt-"))
    server = RedisServer(work / "redis").start()
    try:
        world = World(server.url, load_registry(ROOT / "langgraph.json"))
        settings = world.settings.model_copy(update={"data_dir": work})
        if args.durability:
            settings = settings.model_copy(update={"durability": args.durability})
        rt = Runtime(
            pid=os.getpid(),
            settings=settings,
            store=world.store,
            registry=world.services.graphs,
            checkpointer=open_checkpointer(settings),
            enqueue=lambda *a, **k: None,
            notify=lambda *a: None,
        )
        who = Principal("bench")
        tasks = [
            world.run(world.service.create_task(who, input={"text": f"run {i}"}, graph="echo")) for i in range(WARMUP)
        ]
        created = time.process_time()
        tasks += [
            world.run(world.service.create_task(who, input={"text": f"run {i}"}, graph="echo"))
            for i in range(WARMUP, WARMUP + args.runs)
        ]
        created = time.process_time() - created
        for task in tasks[:WARMUP]:
            Attempt(rt, task.id, task.session_id).run()
        admin = redis.Redis.from_url(server.url)
        before = {k: v["calls"] for k, v in admin.info("commandstats").items()}
        cpu, wall = time.process_time(), time.perf_counter()
        for task in tasks[WARMUP:]:
            Attempt(rt, task.id, task.session_id).run()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        after = {k: v["calls"] for k, v in admin.info("commandstats").items()}
        done = world.store.load(tasks[-1].session_id, tasks[-1].id)
        assert done is not None and done.status.value == "completed", done
        per_run = {
            k.removeprefix("cmdstat_"): round((v - before.get(k, 0)) / args.runs, 2)
            for k, v in sorted(after.items())
            if v - before.get(k, 0) and k != "cmdstat_info"
        }
        print(
            f"{args.runs} attempts: CPU {1000 * cpu / args.runs:.2f} ms/run, wall {1000 * wall / args.runs:.2f} ms/run"
        )
        print(f"Redis commands per run: {per_run}")
        print(f"creating the tasks (the task service, no HTTP): CPU {1000 * created / args.runs:.2f} ms/task")
        return 0
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
