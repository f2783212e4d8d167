"""Tools of the fault tests: killing worker processes, reading a session's whole stream, following SSE
across disconnects, and checking that every step and every final answer appears exactly once."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import redis
from httpx_sse import EventSource

from graphgate.core.keys import Keys
from graphgate.testing.stack import ROOT, Proc, Stack
from graphgate.testing.stack import token as make_token
from graphgate.testing.waiting import wait_for

CONFIG = ROOT / "tests" / "reliability" / "langgraph.json"
TERMINAL = ("task.completed", "task.failed", "task.cancelled")

# Settings of every stack these tests start: short leases and broker visibility, so recovery is quick
BASE_ENV = {
    "GRAPHGATE_CONFIG": str(CONFIG),
    "GRAPHGATE_TASK_LEASE_SECONDS": "3",
    "GRAPHGATE_BROKER_VISIBILITY_TIMEOUT": "5",
    "GRAPHGATE_TASK_RETRY_BACKOFF_SECONDS": "0.2",
    "GRAPHGATE_SSE_PING_SECONDS": "5",
}


# --- processes --------------------------------------------------------------------------------------------


def children_of(pid: int) -> list[int]:
    """The pids whose parent is ``pid`` (a Celery worker's prefork pool processes), from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            out.append(int(entry))
    return out


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def kill_pool_child(worker: Proc) -> int:
    """SIGKILL one prefork pool process of ``worker`` (the one running a task when concurrency is 1)."""
    children = wait_for(lambda: children_of(worker.popen.pid), 10, what="a pool process")
    os.kill(children[0], signal.SIGKILL)
    return children[0]


def kill_worker(stack: Stack, worker: Proc) -> None:
    """SIGKILL a whole worker: its main process and its pool processes, as when a host dies."""
    children = children_of(worker.popen.pid)
    worker.popen.send_signal(signal.SIGKILL)
    for pid in children:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    worker.popen.wait(10)
    wait_for(lambda: not any(pid_alive(p) for p in children), 10, what="pool processes to die")
    if worker in stack.workers:
        stack.workers.remove(worker)


def worker_running(stack: Stack, task_id: str, attempt: int = 1) -> Proc:
    """The worker whose log says it started this attempt of the task."""
    needle = f"task {task_id}: run 1, attempt {attempt} "
    return wait_for(
        lambda: next((w for w in stack.workers if needle in w.text()), None),
        30,
        what=f"a worker to start attempt {attempt} of {task_id}",
    )


def restart_api(stack: Stack, sig: int = signal.SIGKILL) -> float:
    """Stop the stack's first API process with ``sig`` and start a new one on the same port; the seconds
    the port was without an API."""
    proc, port = stack.apis.pop(0)
    stopped = time.monotonic()
    stack.stop_proc(proc, sig)
    stack.start_api(port)
    stack.apis.insert(0, stack.apis.pop())  # the new process is the stack's url again
    return time.monotonic() - stopped


def stop_fast(stack: Stack) -> None:
    """Teardown: SIGKILL every worker (a graceful stop waits for runs these tests leave hanging), stop APIs."""
    for worker in list(stack.workers):
        kill_worker(stack, worker)
    stack.stop()


# --- streams ----------------------------------------------------------------------------------------------


@dataclass
class Entry:
    id: str
    envelope: dict[str, Any]

    @property
    def type(self) -> str:
        return self.envelope["type"]

    @property
    def task_id(self) -> str:
        return self.envelope["task_id"]

    @property
    def data(self) -> dict[str, Any]:
        return self.envelope["data"]


def session_stream(client: redis.Redis, prefix: str | Keys, session_id: str) -> list[Entry]:
    """Every entry of a session's event stream, read straight from Redis (XRANGE - +); ``client`` decodes.
    ``prefix``: the stack's key prefix (one Redis), or its ``Keys`` (a cluster's layout)."""
    key = (prefix if isinstance(prefix, Keys) else Keys(prefix)).events(session_id)
    return [Entry(eid, json.loads(fields["e"])) for eid, fields in client.xrange(key)]


def check_exactly_once(entries: list[Entry], task_id: str) -> Entry:
    """Assert the task's stream shows each completed step, each streamed token and its final answer once;
    its one terminal entry."""
    mine = [e for e in entries if e.task_id == task_id]
    terminals = [e for e in mine if e.type in TERMINAL]
    assert len(terminals) == 1, f"{task_id}: terminal events {[e.type for e in terminals]}"
    assert mine[-1] is terminals[0], f"{task_id}: events after the terminal one: {[e.type for e in mine]}"
    steps = Counter(e.data["step_id"] for e in mine if e.type == "node.completed")
    assert all(n == 1 for n in steps.values()), f"{task_id}: repeated steps {steps}"
    deltas = Counter((e.data["node"], e.data["seq"]) for e in mine if e.type == "message.delta")
    assert all(n == 1 for n in deltas.values()), f"{task_id}: repeated message.delta"
    return terminals[0]


# --- SSE ----------------------------------------------------------------------------------------------------


@dataclass
class Follower:
    """Follows a session's SSE stream in a thread until ``until`` holds, reconnecting with Last-Event-ID
    whenever the connection drops or is refused (as a browser's EventSource does)."""

    base_url: str
    session_id: str
    until: Callable[[Entry], bool]
    sub: str = "alice"
    timeout: float = 120
    received: list[Entry] = field(default_factory=list)
    connects: int = 0  # successful (200) connections
    errors: list[str] = field(default_factory=list)
    done: bool = False
    _thread: threading.Thread | None = None

    def start(self) -> Follower:
        self._thread = threading.Thread(target=self._run, name=f"sse-{self.session_id[:8]}", daemon=True)
        self._thread.start()
        return self

    def join(self) -> Follower:
        assert self._thread is not None
        self._thread.join(self.timeout + 5)
        assert self.done, f"follower of {self.session_id} did not finish; errors: {self.errors[-5:]}"
        return self

    def _run(self) -> None:
        deadline = time.monotonic() + self.timeout
        headers = {"Authorization": f"Bearer {make_token(self.sub)}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=httpx.Timeout(5, read=30)) as http:
            while time.monotonic() < deadline and not self.done:
                last = {"Last-Event-ID": self.received[-1].id} if self.received else {}
                try:
                    with http.stream("GET", f"/api/v1/events/{self.session_id}", headers=last) as resp:
                        if resp.status_code != 200:
                            self.errors.append(f"HTTP {resp.status_code}")
                            time.sleep(0.2)
                            continue
                        self.connects += 1
                        for sse in EventSource(resp).iter_sse():
                            if not sse.data:
                                continue
                            entry = Entry(sse.id, json.loads(sse.data))
                            self.received.append(entry)
                            if self.until(entry):
                                self.done = True
                                return
                except (httpx.HTTPError, OSError) as exc:
                    self.errors.append(type(exc).__name__)
                time.sleep(0.2)


def terminal_of(task_id: str) -> Callable[[Entry], bool]:
    return lambda e: e.task_id == task_id and e.type in TERMINAL
