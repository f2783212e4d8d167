"""The systems under test, started and stopped by the bench: graphgate (private Redis, API, worker) and the
LangGraph server (``langgraph dev``) as the peer, both serving the graphs of the repo's ``langgraph.json``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import httpx

from graphgate.cli.processes import free_port, wait_until
from graphgate.testing.stack import ROOT, RedisServer, Stack, token

CONFIG = ROOT / "langgraph.json"
BENCH_SUB = "bench"  # the principal every bench request runs as
# every bench request comes from one principal: its per-principal rate limit is set out of reach (the check
# itself still runs, so its cost stays in the numbers)
BENCH_ENV = {"GRAPHGATE_RATE_LIMIT_PER_MINUTE": str(10**9)}


def bearer() -> dict[str, str]:
    """Authorization header of the bench principal (the JWT secret of graphgate/testing/stack.py)."""
    return {"Authorization": f"Bearer {token(BENCH_SUB)}"}


def rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) of a process in KiB, from /proc/<pid>/status; (0, 0) when it cannot be read."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in values:
                values[name] = int(rest.split()[0])
    except (OSError, ValueError):
        pass
    return values["VmRSS"], values["VmHWM"]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def process_tree(pid: int) -> list[int]:
    """A process and all its descendants (a Celery worker and its pool processes)."""
    out = [pid]
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for child in children:
        out.extend(process_tree(int(child)))
    return out


@dataclass
class CpuMeter:
    """CPU seconds spent by groups of processes between ``start`` and ``stop`` (the bench itself: "client")."""

    groups: dict[str, list[int]]
    _start: dict[str, float] = field(default_factory=dict)
    spent: dict[str, float] = field(default_factory=dict)

    def _now(self) -> dict[str, float]:
        now = {name: sum(cpu_seconds(p) for p in pids) for name, pids in self.groups.items()}
        now["client"] = time.process_time()
        return now

    def start(self) -> CpuMeter:
        self._start = self._now()
        return self

    def stop(self) -> dict[str, float]:
        end = self._now()
        self.spent = {name: end[name] - self._start[name] for name in end}
        return self.spent


@dataclass
class Graphgate:
    """One graphgate deployment on the bench's private Redis: one API process, one Celery worker.

    Checkpoints are durable in every configuration: the SQLite file in the stack's data directory, or the
    PostgreSQL database given as ``checkpointer_url``.
    """

    label: str
    redis: RedisServer
    workdir: Path
    checkpointer_url: str | None = None
    concurrency: int = 2
    pool: str = "prefork"
    stack: Stack | None = None

    def start(self) -> str:
        """Start worker and API; the API's base URL."""
        env = dict(BENCH_ENV)
        if self.checkpointer_url:
            env["GRAPHGATE_CHECKPOINTER_URL"] = self.checkpointer_url
        # logging stays at graphgate's default level (INFO), as the peer's stays at its own default
        self.stack = Stack(redis_url=self.redis.url, workdir=self.workdir, extra_env=env)
        self.stack.start_worker(self.concurrency, self.pool)
        return self.stack.start_api()

    @property
    def url(self) -> str:
        assert self.stack is not None
        return self.stack.url

    @property
    def prefix(self) -> str:
        assert self.stack is not None
        return self.stack.prefix

    @property
    def api_pid(self) -> int:
        assert self.stack is not None
        return self.stack.apis[0][0].popen.pid

    def processes(self) -> dict[str, list[int]]:
        """The processes serving graphgate, by role: API, worker (with its pool), Redis."""
        assert self.stack is not None and self.redis.proc is not None
        return {
            "api": [self.api_pid],
            "worker": [p for w in self.stack.workers for p in process_tree(w.popen.pid)],
            "redis": [self.redis.proc.pid],
        }

    def stop(self) -> None:
        if self.stack is not None:
            self.stack.stop()
            self.stack = None


class PostgresUnavailable(Exception):
    """The machine's PostgreSQL could not be reached or a database could not be created there."""


