"""Real processes for integration tests: a private redis-server, API servers and Celery workers.

Nothing here mocks graphgate: each ``Stack`` runs ``python -m graphgate.cli api|worker`` as subprocesses
against its own Redis, key prefix and data directory, exactly as an operator would.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import httpx
import redis
from redis.cluster import RedisCluster

from graphgate.cli.processes import free_port, redis_reachable, wait_until
from graphgate.core.keys import Keys
from graphgate.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
JWT_SECRET = "test-secret-for-graphgate-integration-tests-only"
SECRET_KEY = "test-signing-key-for-graphgate-stream-tokens"


# GRAPHGATE_TEST_BROKER=amqp://… runs the stacks' Celery broker there instead of on their Redis (make test
# runs the core flow and the worker-kill tests this way against the machine's RabbitMQ; docs/scaling.md)
# GRAPHGATE_TEST_REDIS_CLUSTER=1 keeps the stacks' state on a Redis Cluster the tests start (tests/conftest.py),
# with their broker on the test run's own Redis (make test-cluster)
TEST_CLUSTER = os.environ.get("GRAPHGATE_TEST_REDIS_CLUSTER", "") not in ("", "0")


def stack_broker() -> str:
    """The broker every stack uses instead of its Redis ('' = its Redis); read when a stack starts, as the
    cluster fixture sets it."""
    return os.environ.get("GRAPHGATE_TEST_BROKER", "")


def cluster_settings() -> dict[str, Any]:
    """The settings that put graphgate's state on the suite's Redis Cluster (none on one Redis)."""
    return {"redis_cluster": True, "broker_url": stack_broker()} if TEST_CLUSTER else {}


def state_client(url: str, **kwargs: Any) -> redis.Redis:
    """A client of the tests' state Redis, a cluster client when the suite runs on a Redis Cluster."""
    if TEST_CLUSTER:
        return cast("redis.Redis", RedisCluster.from_url(url, decode_responses=True, **kwargs))
    return redis.Redis.from_url(url, decode_responses=True, **kwargs)


def delete_queues(broker: str, prefix: str) -> None:
    """Remove a stack's run queues from a shared broker (queues are named after the stack's key prefix)."""
    from kombu import Connection

    with Connection(broker) as conn:
        conn.channel().queue_delete(f"{prefix}.runs")  # deleting a queue that was never declared is no error


class RedisServer:
    """A private redis-server on a free loopback port (AOF optional); restartable for fault tests."""

    def __init__(self, workdir: Path, appendonly: bool = False, extra: list[str] | None = None) -> None:
        self.workdir = workdir
        self.appendonly = appendonly
        self.extra = list(extra or [])  # more redis-server arguments (--replicaof host port, …)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.workdir),
                "--save",
                "",
                "--appendonly",
                "yes" if self.appendonly else "no",
                "--appendfsync",
                "always" if self.appendonly else "no",
                *self.extra,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        if not wait_until(lambda: redis_reachable(self.url, 0.2), 10):
            raise RuntimeError("redis-server did not start")
        return self

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(10)
        self.proc = None


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


