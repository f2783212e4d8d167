"""Stopping a running graph from outside: a cancel request, or Celery's soft time limit.

LangGraph runs nodes in executor threads, and a node may loop for minutes without returning to the step
loop. ``CancelWatcher`` polls the task's cancel flag and raises ``CancelRequested`` (or Celery's
``SoftTimeLimitExceeded``) in exactly the threads that run graph code right now, which ``NodeThreads``
tracks through LangChain's callbacks.
"""

from __future__ import annotations

import ctypes
import signal
import threading
from typing import Any

import redis
from celery.exceptions import SoftTimeLimitExceeded
from langchain_core.callbacks import BaseCallbackHandler

from graphgate.workers.runstore import RunStore

CANCEL_CHECK_SECONDS = 0.1  # how often a running task looks for a cancel request


class CancelRequested(BaseException):
    """Raised into the run when someone asks it to stop (BaseException: a graph's ``except Exception``
    must not swallow it)."""


class NodeThreads(BaseCallbackHandler):
    """Tracks which threads are running graph code right now (LangGraph runs nodes in executor threads
    when it streams messages), so a cancel can be raised where the work happens."""

    run_inline = True

    def __init__(self) -> None:
        self._runs: dict[Any, int] = {}

    def idents(self) -> set[int]:
        return set(self._runs.values())

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: Any, **kwargs: Any) -> None:
        self._runs[run_id] = threading.get_ident()

    def on_chain_end(self, outputs: Any, *, run_id: Any, **kwargs: Any) -> None:
        self._runs.pop(run_id, None)

    def on_chain_error(self, error: BaseException, *, run_id: Any, **kwargs: Any) -> None:
        self._runs.pop(run_id, None)


class CancelWatcher:
    """Polls the task's cancel flag while the graph runs and raises ``CancelRequested`` in the threads
    running it.

    Cancelling at step boundaries alone would let a long node run to its end; this stops the run at the
    next Python bytecode instead (a blocking C call, such as a socket read, finishes first). It fires only
    while armed, that is inside ``graph.stream``: never during the run's own final state change.

    When Celery's soft time limit strikes it raises ``SoftTimeLimitExceeded`` into the node threads as well:
    Celery raises it in the main thread only, which then waits for the executor running the nodes, so a node
    that never returns would otherwise hold the run until the hard limit kills the process.
    """

    def __init__(self, store: RunStore, session_id: str, task_id: str, nodes: NodeThreads) -> None:
        self.store, self.session_id, self.task_id, self.nodes = store, session_id, task_id, nodes
        self._main = threading.get_ident()
        self._lock = threading.Lock()
        self._armed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"cancel-{task_id[:8]}", daemon=True)

    def __enter__(self) -> CancelWatcher:
        with self._lock:
            self._armed = True
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._armed = False
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(CANCEL_CHECK_SECONDS):
            if _soft_limit.is_set():
                _soft_limit.clear()
                with self._lock:
                    if self._armed:  # not into the main thread: Celery's own exception is on its way there
                        for ident in self.nodes.idents() - {self._main}:
                            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                                ctypes.c_ulong(ident), ctypes.py_object(SoftTimeLimitExceeded)
                            )
            try:
                if self.store.cancel_requested(self.session_id, self.task_id) is None:
                    continue
            except redis.RedisError:
                continue
            with self._lock:
                if self._armed:
                    self._armed = False
                    for ident in self.nodes.idents() | {self._main}:
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(
                            ctypes.c_ulong(ident), ctypes.py_object(CancelRequested)
                        )
            return


_soft_limit = threading.Event()  # set when Celery's soft time limit strikes this process's run


def watch_soft_limit() -> None:
    """Chain the ``_soft_limit`` flag onto Celery's soft time limit signal handler (SIGUSR1 in a prefork pool
    process, installed by the pool after the process start hooks, hence done at a run's start)."""
    _soft_limit.clear()
    if threading.current_thread() is not threading.main_thread():
        return  # the threads pool has no time limits
    celery_handler = signal.getsignal(signal.SIGUSR1)
    if not callable(celery_handler) or getattr(celery_handler, "graphgate", False):
        return

    def on_soft_limit(signum: int, frame: Any) -> None:
        _soft_limit.set()
        celery_handler(signum, frame)  # raises SoftTimeLimitExceeded in the main thread

    on_soft_limit.graphgate = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGUSR1, on_soft_limit)
