"""What a worker process opens once and keeps: settings, Redis, the run store, the graphs, the checkpointer.

Opened on first use in each process (after Celery forks its pool, so no connection is shared between
processes), and separately for the worker's main process, which runs no graphs but records hard time limits.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

from graphgate.core import connections
from graphgate.core.checkpointer import open_checkpointer
from graphgate.core.queue import enqueue_run, enqueue_webhook
from graphgate.core.registry import GraphRegistry, load_registry
from graphgate.core.settings import Settings, get_settings
from graphgate.workers.runstore import RunStore


@dataclass
class Runtime:
    """What a worker process opens once: settings, Redis, the store, the graphs and the checkpointer."""

    pid: int
    settings: Settings
    store: RunStore
    registry: GraphRegistry
    checkpointer: BaseCheckpointSaver[Any]
    enqueue: Callable[..., None] = enqueue_run  # enqueue(task_id, session_id, countdown=, graph=): queue a run
    notify: Callable[[str, str, str], None] = enqueue_webhook  # notify(task_id, session_id, status): the webhook


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """This process's runtime, opened on first use (after fork: connections must not be shared)."""
    global _runtime
    if _runtime is None or _runtime.pid != os.getpid():
        settings = get_settings()
        client = connections.sync_client(settings, decode_responses=True, health_check_interval=30)
        _runtime = Runtime(
            pid=os.getpid(),
            settings=settings,
            store=RunStore(client, settings),
            registry=load_registry(settings.config, settings.default_graph, settings.approvals_file),
            checkpointer=open_checkpointer(settings),
        )
    return _runtime


_main: tuple[int, RunStore] | None = None


def main_store(settings: Settings) -> RunStore:
    """A store for the worker's main process (which runs no graphs, so opens no runtime)."""
    global _main
    if _main is None or _main[0] != os.getpid():
        client = connections.sync_client(settings, decode_responses=True, socket_timeout=5)
        _main = (os.getpid(), RunStore(client, settings))
    return _main[1]
