"""The workers' side of the run-duration metrics: Celery signal handlers that time each ``run_graph`` attempt
and add it to the histograms in Redis (graphgate/core/runmetrics.py says how they are kept and read)."""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from celery.signals import task_postrun, task_prerun

from graphgate.core.queue import RUN_GRAPH
from graphgate.core.runmetrics import OUTCOMES, record_run
from graphgate.workers.runtime import runtime

log = logging.getLogger("graphgate.worker.metrics")

_started: dict[str, float] = {}


@task_prerun.connect
def _run_started(task_id: str = "", task: Any = None, **_: Any) -> None:
    if getattr(task, "name", None) == RUN_GRAPH:
        _started[task_id] = time.monotonic()


@task_postrun.connect
def _run_finished(task_id: str = "", task: Any = None, args: Any = None, **_: Any) -> None:
    started = _started.pop(task_id, None)
    if started is None or getattr(task, "name", None) != RUN_GRAPH or not args or len(args) < 2:
        return
    seconds = time.monotonic() - started
    try:
        rt = runtime()
        status, graph = rt.store.redis.hmget(rt.store.keys.task(args[1], args[0]), "status", "graph")
        record_run(rt.store.redis, rt.store.keys, graph or "unknown", OUTCOMES.get(status or "", "other"), seconds)
    except redis.RedisError as exc:  # metrics never fail a run
        log.debug("run metrics not recorded: %s", exc, extra={"task_id": args[0], "session_id": args[1]})