@dataclass
class PostgresDatabase:
    """A throwaway database on an existing PostgreSQL server, dropped again by ``drop``."""

    server_url: str  # postgresql://user@host:port/<maintenance db>
    name: str = field(default_factory=lambda: f"graphgate_bench_{uuid.uuid4().hex[:8]}")

    @property
    def url(self) -> str:
        parts = urlparse(self.server_url)
        return urlunparse(parts._replace(path=f"/{self.name}"))

    def create(self) -> PostgresDatabase:
        import psycopg

        try:
            with psycopg.connect(self.server_url, connect_timeout=3, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
        except psycopg.Error as exc:
            raise PostgresUnavailable(f"{type(exc).__name__}: {str(exc).strip()[:160]}") from exc
        return self

    def drop(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.server_url, connect_timeout=3, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except psycopg.Error:
            pass


class PeerUnavailable(Exception):
    """The LangGraph server cannot run here (the ``bench`` extra is not installed, or it did not start)."""


def peer_missing() -> str | None:
    """Why ``langgraph dev`` cannot run in this environment, or None when it can."""
    # find_spec, not import: importing the in-memory runtime creates ./.langgraph_api in the working directory
    for module in ("langgraph_cli", "langgraph_api", "langgraph_runtime_inmem", "langgraph_sdk"):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed: pip install -e '.[bench]'"
    if _langgraph_cli() is None:
        return "the langgraph command is not on PATH"
    return None


def _langgraph_cli() -> str | None:
    beside = Path(sys.executable).parent / "langgraph"
    return str(beside) if beside.exists() else shutil.which("langgraph")


@dataclass
class Peer:
    """``langgraph dev`` (in-memory runtime) serving the graphs of the repo's ``langgraph.json``.

    It runs in a scratch directory (the dev server keeps its pickled state in ``./.langgraph_api``) from a
    copy of ``langgraph.json`` whose paths are made absolute, so the graphs are the very same files.
    Analytics are off (``LANGGRAPH_CLI_NO_ANALYTICS=1``), LangSmith tracing is off, and no license key is
    set, so the server sends nothing anywhere.
    """

    jobs_per_worker: int = 10
    port: int = 0
    workdir: Path | None = None
    proc: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        why = peer_missing()
        if why:
            raise PeerUnavailable(why)
        self.workdir = Path(tempfile.mkdtemp(prefix="gg-bench-peer-"))
        config = self.workdir / "langgraph.json"
        config.write_text(json.dumps(absolute_config(CONFIG), indent=2))
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHGATE_", "LANGSMITH_", "LANGCHAIN_"))}
        env.update(
            LANGGRAPH_CLI_NO_ANALYTICS="1", LANGSMITH_TRACING="false", PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1"
        )
        log = open(self.workdir / "server.log", "ab")
        self.proc = subprocess.Popen(
            [
                _langgraph_cli() or "langgraph",
                "dev",
                "--config",
                str(config),
                "--port",
                str(self.port),
                "--n-jobs-per-worker",
                str(self.jobs_per_worker),
                "--no-browser",
                "--no-reload",
            ],
            cwd=self.workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

        def ready() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                raise PeerUnavailable(f"langgraph dev exited:\n{self.log_tail()}")
            try:
                return httpx.get(f"{self.url}/ok", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                return False

        if not wait_until(ready, 120, 0.2):
            self.stop()
            raise PeerUnavailable(f"langgraph dev did not answer /ok:\n{self.log_tail()}")
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def processes(self) -> dict[str, list[int]]:
        """The server's processes (the ``langgraph`` command runs the API and its queue in one)."""
        return {"server": process_tree(self.pid)}

    def log_tail(self) -> str:
        path = self.workdir / "server.log" if self.workdir else None
        return path.read_text(errors="replace")[-3000:] if path and path.exists() else ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            # its own process group: the server may have started helpers of its own
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            except ProcessLookupError:
                pass
        self.proc = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def absolute_config(path: Path) -> dict[str, object]:
    """``langgraph.json`` with its dependency and graph paths made absolute (relative to its directory)."""
    base = path.resolve().parent
    config = json.loads(path.read_text())
    config["dependencies"] = [
        str((base / d).resolve()) if d.startswith(".") else d for d in config.get("dependencies", [])
    ]
    graphs = {}
    for name, spec in config.get("graphs", {}).items():
        file, sep, attr = spec.rpartition(":")
        graphs[name] = f"{(base / file).resolve()}{sep}{attr}" if file.startswith(".") else spec
    config["graphs"] = graphs
    return config
