"""Conformance of graphgate's LangGraph Server API with the LangGraph server itself (``langgraph dev``).

Every scenario is written once, against the real ``langgraph_sdk`` sync client (raw httpx where the wire
format is the point: SSE frames, ``Content-Location``), and runs against both servers serving the same graphs.
Each answer is normalised (ids and timestamps become placeholders, everything else is kept, since both run the
very same graph code) and recorded under a key; ``compare`` walks the two records and names every place they
differ with a stable key, such as ``runs.stream[debug]: frame names`` or ``threads.get: value at .status``.
A call that fails is recorded as its failure (``UnprocessableEntityError 422``), so a feature one side lacks
is one difference rather than a crash, and what the scenario would have done with the answer is not compared
(it would only repeat that difference).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import httpx
from langgraph_sdk import get_sync_client
from langgraph_sdk._sync.client import SyncLangGraphClient
from langgraph_sdk.errors import APIStatusError
from langgraph_sdk.schema import MultitaskStrategy, StreamMode

from bench.systems import absolute_config, stop_group
from graphgate.cli.processes import free_port, wait_until
from graphgate.testing.stack import ROOT

SIDES = ("graphgate", "langgraph")
NOT_YET = "not yet supported"  # the reason of a KNOWN difference graphgate is still to close
CALL_TIMEOUT = 30.0  # seconds without a byte: a call that hangs is recorded as a ReadTimeout, not waited out
ECHO = {"text": "hi"}
CHAT = {"messages": [{"role": "user", "content": "hello there"}]}
STREAM_MODES: tuple[StreamMode, ...] = (
    "values",
    "updates",
    "messages-tuple",
    "messages",
    "custom",
    "events",
    "debug",
    "tasks",
    "checkpoints",
)
GRAPH_OF_MODE = {"messages-tuple": "agent", "messages": "agent", "custom": "progress"}  # others: echo
INPUT_OF_GRAPH: dict[str, dict[str, Any]] = {"echo": ECHO, "agent": CHAT, "progress": {"steps": 2}}


# --- the servers' surroundings ---------------------------------------------------------------------------


class Hooks:
    """A local HTTP receiver for run webhooks: every POSTed JSON body, by path."""

    def __init__(self) -> None:
        self.received: dict[str, list[Any]] = {}
        self.arrived = threading.Condition()
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.end_headers()
                with hooks.arrived:
                    hooks.received.setdefault(self.path, []).append(json.loads(body or b"null"))
                    hooks.arrived.notify_all()

            def log_message(self, format: str, *args: Any) -> None:  # quiet: the test prints its own report
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"

    def wait(self, path: str, timeout: float) -> list[Any]:
        """The bodies POSTed to ``path`` once one has come (none when none came within ``timeout`` seconds)."""
        with self.arrived:
            self.arrived.wait_for(lambda: path in self.received, timeout)
            return list(self.received.get(path, []))

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@contextmanager
def langgraph_dev(config: Path, workdir: Path) -> Iterator[str]:
    """``langgraph dev`` (in-memory runtime) serving ``config``'s graphs from ``workdir``; yields its URL.

    bench/systems.py's ``Peer`` serves the repo's langgraph.json only; this one serves the tests' (``progress``,
    ``nested``) and lets run webhooks reach a loopback receiver. ``RuntimeError`` when it does not start.
    """
    spec = absolute_config(config)
    spec["dependencies"] = [str(ROOT)]  # langgraph dev wants one; the examples import ``examples.…`` from there
    spec["webhooks"] = {"url": {"disable_loopback": False, "require_https": False}}  # a loopback http receiver
    (workdir / "langgraph.json").write_text(json.dumps(spec))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHGATE_", "LANGSMITH_", "LANGCHAIN_"))}
    env.update(
        LANGGRAPH_CLI_NO_ANALYTICS="1",
        LANGSMITH_TRACING="false",
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
    )
    port, log = free_port(), workdir / "server.log"
    command = [str(Path(sys.executable).with_name("langgraph")), "dev", "--no-browser", "--no-reload"]
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [*command, "--port", str(port), "--n-jobs-per-worker", "10"],
            cwd=workdir,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
        )
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"langgraph dev exited:\n{log.read_text(errors='replace')[-2000:]}")
        try:
            return httpx.get(f"{url}/ok", timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        if not wait_until(ready, 90, 0.2):
            raise RuntimeError(f"langgraph dev did not answer /ok:\n{log.read_text(errors='replace')[-2000:]}")
        yield url
    finally:
        stop_group(proc)


@dataclass(frozen=True)
class Target:
    """One server under test: its name (one of ``SIDES``), URL, the request headers of a principal (each
    scenario is its own, so no scenario sees another's threads or shares its rate limit) and the receiver
    its webhooks go to."""

    name: str
    url: str
    credentials: Callable[[str], dict[str, str]]
    hooks: Hooks


# --- the normaliser --------------------------------------------------------------------------------------

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
HEX_ID = re.compile(r"[0-9a-f]{32}")  # interrupt ids
TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:?\d{2})?")


def normalise(value: Any, key: str = "") -> Any:
    """``value`` with ids and timestamps replaced by ``<id>`` and ``<time>`` (in dict keys too): what is left
    is what both servers should answer alike."""
    if isinstance(value, dict):
        return {placeholders(str(k)): normalise(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [normalise(v, key) for v in value]
    if isinstance(value, str):
        return placeholders(value)
    if isinstance(value, int | float) and not isinstance(value, bool) and "time" in key.lower():
        return "<time>"  # e.g. the LangGraph server's __request_start_time_ms__
    return value


def placeholders(text: str) -> str:
    if TIMESTAMP.fullmatch(text):
        return "<time>"
    return HEX_ID.sub("<id>", UUID.sub("<id>", text)) if len(text) < 200 else text


def pick(value: Any, *keys: str) -> dict[str, Any]:
    """The named fields of a JSON object, for an observation about those fields only (an answer's whole shape
    is compared once, where the call is the point, not again wherever a scenario reads it)."""
    return {k: value.get(k) for k in keys} if isinstance(value, dict) else {"not an object": value}


def omit(value: Any, *keys: str) -> Any:
    """A JSON object without the named fields."""
    return {k: v for k, v in value.items() if k not in keys} if isinstance(value, dict) else value


def names(frames: Iterable[tuple[str, Any]]) -> str:
    """Frame names in order, repeats counted: ``metadata, updates×3, values``."""
    runs: list[list[Any]] = []
    for event, _ in frames:
        if runs and runs[-1][0] == event:
            runs[-1][1] += 1
        else:
            runs.append([event, 1])
    return ", ".join(f"{e}×{n}" if n > 1 else e for e, n in runs) or "(none)"


# --- observations ----------------------------------------------------------------------------------------


@dataclass
class Seen:
    """What one call answered, normalised, or how it failed (``failure`` is compared, ``message`` is shown)."""

    value: Any = None
    failure: str | None = None
    message: str = ""
    frames: bool = False  # value is a list of (event, data) stream frames


class Abort(Exception):
    """A call the scenario cannot go on without has failed (its failure is recorded)."""


def failure_of(exc: BaseException) -> tuple[str, str]:
    if isinstance(exc, APIStatusError):
        return f"{type(exc).__name__} {exc.status_code}", str(exc)[:300]
    if isinstance(exc, httpx.HTTPStatusError):
        return f"HTTP {exc.response.status_code}", exc.response.text[:300]
    return type(exc).__name__, str(exc)[:300]


@dataclass
class Recorder:
    """One scenario's run against one target: what each call answered, under its key."""

    target: Target
    name: str  # the scenario's
    tag: str  # in the metadata of every thread the scenario makes, so searches find its threads only
    seen: dict[str, Seen] = field(default_factory=dict)
    aborted: bool = False

    def _keep(self, key: str, seen: Seen) -> None:
        assert key not in self.seen, f"two observations named {key!r}"
        self.seen[key] = seen

    def call(
        self, key: str, fn: Callable[[], Any], *, need: bool = False, view: Callable[[Any], Any] | None = None
    ) -> Any:
        """``fn()``'s answer, recorded (normalised, and seen through ``view`` when given) under ``key``; on
        failure the failure is recorded and ``Abort`` raised when ``need``, else None returned."""
        answer, ok = self._try(key, fn, need)
        if ok:
            self._keep(key, Seen(normalise(view(answer) if view else answer)))
        return answer

    def step(self, what: str, fn: Callable[[], Any]) -> Any:
        """A step the scenario needs but does not compare (making a thread, waiting for a run to start): only
        whether it worked is recorded, as ``<scenario>: (<what>)``."""
        key = f"{self.name}: ({what})"
        key += f" #{sum(k.startswith(key) for k in self.seen) + 1}" if key in self.seen else ""
        answer, _ = self._try(key, fn, True)
        self._keep(key, Seen("ok"))
        return answer

    def stream(self, key: str, fn: Callable[[], Iterable[Any]], *, need: bool = False) -> list[tuple[str, Any]]:
        """The (event, data) frames of an SDK stream, recorded under ``key``; [] when it failed."""
        frames, ok = self._try(key, lambda: [(p.event, p.data) for p in fn()], need)
        if not ok:
            return []
        self._keep(key, Seen([(placeholders(e), normalise(d)) for e, d in frames], frames=True))  # "updates|draft:<id>"
        return list(frames)

    def note(self, key: str, value: Any) -> None:
        """A value the scenario worked out itself (a yes/no, a count, headers), recorded normalised."""
        self._keep(key, Seen(normalise(value)))

    def _try(self, key: str, fn: Callable[[], Any], need: bool) -> tuple[Any, bool]:
        try:
            return fn(), True
        except Exception as exc:  # any failure is an observation
            failure, message = failure_of(exc)
            self._keep(key, Seen(failure=failure, message=message))
            if need:
                raise Abort(key) from exc
            return None, False

    def client(self) -> SyncLangGraphClient:
        headers = self.target.credentials(self.name)
        return get_sync_client(url=self.target.url, api_key=None, headers=headers, timeout=CALL_TIMEOUT)

    def http(self) -> httpx.Client:
        return httpx.Client(base_url=self.target.url, headers=self.target.credentials(self.name), timeout=CALL_TIMEOUT)

    def thread(self) -> str:
        """A new thread, tagged with the scenario's tag."""
        made = self.step("threads.create", lambda: self.client().threads.create(metadata={"tag": self.tag}))
        return str(made["thread_id"])


def sse(response: httpx.Response) -> list[tuple[str, str | None, Any]]:
    """The (event, id, data) frames of a ``text/event-stream`` response, read to its end."""
    frames: list[tuple[str, str | None, Any]] = []
    event, ident, data = "message", None, list[str]()
    for line in response.iter_lines():
        if not line:
            if data:
                frames.append((event, ident, json.loads("\n".join(data))))
            event, ident, data = "message", None, []
        elif line.startswith(":"):
            continue
        else:
            name, _, rest = line.partition(":")
            rest = rest[1:] if rest.startswith(" ") else rest
            if name == "event":
                event = rest
            elif name == "id":
                ident = rest
            elif name == "data":
                data.append(rest)
    return frames


def until_status(client: SyncLangGraphClient, thread_id: str, run_id: str, wanted: str, timeout: float = 20) -> None:
    """Wait for a run to reach ``wanted``; ``TimeoutError`` when it does not."""
    if not wait_until(lambda: client.runs.get(thread_id, run_id)["status"] == wanted, timeout, 0.1):
        raise TimeoutError(f"run never became {wanted}")


# --- the scenarios ---------------------------------------------------------------------------------------

Scenario = Callable[[Recorder], None]
SCENARIOS: dict[str, Scenario] = {}
# where the LangGraph server's answer is a failure (test_conformance checks it fails nowhere else)
EXPECTED_FAILURES = frozenset(
    {
        "assistants.get[graph name]",  # it takes assistant ids only: 422
        "assistants.get[unknown id]",
        "threads.create[if_exists=raise]",
        "threads.get_history[before=checkpoint_id]",  # 422: it takes a checkpoint config there
        "threads.get_history[before=checkpoint]",  # 500 (KeyError 'configurable'), for the same reason
        "threads.get[deleted]",
        "threads.get[unknown]",
        "multitask[reject]: runs.create",
        "multitask[rollback]: first run",  # rolled back: deleted
    }
)


def scenario(name: str, fn: Scenario) -> None:
    SCENARIOS[name] = fn


def assistants(rec: Recorder) -> None:
    client = rec.client()
    echo = str(uuid.uuid5(uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8"), "echo"))  # its default assistant
    rec.call("assistants.search", lambda: sorted(client.assistants.search(limit=100), key=lambda a: a["graph_id"]))
    rec.call("assistants.search[graph_id]", lambda: client.assistants.search(graph_id="ask"))
    rec.call("assistants.count", lambda: client.assistants.count())
    rec.call("assistants.get", lambda: client.assistants.get(echo))
    rec.call("assistants.get[graph name]", lambda: client.assistants.get("echo"))
    rec.call("assistants.get[unknown id]", lambda: client.assistants.get(str(uuid.uuid4())))
    rec.call("assistants.get_schemas", lambda: client.assistants.get_schemas(echo))
    rec.call("assistants.get_graph", lambda: client.assistants.get_graph(echo))
    rec.call("assistants.get_graph[xray]", lambda: client.assistants.get_graph(echo, xray=True))


def threads(rec: Recorder) -> None:
    client, tag = rec.client(), {"tag": rec.tag}
    made = rec.call("threads.create", lambda: client.threads.create(metadata={**tag, "n": 1}), need=True)
    named = str(uuid.uuid4())
    given = rec.call(
        "threads.create[thread_id]",
        lambda: pick(client.threads.create(thread_id=named, metadata=tag), "thread_id", "metadata", "created_at"),
        need=True,
    )
    rec.call("threads.create[if_exists=raise]", lambda: client.threads.create(thread_id=named))
    rec.call(
        "threads.create[if_exists=do_nothing]",
        lambda: (
            pick(client.threads.create(thread_id=named, if_exists="do_nothing"), "thread_id", "created_at")
            == omit(given, "metadata")
        ),
    )
    rec.call("threads.get", lambda: client.threads.get(made["thread_id"]))
    found = rec.step("threads.search", lambda: client.threads.search(metadata=tag, limit=10))
    newest_first = [t["thread_id"] for t in found or []] == [named, made["thread_id"]]
    rec.note("threads.search[metadata]: newest first", newest_first)
    rec.note("threads.search[metadata]: threads", [pick(t, "metadata", "status") for t in found or []])
    rec.call("threads.search[ids]", lambda: [t["thread_id"] == named for t in client.threads.search(ids=[named])])
    rec.call("threads.search[status]", lambda: len(client.threads.search(metadata=tag, status="idle")))
    rec.call("threads.search[limit, offset]", lambda: len(client.threads.search(metadata=tag, limit=1, offset=1)))
    rec.call("threads.count", lambda: client.threads.count(metadata=tag))
    rec.call(
        "threads.search[sort_by=updated_at]",
        lambda: len(client.threads.search(metadata=tag, sort_by="updated_at", sort_order="asc")),
    )
    rec.call("threads.delete", lambda: client.threads.delete(named))
    rec.call("threads.get[deleted]", lambda: client.threads.get(named))
    rec.call("threads.get[unknown]", lambda: client.threads.get(str(uuid.uuid4())))


def search_while_created(rec: Recorder) -> None:
    """Searches while the same caller makes other threads: each thread is found once."""
    client, tag = rec.client(), {"tag": rec.tag}
    mine = {rec.thread(), rec.thread()}
    done = threading.Event()

    def make_others() -> None:
        other = rec.client()
        while not done.is_set():
            other.threads.create(metadata={"tag": "other"})

    maker = threading.Thread(target=make_others)
    maker.start()
    try:
        found = rec.step(
            "threads.search", lambda: [[t["thread_id"] for t in client.threads.search(metadata=tag)] for _ in range(10)]
        )
    finally:
        done.set()
        maker.join()
    rec.note(
        "threads.search[while threads are made]: each thread once",
        all(sorted(ids) == sorted(mine) for ids in found or []),
    )


def thread_state(rec: Recorder) -> None:
    client = rec.client()
    thread_id = rec.thread()
    rec.step("runs.wait", lambda: client.runs.wait(thread_id, "echo", input=ECHO))
    rec.call("threads.get[after a run]", lambda: client.threads.get(thread_id))
    state = rec.call("threads.get_state", lambda: client.threads.get_state(thread_id), need=True)
    history = rec.call(
        "threads.get_history",
        lambda: client.threads.get_history(thread_id),
        need=True,
        view=lambda h: [omit(s, "metadata") for s in h],
    )
    rec.call("threads.get_history[limit]", lambda: len(client.threads.get_history(thread_id, limit=2)))
    newest, older = history[0]["checkpoint"], history[1]["checkpoint"]
    rec.note(
        "threads.get_history: newest is the state", newest["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
    )
    befores: list[tuple[str, Any]] = [  # the SDK's type says id or checkpoint; the LangGraph server takes a config
        ("config", {"configurable": newest}),
        ("checkpoint_id", newest["checkpoint_id"]),
        ("checkpoint", newest),
    ]
    for what, before in befores:
        rec.call(
            f"threads.get_history[before={what}]",
            lambda: [
                h["checkpoint"] == older for h in rec.client().threads.get_history(thread_id, limit=1, before=before)
            ],
        )
    rec.call(
        "threads.get_state[checkpoint_id]",
        lambda: omit(client.threads.get_state(thread_id, checkpoint_id=older["checkpoint_id"]), "metadata"),
    )
    rec.call(
        "threads.get_state[checkpoint]", lambda: omit(client.threads.get_state(thread_id, checkpoint=older), "metadata")
    )
    rec.call(
        "threads.update_state[as_node]",
        lambda: client.threads.update_state(thread_id, {"text": "changed"}, as_node="receive"),
    )
    rec.call(
        "threads.get_state[after update_state]", lambda: pick(client.threads.get_state(thread_id), "values", "next")
    )
    copy = rec.call("threads.copy", lambda: client.threads.copy(thread_id), need=True)
    rec.call("threads.get_state[copy]", lambda: pick(client.threads.get_state(copy["thread_id"]), "values", "next"))


def stream_mode(mode: StreamMode, rec: Recorder) -> None:
    client, graph = rec.client(), GRAPH_OF_MODE.get(mode, "echo")
    thread_id = rec.thread()
    created: list[Any] = []
    rec.stream(
        f"runs.stream[{mode}]",
        lambda: client.runs.stream(
            thread_id, graph, input=INPUT_OF_GRAPH[graph], stream_mode=mode, on_run_created=created.append
        ),
        need=True,
    )
    rec.note(f"runs.stream[{mode}]: on_run_created", created)


def stream_subgraphs(rec: Recorder) -> None:
    client = rec.client()
    thread_id = rec.thread()
    modes: list[StreamMode] = ["updates", "values", "custom"]
    rec.stream(
        "runs.stream[subgraphs]",
        lambda: client.runs.stream(thread_id, "nested", input={"topic": "t"}, stream_mode=modes, stream_subgraphs=True),
    )


def stream_wire(rec: Recorder) -> None:
    """The raw response: its headers and its SSE ``event``/``id``/``data`` lines."""
    thread_id = rec.thread()
    body = {"assistant_id": "echo", "input": ECHO, "stream_mode": ["updates", "values"]}
    with rec.http() as http, http.stream("POST", f"/threads/{thread_id}/runs/stream", json=body) as response:
        frames = sse(response)
    location = response.headers.get("content-location", "")
    run_id = frames[0][2].get("run_id") if frames and isinstance(frames[0][2], dict) else None
    headers = {h: response.headers.get(h) for h in ("content-type", "content-location", "location", "cache-control")}
    rec.note("runs.stream[wire]: status and headers", {"status": response.status_code, **headers})
    rec.note("runs.stream[wire]: Content-Location names the run", bool(run_id) and location.endswith(f"/runs/{run_id}"))
    rec.note("runs.stream[wire]: frames", [(e, d) for e, _, d in frames])
    ids = [bool(ident) for _, ident, _ in frames]
    rec.note("runs.stream[wire]: frames with an id", {"metadata": ids[:1], "others": sorted(set(ids[1:]))})


def interrupt(rec: Recorder) -> None:
    client = rec.client()
    thread_id = rec.thread()
    paused = rec.stream(
        "interrupt: runs.stream",
        lambda: client.runs.stream(thread_id, "ask", input={}, stream_mode=["updates", "values"]),
        need=True,
    )
    run_id = paused[0][1]["run_id"]
    rec.call("interrupt: threads.get", lambda: pick(client.threads.get(thread_id), "status", "interrupts"))
    rec.call(
        "interrupt: threads.get_state",
        lambda: pick(client.threads.get_state(thread_id), "next", "tasks", "interrupts"),
    )
    rec.call("interrupt: runs.get", lambda: pick(client.runs.get(thread_id, run_id), "status"))
    resumed = rec.stream(
        "interrupt: runs.stream[resume]",
        lambda: client.runs.stream(thread_id, "ask", command={"resume": "Ada"}, stream_mode="values"),
        need=True,
    )
    rec.note("interrupt: the resume's run id is the paused run's", resumed[0][1]["run_id"] == run_id)
    rec.call("interrupt: runs.list", lambda: [r["status"] for r in client.runs.list(thread_id)])
    rec.call("interrupt: threads.get[resumed]", lambda: pick(client.threads.get(thread_id), "status", "interrupts"))
    rec.call("interrupt: resume again", lambda: client.runs.wait(thread_id, "ask", command={"resume": "again"}))


def wait(rec: Recorder) -> None:
    client = rec.client()
    thread_id = rec.thread()
    rec.call("runs.wait", lambda: client.runs.wait(thread_id, "echo", input=ECHO))
    failing: dict[str, Any] = {"text": "x", "fail": True}
    rec.call("runs.wait[failing]", lambda: client.runs.wait(thread_id, "echo", input=failing, raise_error=False))
    rec.call("runs.wait[failing]: threads.get", lambda: pick(client.threads.get(thread_id), "status", "error"))
    with rec.http() as http:
        response = http.post(f"/threads/{thread_id}/runs/wait", json={"assistant_id": "echo", "input": ECHO})
    headers = {h: response.headers.get(h) for h in ("content-type", "content-location", "location")}
    rec.note("runs.wait[wire]: status and headers", {"status": response.status_code, **headers})


def join(rec: Recorder) -> None:
    client = rec.client()
    thread_id = rec.thread()
    run = rec.call(
        "runs.create", lambda: client.runs.create(thread_id, "echo", input=ECHO, metadata={"m": 1}), need=True
    )
    rec.call("runs.join", lambda: client.runs.join(thread_id, run["run_id"]))
    rec.call(
        "runs.get", lambda: pick(client.runs.get(thread_id, run["run_id"]), "status", "metadata", "multitask_strategy")
    )
    rec.call("runs.list", lambda: [pick(r, "run_id", "status") for r in client.runs.list(thread_id)])


def join_stream(rec: Recorder) -> None:
    client = rec.client()
    thread_id = rec.thread()
    run = rec.step("runs.create", lambda: client.runs.create(thread_id, "echo", input={**ECHO, "sleep": 2}))

    def ends() -> dict[str, Any]:  # what arrives before joining depends on timing: the first and last frame
        frames = [(p.event, p.data) for p in client.runs.join_stream(thread_id, run["run_id"], stream_mode="values")]
        return {"first": frames[0][0], "last": frames[-1]}

    rec.call("runs.join_stream[running]", ends)
    rec.stream("runs.join_stream[finished]", lambda: client.runs.join_stream(thread_id, run["run_id"]))


def cancel(rec: Recorder) -> None:
    client = rec.client()
    thread_id = rec.thread()
    run = rec.step("runs.create", lambda: client.runs.create(thread_id, "echo", input={**ECHO, "sleep": 5}))
    rec.step("running", lambda: until_status(client, thread_id, run["run_id"], "running"))
    rec.call("runs.cancel[wait]", lambda: client.runs.cancel(thread_id, run["run_id"], wait=True))
    rec.call("runs.cancel: runs.get", lambda: pick(client.runs.get(thread_id, run["run_id"]), "status"))
    rec.call("runs.cancel: threads.get", lambda: pick(client.threads.get(thread_id), "status"))


def multitask(strategy: MultitaskStrategy | None, rec: Recorder) -> None:
    """A second run on a thread whose first is running, with each strategy (and none: the server's default)."""
    client, key = rec.client(), f"multitask[{strategy or 'default'}]"
    thread_id = rec.thread()
    first = rec.step("runs.create", lambda: client.runs.create(thread_id, "echo", input={"text": "one", "sleep": 3}))
    rec.step("running", lambda: until_status(client, thread_id, first["run_id"], "running"))
    second = rec.call(
        f"{key}: runs.create",
        lambda: pick(
            client.runs.create(thread_id, "echo", input={"text": "two"}, multitask_strategy=strategy),
            "run_id",
            "multitask_strategy",
        ),
        need=True,
    )
    rec.call(f"{key}: runs.join", lambda: pick(client.runs.join(thread_id, second["run_id"]), "text", "answer"))
    rec.call(f"{key}: first run", lambda: pick(client.runs.get(thread_id, first["run_id"]), "status"))
    rec.call(f"{key}: runs.list", lambda: [r["status"] for r in client.runs.list(thread_id)])


def busy(rec: Recorder) -> None:
    """What a thread does with new work while it waits for an answer, or runs, or belongs to another graph."""
    client = rec.client()
    asking = rec.thread()
    rec.step("runs.wait", lambda: client.runs.wait(asking, "ask", input={}))
    rec.call("busy: new input while interrupted", lambda: client.runs.wait(asking, "ask", input={}))
    echoed = rec.thread()
    rec.step("runs.wait", lambda: client.runs.wait(echoed, "echo", input=ECHO))
    rec.call("busy: another graph's run", lambda: client.runs.wait(echoed, "progress", input={"steps": 1}))
    running = rec.thread()
    run = rec.step("runs.create", lambda: client.runs.create(running, "echo", input={**ECHO, "sleep": 3}))
    rec.step("running", lambda: until_status(client, running, run["run_id"], "running"))
    rec.call("busy: threads.delete while running", lambda: client.threads.delete(running))


def stateless(rec: Recorder) -> None:
    client = rec.client()
    rec.stream("stateless: runs.stream", lambda: client.runs.stream(None, "echo", input=ECHO, stream_mode="values"))
    rec.call("stateless: runs.wait", lambda: client.runs.wait(None, "echo", input=ECHO))


def webhook(rec: Recorder) -> None:
    client, path = rec.client(), f"/hook/{uuid.uuid4()}"
    thread_id = rec.thread()
    url = rec.target.hooks.url(path)
    rec.call("webhook: runs.wait", lambda: client.runs.wait(thread_id, "echo", input=ECHO, webhook=url), need=True)
    calls = rec.target.hooks.wait(path, 10)
    rec.note("webhook: calls", len(calls))
    fields = ("run_id", "thread_id", "status", "values", "run_started_at", "run_ended_at", "webhook_sent_at")
    rec.note("webhook: body", pick(calls[0], *fields) if calls else None)  # the run's own fields: runs.create


def static_interrupt(where: str, node: str, rec: Recorder) -> None:
    client, key = rec.client(), f"interrupt_{where}"
    thread_id = rec.thread()
    before, after = ([node], None) if where == "before" else (None, [node])
    rec.call(
        f"{key}: runs.wait",
        lambda: client.runs.wait(thread_id, "echo", input=ECHO, interrupt_before=before, interrupt_after=after),
        need=True,
    )
    rec.call(f"{key}: threads.get_state", lambda: pick(client.threads.get_state(thread_id), "values", "next"))
    rec.call(f"{key}: threads.get", lambda: pick(client.threads.get(thread_id), "status"))
    rec.call(f"{key}: go on (no input)", lambda: client.runs.wait(thread_id, "echo", input=None))


def errors(rec: Recorder) -> None:
    """Error bodies as the wire carries them (the SDK reads either server's)."""
    with rec.http() as http:
        for what, path in (("assistant", f"/assistants/{uuid.uuid4()}"), ("thread", f"/threads/{uuid.uuid4()}")):
            response = http.get(path)
            rec.note(f"errors: unknown {what}", {"status": response.status_code, "body keys": sorted(response.json())})


scenario("assistants", assistants)
scenario("threads", threads)
scenario("threads.search[while threads are made]", search_while_created)
scenario("threads.state", thread_state)
for _mode in STREAM_MODES:
    scenario(f"runs.stream[{_mode}]", partial(stream_mode, _mode))
scenario("runs.stream[subgraphs]", stream_subgraphs)
scenario("runs.stream[wire]", stream_wire)
scenario("interrupt", interrupt)
scenario("runs.wait", wait)
scenario("runs.join", join)
scenario("runs.join_stream", join_stream)
scenario("runs.cancel", cancel)
MULTITASK: tuple[MultitaskStrategy | None, ...] = (None, "reject", "enqueue", "interrupt", "rollback")
for _strategy in MULTITASK:
    scenario(f"multitask[{_strategy or 'default'}]", partial(multitask, _strategy))
scenario("busy", busy)
scenario("stateless", stateless)
scenario("webhook", webhook)
scenario("interrupt_before", partial(static_interrupt, "before", "transform"))
scenario("interrupt_after", partial(static_interrupt, "after", "receive"))
scenario("errors", errors)


# --- running and comparing -------------------------------------------------------------------------------


def run_one(target: Target, name: str, tag: str) -> Recorder:
    """One scenario against one target; a crash of the scenario itself is recorded as its last observation."""
    rec = Recorder(target, name, tag)
    try:
        SCENARIOS[name](rec)
    except Abort:
        rec.aborted = True
    except Exception as exc:  # a scenario that cannot go on is a finding, not an error of the test
        failure, message = failure_of(exc)
        rec.seen[f"{name}: (crashed)"] = Seen(failure=failure, message=message)
        rec.aborted = True
    return rec


def run_all(targets: list[Target], workers: int = 16) -> dict[str, dict[str, Recorder]]:
    """Every scenario against every target, all at once: {side: {scenario: recorder}}."""
    tag = uuid.uuid4().hex[:12]
    with ThreadPoolExecutor(workers) as pool:
        futures = {(t.name, n): pool.submit(run_one, t, n, f"{tag} {n}") for n in SCENARIOS for t in targets}
    out: dict[str, dict[str, Recorder]] = {t.name: {} for t in targets}
    for (side, name), future in futures.items():
        out[side][name] = future.result()
    return out


class Known(NamedTuple):
    """A difference that is expected, and why: ``item`` is its number in docs/langgraph-api.md's "Differences"
    list when it is deliberate; a reason of ``NOT_YET`` marks a feature graphgate does not offer yet; any other
    is a mismatch nobody has decided on."""

    reason: str
    item: int | None = None

    @property
    def kind(self) -> str:
        return "deliberate" if self.item else NOT_YET if self.reason == NOT_YET else "mismatch"

    def describe(self) -> str:
        return self.reason + (f" (docs/langgraph-api.md, difference {self.item})" if self.item else "")


@dataclass
class Difference:
    key: str  # "<observation>: <aspect>", stable from run to run
    observation: str
    details: list[str] = field(default_factory=list)  # how: "<graphgate's> vs <langgraph's>"


def shown(value: Any, width: int = 100) -> str:
    text = repr(value) if isinstance(value, str) else json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= width else text[: width - 1] + "…"


def type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def walk(a: Any, b: Any, path: str, found: Callable[[str, str], None]) -> None:
    """Report where ``a`` (graphgate's) and ``b`` (langgraph's) differ: keys, list lengths, types, values."""
    where = path or "."
    if isinstance(a, dict) and isinstance(b, dict):
        for side, only in (("graphgate", sorted(set(a) - set(b))), ("langgraph", sorted(set(b) - set(a)))):
            if only:
                found(f"keys only in {side} at {where}", ", ".join(only))
        for k in a:
            if k in b:
                walk(a[k], b[k], f"{path}.{k}", found)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            found(f"length at {where}", f"{len(a)} vs {len(b)}")
        for x, y in zip(a, b):
            walk(x, y, f"{path}[]", found)
    elif type_name(a) != type_name(b):
        found(f"type at {where}", f"{type_name(a)} {shown(a, 60)} vs {type_name(b)} {shown(b, 60)}")
    elif a != b:
        found(f"value at {where}", f"{shown(a)} vs {shown(b)}")


def walk_frames(a: list[tuple[str, Any]], b: list[tuple[str, Any]], found: Callable[[str, str], None]) -> None:
    """Frame names in order, then each event's data: frame by frame when both sent as many, else the last."""
    if [e for e, _ in a] != [e for e, _ in b]:
        found("frame names", f"{names(a)} vs {names(b)}")
    for event in dict.fromkeys(e for e, _ in [*b, *a]):
        mine, theirs = [d for e, d in a if e == event], [d for e, d in b if e == event]
        if mine and theirs:
            pairs = zip(mine, theirs) if len(mine) == len(theirs) else [(mine[-1], theirs[-1])]
            for x, y in pairs:
                walk(x, y, event, found)


def compare(results: dict[str, dict[str, Recorder]]) -> list[Difference]:
    """Every place graphgate and langgraph answered differently, one ``Difference`` per stable key, in
    scenario order."""
    found: dict[str, Difference] = {}

    def add(observation: str, aspect: str, detail: str) -> None:
        details = found.setdefault(
            f"{observation}: {aspect}", Difference(f"{observation}: {aspect}", observation)
        ).details
        if detail not in details and len(details) < 5:
            details.append(detail)

    for name in SCENARIOS:
        mine, theirs = results["graphgate"][name], results["langgraph"][name]
        for key in dict.fromkeys([*theirs.seen, *mine.seen]):
            a, b = mine.seen.get(key), theirs.seen.get(key)
            if a is None or b is None:
                absent, present = (mine, b) if a is None else (theirs, a)
                if not absent.aborted and present is not None:  # else: that side stopped at an earlier difference
                    add(
                        key,
                        f"only {'langgraph' if a is None else 'graphgate'} got this far",
                        present.failure or shown(present.value),
                    )
            elif a.failure or b.failure:
                if a.failure != b.failure:
                    add(key, "outcome", f"{a.failure or 'ok'} {a.message!r} vs {b.failure or 'ok'} {b.message!r}")
            elif a.frames and b.frames:
                walk_frames(a.value, b.value, partial(add, key))
            else:
                walk(a.value, b.value, "", partial(add, key))
    return list(found.values())


def report(
    results: dict[str, dict[str, Recorder]],
    differences: list[Difference],
    known: Mapping[str, Known],
    markdown: bool = False,
) -> str:
    """The comparison as plain text or markdown: the differences by kind (new, mismatch, deliberate, not yet
    supported) with how the answers differ, the KNOWN entries that no longer occur, the observations both
    answered alike, and both normalised answers of every observation that differs."""

    def heading(text: str) -> list[str]:
        return [f"## {text}", ""] if markdown else [text, "=" * len(text)]

    title = "graphgate vs langgraph dev: LangGraph Server API conformance"
    lines = [f"# {title}" if markdown else title, ""]
    groups = {"new (not in KNOWN)": [d for d in differences if d.key not in known]}
    for kind in ("mismatch", "deliberate", NOT_YET):
        groups[kind] = [d for d in differences if d.key in known and known[d.key].kind == kind]
    lines.append(", ".join(f"{len(group)} {kind}" for kind, group in groups.items()))
    for kind, group in groups.items():
        lines += ["", *heading(f"{kind}: {len(group)}")]
        for d in group:
            why = known[d.key].describe() if d.key in known else "not in KNOWN"
            lines.append(f"- `{d.key}`: {why}" if markdown else f"* {d.key}\n    why: {why}")
            lines.extend(
                f"    - graphgate vs langgraph: `{x}`" if markdown else f"    graphgate vs langgraph: {x}"
                for x in d.details
            )
    gone = [key for key in known if key not in {d.key for d in differences}]
    lines += ["", *heading(f"KNOWN but no longer found: {len(gone)}")]
    lines.extend(f"- `{k}`" if markdown else f"* {k}" for k in gone)
    differing = list(dict.fromkeys(d.observation for d in differences))
    mine, theirs = ({k: v for rec in results[side].values() for k, v in rec.seen.items()} for side in SIDES)
    alike = sorted(k for k in mine.keys() & theirs.keys() if k not in differing and not k.endswith(")"))
    lines += ["", *heading(f"answered alike: {len(alike)}")]
    lines.extend(f"- `{k}`" if markdown else f"* {k}" for k in alike)
    lines += ["", *heading("the differing answers, normalised")]
    for key in differing:
        lines.append(f"\n### `{key}`\n" if markdown else f"\n* {key}")
        for side, seen in zip(SIDES, (mine.get(key), theirs.get(key))):
            answer = "(not asked)" if seen is None else seen.failure or shown(seen.value, 4000)
            lines.append(f"- {side}: `{answer}`" if markdown else f"    {side}: {answer}")
    return "\n".join(lines) + "\n"
