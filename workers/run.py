"""``run_graph``: run one task's graph in a Celery worker and turn what it streams into events.

One delivery of the Celery message is one attempt. The attempt takes the task's lease, moves the task to
``running``, streams the graph from its checkpoint (first input, a resume ``Command``, or ``None`` to continue
after a lost worker), writes progress events, and ends in exactly one of: ``waiting_input`` (an interrupt),
``completed``, ``failed``, ``cancelled``, or ``queued`` again for a retry after a transient error.
"""

from __future__ import annotations

import ctypes
import json
import logging
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any

import redis
from celery.exceptions import SoftTimeLimitExceeded, TimeLimitExceeded
from celery.signals import task_failure, worker_process_init
from langchain_core.callbacks import BaseCallbackHandler

from gateway.events import AI_MESSAGE_TYPES, Event, EventType, answer_text, content_text, to_jsonable
from gateway.interrupts import interrupt_data
from gateway.settings import Settings, get_settings
from gateway.store import TaskRecord, TaskStatus, pause
from workers.celery_app import RUN_GRAPH, app, enqueue_run
from workers.checkpointer import open_checkpointer
from workers.registry import GraphRegistry, load_registry
from workers.runstore import LeaseKeeper, LeaseLost, RunStore

log = logging.getLogger("graphgate.worker")

MAX_UPDATE_CHARS = 16_000  # node updates larger than this are announced without their content
MAX_TOOL_CHARS = 2_000  # a tool event's arguments and result are cut to this many characters
CANCEL_CHECK_SECONDS = 0.1  # how often a running task looks for a cancel request
REDIS_WAIT_SECONDS = 120.0  # how long an attempt that met a Redis outage waits for Redis before its retry


class CancelRequested(BaseException):
    """Raised into the run when someone asks it to stop (BaseException: a graph's ``except Exception``
    must not swallow it)."""


class NodeThreads(BaseCallbackHandler):
    """Tracks which threads are running graph code right now (LangGraph runs nodes in executor threads
    when it streams messages), so a cancel can be raised where the work happens."""

    run_inline = True

    def __init__(self) -> None:
        self._runs: dict[Any, int] = {}

    def idents(self) -> set[int]:
        return set(self._runs.values())

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: Any, **kwargs: Any) -> None:
        self._runs[run_id] = threading.get_ident()

    def on_chain_end(self, outputs: Any, *, run_id: Any, **kwargs: Any) -> None:
        self._runs.pop(run_id, None)

    def on_chain_error(self, error: BaseException, *, run_id: Any, **kwargs: Any) -> None:
        self._runs.pop(run_id, None)


class ToolEvents(BaseCallbackHandler):
    """Announces each tool an agent runs: ``tool.started`` when it begins, ``tool.completed`` when it returns
    or fails. Keyed by the model's tool call id, so a step replayed after a crash announces nothing twice."""

    run_inline = True

    def __init__(self, publish: Any) -> None:
        self.publish = publish  # publish(event type, data, dedupe key)
        self._calls: dict[Any, tuple[str, str]] = {}

    def on_tool_start(self, serialized: dict[str, Any], input_str: str, *, run_id: Any,
                      inputs: dict[str, Any] | None = None, metadata: dict[str, Any] | None = None,
                      **kwargs: Any) -> None:
        name = str((serialized or {}).get("name") or kwargs.get("name") or "tool")
        call_id = str(kwargs.get("tool_call_id") or run_id)
        self._calls[run_id] = (name, call_id)
        data = {"tool": name, "call_id": call_id, "args": _cut(to_jsonable(inputs if inputs is not None else input_str)),
                "node": (metadata or {}).get("langgraph_node", "")}
        self.publish(EventType.TOOL_STARTED, data, f"tool:start:{call_id}")

    def on_tool_end(self, output: Any, *, run_id: Any, **kwargs: Any) -> None:
        self._done(run_id, getattr(output, "status", None) or "success", getattr(output, "content", output))

    def on_tool_error(self, error: BaseException, *, run_id: Any, **kwargs: Any) -> None:
        self._done(run_id, "error", f"{type(error).__name__}: {error}")

    def _done(self, run_id: Any, status: str, result: Any) -> None:
        if run_id not in self._calls:
            return
        name, call_id = self._calls.pop(run_id)
        text = content_text(to_jsonable(result))
        data = {"tool": name, "call_id": call_id, "status": status, "result": _cut(text if text is not None else to_jsonable(result))}
        self.publish(EventType.TOOL_COMPLETED, data, f"tool:end:{call_id}")


