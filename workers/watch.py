"""One watcher thread per worker process for the runs it holds: it renews each run's lease and, while the graph
runs, looks for a cancel request (and Celery's soft time limit), instead of two new threads for every run.

A run registers with ``RUN_WATCH.watch(...)`` for the whole attempt (the lease) and ``arms`` its ``Watched`` while
LangGraph streams (the cancel): a cancel request then raises ``CancelRequested`` in exactly the threads that run
graph code (``NodeThreads``), and the soft time limit raises ``SoftTimeLimitExceeded`` in the node threads (Celery
raises it in the main thread only, which would then wait for a node that never returns). A prefork pool process
holds one run at a time; a threads pool holds several, and the one thread looks after each.
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from celery.exceptions import SoftTimeLimitExceeded

from graphgate.workers.cancel import CancelRequested, NodeThreads, soft_limit_struck
from graphgate.workers.runstore import RunStore

CANCEL_CHECK_SECONDS = 0.1  # how often a running graph is looked at for a cancel request


class Watched:
    """One run under watch: its lease (``lost`` once another run took it) and, while armed, its graph's threads."""

    def __init__(self, store: RunStore, session_id: str, task_id: str, token: str) -> None:
        self.store, self.session_id, self.task_id, self.token = store, session_id, task_id, token
        self.lost = False
        self.released = False  # the run's last state change released the lease itself: nothing to release
        self.main = threading.get_ident()
        self._nodes: NodeThreads | None = None  # set while the graph runs (armed)
        self._lock = threading.Lock()
        self._renew_every = store.settings.task_lease_seconds / 3
        self._next_renewal = time.monotonic() + self._renew_every

    @contextmanager
    def armed(self, nodes: NodeThreads) -> Iterator[None]:
        """Cancel requests stop the graph while this block runs (never during the run's own last state change)."""
        with self._lock:
            self._nodes = nodes
        try:
            yield
        finally:
            with self._lock:
                self._nodes = None

    def look(self, soft_limit: bool) -> None:
        """One look, from the watcher thread: renew the lease when due, pass on a soft time limit, and raise a
        cancel request into the graph's threads (once)."""
        now = time.monotonic()
        if not self.lost and now >= self._next_renewal:
            try:
                if self.store.renew_lease(self.session_id, self.task_id, self.token):
                    self._next_renewal = now + self._renew_every
                else:
                    self.lost = True
            except redis.RedisError:
                pass  # try again at the next look; the lease outlives a short outage
        with self._lock:
            nodes = self._nodes
            if nodes is not None and soft_limit:  # not into the main thread: Celery's own exception goes there
                _raise_in(nodes.idents() - {self.main}, SoftTimeLimitExceeded)
        if nodes is None:
            return
        try:
            if self.store.cancel_requested(self.session_id, self.task_id) is None:
                return
        except redis.RedisError:
            return
        with self._lock:
            if self._nodes is not None:
                _raise_in(self._nodes.idents() | {self.main}, CancelRequested)
                self._nodes = None  # disarmed: a run is cancelled once


class RunWatch:
    """The process's watcher thread and the runs it looks after (started on first use, again after a fork)."""

    def __init__(self) -> None:
        self._runs: dict[str, Watched] = {}
        self._lock = threading.Lock()
        self._busy = threading.Event()  # set while there is a run to look after
        self._pid = 0

    @contextmanager
    def watch(self, store: RunStore, session_id: str, task_id: str, token: str) -> Iterator[Watched]:
        """Watch a run for the block; its lease is released at the end unless it was lost or released already."""
        watched = Watched(store, session_id, task_id, token)
        with self._lock:
            if self._pid != os.getpid():  # a forked pool process has no thread of its parent's
                self._pid = os.getpid()
                self._runs = {}
                threading.Thread(target=self._loop, name="graphgate-run-watch", daemon=True).start()
            self._runs[task_id] = watched
            self._busy.set()
        try:
            yield watched
        finally:
            with self._lock:
                self._runs.pop(task_id, None)
                if not self._runs:
                    self._busy.clear()
            if not watched.lost and not watched.released:
                store.release_lease(session_id, task_id, token)

    def _loop(self) -> None:
        while True:
            self._busy.wait()
            time.sleep(CANCEL_CHECK_SECONDS)
            with self._lock:
                runs = list(self._runs.values())
            soft_limit = soft_limit_struck()
            for watched in runs:
                watched.look(soft_limit)


def _raise_in(idents: set[int], exc: type[BaseException]) -> None:
    for ident in idents:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(exc))


RUN_WATCH = RunWatch()
