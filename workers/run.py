"""``run_graph``: the Celery task that runs one task's graph, and the worker-side signal handlers around it.

Each delivery of the task's message is one ``Attempt`` (workers/attempt.py). When Redis is away nothing can
be recorded, so the whole attempt is retried once Redis answers again; when a run passes Celery's hard time
limit its process is killed, and the handler here records ``task.failed`` from the worker's main process.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery.exceptions import TimeLimitExceeded
from celery.signals import task_failure, worker_process_init

from graphgate.core.events import EventType
from graphgate.core.queue import RUN_GRAPH, app, enqueue_run
from graphgate.core.settings import get_settings
from graphgate.core.store import TaskStatus
from graphgate.workers.attempt import Attempt
from graphgate.workers.runtime import main_store, runtime

log = logging.getLogger("graphgate.worker")

REDIS_WAIT_SECONDS = 120.0  # how long an attempt that met a Redis outage waits for Redis before its retry


@worker_process_init.connect
def _open_runtime(**_: Any) -> None:
    """Open connections and load graphs as each pool process starts, not on its first task."""
    runtime()


@app.task(name=RUN_GRAPH, bind=True)
def run_graph(self: Any, task_id: str, session_id: str) -> None:
    """Run (or continue) the task's graph; see the module docstring for the outcomes."""
    rt = runtime()
    try:
        Attempt(rt, task_id, session_id).run()
    except redis.RedisError as exc:  # Redis is away: nothing could be recorded; try the whole attempt later
        log.warning(
            "redis unavailable for task %s: %s; retrying",
            task_id,
            exc,
            extra={"task_id": task_id, "session_id": session_id},
        )
        # queueing the retry needs the broker (the same Redis, usually): Celery acks the message of a retry
        # it could not send, and the task would be left without one
        _wait_for_redis(rt.store.redis, REDIS_WAIT_SECONDS)
        raise self.retry(exc=exc, countdown=1.0, max_retries=None) from exc


def _wait_for_redis(client: redis.Redis, limit: float) -> bool:
    """Wait until Redis answers a PING again (True), or ``limit`` seconds went by (False)."""
    deadline = time.monotonic() + limit
    delay = 0.2
    while True:
        try:
            return bool(client.ping())
        except redis.RedisError:
            if time.monotonic() + delay > deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


@task_failure.connect
def _on_hard_time_limit(sender: Any = None, exception: BaseException | None = None, args: Any = None, **_: Any) -> None:
    """A run past the hard time limit: its process was killed and the message acked, so nothing else would
    end the task. Celery calls this in the worker's main process; it records ``task.failed`` (kind
    ``timeout``) and hands the session to its next task."""
    if getattr(sender, "name", None) != RUN_GRAPH or not isinstance(exception, TimeLimitExceeded) or not args:
        return
    task_id, session_id = args[0], args[1]
    settings = get_settings()
    try:
        store = main_store(settings)
        record = store.load(session_id, task_id)
        if record is None or record.status.terminal:
            return
        error = {
            "kind": "timeout",
            "message": f"the run exceeded the hard time limit of {settings.task_time_limit:g} s",
        }
        result = store.transition(
            record,
            {TaskStatus.QUEUED, TaskStatus.RUNNING},
            TaskStatus.FAILED,
            (EventType.TASK_FAILED, {"error": error}),
            "",
            fields={"error": error},
        )
        if result.ok and result.next_task:
            enqueue_run(result.next_task, session_id, graph=record.graph)
        log.error("task %s failed: hard time limit", task_id, extra={"task_id": task_id, "session_id": session_id})
    except redis.RedisError as exc:
        log.error("task %s: hard time limit, and redis unavailable to record it: %s", task_id, exc)