def _cut(value: Any) -> Any:
    """``value`` as is when its JSON is short, else its JSON text cut to ``MAX_TOOL_CHARS`` characters."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TOOL_CHARS else value[: MAX_TOOL_CHARS - 1] + "…"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return value if len(text) <= MAX_TOOL_CHARS else text[: MAX_TOOL_CHARS - 1] + "…"


class CancelWatcher:
    """Polls the task's cancel flag while the graph runs and raises ``CancelRequested`` in the threads
    running it.

    Cancelling at step boundaries alone would let a long node run to its end; this stops the run at the
    next Python bytecode instead (a blocking C call, such as a socket read, finishes first). It fires only
    while armed, that is inside ``graph.stream``: never during the run's own final state change.

    When Celery's soft time limit strikes it raises ``SoftTimeLimitExceeded`` into the node threads as well:
    Celery raises it in the main thread only, which then waits for the executor running the nodes, so a node
    that never returns would otherwise hold the run until the hard limit kills the process.
    """

    def __init__(self, store: RunStore, session_id: str, task_id: str, nodes: NodeThreads) -> None:
        self.store, self.session_id, self.task_id, self.nodes = store, session_id, task_id, nodes
        self._main = threading.get_ident()
        self._lock = threading.Lock()
        self._armed = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"cancel-{task_id[:8]}", daemon=True)

    def __enter__(self) -> "CancelWatcher":
        with self._lock:
            self._armed = True
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._armed = False
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(CANCEL_CHECK_SECONDS):
            if _soft_limit.is_set():
                _soft_limit.clear()
                with self._lock:
                    if self._armed:  # not into the main thread: Celery's own exception is on its way there
                        for ident in self.nodes.idents() - {self._main}:
                            ctypes.pythonapi.PyThreadState_SetAsyncExc(
                                ctypes.c_ulong(ident), ctypes.py_object(SoftTimeLimitExceeded)
                            )
            try:
                if self.store.cancel_requested(self.session_id, self.task_id) is None:
                    continue
            except redis.RedisError:
                continue
            with self._lock:
                if self._armed:
                    self._armed = False
                    for ident in self.nodes.idents() | {self._main}:
                        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(ident), ctypes.py_object(CancelRequested))
            return


_soft_limit = threading.Event()  # set when Celery's soft time limit strikes this process's run


def _watch_soft_limit() -> None:
    """Chain the ``_soft_limit`` flag onto Celery's soft time limit signal handler (SIGUSR1 in a prefork pool
    process, installed by the pool after the process start hooks, hence done at a run's start)."""
    _soft_limit.clear()
    if threading.current_thread() is not threading.main_thread():
        return  # the threads pool has no time limits
    celery_handler = signal.getsignal(signal.SIGUSR1)
    if not callable(celery_handler) or getattr(celery_handler, "graphgate", False):
        return

    def on_soft_limit(signum: int, frame: Any) -> None:
        _soft_limit.set()
        celery_handler(signum, frame)  # raises SoftTimeLimitExceeded in the main thread

    on_soft_limit.graphgate = True  # type: ignore[attr-defined]
    signal.signal(signal.SIGUSR1, on_soft_limit)


@dataclass
class Runtime:
    """What a worker process opens once: settings, Redis, the store, the graphs and the checkpointer."""

    pid: int
    settings: Settings
    store: RunStore
    registry: GraphRegistry
    checkpointer: Any


_runtime: Runtime | None = None


def runtime() -> Runtime:
    """This process's runtime, opened on first use (after fork: connections must not be shared)."""
    global _runtime
    if _runtime is None or _runtime.pid != os.getpid():
        settings = get_settings()
        client = redis.Redis.from_url(settings.redis_url, decode_responses=True, health_check_interval=30)
        _runtime = Runtime(
            pid=os.getpid(),
            settings=settings,
            store=RunStore(client, settings),
            registry=load_registry(settings.config, settings.default_graph),
            checkpointer=open_checkpointer(settings),
        )
    return _runtime


@worker_process_init.connect
def _open_runtime(**_: Any) -> None:
    """Open connections and load graphs as each pool process starts, not on its first task."""
    runtime()


@app.task(name=RUN_GRAPH, bind=True)
def run_graph(self: Any, task_id: str, session_id: str) -> None:
    """Run (or continue) the task's graph; see the module docstring for the outcomes."""
    rt = runtime()
    try:
        Attempt(rt, task_id, session_id).run()
    except redis.RedisError as exc:  # Redis is away: nothing could be recorded; try the whole attempt later
        log.warning("redis unavailable for task %s: %s; retrying", task_id, exc,
                    extra={"task_id": task_id, "session_id": session_id})
        # queueing the retry needs the broker (the same Redis, usually): Celery acks the message of a retry
        # it could not send, and the task would be left without one
        _wait_for_redis(rt.store.redis, REDIS_WAIT_SECONDS)
        raise self.retry(exc=exc, countdown=1.0, max_retries=None)


