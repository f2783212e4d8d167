"""The systems under test, started and stopped by the bench, all serving the graphs of the repo's
``langgraph.json``: graphgate (private Redis, API, worker), and as peers the LangGraph server (``langgraph dev``)
and Aegra (aegra-api on uvicorn, PostgreSQL), the latter in a venv of its own (it needs Python >= 3.12).
"""

from __future__ import annotations

import importlib.metadata
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
from typing import Protocol
from urllib.parse import urlparse, urlunparse

import httpx

from graphgate.cli.processes import free_port, wait_until
from graphgate.testing.cluster import RedisCluster
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
class PostgresCpu:
    """CPU of a PostgreSQL server on this machine spent while a batch runs against one of its databases.

    Backends (one process per connection) come and go with the clients' pools, so this counts the whole server:
    the postmaster, its children at the start and at the end, and the children that exited in between (the
    postmaster's ``cutime``/``cstime`` in /proc/<pid>/stat, exact once it has reaped them). The shared processes
    (WAL writer, checkpointer, autovacuum) are in it: the workload makes their work. Backends of other databases
    connected at the start or the end are left out; the server is assumed to serve nothing else meanwhile.
    """

    postmaster: int
    database: str
    _start: float = 0.0
    _foreign: dict[int, float] = field(default_factory=dict)  # other databases' backends at the start

    def _foreign_backend(self, pid: int) -> bool:
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            return False
        client = b"(" in title or b"[local]" in title  # "postgres: <cluster>: <user> <db> <host>(<port>) <state>"
        return client and f" {self.database} ".encode() not in title

    def _look(self) -> tuple[float, dict[int, float]]:
        """(CPU seconds of the server so far but other databases' backends, those backends' CPU seconds)."""
        try:
            fields = Path(f"/proc/{self.postmaster}/stat").read_text().rsplit(")", 1)[1].split()
            own = sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
            children = Path(f"/proc/{self.postmaster}/task/{self.postmaster}/children").read_text().split()
        except (OSError, ValueError):
            return 0.0, {}
        total, foreign = own, {}
        for pid in map(int, children):
            if self._foreign_backend(pid):
                foreign[pid] = cpu_seconds(pid)
            else:
                total += cpu_seconds(pid)
        return total, foreign

    def start(self) -> PostgresCpu:
        self._start, self._foreign = self._look()
        return self

    def stop(self) -> float:
        """CPU seconds since ``start``; a foreign backend that exited meanwhile is reaped into the total, so its
        CPU before the start is taken out again."""
        end, foreign = self._look()
        gone = sum(seconds for pid, seconds in self._foreign.items() if pid not in foreign)
        return end - self._start - gone


@dataclass
class CpuMeter:
    """CPU seconds spent by groups of processes between ``start`` and ``stop`` (the bench itself: "client"; the
    PostgreSQL server, when the system uses one: "postgres")."""

    groups: dict[str, list[int]]
    postgres: PostgresCpu | None = None
    _start: dict[str, float] = field(default_factory=dict)
    spent: dict[str, float] = field(default_factory=dict)

    def _now(self) -> dict[str, float]:
        now = {name: sum(cpu_seconds(p) for p in pids) for name, pids in self.groups.items()}
        now["client"] = time.process_time()
        return now

    def start(self) -> CpuMeter:
        if self.postgres is not None:
            self.postgres.start()
        self._start = self._now()
        return self

    def stop(self) -> dict[str, float]:
        end = self._now()
        self.spent = {name: end[name] - self._start[name] for name in end}
        if self.postgres is not None:
            self.spent["postgres"] = self.postgres.stop()
        return self.spent


class LangGraphServer(Protocol):
    """What the bench needs of a server it drives through the LangGraph Server API (bench/peer_load.py)."""

    @property
    def url(self) -> str: ...

    @property
    def headers(self) -> dict[str, str]: ...

    def start(self) -> str: ...

    def stop(self) -> None: ...

    def processes(self) -> dict[str, list[int]]: ...

    def postgres(self) -> PostgresCpu | None: ...