@dataclass
class Stack:
    """API servers and workers sharing one Redis, key prefix and data directory."""

    redis_url: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    prefix: str = field(default_factory=lambda: "t" + uuid.uuid4().hex[:8])
    apis: list[tuple[Proc, int]] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHGATE_")}
        env.update(
            GRAPHGATE_REDIS_URL=self.redis_url,
            GRAPHGATE_KEY_PREFIX=self.prefix,
            GRAPHGATE_DATA_DIR=str(self.workdir / "data"),
            GRAPHGATE_CONFIG=str(ROOT / "langgraph.json"),
            GRAPHGATE_JWT_SECRET=JWT_SECRET,
            GRAPHGATE_SECRET_KEY=SECRET_KEY,
            GRAPHGATE_LOG_LEVEL="INFO",
            PYTHONPATH=str(ROOT),
            PYTHONUNBUFFERED="1",
        )
        if stack_broker():  # the suite run against another broker (RabbitMQ): every stack publishes runs there
            env["GRAPHGATE_BROKER_URL"] = stack_broker()
        if TEST_CLUSTER:
            env["GRAPHGATE_REDIS_CLUSTER"] = "true"
        env.update(self.extra_env)
        return env

    @property
    def keys(self) -> Keys:
        """The stack's Redis keys (laid out for a cluster when the suite runs on one)."""
        shards = int(self.env.get("GRAPHGATE_DELIVERY_SHARDS", Settings.model_fields["delivery_shards"].default))
        return Keys(self.prefix, shards if TEST_CLUSTER else 0)

    def _spawn(self, name: str, args: list[str]) -> Proc:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / f"{name}.log"
        out = open(log, "ab")
        popen = subprocess.Popen(
            [sys.executable, "-m", "graphgate.cli", *args], env=self.env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
        return Proc(name, popen, log)

    def start_api(self, port: int | None = None) -> str:
        port = port or free_port()
        proc = self._spawn(f"api-{port}", ["api", "--port", str(port)])
        self.apis.append((proc, port))
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"api exited:\n{proc.text()[-3000:]}")
            try:
                return httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                return False

        if not wait_until(ready, 60):
            raise RuntimeError(f"api did not start:\n{proc.text()[-3000:]}")
        return url

    def start_worker(self, concurrency: int = 2, pool: str = "prefork", queues: str | None = None) -> Proc:
        """``graphgate worker`` (``--queues`` when given); returns once Celery says it is ready."""
        name = f"worker-{(queues or str(len(self.workers))).replace(',', '-')}-{uuid.uuid4().hex[:4]}"
        args = ["worker", "--concurrency", str(concurrency), "--pool", pool]
        proc = self._spawn(name, args + (["--queues", queues] if queues else []))
        self.workers.append(proc)

        def ready() -> bool:
            if proc.popen.poll() is not None:
                raise RuntimeError(f"worker exited:\n{proc.text()[-3000:]}")
            return " ready." in proc.text()

        if not wait_until(ready, 90, 0.1):
            raise RuntimeError(f"worker did not start:\n{proc.text()[-3000:]}")
        return proc

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.apis[0][1]}"

    def stop_proc(self, proc: Proc, sig: int = signal.SIGTERM, timeout: float = 20) -> None:
        if proc.popen.poll() is None:
            proc.popen.send_signal(sig)
            try:
                proc.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.popen.kill()
                proc.popen.wait()

    def stop(self) -> None:
        for proc, _ in self.apis:
            self.stop_proc(proc)
        for proc in self.workers:
            self.stop_proc(proc)
        self.apis.clear()
        self.workers.clear()
        if stack_broker():
            delete_queues(stack_broker(), self.prefix)


@contextmanager
def running_stack(
    redis_url: str,
    workdir: Path,
    extra_env: dict[str, str] | None = None,
    concurrency: int = 2,
    public_url: bool = False,
) -> Iterator[Stack]:
    """A stack with one worker (``concurrency`` children) and one API, stopped when the block ends however it
    ends (a test module's fixture: ``with running_stack(...) as stack: yield stack``). ``public_url``: every
    process knows the API's address as ``GRAPHGATE_PUBLIC_URL`` (the links workers make to files)."""
    env = dict(extra_env or {})
    port = free_port()
    if public_url:
        env["GRAPHGATE_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    stack = Stack(redis_url=redis_url, workdir=workdir, extra_env=env)
    try:
        stack.start_worker(concurrency=concurrency)
        stack.start_api(port)
        yield stack
    finally:
        stack.stop()


def token(sub: str, **claims: object) -> str:
    import jwt

    now = int(time.time())
    body = {"sub": sub, "iat": now, "exp": now + 3600, **claims}
    return jwt.encode(body, JWT_SECRET, algorithm="HS256")
