"""The JavaScript clients, unchanged, against a real graphgate stack: ``@langchain/langgraph-sdk`` from node
(tests/langgraph_api/js/sdk.mjs) and React ``useStream`` in a page on another origin, in Debian's chromium.

Both run the ``ask`` graph: it interrupts with a question, the client answers with ``command: {resume}``, and
the run streams on to ``"Nice to meet you, <name>!"``. The npm packages are pinned in js/package-lock.json;
``npm ci`` installs them when js/node_modules is missing or older than the lockfile.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from graphgate.testing.stack import ROOT, Stack, running_stack, token
from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS, _install_chromium

pytestmark = pytest.mark.integration

JS = Path(__file__).with_name("js")
CONFIG = Path(__file__).with_name("langgraph.json")
ARTIFACTS = ROOT / "test-artifacts" / "langgraph_api"
QUESTION = "What should I call you?"
WAIT_MS = 30_000


@pytest.fixture(scope="module")
def node() -> str:
    """node, with the pinned packages installed (``npm ci`` only when the lockfile is newer than the install)."""
    binary, npm = shutil.which("node"), shutil.which("npm")
    if binary is None or npm is None:
        pytest.skip("node and npm are needed for the JavaScript clients (apt-get install nodejs npm)")
    installed = JS / "node_modules" / ".package-lock.json"  # npm rewrites it on every install
    if not installed.exists() or installed.stat().st_mtime < (JS / "package-lock.json").stat().st_mtime:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"], cwd=JS, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, f"npm ci failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return binary


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Keep the test output for the test."""


