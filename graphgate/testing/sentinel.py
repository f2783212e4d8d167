"""Redis with Sentinel on loopback for tests: a primary, a replica and three sentinels, all ``redis-server``
processes (sentinel mode is built into it), and the settings that point graphgate at them."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from graphgate.cli.processes import free_port, wait_until
from graphgate.testing.stack import RedisServer

MASTER = "graphgate-test"


class SentinelRedis:
    def __init__(self, workdir: Path, sentinels: int = 3, down_after_ms: int = 1000) -> None:
        self.workdir = workdir
        self.primary = RedisServer(workdir / "primary", appendonly=True, extra=["--repl-diskless-sync-delay", "0"])
        self.replica = RedisServer(
            workdir / "replica", appendonly=True, extra=["--replicaof", "127.0.0.1", str(self.primary.port)]
        )
        self.sentinel_ports = [free_port() for _ in range(sentinels)]
        self.sentinels: list[subprocess.Popen[bytes]] = []
        self.down_after_ms = down_after_ms

    @property
    def env(self) -> dict[str, str]:
        """The settings of graphgate processes that reach Redis through these sentinels."""
        return {
            "GRAPHGATE_REDIS_URL": "redis://ignored-with-sentinels:6379/0",
            "GRAPHGATE_REDIS_SENTINELS": ",".join(f"127.0.0.1:{p}" for p in self.sentinel_ports),
            "GRAPHGATE_REDIS_SENTINEL_MASTER": MASTER,
        }

    def start(self) -> SentinelRedis:
        self.primary.start()
        self.replica.start()
        binary = shutil.which("redis-server")
        assert binary
        for n, port in enumerate(self.sentinel_ports):
            folder = self.workdir / f"sentinel{n}"
            folder.mkdir(parents=True, exist_ok=True)
            conf = folder / "sentinel.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
                f"sentinel monitor {MASTER} 127.0.0.1 {self.primary.port} 2\n"
                f"sentinel down-after-milliseconds {MASTER} {self.down_after_ms}\n"
                f"sentinel failover-timeout {MASTER} 5000\n"
                f"sentinel parallel-syncs {MASTER} 1\n"
            )
            self.sentinels.append(
                subprocess.Popen(
                    [binary, str(conf), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
                )
            )
        if not wait_until(self._ready, 30, 0.1):
            raise RuntimeError("the sentinels did not see the primary with its replica")
        return self

    def _ready(self) -> bool:
        try:
            replica = redis.Redis(port=self.replica.port, decode_responses=True)
            if replica.info("replication").get("master_link_status") != "up":
                return False
            for port in self.sentinel_ports:
                client = redis.Redis(port=port, decode_responses=True)
                if len(client.sentinel_slaves(MASTER)) < 1 or len(client.sentinel_sentinels(MASTER)) < 2:
                    return False
            return True
        except redis.RedisError:
            return False

    def primary_port(self) -> int | None:
        """The port the sentinels name as the primary now."""
        try:
            host, port = redis.Redis(port=self.sentinel_ports[0]).sentinel_get_master_addr_by_name(MASTER)
            return int(port)
        except (redis.RedisError, TypeError):
            return None

    def kill_primary(self) -> float:
        """SIGKILL the primary; returns when it happened (time.monotonic)."""
        assert self.primary.proc is not None
        self.primary.proc.kill()
        self.primary.proc.wait(10)
        return time.monotonic()

    def wait_promoted(self, timeout: float = 30) -> float:
        """Wait until the sentinels name the replica as primary; returns when they did (time.monotonic)."""
        if not wait_until(lambda: self.primary_port() == self.replica.port, timeout, 0.05):
            raise RuntimeError("the replica was not promoted")
        return time.monotonic()

    def stop(self) -> None:
        for proc in self.sentinels:
            proc.terminate()
        for proc in self.sentinels:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for server in (self.primary, self.replica):
            try:
                server.stop()
            except subprocess.TimeoutExpired:
                if server.proc is not None:
                    server.proc.kill()
