"""Task and session records in Redis: their shape, and the calls that change them atomically.

``TaskRecord`` is what a task hash holds, ``SessionRecord`` what a session hash holds. The ``*_call`` functions build the keys and arguments of the Lua
scripts in graphgate/core/scripts.py; the async task service (graphgate/core/tasks.py) and the worker's synchronous store
(workers/runstore.py) both go through them, so there is one definition of each state change.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from graphgate.core.events import Event, EventType, serialize_event
from graphgate.core.keys import Keys, delivery_shard
from graphgate.core.settings import Settings


class TaskStatus(str, Enum):
    QUEUED = "queued"  # accepted; waiting for a worker (or for the session's active task to end)
    RUNNING = "running"  # a worker is running the graph
    WAITING_INPUT = "waiting_input"  # the graph called interrupt(); a resume answer continues it
    COMPLETED = "completed"  # the graph finished; output holds its final state
    FAILED = "failed"  # the graph raised after its retries, or hit a time limit; error says why
    CANCELLED = "cancelled"  # stopped on request, or replaced by a newer task (multitask=interrupt)

    @property
    def terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED})
ACTIVE_STATUSES = frozenset({TaskStatus.QUEUED, TaskStatus.RUNNING, TaskStatus.WAITING_INPUT})

_JSON_FIELDS = (
    "input",
    "config",
    "output",
    "error",
    "interrupt",
    "interrupts",
    "answers",
    "resume",
    "binding",
    "metadata",
    "options",
    "next",
    "approvals",
)


@dataclass
class TaskRecord:
    id: str
    session_id: str
    owner: str
    graph: str
    status: TaskStatus
    input: dict[str, Any] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    mode: str = "auto"
    output: Any = None
    error: dict[str, Any] | None = None
    interrupt: dict[str, Any] | None = None  # the first unanswered interrupt's event data while waiting_input
    interrupts: list[dict[str, Any]] | None = None  # every interrupt of the current pause (event data), in order
    answers: dict[str, Any] | None = None  # interrupt id -> resume value, as answers of the pause come in
    answer_rev: str = ""  # changes with every answer: answers are compare-and-set against it
    resume: Any = None  # {"answers": {interrupt id: value}} to hand to Command(resume=...) on the next run
    binding: dict[str, Any] | None = None  # where chat events go (Slack thread, Telegram chat); None = web
    metadata: dict[str, Any] | None = None  # the caller's own labels for the run (the LangGraph API's run metadata)
    options: dict[str, Any] | None = None  # LangGraph run options for the worker (graphgate/core/runoptions.py)
    approvals: dict[str, Any] | None = None  # interrupt id -> its approval (graphgate/core/approvals.py); kept
    next: list[str] | None = None  # the nodes a completed run stopped before at a breakpoint (interrupt_before/after)
    multitask: str = "enqueue"  # what the task asked for when its session was busy: enqueue, reject or interrupt
    run: int = 1  # 1 for the first run, +1 for each resume
    attempts: int = 0  # deliveries of the current run to a worker
    retries: int = 0  # error retries so far (task.retrying events)
    cancel_requested: bool = False
    created_at: float = 0.0
    updated_at: float = 0.0
    finished_at: float | None = None

    def to_hash(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name in _JSON_FIELDS:
                if value is not None:
                    out[name] = json.dumps(value, ensure_ascii=False, default=str)
            elif isinstance(value, Enum):
                out[name] = value.value
            elif isinstance(value, bool):
                if value:
                    out[name] = "1"
            elif value is not None:
                out[name] = str(value)
        return out

    @property
    def chat_bound(self) -> bool:
        """Whether a chat follows the task: its own (``binding``), or a place one of its questions was posted to."""
        return self.binding is not None or routed_to_chat(self.approvals)

    def routed(self) -> dict[str, Any]:
        """The approvals of the pending interrupts a policy routes (interrupt id -> approval)."""
        found = self.approvals or {}
        return {i["interrupt_id"]: found[i["interrupt_id"]] for i in self.pending() if i["interrupt_id"] in found}

    def pending(self) -> list[dict[str, Any]]:
        """The interrupts of the current pause that are not answered yet, in order."""
        if self.status != TaskStatus.WAITING_INPUT:
            return []
        answered = self.answers or {}
        listed = self.interrupts if self.interrupts is not None else [self.interrupt] if self.interrupt else []
        return [i for i in listed if i.get("interrupt_id") not in answered]

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> TaskRecord:
        kwargs: dict[str, Any] = {}
        for name in cls.__dataclass_fields__:
            if name not in raw:
                continue
            value = raw[name]
            if name in _JSON_FIELDS:
                kwargs[name] = json.loads(value)
            elif name == "status":
                kwargs[name] = TaskStatus(value)
            elif name in ("run", "attempts", "retries"):
                kwargs[name] = int(value)
            elif name in ("created_at", "updated_at", "finished_at"):
                kwargs[name] = float(value)
            elif name == "cancel_requested":
                kwargs[name] = value == "1"
            else:
                kwargs[name] = value
        return cls(**kwargs)


@dataclass
class SessionRecord:
    """A session (a LangGraph thread): who owns it, the graph it runs once its first task named one, the caller's
    metadata, and where its latest task stands."""

    id: str
    owner: str
    created_at: float
    graph: str | None = None  # None until the session's first task
    metadata: dict[str, Any] = field(default_factory=dict)
    active: str | None = None  # the task id holding the session (queued, running or waiting for input)
    latest: TaskRecord | None = None  # the active task, else the session's newest task; None before any

    @property
    def updated_at(self) -> float:
        return max(self.created_at, self.latest.updated_at if self.latest else 0.0)

    @classmethod
    def from_hash(cls, session_id: str, raw: dict[str, str]) -> SessionRecord:
        return cls(
            id=session_id,
            owner=raw.get("owner", ""),
            created_at=float(raw.get("created_at") or 0),
            graph=raw.get("graph") or None,
            metadata=json.loads(raw["metadata"]) if raw.get("metadata") else {},
            active=raw.get("active") or None,
        )


def routed_to_chat(approvals: dict[str, Any] | None) -> bool:
    """Whether any of these approvals (interrupt id -> approval) posts its question into a chat."""
    return any((a or {}).get("targets") for a in (approvals or {}).values())


EventSpec = tuple[EventType, dict[str, Any]]  # an event's type and data, before it has an envelope


def pause(
    pending: list[dict[str, Any]], approvals: dict[str, Any] | None = None, earlier: dict[str, Any] | None = None
) -> tuple[list[EventSpec], dict[str, Any]]:
    """The events and task fields of a run that stops on ``pending`` interrupts (their event data, in
    order): one ``interrupt`` event each, and a fresh ``answer_rev`` for their answers to compare against.

    ``approvals`` (interrupt id -> approval, graphgate/core/approvals.py) are the routed ones among them: each
    interrupt event carries its approval and is followed by ``approval.requested``; they join the task's
    ``earlier`` approvals (kept for the audit and the chats that showed them).
    """
    approvals = approvals or {}
    events: list[EventSpec] = []
    for n, data in enumerate(pending):
        approval = approvals.get(data["interrupt_id"])
        extra = {"approval": approval} if approval else {}
        events.append((EventType.INTERRUPT, {**data, **extra, "index": n, "count": len(pending)}))
        if approval:
            events.append((EventType.APPROVAL_REQUESTED, {"interrupt_id": data["interrupt_id"], "approval": approval}))
    fields: dict[str, Any] = {
        "interrupt": pending[0],
        "interrupts": pending,
        "answers": {},
        "answer_rev": uuid.uuid4().hex,
        "resume": None,
    }
    if approvals:
        fields["approvals"] = {**(earlier or {}), **approvals}
    return events, fields


@dataclass(frozen=True)
class ScriptCall:
    keys: list[str]
    args: list[str]


def delivery_key(keys: Keys, settings: Settings, session_id: str) -> str:
    """The delivery shard stream of a session (the scripts write it only when a chat follows the session)."""
    return keys.delivery(delivery_shard(session_id, settings.delivery_shards))


def _flag(bound: bool) -> str:
    return "1" if bound else ""


def create_call(keys: Keys, settings: Settings, record: TaskRecord, multitask: str) -> ScriptCall:
    """Arguments of scripts.CREATE for a new task record."""
    queued = Event(
        EventType.TASK_QUEUED,
        record.id,
        record.session_id,
        # 'position' stays first: the script writes the real queue position over this 0
        {"position": 0, "graph": record.graph, "input": record.input, "mode": record.mode},
        ts=record.created_at,
    )
    fields = [item for pair in record.to_hash().items() for item in pair]
    return ScriptCall(
        keys=[
            keys.session(record.session_id),
            keys.task(record.session_id, record.id),
            keys.session_tasks(record.session_id),
            keys.pending(record.session_id),
            keys.events(record.session_id),
            delivery_key(keys, settings, record.session_id),
        ],
        args=[
            record.id,
            record.session_id,
            record.owner,
            record.graph,
            multitask,
            serialize_event(queued),
            str(settings.stream_maxlen),
            str(settings.session_ttl_seconds),
            repr(record.created_at),
            keys.task(record.session_id, ""),
            str(settings.delivery_maxlen),
            _flag(record.binding is not None),
            *fields,
        ],
    )


def create_session_call(keys: Keys, settings: Settings, session: SessionRecord) -> ScriptCall:
    """Arguments of scripts.CREATE_SESSION for an empty session (no task yet)."""
    metadata = json.dumps(session.metadata, ensure_ascii=False, default=str) if session.metadata else ""
    return ScriptCall(
        keys=[keys.session(session.id)],
        args=[
            session.owner,
            repr(session.created_at),
            metadata,
            str(settings.session_ttl_seconds),
            session.graph or "",
        ],
    )


def delete_session_call(keys: Keys, session_id: str, owner: str) -> ScriptCall:
    """Arguments of scripts.DELETE_SESSION: the session, its events and every task record of it."""
    return ScriptCall(
        keys=[
            keys.session(session_id),
            keys.events(session_id),
            keys.session_tasks(session_id),
            keys.pending(session_id),
            keys.delivered(session_id),
        ],
        args=[owner, keys.task(session_id, ""), keys.emitted(session_id, ""), keys.lease(session_id, "")],
    )


def transition_call(
    keys: Keys,
    settings: Settings,
    record: TaskRecord,
    *,
    from_states: frozenset[TaskStatus] | set[TaskStatus] | tuple[TaskStatus, ...],
    to_state: TaskStatus,
    event: EventSpec | list[EventSpec] | None,
    fields: dict[str, Any] | None = None,
    lease_token: str = "",
    incr_field: str = "",
    expect: tuple[str, str] | None = None,
) -> ScriptCall:
    """Arguments of scripts.TRANSITION: move a task between states and announce it with its event(s)."""
    session_id, task_id = record.session_id, record.id
    now = time.time()
    events = [] if event is None else event if isinstance(event, list) else [event]
    # compact JSON never holds a raw newline, so newlines separate the events for the script
    payload = "\n".join(serialize_event(Event(etype, task_id, session_id, data, ts=now)) for etype, data in events)
    all_fields: dict[str, Any] = {"updated_at": repr(now), **(fields or {})}
    if to_state.terminal:
        all_fields["finished_at"] = repr(now)
    flat: list[str] = []
    for name, value in all_fields.items():
        if name in _JSON_FIELDS:
            value = json.dumps(value, ensure_ascii=False, default=str)
        flat += [name, str(value)]
    expect_field, expect_value = expect or ("", "")
    return ScriptCall(
        keys=[
            keys.task(session_id, task_id),
            keys.events(session_id),
            keys.session(session_id),
            keys.pending(session_id),
            keys.lease(session_id, task_id),
            delivery_key(keys, settings, session_id),
        ],
        args=[
            ",".join(s.value for s in from_states),
            to_state.value,
            payload,
            str(settings.stream_maxlen),
            str(settings.session_ttl_seconds),
            lease_token,
            incr_field,
            expect_field,
            expect_value,
            keys.task(session_id, ""),
            task_id,
            session_id,
            str(settings.delivery_maxlen),
            _flag(record.chat_bound or routed_to_chat((fields or {}).get("approvals"))),
            *flat,
        ],
    )


@dataclass(frozen=True)
class TransitionResult:
    ok: bool
    previous: str  # the status before (or 'missing', 'lease', 'mismatch' when refused)
    event_id: str
    next_task: str  # the session's next task to enqueue, '' when none


def transition_result(raw: list[Any]) -> TransitionResult:
    ok, previous, event_id, nxt = (x.decode() if isinstance(x, bytes) else x for x in raw)
    return TransitionResult(bool(int(ok)), str(previous), str(event_id), str(nxt))


def begin_call(keys: Keys, settings: Settings, session_id: str, task_id: str, token: str) -> ScriptCall:
    """Arguments of scripts.BEGIN: a worker takes a task's lease and starts its run."""
    now = time.time()
    started = serialize_event(Event(EventType.TASK_STARTED, task_id, session_id, {"run": 0, "attempt": 0}, ts=now))
    return ScriptCall(
        keys=[
            keys.task(session_id, task_id),
            keys.session(session_id),
            keys.lease(session_id, task_id),
            keys.events(session_id),
            keys.pending(session_id),
            delivery_key(keys, settings, session_id),
            keys.published(keys.group(session_id)),
        ],
        args=[
            token,
            str(int(settings.task_lease_seconds * 1000)),
            started,
            str(settings.stream_maxlen),
            str(settings.session_ttl_seconds),
            session_id,
            str(settings.delivery_maxlen),
            repr(now),
            task_id,
        ],
    )


