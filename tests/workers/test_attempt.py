"""One attempt of a run, in-process: ``Attempt`` and ``RunStore`` on a real Redis with real graphs (an
in-memory checkpointer, and a list where Celery would be), so each outcome is checked without a worker
process: completed, interrupted and resumed, a tool approval, retried, failed, cancelled, a lease held by
another run, a lease lost mid-run."""

from __future__ import annotations

import asyncio
import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from langgraph.checkpoint.memory import InMemorySaver

from graphgate.core import connections
from graphgate.core.events import Event, EventType
from graphgate.core.registry import GraphRegistry, load_registry
from graphgate.core.settings import Settings
from graphgate.core.store import TaskRecord, TaskStatus
from graphgate.core.tasks import Principal, TaskService
from graphgate.testing.stack import cluster_settings
from graphgate.workers.attempt import Attempt
from graphgate.workers.runstore import LeaseLost, RunStore
from graphgate.workers.runtime import Runtime

GRAPHS = """
import time
from typing_extensions import TypedDict
from langgraph.graph import StateGraph
from langgraph.types import interrupt

class State(TypedDict, total=False):
    text: str
    answer: str

def two_steps():
    g = StateGraph(State)
    g.add_node("first", lambda s: {"answer": s.get("text", "") + " one"})
    g.add_node("second", lambda s: {"answer": s["answer"] + " two"})
    g.add_edge("__start__", "first")
    g.add_edge("first", "second")
    return g

steps = two_steps()

ask = StateGraph(State)
ask.add_node("ask", lambda s: {"answer": "hello " + interrupt({"question": "Name?"})})
ask.add_edge("__start__", "ask")

FAILS = {"n": 0}

def flaky_node(s):
    FAILS["n"] += 1
    if FAILS["n"] == 1:
        raise ConnectionError("the model provider hung up")
    return {"answer": "made it"}

flaky = StateGraph(State)
flaky.add_node("call", flaky_node)
flaky.add_edge("__start__", "call")

def broken_node(s):
    return {"answer": s["missing"]}

broken = StateGraph(State)
broken.add_node("oops", broken_node)
broken.add_edge("__start__", "oops")

def spin(s):
    while True:
        time.sleep(0.01)

endless = StateGraph(State)
endless.add_node("spin", spin)
endless.add_edge("__start__", "spin")
"""
ALICE = Principal("alice")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> GraphRegistry:
    folder = tmp_path_factory.mktemp("attempt-graphs")
    (folder / "attempt_graphs.py").write_text(GRAPHS)
    names = ("steps", "ask", "flaky", "broken", "endless")
    graphs = {name: f"./attempt_graphs.py:{name}" for name in names}
    graphs["agent"] = "examples.agent:graph"
    config = folder / "langgraph.json"
    config.write_text(json.dumps({"graphs": graphs}))
    return load_registry(Path(config))


class Worker:
    """An in-process stand-in for a worker process: the runtime an attempt needs, and the task service that
    creates and answers tasks, on one Redis with a key prefix of the test's own."""

    def __init__(self, redis_url: str, registry: GraphRegistry) -> None:
        self.settings = Settings(
            redis_url=redis_url, key_prefix=f"t{uuid.uuid4().hex[:8]}", task_lease_seconds=2, **cluster_settings()
        )
        self.redis = connections.sync_client(self.settings, decode_responses=True)
        self.store = RunStore(self.redis, self.settings)
        self.queued: list[dict[str, Any]] = []  # what Celery would have been handed
        self.rt = Runtime(os.getpid(), self.settings, self.store, registry, InMemorySaver(), enqueue=self._enqueue)
        self.registry = registry

    def _enqueue(self, task_id: str, session_id: str, countdown: float | None = None, graph: str | None = None) -> None:
        self.queued.append({"task_id": task_id, "countdown": countdown})

    def service(self) -> tuple[TaskService, aioredis.Redis]:
        client = connections.async_client(self.settings, decode_responses=True)

        async def enqueue(task_id: str, *_: Any, **__: Any) -> None:
            self.queued.append({"task_id": task_id, "countdown": None})

        return TaskService(client, self.settings, enqueue, self.registry), client

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        async def go() -> Any:
            service, client = self.service()
            try:
                return await getattr(service, method)(*args, **kwargs)
            finally:
                await client.aclose()

        return asyncio.run(go())

    def create(self, graph: str, value: dict[str, Any]) -> TaskRecord:
        return self.call("create_task", ALICE, input=value, graph=graph)  # type: ignore[no-any-return]

    def attempt(self, record: TaskRecord) -> Attempt:
        attempt = Attempt(self.rt, record.id, record.session_id)
        attempt.run()
        return attempt

    def load(self, record: TaskRecord) -> TaskRecord:
        loaded = self.store.load(record.session_id, record.id)
        assert loaded is not None
        return loaded

    def events(self, record: TaskRecord) -> list[dict[str, Any]]:
        entries = self.redis.xrange(self.store.keys.events(record.session_id))
        return [json.loads(fields["e"]) for _, fields in entries if json.loads(fields["e"])["task_id"] == record.id]

    def types(self, record: TaskRecord) -> list[str]:
        return [e["type"] for e in self.events(record)]