def _wait_for_redis(client: redis.Redis, limit: float) -> bool:
    """Wait until Redis answers a PING again (True), or ``limit`` seconds went by (False)."""
    deadline = time.monotonic() + limit
    delay = 0.2
    while True:
        try:
            return bool(client.ping())
        except redis.RedisError:
            if time.monotonic() + delay > deadline:
                return False
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


@task_failure.connect
def _on_hard_time_limit(sender: Any = None, exception: BaseException | None = None, args: Any = None,
                        **_: Any) -> None:
    """A run past the hard time limit: its process was killed and the message acked, so nothing else would
    end the task. Celery calls this in the worker's main process; it records ``task.failed`` (kind
    ``timeout``) and hands the session to its next task."""
    if getattr(sender, "name", None) != RUN_GRAPH or not isinstance(exception, TimeLimitExceeded) or not args:
        return
    task_id, session_id = args[0], args[1]
    settings = get_settings()
    try:
        store = _main_store(settings)
        record = store.load(session_id, task_id)
        if record is None or record.status.terminal:
            return
        error = {"kind": "timeout", "message": f"the run exceeded the hard time limit of {settings.task_time_limit:g} s"}
        result = store.transition(record, {TaskStatus.QUEUED, TaskStatus.RUNNING}, TaskStatus.FAILED,
                                  (EventType.TASK_FAILED, {"error": error}), "", fields={"error": error})
        if result.ok and result.next_task:
            enqueue_run(result.next_task, session_id, graph=record.graph)
        log.error("task %s failed: hard time limit", task_id, extra={"task_id": task_id, "session_id": session_id})
    except redis.RedisError as exc:
        log.error("task %s: hard time limit, and redis unavailable to record it: %s", task_id, exc)


_main: tuple[int, RunStore] | None = None


def _main_store(settings: Settings) -> RunStore:
    """A store for the worker's main process (which runs no graphs, so opens no runtime)."""
    global _main
    if _main is None or _main[0] != os.getpid():
        client = redis.Redis.from_url(settings.redis_url, decode_responses=True, socket_timeout=5)
        _main = (os.getpid(), RunStore(client, settings))
    return _main[1]


