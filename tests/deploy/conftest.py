"""The deployment under test: real nginx (Debian package) with TLS in front of two API replicas and two
Celery workers, all on loopback ports, all sharing one private Redis.

Replica A is ``graphgate api`` (uvicorn); replica B is the production command of deploy/docker-compose.yml,
``gunicorn -c deploy/gunicorn.conf.py 'graphgate.cli.compose:create_app()'``. nginx runs deploy/nginx/graphgate.conf
itself, its ``${GRAPHGATE_...}`` placeholders filled as envsubst fills them, inside a small main config of the
test's own (pid file, logs and temporary files in the test's directory).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import TypeVar

import httpx
import pytest

from graphgate.cli.processes import free_port, wait_until
from graphgate.cli.tls import TlsFiles, ensure_certificate
from graphgate.testing import waiting
from graphgate.testing.stack import ROOT, Proc, RedisServer, Stack

NGINX_CONF = ROOT / "deploy" / "nginx" / "graphgate.conf"
GRAPH_QUEUES = {"writer": "long", "ask": "parked"}  # "parked": no worker of the stack consumes it
T = TypeVar("T")


def render_nginx_conf(values: dict[str, str]) -> str:
    """deploy/nginx/graphgate.conf with its placeholders filled, as ``envsubst`` fills them (nginx's own
    ``$variables`` stay); fails if a placeholder is left."""
    text = Template(NGINX_CONF.read_text()).safe_substitute(values)
    body = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert "${GRAPHGATE_" not in body, "a placeholder of graphgate.conf has no value"
    return text


def ensure_nginx() -> str:
    """The nginx binary; installed from Debian's packages when missing and we may (CI runs as root)."""
    found = shutil.which("nginx") or (Path("/usr/sbin/nginx").is_file() and "/usr/sbin/nginx") or None
    if found:
        return str(found)
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        pytest.skip("nginx is not installed and cannot be installed here (apt-get install nginx-light)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "--no-install-recommends", "nginx-light"]
    if subprocess.run(install, env=env, capture_output=True).returncode != 0:
        subprocess.run(["apt-get", "update"], env=env, capture_output=True)
        subprocess.run(install, env=env, capture_output=True, check=True)
    found = shutil.which("nginx") or "/usr/sbin/nginx"
    assert Path(found).is_file(), "nginx-light installed but no nginx binary"
    return found


@dataclass
class Nginx:
    proc: subprocess.Popen[bytes]
    dir: Path
    https_port: int
    http_port: int

    @property
    def url(self) -> str:
        return f"https://localhost:{self.https_port}"

    @property
    def access_log(self) -> Path:
        return self.dir / "access.log"

    def error_text(self) -> str:
        path = self.dir / "error.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGQUIT)  # graceful: finish open requests
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_nginx(workdir: Path, api_ports: list[int], tls: TlsFiles, https_port: int | None = None) -> Nginx:
    """nginx on loopback ports running deploy/nginx/graphgate.conf in front of ``api_ports``."""
    binary = ensure_nginx()
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "tmp").mkdir(exist_ok=True)
    https_port, http_port = https_port or free_port(), free_port()
    conf = render_nginx_conf(
        {
            "GRAPHGATE_API_SERVERS": " ".join(f"server 127.0.0.1:{p} max_fails=3 fail_timeout=10s;" for p in api_ports),
            "GRAPHGATE_SERVER_NAME": "localhost",
            "GRAPHGATE_LISTEN_HTTPS": f"127.0.0.1:{https_port}",
            "GRAPHGATE_LISTEN_HTTP": f"127.0.0.1:{http_port}",
            "GRAPHGATE_TLS_CERT": str(tls.certfile),
            "GRAPHGATE_TLS_KEY": str(tls.keyfile),
            "GRAPHGATE_ACCESS_LOG": str(workdir / "access.log"),
        }
    )
    (workdir / "graphgate.conf").write_text(conf)
    # as root, nginx's workers would drop to "nobody", who cannot enter pytest's private temporary folders
    user = "user root root;\n" if os.geteuid() == 0 else ""
    (workdir / "nginx.conf").write_text(
        f"daemon off;\nworker_processes 1;\n{user}pid {workdir}/nginx.pid;\nerror_log {workdir}/error.log info;\n"
        f"events {{ worker_connections 512; }}\n"
        f"http {{\n  default_type application/octet-stream;\n"
        f"  client_body_temp_path {workdir}/tmp/body;\n  proxy_temp_path {workdir}/tmp/proxy;\n"
        f"  include {workdir}/graphgate.conf;\n}}\n"
    )
    check = subprocess.run(
        [binary, "-t", "-p", str(workdir), "-c", str(workdir / "nginx.conf")], capture_output=True, text=True
    )
    assert check.returncode == 0, f"nginx -t failed:\n{check.stderr}"
    proc = subprocess.Popen(
        [binary, "-p", str(workdir), "-c", str(workdir / "nginx.conf")],
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / "stderr.log", "ab"),
    )
    nginx = Nginx(proc, workdir, https_port, http_port)

    def listening() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"nginx exited:\n{nginx.error_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", https_port), timeout=0.5):
                return True
        except OSError:
            return False

    if not wait_until(listening, 20):
        nginx.stop()
        raise RuntimeError(f"nginx did not start:\n{nginx.error_text()[-3000:]}")
    return nginx