@dataclass
class Graphgate:
    """One graphgate deployment on the bench's private Redis: one API process, one Celery worker.

    Checkpoints are durable in every configuration: the SQLite file in the stack's data directory, or the
    PostgreSQL ``database``.
    """

    label: str
    redis: RedisServer
    workdir: Path
    database: PostgresDatabase | None = None
    concurrency: int = 2
    pool: str = "prefork"
    stack: Stack | None = None
    cluster: RedisCluster | None = None  # the state on this Redis Cluster; ``redis`` is then only the broker

    def start(self) -> str:
        """Start worker and API; the API's base URL."""
        env = dict(BENCH_ENV)
        if self.database is not None:
            env["GRAPHGATE_CHECKPOINTER_URL"] = self.database.url
        state = self.redis.url
        if self.cluster is not None:
            state = self.cluster.url
            env["GRAPHGATE_REDIS_CLUSTER"] = "true"
            env["GRAPHGATE_BROKER_URL"] = self.redis.url
        # logging stays at graphgate's default level (INFO), as the peer's stays at its own default
        self.stack = Stack(redis_url=state, workdir=self.workdir, extra_env=env)
        self.stack.start_worker(self.concurrency, self.pool)
        return self.stack.start_api()

    @property
    def url(self) -> str:
        assert self.stack is not None
        return self.stack.url

    @property
    def headers(self) -> dict[str, str]:
        """The bench principal's bearer JWT, which the LangGraph Server API takes as /api/v1 does."""
        return bearer()

    @property
    def prefix(self) -> str:
        assert self.stack is not None
        return self.stack.prefix

    @property
    def api_pid(self) -> int:
        assert self.stack is not None
        return self.stack.apis[0][0].popen.pid

    def processes(self) -> dict[str, list[int]]:
        """The processes serving graphgate, by role: API, worker (with its pool), Redis (every node of a cluster,
        and the broker's Redis)."""
        assert self.stack is not None and self.redis.proc is not None
        nodes = [n.proc.pid for n in self.cluster.nodes if n.proc is not None] if self.cluster is not None else []
        return {
            "api": [self.api_pid],
            "worker": [p for w in self.stack.workers for p in process_tree(w.popen.pid)],
            "redis": [self.redis.proc.pid, *nodes],
        }

    def postgres(self) -> PostgresCpu | None:
        return self.database.cpu() if self.database is not None else None

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
    prefix: str = "graphgate_bench_"
    name: str = ""
    postmaster: int | None = None  # the server's main process, when it runs on this machine

    def __post_init__(self) -> None:
        self.name = self.name or f"{self.prefix}{uuid.uuid4().hex[:8]}"

    @property
    def url(self) -> str:
        parts = urlparse(self.server_url)
        return urlunparse(parts._replace(path=f"/{self.name}"))

    def create(self) -> PostgresDatabase:
        import psycopg

        try:
            with psycopg.connect(self.server_url, connect_timeout=3, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.name}"')
                row = conn.execute("SELECT pg_backend_pid()").fetchone()
                # while the connection is open: its backend exits with it
                self.postmaster = _postmaster_of(int(row[0])) if row else None
        except psycopg.Error as exc:
            raise PostgresUnavailable(f"{type(exc).__name__}: {str(exc).strip()[:160]}") from exc
        return self

    def cpu(self) -> PostgresCpu | None:
        """A meter of the server's CPU for this database; None when the server is not a process on this machine."""
        return PostgresCpu(self.postmaster, self.name) if self.postmaster else None

    def drop(self) -> None:
        import psycopg

        try:
            with psycopg.connect(self.server_url, connect_timeout=3, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        except psycopg.Error:
            pass


def _postmaster_of(backend: int) -> int | None:
    """The parent of a backend seen from this machine, if that is a PostgreSQL server (not a remote one)."""
    try:
        parent = int(Path(f"/proc/{backend}/stat").read_text().rsplit(")", 1)[1].split()[1])
        title = Path(f"/proc/{backend}/cmdline").read_bytes()
    except (OSError, ValueError, IndexError):
        return None
    return parent if title.startswith(b"postgres: ") else None


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
    headers: dict[str, str] = field(default_factory=dict)  # no auth in `langgraph dev`

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

    def postgres(self) -> None:
        return None  # its state is in memory

    def log_tail(self) -> str:
        path = self.workdir / "server.log" if self.workdir else None
        return path.read_text(errors="replace")[-3000:] if path and path.exists() else ""

    def stop(self) -> None:
        stop_group(self.proc)
        self.proc = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def stop_group(proc: subprocess.Popen[bytes] | None) -> None:
    """Stop a server started in a process group of its own: it may have started helpers of its own."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


AEGRA_VENV = ROOT / ".venv-aegra"
AEGRA_PACKAGES = ("aegra-api==0.11.0", "aegra-cli==0.11.0")  # 0.11 needs Python >= 3.12 (3.11 gets 0.6.0)
# what the graphs of langgraph.json import, pinned to the versions the bench's own environment runs them with
GRAPH_PACKAGES = ("langgraph", "langchain-core", "langchain")


class AegraUnavailable(Exception):
    """Aegra cannot run here: no Python >= 3.12 for its venv, or its install, migrations or start failed."""


def _is_312(python: str) -> bool:
    try:
        check = "import sys; sys.exit(sys.version_info < (3, 12))"
        return subprocess.run([python, "-c", check], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def python312(preferred: str | None = None) -> str | None:
    """A Python >= 3.12 for Aegra's venv: ``preferred`` when given, else one on PATH, else one of pyenv's."""
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    candidates = (
        [preferred]
        if preferred
        else [
            *(shutil.which(f"python3.{minor}") for minor in range(12, 16)),
            *(str(version / "bin" / "python") for version in sorted(pyenv.glob("3.1[2-9]*"))),
        ]
    )
    return next((python for python in candidates if python and _is_312(python)), None)


def aegra_requirements() -> list[str]:
    pins = []
    for name in GRAPH_PACKAGES:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pins.append(name)
    return [*AEGRA_PACKAGES, *pins]


def aegra_missing(postgres_url: str | None, python: str | None) -> str | None:
    """Why Aegra cannot run here, or None when it can (whether PostgreSQL answers shows when it starts)."""
    if not postgres_url:
        return "no --postgres-url (Aegra keeps threads, runs and checkpoints in PostgreSQL)"
    if python312(python) is None:
        where = python or "on PATH or in pyenv"
        return f"no Python >= 3.12 {where} (aegra-api 0.11 needs it; --aegra-python)"
    return None


def aegra_venv(python: str | None) -> Path:
    """The Python of Aegra's venv (.venv-aegra), made on first use and again when the interpreter or the
    requirements change."""
    base = python312(python)
    if base is None:
        raise AegraUnavailable("no Python >= 3.12")
    venv_python = AEGRA_VENV / "bin" / "python"
    marker = AEGRA_VENV / ".bench-installed"
    requirements = aegra_requirements()
    wanted = "\n".join([base, *requirements])
    if venv_python.exists() and marker.exists() and marker.read_text() == wanted:
        return venv_python
    shutil.rmtree(AEGRA_VENV, ignore_errors=True)
    steps = [[base, "-m", "venv", str(AEGRA_VENV)], [str(venv_python), "-m", "pip", "install", *requirements]]
    log = Path(tempfile.mkdtemp(prefix="gg-bench-aegra-pip-")) / "pip.log"
    for step in steps:
        with open(log, "ab") as out:
            done = subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, timeout=900)
        if done.returncode != 0:
            tail = log.read_text(errors="replace").strip().splitlines()[-1:] or ["?"]
            shutil.rmtree(AEGRA_VENV, ignore_errors=True)
            raise AegraUnavailable(f"{' '.join(step[:4])} failed ({log}): {tail[0][:200]}")
    marker.write_text(wanted)
    shutil.rmtree(log.parent, ignore_errors=True)
    return venv_python


@dataclass
class Aegra:
    """Aegra (``aegra_api.main:app`` on uvicorn, one process) serving the graphs of the repo's ``langgraph.json``
    from a PostgreSQL database made for it and dropped by ``stop``.

    Runs execute inside the API process (``REDIS_BROKER_ENABLED=false``: no queue). The app folder holds
    ``aegra.json``, a copy of ``langgraph.json`` with absolute paths; ``aegra db upgrade`` makes the schema;
    uvicorn is started directly, as ``aegra serve`` would run it in a child process. Auth is off
    (``AUTH_TYPE=noop``), and so are LangSmith tracing and OpenTelemetry: it sends nothing anywhere.
    """

    server_url: str  # the PostgreSQL server where its database is made
    python: str | None = None  # the interpreter for .venv-aegra; None: the first Python >= 3.12 found
    port: int = 0
    workdir: Path | None = None
    database: PostgresDatabase | None = None
    proc: subprocess.Popen[bytes] | None = None
    versions: str = ""
    headers: dict[str, str] = field(default_factory=dict)  # AUTH_TYPE=noop

    def start(self) -> str:
        venv_python = aegra_venv(self.python)
        self.versions = subprocess.run(
            [str(venv_python), "-c", _VERSIONS], capture_output=True, text=True, timeout=30
        ).stdout.strip()
        self.database = PostgresDatabase(self.server_url, prefix="graphgate_bench_aegra_").create()
        try:
            return self._serve(venv_python)
        except BaseException:
            self.stop()
            raise

    def _serve(self, venv_python: Path) -> str:
        assert self.database is not None
        self.workdir = Path(tempfile.mkdtemp(prefix="gg-bench-aegra-"))
        config = self.workdir / "aegra.json"
        config.write_text(json.dumps(absolute_config(CONFIG), indent=2))
        self.port = free_port()
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("GRAPHGATE_", "LANGSMITH_", "LANGCHAIN_", "AEGRA_", "POSTGRES_", "REDIS_", "OTEL_"))
            and k not in ("DATABASE_URL", "VIRTUAL_ENV")
        }
        env.update(
            DATABASE_URL=self.database.url,
            AEGRA_CONFIG=str(config),
            AUTH_TYPE="noop",
            REDIS_BROKER_ENABLED="false",
            OTEL_TARGETS="",
            LANGSMITH_TRACING="false",
            RUN_MIGRATIONS_ON_STARTUP="false",  # `aegra db upgrade` below, as a deployment does
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
        )
        log = self.workdir / "server.log"
        with open(log, "ab") as out:
            migrated = subprocess.run(
                [str(venv_python.parent / "aegra"), "db", "upgrade"],
                cwd=self.workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=120,
            )
        if migrated.returncode != 0:
            raise AegraUnavailable(f"aegra db upgrade failed:\n{self.log_tail()}")
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                [
                    str(venv_python),
                    "-m",
                    "uvicorn",
                    "aegra_api.main:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                cwd=self.workdir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def ready() -> bool:
            if self.proc is None or self.proc.poll() is not None:
                raise AegraUnavailable(f"aegra exited:\n{self.log_tail()}")
            try:
                return httpx.get(f"{self.url}/health", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                return False

        if not wait_until(ready, 120, 0.2):
            raise AegraUnavailable(f"aegra did not answer /health:\n{self.log_tail()}")
        return self.url

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def processes(self) -> dict[str, list[int]]:
        """The server: one uvicorn process, which also runs the graphs."""
        assert self.proc is not None
        return {"server": process_tree(self.proc.pid)}

    def postgres(self) -> PostgresCpu | None:
        return self.database.cpu() if self.database is not None else None

    def log_tail(self) -> str:
        path = self.workdir / "server.log" if self.workdir else None
        return path.read_text(errors="replace")[-3000:] if path and path.exists() else ""

    def stop(self) -> None:
        stop_group(self.proc)
        self.proc = None
        if self.database is not None:
            self.database.drop()
            self.database = None
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


_VERSIONS = """
import importlib.metadata as m, platform
print(f"Python {platform.python_version()}, " + ", ".join(f"{n} {m.version(n)}" for n in ("aegra-api", "langgraph")))
"""


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