@dataclass(frozen=True)
class Begun:
    """What scripts.BEGIN found: its verdict, the task as it is (for 'cancel' and 'started'), and for 'leased' the
    seconds the other run's lease has left and the task's graph."""

    verdict: str
    record: TaskRecord | None = None
    lease_left: float = 0.0
    graph: str = ""


def begun(raw: list[Any]) -> Begun:
    verdict, detail = str(raw[0]), raw[1]
    if verdict == "leased":
        return Begun(verdict, lease_left=max(int(detail), 0) / 1000.0, graph=str(raw[2]))
    if verdict in ("cancel", "started"):
        fields = raw[2:]
        return Begun(verdict, TaskRecord.from_hash(dict(zip(fields[::2], fields[1::2]))))
    return Begun(verdict)


def publish_call(
    keys: Keys, settings: Settings, event: Event, dedupe_key: str, lease_token: str, bound: bool
) -> ScriptCall:
    """Arguments of scripts.PUBLISH for a progress event written by the run holding the lease."""
    return ScriptCall(
        keys=[
            keys.events(event.session_id),
            keys.emitted(event.session_id, event.task_id),
            keys.lease(event.session_id, event.task_id),
            delivery_key(keys, settings, event.session_id),
        ],
        args=[
            dedupe_key,
            serialize_event(event),
            str(settings.stream_maxlen),
            str(settings.session_ttl_seconds),
            lease_token,
            event.session_id,
            str(settings.delivery_maxlen),
            _flag(bound),
        ],
    )