class DeployStack(Stack):
    """The shared ``Stack`` plus the two roles this package needs: gunicorn replicas and queue-aware workers."""

    gunicorns: list[tuple[Proc, int]]

    def start_gunicorn(self, port: int | None = None) -> str:
        """The API as deploy/docker-compose.yml runs it: gunicorn with uvicorn workers and the app factory."""
        port = port or free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self.workdir / f"gunicorn-{port}.log"
        env = {**self.env, "GRAPHGATE_BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"}
        popen = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "graphgate.cli.compose:create_app()"],
            env=env,
            cwd=ROOT,
            stdout=open(log, "ab"),
            stderr=subprocess.STDOUT,
        )
        proc = Proc(f"gunicorn-{port}", popen, log)
        self.gunicorns.append((proc, port))
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            if popen.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{proc.text()[-3000:]}")
            try:
                return httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200
            except httpx.HTTPError:
                return False

        if not wait_until(ready, 60):
            raise RuntimeError(f"gunicorn did not start:\n{proc.text()[-3000:]}")
        return url

    def start_queue_worker(self, queues: str, concurrency: int = 1, pool: str = "prefork") -> Proc:
        """``graphgate worker --queues <queues>``; returns once Celery says it is ready."""
        return self.start_worker(concurrency, pool, queues)

    def stop(self) -> None:
        for proc, _ in self.gunicorns:
            self.stop_proc(proc)
        self.gunicorns.clear()
        super().stop()


@dataclass
class Deployment:
    stack: DeployStack
    nginx: Nginx
    tls: TlsFiles
    replica_a: str  # graphgate api (uvicorn)
    replica_b: str  # gunicorn + uvicorn workers

    @property
    def replica_ports(self) -> dict[str, int]:
        return {"a": int(self.replica_a.rsplit(":", 1)[1]), "b": int(self.replica_b.rsplit(":", 1)[1])}


@pytest.fixture(scope="package")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A local CA and a server certificate for localhost, made by graphgate.cli.tls as ``graphgate up --tls`` does."""
    return ensure_certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="package")
def deploy_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("deploy-redis"), appendonly=True).start()
    yield server
    server.stop()


@pytest.fixture(scope="package")
def deployment(
    deploy_redis: RedisServer, tls_files: TlsFiles, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    workdir = tmp_path_factory.mktemp("deploy")
    https_port = free_port()
    stack = DeployStack(
        redis_url=deploy_redis.url,
        workdir=workdir,
        extra_env={
            "GRAPHGATE_PUBLIC_URL": f"https://localhost:{https_port}",
            "GRAPHGATE_GRAPH_QUEUES": json.dumps(GRAPH_QUEUES),
            "GRAPHGATE_LOG_FORMAT": "json",
        },
    )
    stack.gunicorns = []
    nginx: Nginx | None = None
    try:
        stack.start_queue_worker("long,default")
        stack.start_queue_worker("default,long")
        replica_a = stack.start_api()
        replica_b = stack.start_gunicorn()
        ports = [int(replica_a.rsplit(":", 1)[1]), int(replica_b.rsplit(":", 1)[1])]
        nginx = start_nginx(workdir / "nginx", ports, tls_files, https_port)
        yield Deployment(stack, nginx, tls_files, replica_a, replica_b)
    finally:
        if nginx is not None:
            nginx.stop()
        stack.stop()


def alpn_protocol(port: int, cafile: Path) -> str | None:
    """The protocol nginx picks when a client offers HTTP/2 and HTTP/1.1."""
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
            return tls.selected_alpn_protocol()


def tls_version_accepted(port: int, cafile: Path, version: ssl.TLSVersion) -> bool:
    ctx = ssl.create_default_context(cafile=str(cafile))
    ctx.minimum_version = ctx.maximum_version = version
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost"):
                return True
    except (ssl.SSLError, OSError):
        return False


def wait_for(check: Callable[[], T], timeout: float = 20, interval: float = 0.2) -> T:
    """``tests.support.waiting.wait_for`` at the deploy tests' pace: 20 s, polling every 0.2 s."""
    return waiting.wait_for(check, timeout, interval)
