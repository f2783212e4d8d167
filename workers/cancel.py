"""Stopping a running graph from outside: a cancel request, or Celery's soft time limit.

LangGraph runs nodes in executor threads, and a node may loop for minutes without returning to the step
loop. The process's run watcher (workers/watch.py) polls the task's cancel flag and raises ``CancelRequested``
(or Celery's ``SoftTimeLimitExceeded``) in exactly the threads that run graph code right now, which
``NodeThreads`` tracks through LangChain's callbacks. Cancelling at step boundaries alone would let a long node
run to its end; this stops the run at the next Python bytecode instead (a blocking C call, such as a socket
read, finishes first).
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler


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


_soft_limit = threading.Event()  # set when Celery's soft time limit strikes this process's run


def soft_limit_struck() -> bool:
    """Whether Celery's soft time limit struck since the last look (the flag is cleared by looking)."""
    if not _soft_limit.is_set():
        return False
    _soft_limit.clear()
    return True


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
