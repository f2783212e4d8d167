"""Soak: many tasks through the whole stack (API, two workers of two pool processes each, Redis with AOF)
while workers are killed at random: every task ends, and every final answer is in its session's stream
exactly once.

The small soak runs by default; the full one (2,000 tasks) is ``@pytest.mark.soak``: ``make soak``, or
``pytest -m soak tests/reliability/test_soak.py -s`` (figures are printed).
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx
import pytest
import redis

from graphgate.testing.stack import RedisServer, Stack, token
from tests.reliability.support import (
    check_exactly_once,
    children_of,
    kill_worker,
    session_stream,
    wait_for,
)

TERMINAL = {"completed", "failed", "cancelled"}


@dataclass
class SoakReport:
    tasks: int
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    pool_kills: int = 0
    worker_kills: int = 0
    rerun: int = 0  # tasks that needed more than one attempt
    completed_events: int = 0
    missing: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"{self.tasks} tasks in {self.seconds:.0f} s ({self.tasks / self.seconds:.1f}/s): {dict(self.statuses)}; "
            f"kills: {self.pool_kills} pool processes, {self.worker_kills} whole workers; "
            f"{self.rerun} tasks re-run after a kill; task.completed events: {self.completed_events}"
        )


class Soak:
    def __init__(
        self, stack: Stack, client: redis.Redis, tasks: int, kills: int | None, every: tuple[float, float], seed: int
    ) -> None:
        self.stack, self.client, self.tasks = stack, client, tasks
        self.max_kills, self.every = kills, every
        self.rng = random.Random(seed)
        self.created: list[dict] = []
        self.submitted = threading.Event()
        self.errors: list[BaseException] = []  # what went wrong in the submitting or killing thread
        self.stop = threading.Event()
        self.report = SoakReport(tasks)
        self.http = httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {token('soak')}"}, timeout=30)

    def submit(self) -> None:
        """Create the tasks; every fourth one joins the session of the one before it (it waits its turn)."""
        for i in range(self.tasks):
            body: dict = {"graph": "echo", "input": {"text": f"soak {i}", "sleep": round(self.rng.uniform(0, 0.3), 2)}}
            if i % 4 == 3:
                body["session_id"] = self.created[-1]["session_id"]
            resp = self.http.post("/api/v1/tasks", json=body)
            assert resp.status_code == 202, resp.text
            self.created.append({**resp.json(), "text": f"soak {i}"})
        self.submitted.set()

    def kill(self) -> None:
        """Every few seconds: SIGKILL a pool process (most often) or a whole worker (then start another)."""
        kills = 0
        while not self.stop.wait(self.rng.uniform(*self.every)):
            if self.max_kills is not None and kills >= self.max_kills:
                return
            workers = [w for w in self.stack.workers if w.popen.poll() is None]
            whole = self.rng.random() < 0.3 if self.max_kills is None else kills % 2 == 1
            victim = self.rng.choice(workers)
            if whole:
                kill_worker(self.stack, victim)
                self.report.worker_kills += 1
                self.stack.start_worker(concurrency=2)
            else:
                children = children_of(victim.popen.pid)
                if not children:
                    continue
                os.kill(self.rng.choice(children), signal.SIGKILL)
                self.report.pool_kills += 1
            kills += 1

    def _guarded(self, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as exc:  # noqa: BLE001 - reported by run()
            self.errors.append(exc)

    def statuses(self) -> list[str]:
        pipe = self.client.pipeline(transaction=False)
        for t in self.created:
            pipe.hget(f"{self.stack.prefix}:{{{t['session_id']}}}:task:{t['task_id']}", "status")
        return pipe.execute()

    def run(self, timeout: float) -> SoakReport:
        t0 = time.monotonic()
        submitter = threading.Thread(target=self._guarded, args=(self.submit,), daemon=True)
        killer = threading.Thread(target=self._guarded, args=(self.kill,), daemon=True)
        submitter.start()
        killer.start()
        try:
            wait_for(lambda: self.submitted.is_set() or self.errors, timeout, 0.5, "every task to be submitted")
            assert not self.errors, self.errors
            wait_for(lambda: all(s in TERMINAL for s in self.statuses()), timeout, 1.0, "every task to end")
            if self.max_kills is not None:  # a fixed number of kills: all of them happen, even on a fast machine
                killer.join(timeout)
                wait_for(lambda: all(s in TERMINAL for s in self.statuses()), timeout, 1.0, "every task to end")
        finally:
            self.stop.set()
            killer.join(60)
        assert not self.errors, self.errors
        self.report.seconds = time.monotonic() - t0
        self.verify()
        return self.report

    def verify(self) -> None:
        self.report.statuses = Counter(self.statuses())
        streams: dict[str, list] = {}
        for t in self.created:
            if t["session_id"] not in streams:
                streams[t["session_id"]] = session_stream(self.client, self.stack.prefix, t["session_id"])
            entries = streams[t["session_id"]]
            final = check_exactly_once(entries, t["task_id"])  # one terminal event, no step twice
            if final.type == "task.completed" and final.data["text"] == t["text"]:
                self.report.completed_events += 1
            else:
                self.report.missing.append(t["task_id"])
            if sum(1 for e in entries if e.task_id == t["task_id"] and e.type == "task.started") > 1:
                self.report.rerun += 1


def soak_stack(redis_url: str, make_stack: Callable[..., Stack]) -> Stack:
    stack = make_stack(redis_url, GRAPHGATE_RATE_LIMIT_PER_MINUTE="0")  # one principal submits them all
    stack.start_worker(concurrency=2)
    stack.start_worker(concurrency=2)
    stack.start_api()
    return stack


def check(report: SoakReport) -> None:
    print(f"\nsoak: {report.line()}")
    assert report.statuses == Counter({"completed": report.tasks}), report.statuses
    assert report.completed_events == report.tasks and not report.missing, report.missing[:5]


def test_small_soak_with_kills(aof_redis: RedisServer, store: redis.Redis, make_stack: Callable[..., Stack]) -> None:
    stack = soak_stack(aof_redis.url, make_stack)
    report = Soak(stack, store, tasks=100, kills=2, every=(1.0, 2.0), seed=7).run(timeout=180)
    check(report)
    assert report.pool_kills == 1 and report.worker_kills == 1


@pytest.mark.soak
@pytest.mark.timeout(3600)
def test_soak_2000_tasks_with_random_kills(
    aof_redis: RedisServer, store: redis.Redis, make_stack: Callable[..., Stack]
) -> None:
    seed = int(os.environ.get("SOAK_SEED", "20240601"))
    tasks = int(os.environ.get("SOAK_TASKS", "2000"))
    stack = soak_stack(aof_redis.url, make_stack)
    report = Soak(stack, store, tasks=tasks, kills=None, every=(2.0, 5.0), seed=seed).run(timeout=3600)
    check(report)
    assert report.pool_kills + report.worker_kills > 0
