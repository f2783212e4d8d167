"""What a chat user should currently see of one task: a fold of the task's events.

The dispatcher keeps one ``TaskView`` per chat-bound task, applies each event to it in stream order and
hands it to the platform's renderer, which turns it into the messages that should exist in the chat
(status, streamed answer, questions, final answer). The view is platform-neutral and JSON-serialisable,
so it is stored with the delivery state and survives a dispatcher restart.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from graphgate.core.approvals import target_key
from graphgate.core.events import Event, EventType
from graphgate.core.interrupts import QUESTION, describe_answer
from graphgate.core.store import ACTIVE_STATUSES, TaskStatus

MAX_ANSWER_CHARS = 200_000  # streamed text kept per run; deltas beyond this are dropped from the preview
MAX_NODES = 50  # completed node names kept for the progress line
MAX_TOOL_NAMES = 10  # distinct tool names kept for the finished status line


class Status:
    """A view's status: the value of the task's ``TaskStatus`` (graphgate/core/store.py, where each is
    explained), as plain text so that a view stays JSON."""

    QUEUED = TaskStatus.QUEUED.value
    RUNNING = TaskStatus.RUNNING.value
    WAITING = TaskStatus.WAITING_INPUT.value
    COMPLETED = TaskStatus.COMPLETED.value
    FAILED = TaskStatus.FAILED.value
    CANCELLED = TaskStatus.CANCELLED.value

    ACTIVE = frozenset(s.value for s in ACTIVE_STATUSES)


@dataclass
class Question:
    """An ``interrupt`` of the task and, once given, its answer."""

    interrupt_id: str
    run: int
    question: str
    options: list[dict[str, str]] = field(default_factory=list)  # [{label, value}]
    value: Any = None  # the interrupt's full payload (e.g. the writer's outline)
    answer: Any = None
    by: str | None = None  # who answered (a principal id such as slack:T1:U1)
    answered: bool = False
    kind: str = QUESTION  # 'question' or 'tool_approval' (graphgate/core/interrupts.py)
    actions: list[dict[str, Any]] = field(default_factory=list)  # a tool approval's tool calls
    approval: dict[str, Any] | None = None  # its approval while a policy routes it (graphgate/core/approvals.py)
    places: list[str] = field(default_factory=list)  # target keys of every place it was posted to (escalations too)
    escalations: list[str] = field(default_factory=list)  # the policies it escalated from, in order
    timed_out: bool = False  # the deadline answered it (with the policy's outcome)

    @property
    def routed(self) -> bool:
        return self.approval is not None

    def data(self) -> dict[str, Any]:
        """The interrupt as its event described it (what graphgate/core/interrupts.py reads)."""
        return {
            "interrupt_id": self.interrupt_id,
            "kind": self.kind,
            "question": self.question,
            "options": self.options,
            "actions": self.actions,
            "value": self.value,
        }

    def answer_label(self) -> str:
        """The label of the chosen option, a reading of a tool decision, else the answer as text."""
        return describe_answer(self.data(), self.answer)


@dataclass
class TaskView:
    task_id: str
    graph: str = ""
    status: str = Status.QUEUED
    position: int = 0  # tasks ahead of this one in the session (multitask=enqueue)
    run: int = 1  # 1, then +1 after each answered question
    attempt: int = 1
    created_at: float | None = None
    started_at: float | None = None
    finished_at: float | None = None
    steps: int = 0  # nodes completed, all runs together
    nodes: list[str] = field(default_factory=list)  # names of completed nodes, oldest first
    activity: str | None = None  # the last ``custom`` payload's text, or the tool running now
    tools: int = 0  # tool calls completed, all runs together
    tool_names: list[str] = field(default_factory=list)  # the tools that ran, each named once, in order
    answers: dict[str, str] = field(default_factory=dict)  # run (as text) -> text streamed in that run
    last_message_id: str | None = None  # the model message the last delta belonged to
    questions: list[Question] = field(default_factory=list)
    final_text: str | None = None  # the answer of a completed task (Markdown)
    final_summary: str | None = None  # a JSON rendering of the output when it has no text answer
    final_files: list[dict[str, Any]] = field(default_factory=list)  # images and files of the answer (name, url…)
    error: dict[str, Any] | None = None
    cancel_reason: str | None = None
    retrying: dict[str, Any] | None = None  # the last task.retrying data while the retry is pending
    places: list[dict[str, Any]] = field(default_factory=list)  # chats its questions were posted to (approvals)

    # --- reading ------------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self.status in Status.ACTIVE

    @property
    def answer_runs(self) -> list[int]:
        return sorted(int(r) for r in self.answers)

    def answer(self, run: int) -> str | None:
        return self.answers.get(str(run))

    def pending_question(self) -> Question | None:
        """The first question still waiting for its answer."""
        pending = self.pending_questions()
        return pending[0] if pending else None

    def pending_questions(self) -> list[Question]:
        """Every question of the current pause still waiting for an answer, in order."""
        if self.status != Status.WAITING:
            return []
        return [q for q in self.questions if q.run == self.run and not q.answered]

    # --- folding events -----------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        """Change the view as ``event`` says; events must come in stream order."""
        data = event.data
        kind = event.type
        if kind == EventType.TASK_QUEUED:
            self.graph = str(data.get("graph") or self.graph)
            self.position = int(data.get("position") or 0)
            self.created_at = self.created_at or event.ts
        elif kind == EventType.TASK_STARTED:
            self.status = Status.RUNNING
            self.run = int(data.get("run") or self.run)
            self.attempt = int(data.get("attempt") or 1)
            self.started_at = self.started_at or event.ts
            self.retrying = None
            self.position = 0
        elif kind == EventType.NODE_COMPLETED:
            self.steps += 1
            node = str(data.get("node") or "")
            if node:
                self.nodes = (self.nodes + [node])[-MAX_NODES:]
        elif kind == EventType.MESSAGE_DELTA:
            self._delta(str(data.get("text") or ""), data.get("message_id"))
        elif kind == EventType.CUSTOM:
            payload = data.get("payload")
            text = _activity_text(payload)
            if text:
                self.activity = text
        elif kind == EventType.INTERRUPT:
            self.status = Status.WAITING
            self.questions.append(
                Question(
                    interrupt_id=str(data.get("interrupt_id") or ""),
                    run=self.run,
                    question=str(data.get("question") or ""),
                    options=list(data.get("options") or []),
                    value=data.get("value"),
                    kind=str(data.get("kind") or QUESTION),
                    actions=list(data.get("actions") or []),
                )
            )
            if isinstance(data.get("approval"), dict):
                self._route(self.questions[-1], data["approval"])
            self.last_message_id = None
            self.activity = None
        elif kind in (EventType.APPROVAL_GIVEN, EventType.APPROVAL_REMINDED):
            q = self.question(str(data.get("interrupt_id") or ""))
            if q is not None and q.approval is not None:
                if kind == EventType.APPROVAL_GIVEN:
                    vote = {k: data.get(k) for k in ("answer", "approves", "name", "where")}
                    q.approval["votes"] = {**(q.approval.get("votes") or {}), str(data.get("by")): vote}
                else:
                    q.approval["reminders"] = int(data.get("reminder") or 0)
                    q.approval["left"] = data.get("left")
        elif kind == EventType.APPROVAL_ESCALATED:
            q = self.question(str(data.get("interrupt_id") or ""))
            if q is not None and isinstance(data.get("approval"), dict):
                q.escalations.append(str(data.get("from") or ""))
                self._route(q, data["approval"])
        elif kind == EventType.APPROVAL_TIMED_OUT:
            q = self.question(str(data.get("interrupt_id") or ""))
            if q is not None:
                q.timed_out = True
        elif kind == EventType.INTERRUPT_ANSWERED:
            self._answered(str(data.get("interrupt_id") or ""), data.get("answer"), data.get("by"))
        elif kind == EventType.TASK_RESUMED:
            self.status = Status.QUEUED
            answers = data.get("answers") or {str(data.get("interrupt_id") or ""): data.get("answer")}
            for interrupt_id, answer in answers.items():
                self._answered(interrupt_id, answer, data.get("by"))
            self.run += 1
        elif kind == EventType.TOOL_STARTED:
            self.activity = f"running {data.get('tool') or 'a tool'}{_args_hint(data.get('args'))}"
        elif kind == EventType.TOOL_COMPLETED:
            self.tools += 1
            name = str(data.get("tool") or "")
            if name and name not in self.tool_names and len(self.tool_names) < MAX_TOOL_NAMES:
                self.tool_names.append(name)
            failed = data.get("status") == "error"
            self.activity = (
                f"{data.get('tool') or 'tool'} {'failed' if failed else 'done'}{_result_hint(data.get('result'))}"
            )
        elif kind == EventType.TASK_RETRYING:
            self.status = Status.QUEUED
            self.retrying = dict(data)
        elif kind == EventType.TASK_COMPLETED:
            self.status = Status.COMPLETED
            self.finished_at = event.ts
            text = data.get("text")
            self.final_text = text if isinstance(text, str) else None
            self.final_files = [f for f in data.get("files") or [] if isinstance(f, dict) and f.get("url")]
            if self.final_text is None:
                self.final_summary = json.dumps(data.get("output"), ensure_ascii=False, indent=2, default=str)[:20_000]
        elif kind == EventType.TASK_FAILED:
            self.status = Status.FAILED
            self.finished_at = event.ts
            self.error = dict(data.get("error") or {})
        elif kind == EventType.TASK_CANCELLED:
            self.status = Status.CANCELLED
            self.finished_at = event.ts
            self.cancel_reason = str(data.get("reason") or "cancelled")

    def question(self, interrupt_id: str) -> Question | None:
        """The latest question asked with this interrupt id."""
        return next((q for q in reversed(self.questions) if q.interrupt_id == interrupt_id), None)

    def _route(self, q: Question, approval: dict[str, Any]) -> None:
        """``q`` is routed by ``approval`` now: its places join the task's."""
        q.approval = dict(approval)
        known = {target_key(p) for p in self.places}
        for place in approval.get("targets") or []:
            key = target_key(place)
            if key not in q.places:
                q.places.append(key)
            if key not in known:
                self.places.append(dict(place))
                known.add(key)

    def _answered(self, interrupt_id: str, answer: Any, by: Any) -> None:
        for q in self.questions:
            if q.interrupt_id == interrupt_id and not q.answered:
                q.answered, q.answer, q.by = True, answer, by

    def _delta(self, text: str, message_id: Any) -> None:
        if not text:
            return
        key = str(self.run)
        current = self.answers.get(key, "")
        if current and message_id and self.last_message_id and message_id != self.last_message_id:
            if not current.endswith("\n\n"):
                current += "\n\n"  # a new model message starts a new paragraph
        if len(current) + len(text) <= MAX_ANSWER_CHARS:
            current += text
        self.answers[key] = current
        self.last_message_id = str(message_id) if message_id else self.last_message_id

    # --- storage ------------------------------------------------------------------------------------

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, separators=(",", ":"), default=str)

    @classmethod
    def from_json(cls, raw: str) -> TaskView:
        data = json.loads(raw)
        data["questions"] = [Question(**q) for q in data.get("questions") or []]
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _args_hint(args: Any) -> str:
    """`` (to=ann@example.com, subject=Q3)``: a tool's arguments, short."""
    if isinstance(args, dict) and args:
        parts = [f"{k}={v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}" for k, v in args.items()]
        text = ", ".join(parts)
    elif isinstance(args, str) and args:
        text = args
    else:
        return ""
    return f" ({text[:117] + '…' if len(text) > 120 else text})"


def _result_hint(result: Any) -> str:
    """``: <the first line of the result>``, short."""
    text = result if isinstance(result, str) else json.dumps(result, ensure_ascii=False) if result is not None else ""
    line = text.strip().split("\n", 1)[0]
    return f": {line[:117] + '…' if len(line) > 120 else line}" if line else ""


def _activity_text(payload: Any) -> str | None:
    """A one-line progress text in a graph's custom payload: a string, or its status/message/progress."""
    if isinstance(payload, str):
        return payload[:300]
    if isinstance(payload, dict):
        for key in ("status", "message", "progress", "text"):
            value = payload.get(key)
            if isinstance(value, str):
                return value[:300]
    return None