@pytest.fixture
def worker(redis_url: str, registry: GraphRegistry) -> Iterator[Worker]:
    w = Worker(redis_url, registry)
    yield w
    w.redis.close()


def test_a_run_to_completion(worker: Worker) -> None:
    record = worker.create("steps", {"text": "count"})
    worker.attempt(record)
    done = worker.load(record)
    assert done.status == TaskStatus.COMPLETED and done.output == {"text": "count", "answer": "count one two"}
    assert worker.types(record) == ["task.queued", "task.started", "node.completed", "node.completed", "task.completed"]
    assert worker.events(record)[-1]["data"]["text"] == "count one two"
    assert not worker.redis.exists(worker.store.keys.lease(record.session_id, record.id))  # released


def test_an_interrupt_waits_and_the_answer_finishes_the_run(worker: Worker) -> None:
    record = worker.create("ask", {})
    worker.attempt(record)
    waiting = worker.load(record)
    assert waiting.status == TaskStatus.WAITING_INPUT and waiting.interrupt and waiting.interrupt["question"] == "Name?"
    worker.attempt(record)  # a stale duplicate delivery while waiting does nothing
    assert worker.types(record)[-1] == "interrupt"
    worker.call("resume", ALICE, record.id, "Ada")
    worker.attempt(record)
    done = worker.load(record)
    assert done.status == TaskStatus.COMPLETED and done.output["answer"] == "hello Ada" and done.run == 2
    assert worker.types(record)[-4:] == ["task.resumed", "task.started", "node.completed", "task.completed"]


def test_an_agents_tool_approval_and_tool_events(worker: Worker) -> None:
    record = worker.create("agent", {"messages": [{"role": "user", "content": "email ann@example.com the Q3 report"}]})
    worker.attempt(record)
    assert worker.load(record).interrupt["kind"] == "tool_approval"  # type: ignore[index]
    worker.call("resume", ALICE, record.id, "approve")
    worker.attempt(record)
    events = worker.events(record)
    tools = [(e["type"], e["data"]["tool"]) for e in events if e["type"].startswith("tool.")]
    assert tools == [("tool.started", "send_email"), ("tool.completed", "send_email")]
    assert worker.load(record).status == TaskStatus.COMPLETED
    assert "".join(e["data"]["text"] for e in events if e["type"] == "message.delta") == events[-1]["data"]["text"]


def test_a_transient_error_is_retried_from_the_checkpoint(worker: Worker) -> None:
    record = worker.create("flaky", {})
    worker.queued.clear()
    worker.attempt(record)
    retrying = worker.load(record)
    assert retrying.status == TaskStatus.QUEUED and retrying.retries == 1
    assert worker.events(record)[-1]["data"]["error"] == {
        "kind": "ConnectionError",
        "message": "the model provider hung up",
    }
    assert worker.queued == [{"task_id": record.id, "countdown": worker.settings.task_retry_backoff_seconds}]
    worker.attempt(record)
    assert worker.load(record).status == TaskStatus.COMPLETED and worker.load(record).output["answer"] == "made it"


def test_an_error_in_the_graphs_logic_fails_the_task_at_once(worker: Worker) -> None:
    record = worker.create("broken", {})
    worker.attempt(record)
    failed = worker.load(record)
    assert failed.status == TaskStatus.FAILED and failed.error == {"kind": "KeyError", "message": "'missing'"}
    assert worker.types(record)[-1] == "task.failed"


