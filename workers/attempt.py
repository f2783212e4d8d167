"""One attempt of a run: one delivery of a task's Celery message to a worker.

The attempt takes the task's lease, moves the task to ``running``, streams the graph from its checkpoint
(first input, a resume ``Command``, or ``None`` to continue after a lost worker), writes progress events
(workers/runevents.py), and ends in exactly one of: ``waiting_input`` (interrupts), ``completed``,
``failed``, ``cancelled``, or ``queued`` again for a retry after a transient error. Every state change goes
through the run's lease, so an attempt that lost its task (to a stall or a Redis restart) writes nothing.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, replace
from typing import Any

import redis
from celery.exceptions import SoftTimeLimitExceeded

from graphgate.core import approvals, lgrun
from graphgate.core.attachments import answer_files, inline
from graphgate.core.events import EventType, answer_text, to_jsonable
from graphgate.core.interrupts import interrupt_data
from graphgate.core.rollback import roll_back
from graphgate.core.runoptions import RunOptions
from graphgate.core.store import TaskRecord, TaskStatus, TransitionResult, pause
from graphgate.workers.cancel import CancelRequested, NodeThreads, watch_soft_limit
from graphgate.workers.runevents import NO_VALUES, RunEvents
from graphgate.workers.runstore import LeaseLost
from graphgate.workers.runtime import Runtime
from graphgate.workers.watch import RUN_WATCH, Watched

log = logging.getLogger("graphgate.worker")
FINISHED = object()  # _input's answer when the run's graph had already reached its end: nothing to stream


@dataclass(frozen=True)
class StreamEnd:
    """Where a run that ran to its end stopped, from its stream: the state ``_settle`` reads, without a
    checkpointer read (LangGraph's ``StateSnapshot`` has the same three fields)."""

    values: Any
    interrupts: tuple[Any, ...] = ()
    next: tuple[str, ...] = ()


class Attempt:
    def __init__(self, rt: Runtime, task_id: str, session_id: str) -> None:
        self.rt, self.store, self.settings = rt, rt.store, rt.settings
        self.task_id, self.session_id = task_id, session_id
        self.log_ids = {"task_id": task_id, "session_id": session_id}  # JSON logs carry them
        self.token = ""
        self.options = RunOptions()
        self.events: RunEvents | None = None  # the run's progress events, once it holds the lease
        self.watched: Watched | None = None  # the process's watch over this run's lease and cancel requests

    # --- entry ------------------------------------------------------------------------------------------

    def run(self) -> None:
        token = uuid.uuid4().hex
        begun = self.store.begin(self.session_id, self.task_id, token)  # lease, cancel check and start in one
        if begun.verdict == "gone":
            log.warning("task %s is gone (expired?); dropping its message", self.task_id, extra=self.log_ids)
            return
        if begun.verdict == "terminal":
            log.info("task %s already ended; dropping a late delivery of its message", self.task_id, extra=self.log_ids)
            self._kick_session_if_stalled()
            return
        if begun.verdict in ("waiting", "behind"):
            # waiting: a stale duplicate delivery (the resume enqueues the next run); behind: still queued behind
            # the session's active task, and enqueued when its turn comes
            return
        if begun.verdict == "leased":  # another delivery is running it; look again once that lease could lapse
            self.rt.enqueue(self.task_id, self.session_id, countdown=begun.lease_left + 0.5, graph=begun.graph)
            return
        record = begun.record
        assert record is not None
        self.token = token
        self.options = RunOptions.from_dict(record.options)
        bound = record.chat_bound
        self.events = RunEvents(self.store, self.task_id, self.session_id, token, bound, self.options)
        with RUN_WATCH.watch(self.store, self.session_id, self.task_id, token) as watched:
            self.watched = watched
            try:
                if begun.verdict == "cancel":
                    reason = self.store.cancel_requested(self.session_id, self.task_id) or "cancelled by request"
                    self._finish(record, TaskStatus.CANCELLED, EventType.TASK_CANCELLED, {"reason": reason}, {})
                else:
                    self._run_started(record)
            except LeaseLost:
                log.warning("task %s: lease lost; another worker owns the run now", self.task_id, extra=self.log_ids)
                self._hand_back_if_orphaned(record)
            if watched.lost:
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
        self.rt.enqueue(self.task_id, self.session_id, graph=record.graph)

    def _kick_session_if_stalled(self) -> None:
        """A redelivered message of a finished task: make sure the session's next task was handed on."""
        active = self.store.session_active(self.session_id)
        if not active:
            return
        nxt = self.store.load(self.session_id, active)
        if nxt is not None and nxt.status == TaskStatus.QUEUED and nxt.attempts == 0:
            self.rt.enqueue(active, self.session_id, graph=nxt.graph)

    # --- the run -------------------------------------------------------------------------------------------

    def _run_started(self, record: TaskRecord) -> None:
        """Run the graph of a task this attempt has started (``running``, its lease held)."""
        log.info(
            "task %s: run %d, attempt %d of graph %s",
            self.task_id,
            record.run,
            record.attempts,
            record.graph,
            extra=self.log_ids,
        )
        try:
            config = self._config(record)
            graph = self.rt.registry.compiled(record.graph, self.rt.checkpointer, config)
            graph_input, config = self._input(graph, config, record)
            nodes = NodeThreads()
            watch_soft_limit()
            assert self.watched is not None
            with self.watched.armed(nodes):
                if graph_input is not FINISHED:
                    events = self._events()
                    run_config = {
                        **config,
                        "callbacks": [nodes, *events.callbacks()],
                        "run_id": lgrun.trace_run_id(record),  # the traced root run feedback is forwarded to
                    }
                    events.stream(graph, graph_input, run_config, **self._stream_kwargs())
            self._settle(graph, self._config(record), record)
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
        """The run's LangGraph config: the task's configuration and run mode, the caller's run metadata (in
        every checkpoint's metadata, as the LangGraph server keeps it), and the LangGraph config keys it set."""
        return {
            **self.options.config,
            "configurable": {**record.config, "mode": record.mode, "thread_id": record.session_id},
            "metadata": {
                **(record.metadata or {}),
                "graph_id": record.graph,  # as the LangGraph server's runs carry them
                "assistant_id": lgrun.assistant_id(record.graph),
                "run_id": record.id,
                "graphgate_task_id": record.id,
                "graphgate_run": record.run,
            },
        }

    def _stream_kwargs(self) -> dict[str, Any]:
        """LangGraph's run options: breakpoints and runtime context when the run asked for them, and its durability
        (the run's own, else ``GRAPHGATE_DURABILITY``)."""
        opts = self.options
        kwargs: dict[str, Any] = {}
        if opts.interrupt_before is not None:
            kwargs["interrupt_before"] = opts.interrupt_before
        if opts.interrupt_after is not None:
            kwargs["interrupt_after"] = opts.interrupt_after
        if opts.context is not None:
            kwargs["context"] = opts.context
        kwargs["durability"] = opts.durability or self.settings.durability
        return kwargs

    def _input(self, graph: Any, config: dict[str, Any], record: TaskRecord) -> tuple[Any, dict[str, Any]]:
        """What to stream, and the config to stream it with: None to continue this run's own checkpoint, the
        resume answer, a command, None after a breakpoint, or the input (from the checkpoint a fork names)."""
        from langgraph.types import Command

        state = graph.get_state(config)
        self._events().chunks.anchor_at(record.run, _checkpoint_id(state))
        meta = state.metadata or {}
        ours = meta.get("graphgate_task_id") == record.id and meta.get("graphgate_run") == record.run
        if ours and not (state.next or state.tasks) and state.parent_config:
            # a previous attempt of this run took the graph to its end and died before the run's last transition,
            # perhaps before its last step's node.completed too: write that step's events (each once, by its
            # key) and settle, without running the graph again
            last_step = graph.get_state(state.parent_config)
            for task in last_step.tasks:
                if task.result is not None and not task.error and not task.interrupts:
                    self._events().node_completed({"name": task.name, "id": task.id, "result": task.result})
            return FINISHED, config
        if ours and (state.next or state.tasks):
            # a previous attempt of this very run got this far: go on from its last checkpoint. Its last step
            # may have finished without being committed (the attempt died between the two): then ``next`` is
            # empty and only ``tasks`` shows the step, whose node.completed may not have been written yet
            for task in state.tasks:
                if task.result is not None and not task.error and not task.interrupts:
                    self._events().node_completed({"name": task.name, "id": task.id, "result": task.result})
            return None, config
        if record.run > 1 and record.resume is not None:
            answers = record.resume.get("answers") or {"": record.resume.get("answer")}
            # one answer goes as is (what every LangGraph version takes); several by interrupt id
            return Command(resume=next(iter(answers.values())) if len(answers) == 1 else answers), config
        opts = self.options
        if opts.rollback:  # multitask 'rollback': the run this one replaced leaves no trace in the thread
            roll_back(graph, record.session_id, opts.rollback)
        if opts.checkpoint_id:
            config = {**config, "configurable": {**config["configurable"], "checkpoint_id": opts.checkpoint_id}}
        if opts.command:
            return Command(update=opts.update, goto=opts.goto if opts.goto is not None else ()), config
        return (None if opts.from_checkpoint else inline(record.input, self.settings)), config

    def _leave(self, result: TransitionResult) -> TransitionResult:
        """A move out of ``running``: when it was made, it released the run's lease too (scripts.TRANSITION)."""
        if result.ok and self.watched is not None:
            self.watched.released = True
        return result

    def _events(self) -> RunEvents:
        assert self.events is not None, "the run's events are written only under its lease"
        return self.events

    def _stopped_at(self, graph: Any, config: dict[str, Any]) -> Any:
        """Where the graph stopped: its values as the stream ended, when it ran to its end (no interrupt, every
        task it started finished, no breakpoint it could have stopped at), else its state from the checkpointer."""
        opts = self.options
        breakpoints = (
            opts.interrupt_before
            or opts.interrupt_after
            or getattr(graph, "interrupt_before_nodes", None)
            or getattr(graph, "interrupt_after_nodes", None)
        )
        values = self._events().end_values()
        if breakpoints or values is NO_VALUES:
            return graph.get_state(config)
        return StreamEnd(values)

    def _settle(self, graph: Any, config: dict[str, Any], record: TaskRecord) -> None:
        """After the stream ended: the task waits for input, or it is complete."""
        state = self._stopped_at(graph, config)
        interrupts = list(state.interrupts or ())
        if interrupts:
            pending = [interrupt_data(i.id, i.value, getattr(i, "response_schema", None)) for i in interrupts]
            asked = approvals.ask(self.rt.registry.approvals, record.graph, pending, record.owner, record.binding)
            if asked:
                self.store.schedule_approvals(record.session_id, record.id, asked)
            events, fields = pause(pending, asked, record.approvals)
            paused = self._leave(
                self.store.transition(
                    record, {TaskStatus.RUNNING}, TaskStatus.WAITING_INPUT, events, self.token, fields=fields
                )
            )
            if paused.ok and self.options.webhook:
                self.rt.notify(record.id, record.session_id, "interrupted")
            return
        output = to_jsonable(state.values)
        data: dict[str, Any] = {"output": output, "text": answer_text(output)}
        files, refused = answer_files(output, self.settings, self.store.keep_file, record.owner)
        if files:  # images and files the graph answered with: the chats post them, the widget shows them
            data["files"] = files
        if refused:
            data["files_refused"] = refused
        fields: dict[str, Any] = {"output": output, "interrupt": None}
        if state.next:  # stopped at a breakpoint (interrupt_before/after): a run without input goes on
            data["next"] = fields["next"] = list(state.next)
        self._finish(record, TaskStatus.COMPLETED, EventType.TASK_COMPLETED, data, fields)

    def _graph_error(self, record: TaskRecord, exc: Exception) -> None:
        retries = record.retries
        error = {"kind": type(exc).__name__, "message": str(exc)[:1000] or type(exc).__name__}
        if _retryable(exc) and retries < self.settings.task_max_retries:
            delay = self.settings.task_retry_backoff_seconds * (2**retries)
            result = self._leave(
                self.store.transition(
                    record,
                    {TaskStatus.RUNNING},
                    TaskStatus.QUEUED,
                    (EventType.TASK_RETRYING, {"error": error, "retry": retries + 1, "delay": delay}),
                    self.token,
                    incr_field="retries",
                )
            )
            if result.ok:
                log.warning(
                    "task %s: %s: %s; retry %d in %.1fs",
                    self.task_id,
                    error["kind"],
                    exc,
                    retries + 1,
                    delay,
                    extra=self.log_ids,
                )
                self.rt.enqueue(self.task_id, self.session_id, countdown=delay, graph=record.graph)
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
        result = self._leave(
            self.store.transition(
                record, {TaskStatus.QUEUED, TaskStatus.RUNNING}, status, (etype, data), self.token, fields=fields
            )
        )
        if result.ok and self.options.webhook:
            self.rt.notify(record.id, record.session_id, lgrun.run_status(replace(record, status=status, **fields)))
        if result.ok and result.next_task:
            self.rt.enqueue(result.next_task, self.session_id, graph=record.graph)  # a session runs one graph


def _checkpoint_id(state: Any) -> str:
    return str(((getattr(state, "config", None) or {}).get("configurable") or {}).get("checkpoint_id") or "")


def _retryable(exc: Exception) -> bool:
    """Errors in the graph's own logic are permanent; everything else may pass on a retry."""
    from langgraph.errors import GraphRecursionError, InvalidUpdateError

    return not isinstance(exc, (GraphRecursionError, InvalidUpdateError, TypeError, KeyError, AttributeError))
