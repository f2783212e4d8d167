"""Starting and stopping the processes of ``graphgate up``: a private Redis if needed, API, worker.

Children are tied to the supervisor's life (Linux ``PR_SET_PDEATHSIG``): a killed supervisor leaves no
orphans. ``Supervisor.stop`` sends SIGTERM, waits, then SIGKILLs what is left.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import redis

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except OSError:
        pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def redis_reachable(url: str, timeout: float = 1.0) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def wait_until(check, timeout: float, interval: float = 0.05) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(interval)
    return False


@dataclass
class Supervisor:
    procs: list[tuple[str, subprocess.Popen[bytes]]] = field(default_factory=list)

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, quiet: bool = False
    ) -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(
            argv,
            env={**os.environ, **(env or {})},
            preexec_fn=_die_with_parent,
            stdout=subprocess.DEVNULL if quiet else None,
            stderr=subprocess.DEVNULL if quiet else None,
        )
        self.procs.append((name, proc))
        return proc

    def first_exited(self) -> tuple[str, int] | None:
        for name, proc in self.procs:
            code = proc.poll()
            if code is not None:
                return name, code
        return None

    def stop(self, timeout: float = 15.0) -> None:
        """Stop children in reverse start order: SIGTERM, wait, then SIGKILL."""
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for _, proc in reversed(self.procs):
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def start_private_redis(sup: Supervisor, data_dir: Path) -> str:
    """Start a redis-server with AOF on a free loopback port, keeping its data in ``data_dir``."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("no Redis reachable and no redis-server installed: install Redis or set GRAPHGATE_REDIS_URL")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = free_port()
    sup.start(
        "redis",
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(data_dir.resolve()),
            "--appendonly",
            "yes",
            "--save",
            "",
            "--protected-mode",
            "yes",
        ],
        quiet=True,
    )
    url = f"redis://127.0.0.1:{port}/0"
    if not wait_until(lambda: redis_reachable(url, 0.2), 10):
        raise RuntimeError("the private redis-server did not start")
    return url


def python_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "graphgate.cli", *args]


def http_ready(host: str, port: int, tls: bool = False) -> bool:
    """``GET /healthz`` answers 200 (over TLS when ``tls``: a local probe, so the certificate is not checked)."""
    target = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    try:
        with socket.create_connection((target, port), timeout=0.5) as raw:
            s = raw
            if tls:
                ctx = ssl.create_default_context()
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                s = ctx.wrap_socket(raw, server_hostname=target)
            s.sendall(f"GET /healthz HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n".encode())
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def redis_url_host(url: str) -> str:
    return urlparse(url).hostname or "127.0.0.1"