@pytest.fixture(scope="module")
def page_origin(node: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The useStream page, bundled with esbuild, served from a free loopback port: another origin than the API."""
    site = tmp_path_factory.mktemp("usestream-page")
    shutil.copy(JS / "index.html", site / "index.html")
    build = [
        str(JS / "node_modules" / ".bin" / "esbuild"),
        str(JS / "app.jsx"),
        "--bundle",
        "--minify",
        "--format=esm",
        "--jsx=automatic",
        '--define:process.env.NODE_ENV="production"',
        f"--outfile={site / 'app.js'}",
        "--log-level=warning",
    ]
    done = subprocess.run(build, cwd=JS, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"esbuild failed:\n{done.stderr[-3000:]}"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(site)))
    serving = threading.Thread(target=httpd.serve_forever, daemon=True)
    serving.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def server(redis_url: str, tmp_path_factory: pytest.TempPathFactory, page_origin: str) -> Iterator[Stack]:
    env = {"GRAPHGATE_CONFIG": str(CONFIG), "GRAPHGATE_CORS_ORIGINS": json.dumps([page_origin])}
    with running_stack(redis_url, tmp_path_factory.mktemp("js-clients"), env) as stack:
        yield stack


def steps(lines: list[dict[str, Any]], step: str) -> list[dict[str, Any]]:
    return [line for line in lines if line["step"] == step]


def frames(lines: list[dict[str, Any]], step: str, event: str) -> list[Any]:
    return [line["data"] for line in steps(lines, step) if line["event"] == event]


def failed(request: Any) -> bool:
    """A request that really failed: chromium reports a run's stream it read to the end as ERR_ABORTED at
    times, against ``langgraph dev`` as well."""
    return not (request.failure == "net::ERR_ABORTED" and request.url.endswith("/runs/stream"))


def questions(values: dict[str, Any]) -> list[Any]:
    return [pending["value"] for pending in values["__interrupt__"]]


def test_the_js_sdk_streams_an_interrupt_and_resumes_it(node: str, server: Stack) -> None:
    env = {"PATH": str(Path(node).parent), "GRAPHGATE_URL": server.url, "GRAPHGATE_TOKEN": token("js-sdk")}
    done = subprocess.run([node, "sdk.mjs"], cwd=JS, env=env, capture_output=True, text=True, timeout=60)
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"

    (made,) = steps(lines, "thread")
    thread_id = made["thread"]["thread_id"]
    assert made["thread"]["status"] == "idle" and made["thread"]["metadata"] == {"client": "js"}

    asked = steps(lines, "ask")
    assert asked[0]["event"] == "metadata" and {f["event"] for f in asked[1:]} == {"updates", "values"}
    assert all(f["id"] for f in asked[1:])  # SSE ids, for Last-Event-ID
    (paused,) = frames(lines, "ask", "updates")
    assert questions(paused) == [{"question": QUESTION}] and paused["__interrupt__"][0]["id"]
    last = frames(lines, "ask", "values")[-1]
    assert questions(last) == [{"question": QUESTION}] and last["text"] == "hi"
    (created,) = steps(lines, "ask:created")
    assert created["created"] == [{"run_id": asked[0]["data"]["run_id"], "thread_id": thread_id}]

    (interrupted,) = steps(lines, "interrupted")
    assert interrupted["state"]["next"] == ["ask"]
    assert [i["value"] for t in interrupted["state"]["tasks"] for i in t["interrupts"]] == [{"question": QUESTION}]

    final = {"text": "hi", "name": "Ada", "answer": "Nice to meet you, Ada!"}
    resumed = steps(lines, "resume")
    assert resumed[0]["event"] == "metadata" and all(f["id"] for f in resumed[1:])
    assert frames(lines, "resume", "updates") == [{"ask": {"name": "Ada"}}, {"greet": {"answer": final["answer"]}}]
    assert frames(lines, "resume", "values")[-1] == final
    (state,) = steps(lines, "state")
    assert state["state"]["values"] == final and state["state"]["next"] == []

    (waited,) = steps(lines, "wait:ask")
    assert questions(waited["values"]) == [{"question": QUESTION}]
    (answered,) = steps(lines, "wait:resume")
    assert answered["values"] == {"name": "Grace", "answer": "Nice to meet you, Grace!"}
    (runs,) = steps(lines, "runs")
    assert runs["runs"][0]["status"] == "success"  # newest first


def test_react_use_stream_answers_an_interrupt(node: str, server: Stack, page_origin: str) -> None:
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')"
    )
    expect = sync_api.expect
    reason = _install_chromium()
    if reason:
        pytest.skip(reason)
    api = urlsplit(server.url).netloc
    calls: list[str] = []  # every API request the page made, as "METHOD /path -> status"
    problems: list[str] = []  # failed requests and console errors: a CORS refusal shows up only here
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 760, "height": 520})
            context.add_init_script(f"window.GRAPHGATE = {json.dumps({'apiUrl': server.url, 'token': token('react')})}")
            page = context.new_page()
            page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
            page.on("requestfailed", lambda r: failed(r) and problems.append(f"failed: {r.method} {r.url} {r.failure}"))
            page.on(
                "response",
                lambda r: (
                    urlsplit(r.url).netloc == api
                    and calls.append(f"{r.request.method} {urlsplit(r.url).path} -> {r.status}")
                ),
            )
            page.goto(f"{page_origin}/index.html")
            page.fill("#text", "hi")
            page.click("#start")
            expect(page.locator("#question")).to_have_text(QUESTION, timeout=WAIT_MS)
            expect(page.locator("main")).to_have_attribute("data-status", "interrupted")

            page.fill("#reply", "Ada")
            page.click("#send")
            expect(page.locator("#answer")).to_have_text("Nice to meet you, Ada!", timeout=WAIT_MS)
            expect(page.locator("main")).to_have_attribute("data-status", "done")
            expect(page.locator("#name")).to_have_text("name: Ada")
            expect(page.locator("#question")).to_have_count(0)
            assert page.locator("#updates li").all_inner_texts() == ["__interrupt__", "ask", "greet"]
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "usestream.png"))
        finally:
            browser.close()

    assert not problems, problems
    assert not [c for c in calls if not c.endswith(("-> 200", "-> 201", "-> 204"))], calls
    runs = [c for c in calls if c.startswith("POST /threads/") and "/runs/stream" in c]
    assert calls[0] == "POST /threads -> 200" and len(runs) == 2, calls