class Attempt:
    def __init__(self, rt: Runtime, task_id: str, session_id: str) -> None:
        self.rt, self.store, self.settings = rt, rt.store, rt.settings
        self.task_id, self.session_id = task_id, session_id
        self.log_ids = {"task_id": task_id, "session_id": session_id}  # JSON logs carry them
        self.token = ""
        self.bound = False  # the task has a chat binding
        self._delta_seq: dict[tuple[Any, ...], int] = {}

    # --- entry ------------------------------------------------------------------------------------------

    def run(self) -> None:
        record = self.store.load(self.session_id, self.task_id)
        if record is None:
            log.warning("task %s is gone (expired?); dropping its message", self.task_id, extra=self.log_ids)
            return
        if record.status.terminal:
            self._kick_session_if_stalled()
            return
        if record.status == TaskStatus.WAITING_INPUT:
            return  # a stale duplicate delivery; the resume will enqueue the next run
        if record.status == TaskStatus.QUEUED and self.store.session_active(self.session_id) != self.task_id:
            return  # still waiting behind the session's active task; it is enqueued when its turn comes
        token = self.store.acquire_lease(self.session_id, self.task_id)
        if token is None:  # another delivery is running it; look again once that lease could have lapsed
            enqueue_run(self.task_id, self.session_id, countdown=self.store.lease_ttl(self.session_id, self.task_id) + 0.5,
                        graph=record.graph)
            return
        self.token = token
        self.bound = record.binding is not None
        with LeaseKeeper(self.store, self.session_id, self.task_id, token) as keeper:
            try:
                self._run_owned(record)
            except LeaseLost:
                log.warning("task %s: lease lost; another worker owns the run now", self.task_id, extra=self.log_ids)
                self._hand_back_if_orphaned(record)
            if keeper.lost:
                log.warning("task %s: lease expired during the run", self.task_id, extra=self.log_ids)

    def _hand_back_if_orphaned(self, record: TaskRecord) -> None:
        """After losing the lease: unless another run holds the task now, queue it again.

        A lease also lapses when nobody took it: Redis was restarted and forgot it (a lease is short-lived),
        or this process stalled. The task is still ``running`` then and its message is acked when this
        attempt returns, so without a new message nobody would ever finish it; the new delivery continues
        from the last checkpoint.
        """
        current = self.store.load(self.session_id, self.task_id)
        if current is None or current.status not in (TaskStatus.QUEUED, TaskStatus.RUNNING):
            return
        if self.store.lease_ttl(self.session_id, self.task_id) > 0:
            return  # another run owns it; that run's own message covers it
        log.warning("task %s: nobody holds it; queued again", self.task_id, extra=self.log_ids)
        enqueue_run(self.task_id, self.session_id, graph=record.graph)

    def _kick_session_if_stalled(self) -> None:
        """A redelivered message of a finished task: make sure the session's next task was handed on."""
        active = self.store.session_active(self.session_id)
        if not active:
            return
        nxt = self.store.load(self.session_id, active)
        if nxt is not None and nxt.status == TaskStatus.QUEUED and nxt.attempts == 0:
            enqueue_run(active, self.session_id, graph=nxt.graph)

    # --- the run -------------------------------------------------------------------------------------------

    def _run_owned(self, record: TaskRecord) -> None:
        reason = self.store.cancel_requested(self.session_id, self.task_id)
        if reason:
            self._finish(record, TaskStatus.CANCELLED, EventType.TASK_CANCELLED, {"reason": reason}, {})
            return
        started = self.store.transition(
            record,
            {TaskStatus.QUEUED, TaskStatus.RUNNING},
            TaskStatus.RUNNING,
            (EventType.TASK_STARTED, {"run": record.run, "attempt": record.attempts + 1}),
            self.token,
            incr_field="attempts",
        )
        if not started.ok:
            return  # cancelled or answered meanwhile
        log.info("task %s: run %d, attempt %d of graph %s", self.task_id, record.run, record.attempts + 1, record.graph,
                 extra=self.log_ids)
        try:
            config = self._config(record)
            graph = self.rt.registry.compiled(record.graph, self.rt.checkpointer, config)
            graph_input = self._input(graph, config, record)
            nodes = NodeThreads()
            _watch_soft_limit()
            with CancelWatcher(self.store, self.session_id, self.task_id, nodes):
                self._stream(graph, graph_input, {**config, "callbacks": [nodes, ToolEvents(self._publish)]})
            self._settle(graph, config, record)
        except CancelRequested:
            reason = self.store.cancel_requested(self.session_id, self.task_id) or "cancelled by request"
            self._finish(record, TaskStatus.CANCELLED, EventType.TASK_CANCELLED, {"reason": reason}, {})
        except SoftTimeLimitExceeded:
            error = {"kind": "timeout", "message": f"the run exceeded {self.settings.task_soft_time_limit:g} s"}
            self._finish(record, TaskStatus.FAILED, EventType.TASK_FAILED, {"error": error}, {"error": error})
        except (LeaseLost, redis.RedisError):
            raise
        except Exception as exc:  # the graph raised
            self._graph_error(record, exc)

    def _config(self, record: TaskRecord) -> dict[str, Any]:
        return {
            "configurable": {**record.config, "mode": record.mode, "thread_id": record.session_id},
            "metadata": {"graphgate_task_id": record.id, "graphgate_run": record.run},
        }

    def _input(self, graph: Any, config: dict[str, Any], record: TaskRecord) -> Any:
        """What to stream: None to continue this run's own checkpoint, the resume answer, or the input."""
        from langgraph.types import Command

        state = graph.get_state(config)
        meta = state.metadata or {}
        if meta.get("graphgate_task_id") == record.id and meta.get("graphgate_run") == record.run and (
            state.next or state.tasks
        ):
            # a previous attempt of this very run got this far: go on from its last checkpoint. Its last step
            # may have finished without being committed (the attempt died between the two): then ``next`` is
            # empty and only ``tasks`` shows the step, whose node.completed may not have been written yet
            for task in state.tasks:
                if task.result is not None and not task.error and not task.interrupts:
                    self._node_completed({"name": task.name, "id": task.id, "result": task.result})
            return None
        if record.run > 1 and record.resume is not None:
            answers = record.resume.get("answers") or {"": record.resume.get("answer")}
            # one answer goes as is (what every LangGraph version takes); several by interrupt id
            return Command(resume=next(iter(answers.values())) if len(answers) == 1 else answers)
        return record.input

    def _stream(self, graph: Any, graph_input: Any, config: dict[str, Any]) -> None:
        for mode, chunk in graph.stream(graph_input, config, stream_mode=["tasks", "messages", "custom"]):
            if mode == "tasks":
                if "result" in chunk and not chunk.get("error") and not chunk.get("interrupts"):
                    self._node_completed(chunk)
            elif mode == "messages":
                self._message_delta(*chunk)
            elif mode == "custom":
                self._publish(EventType.CUSTOM, {"payload": to_jsonable(chunk)}, "")

    def _node_completed(self, chunk: dict[str, Any]) -> None:
        update = to_jsonable(chunk.get("result"))
        data: dict[str, Any] = {"node": chunk["name"], "step_id": chunk["id"]}
        if len(repr(update)) <= MAX_UPDATE_CHARS:
            data["update"] = update
        else:
            data["update_omitted"] = True
        # LangGraph's task id is derived from the checkpoint, step and node: the same step re-run after a
        # crash has the same id, so the publisher writes its event only once
        self._publish(EventType.NODE_COMPLETED, data, f"node:{chunk['id']}")

    def _message_delta(self, message: Any, meta: dict[str, Any]) -> None:
        if getattr(message, "type", None) not in AI_MESSAGE_TYPES:
            return  # tool results and echoed inputs are not the model's answer
        text = content_text(getattr(message, "content", ""), summarise=False)
        if not text:
            return
        node = meta.get("langgraph_node", "")
        step = meta.get("langgraph_step", 0)
        ns = meta.get("langgraph_checkpoint_ns", "")
        key = (ns, step, node)
        seq = self._delta_seq.get(key, 0)
        self._delta_seq[key] = seq + 1
        data = {"node": node, "text": text, "message_id": getattr(message, "id", None), "seq": seq}
        self._publish(EventType.MESSAGE_DELTA, data, f"delta:{ns}:{step}:{node}:{seq}")

    def _publish(self, etype: EventType, data: dict[str, Any], dedupe_key: str) -> None:
        self.store.publish(Event(etype, self.task_id, self.session_id, data), dedupe_key, self.token, self.bound)

    def _settle(self, graph: Any, config: dict[str, Any], record: TaskRecord) -> None:
        """After the stream ended: the task waits for input, or it is complete."""
        state = graph.get_state(config)
        interrupts = list(state.interrupts or ())
        if interrupts:
            pending = [interrupt_data(i.id, i.value, getattr(i, "response_schema", None)) for i in interrupts]
            events, fields = pause(pending)
            self.store.transition(record, {TaskStatus.RUNNING}, TaskStatus.WAITING_INPUT, events, self.token, fields=fields)
            return
        output = to_jsonable(state.values)
        self._finish(
            record,
            TaskStatus.COMPLETED,
            EventType.TASK_COMPLETED,
            {"output": output, "text": answer_text(output)},
            {"output": output, "interrupt": None},
        )

    def _graph_error(self, record: TaskRecord, exc: Exception) -> None:
        retries = record.retries
        error = {"kind": type(exc).__name__, "message": str(exc)[:1000] or type(exc).__name__}
        if _retryable(exc) and retries < self.settings.task_max_retries:
            delay = self.settings.task_retry_backoff_seconds * (2**retries)
            result = self.store.transition(
                record,
                {TaskStatus.RUNNING},
                TaskStatus.QUEUED,
                (EventType.TASK_RETRYING, {"error": error, "retry": retries + 1, "delay": delay}),
                self.token,
                incr_field="retries",
            )
            if result.ok:
                log.warning("task %s: %s: %s; retry %d in %.1fs", self.task_id, error["kind"], exc, retries + 1, delay,
                            extra=self.log_ids)
                enqueue_run(self.task_id, self.session_id, countdown=delay, graph=record.graph)
            return
        log.error("task %s failed: %s: %s", self.task_id, error["kind"], exc, exc_info=exc, extra=self.log_ids)
        self._finish(record, TaskStatus.FAILED, EventType.TASK_FAILED, {"error": error}, {"error": error})

    def _finish(
        self,
        record: TaskRecord,
        status: TaskStatus,
        etype: EventType,
        data: dict[str, Any],
        fields: dict[str, Any],
    ) -> None:
        result = self.store.transition(
            record, {TaskStatus.QUEUED, TaskStatus.RUNNING}, status, (etype, data), self.token, fields=fields
        )
        if result.ok and result.next_task:
            enqueue_run(result.next_task, self.session_id, graph=record.graph)  # a session runs one graph


def _retryable(exc: Exception) -> bool:
    """Errors in the graph's own logic are permanent; everything else may pass on a retry."""
    from langgraph.errors import GraphRecursionError, InvalidUpdateError

    return not isinstance(exc, (GraphRecursionError, InvalidUpdateError, TypeError, KeyError, AttributeError))
