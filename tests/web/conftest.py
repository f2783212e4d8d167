"""Browser tests: Debian's chromium driven by Playwright against a real stack (uvicorn, Celery, Redis).

No browser is downloaded: the tests use /usr/bin/chromium and, when it is missing, install Debian's
``chromium`` package with apt-get (CI runs as root on a fresh machine). They are skipped, with the reason,
only when that install is impossible.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from graphgate.testing.stack import ROOT, Stack
from tests.web.demo import DemoPage

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts" / "web"
TOKEN_DELAY = "0.01"  # seconds per streamed word (examples/chat_model.py), so runs last long enough to watch


def _install_chromium() -> str | None:
    """Install Debian's chromium when /usr/bin/chromium is missing; the reason it could not be, or None."""
    if os.path.exists(CHROMIUM):
        return None
    if shutil.which("apt-get") is None:
        return f"{CHROMIUM} is missing and there is no apt-get to install it"
    prefix: list[str] = []
    if os.geteuid() != 0:
        if shutil.which("sudo") is None:
            return f"{CHROMIUM} is missing and installing it needs root (apt-get install chromium)"
        prefix = ["sudo", "-n"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv, timeout in ((["apt-get", "update", "-q"], 600), (["apt-get", "install", "-y", "-q", "chromium"], 1800)):
        try:
            done = subprocess.run(prefix + argv, env=env, capture_output=True, text=True, timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"could not install chromium ({' '.join(argv)}): {exc}"
        if done.returncode != 0:
            return f"could not install chromium ({' '.join(argv)} exited {done.returncode}): {done.stderr[-500:]}"
    return None if os.path.exists(CHROMIUM) else f"apt-get installed chromium but {CHROMIUM} is still missing"


@pytest.fixture(scope="package")  # torn down with tests/web: sync Playwright keeps an event loop running meanwhile
def browser() -> Iterator[object]:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    reason = _install_chromium()
    if reason:
        pytest.skip(reason)
    with sync_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class EmbedHosts:
    """Two web servers on loopback that serve host pages embedding the widget from the stack, as another
    site would: ``allowed`` is an origin the stack's CORS settings accept, ``refused`` one they do not."""

    def __init__(self) -> None:
        self.pages: dict[str, bytes] = {}
        self.servers = [self._serve(), self._serve()]
        self.allowed, self.refused = (f"http://127.0.0.1:{srv.server_address[1]}" for srv in self.servers)

    def _serve(self) -> ThreadingHTTPServer:
        pages = self.pages

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                body = pages.get(self.path.split("?")[0])
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body or b"not found")

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server

    def page(self, name: str, html: str) -> str:
        """Serve ``html`` at ``/<name>`` (on both origins); its path."""
        self.pages[f"/{name}"] = html.encode()
        return f"/{name}"

    def close(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


@pytest.fixture(scope="session")
def embed_hosts() -> Iterator[EmbedHosts]:
    hosts = EmbedHosts()
    yield hosts
    hosts.close()


@pytest.fixture(scope="session")
def web_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory, embed_hosts: EmbedHosts) -> Iterator[Stack]:
    """API + worker with the development login on, a slowed-down offline model, quick retries, and CORS for
    one of the embedding hosts."""
    stack = Stack(
        redis_url=redis_url,
        workdir=tmp_path_factory.mktemp("web-stack"),
        extra_env={
            "GRAPHGATE_DEV_LOGIN": "true",
            "GRAPHGATE_OFFLINE_MODEL_DELAY": TOKEN_DELAY,
            "GRAPHGATE_TASK_RETRY_BACKOFF_SECONDS": "0.1",
            "GRAPHGATE_CORS_ORIGINS": json.dumps([embed_hosts.allowed]),
        },
    )
    try:
        stack.start_worker(concurrency=2)
        stack.start_api()
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def open_demo(browser: object, web_stack: Stack) -> Iterator[object]:
    """``open_demo(**context_options) -> DemoPage`` on a fresh browser context; all closed after the test."""
    contexts: list[object] = []

    def open_(context: object = None, path: str = "/", **options: object) -> DemoPage:
        if context is None:
            options.setdefault("viewport", {"width": 1180, "height": 860})
            context = browser.new_context(**options)  # type: ignore[attr-defined]
            contexts.append(context)
        return DemoPage.open(context, web_stack.url, path)

    yield open_
    for context in contexts:
        context.close()  # type: ignore[attr-defined]