def test_a_cancel_stops_a_node_that_never_returns(worker: Worker) -> None:
    record = worker.create("endless", {})
    runner = threading.Thread(target=worker.attempt, args=(record,))
    runner.start()
    deadline = 10.0
    while worker.load(record).status != TaskStatus.RUNNING and deadline > 0:
        threading.Event().wait(0.02)
        deadline -= 0.02
    worker.call("cancel", ALICE, record.id, reason="enough")
    runner.join(timeout=10)
    assert not runner.is_alive()
    cancelled = worker.load(record)
    assert cancelled.status == TaskStatus.CANCELLED and worker.events(record)[-1]["data"]["reason"] == "enough"


def test_a_run_held_by_another_attempt_is_looked_at_again_later(worker: Worker) -> None:
    record = worker.create("steps", {"text": "x"})
    token = worker.store.acquire_lease(record.session_id, record.id)
    assert token
    worker.queued.clear()
    worker.attempt(record)
    assert worker.load(record).status == TaskStatus.QUEUED  # untouched
    [again] = worker.queued
    assert again["task_id"] == record.id and 0.5 < again["countdown"] <= worker.settings.task_lease_seconds + 0.5


def test_a_run_that_lost_its_lease_can_write_nothing(worker: Worker) -> None:
    record = worker.create("steps", {"text": "x"})
    token = worker.store.acquire_lease(record.session_id, record.id)
    assert token
    worker.redis.delete(worker.store.keys.lease(record.session_id, record.id))
    before = worker.types(record)
    with pytest.raises(LeaseLost):
        worker.store.transition(record, {TaskStatus.QUEUED}, TaskStatus.RUNNING, (EventType.TASK_STARTED, {}), token)
    with pytest.raises(LeaseLost):
        worker.store.publish(Event(EventType.CUSTOM, record.id, record.session_id, {"payload": 1}), "k", token, False)
    assert worker.types(record) == before and worker.load(record).status == TaskStatus.QUEUED


def test_a_progress_event_is_written_once_per_key(worker: Worker) -> None:
    record = worker.create("steps", {"text": "x"})
    token = worker.store.acquire_lease(record.session_id, record.id)
    assert token
    event = Event(EventType.CUSTOM, record.id, record.session_id, {"payload": "step 1"})
    first = worker.store.publish(event, "custom:1", token, False)
    assert first is not None and worker.store.publish(event, "custom:1", token, False) is None
    assert worker.types(record).count("custom") == 1


class Died(BaseException):
    """The worker process dying (SIGKILL) at a chosen point of an attempt."""


def test_a_run_whose_graph_ended_before_its_last_transition_is_not_run_again(
    worker: Worker, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = worker.create("steps", {"text": "count"})
    transition = worker.store.transition

    def dies_before_completing(rec: TaskRecord, frm: Any, to: TaskStatus, *a: Any, **k: Any) -> Any:
        if to == TaskStatus.COMPLETED:
            raise Died()
        return transition(rec, frm, to, *a, **k)

    monkeypatch.setattr(worker.store, "transition", dies_before_completing)
    with pytest.raises(Died):
        worker.attempt(record)
    monkeypatch.setattr(worker.store, "transition", transition)
    worker.redis.delete(worker.store.keys.lease(record.session_id, record.id))  # its lease lapsed
    assert worker.types(record).count("node.completed") == 2  # both steps ran and were announced
    thread = {"configurable": {"thread_id": record.session_id}}
    checkpoints = len(list(worker.rt.checkpointer.list(thread)))
    worker.attempt(record)  # the message delivered again
    assert len(list(worker.rt.checkpointer.list(thread))) == checkpoints  # no step of the graph ran again
    done = worker.load(record)
    assert done.status == TaskStatus.COMPLETED and done.output == {"text": "count", "answer": "count one two"}
    nodes = [e["data"] for e in worker.events(record) if e["type"] == "node.completed"]
    assert [n["node"] for n in nodes] == ["first", "second"]  # each step once: the graph did not run again
    assert worker.types(record)[-1] == "task.completed" and worker.types(record).count("task.completed") == 1
