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

from gateway.events import Event, EventType

MAX_ANSWER_CHARS = 200_000  # streamed text kept per run; deltas beyond this are dropped from the preview
MAX_NODES = 50  # completed node names kept for the progress line


class Status:
    QUEUED = "queued"  # waiting for a worker or behind the session's active task
    RUNNING = "running"  # a worker runs the graph
    WAITING = "waiting_input"  # the graph asked a question
    COMPLETED = "completed"  # finished; final_text holds the answer
    FAILED = "failed"  # error says why
    CANCELLED = "cancelled"  # cancel_reason says why

    ACTIVE = frozenset({QUEUED, RUNNING, WAITING})


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

    def answer_label(self) -> str:
        """The label of the chosen option, else the answer as text."""
        for opt in self.options:
            if opt.get("value") == self.answer:
                return str(opt.get("label", self.answer))
        if isinstance(self.answer, str):
            return self.answer
        return json.dumps(self.answer, ensure_ascii=False)


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
    activity: str | None = None  # the last ``custom`` payload's text, if it had one
    answers: dict[str, str] = field(default_factory=dict)  # run (as text) -> text streamed in that run
    last_message_id: str | None = None  # the model message the last delta belonged to
    questions: list[Question] = field(default_factory=list)
    final_text: str | None = None  # the answer of a completed task (Markdown)
    final_summary: str | None = None  # a JSON rendering of the output when it has no text answer
    error: dict[str, Any] | None = None
    cancel_reason: str | None = None
    retrying: dict[str, Any] | None = None  # the last task.retrying data while the retry is pending

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
        for q in reversed(self.questions):
            if not q.answered:
                return q
        return None

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
                )
            )
            self.last_message_id = None
        elif kind == EventType.TASK_RESUMED:
            self.status = Status.QUEUED
            for q in self.questions:
                if q.interrupt_id == data.get("interrupt_id") and not q.answered:
                    q.answered, q.answer, q.by = True, data.get("answer"), data.get("by")
            self.run += 1
        elif kind == EventType.TASK_RETRYING:
            self.status = Status.QUEUED
            self.retrying = dict(data)
        elif kind == EventType.TASK_COMPLETED:
            self.status = Status.COMPLETED
            self.finished_at = event.ts
            text = data.get("text")
            self.final_text = text if isinstance(text, str) else None
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
    def from_json(cls, raw: str) -> "TaskView":
        data = json.loads(raw)
        data["questions"] = [Question(**q) for q in data.get("questions") or []]
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def _activity_text(payload: Any) -> str | None:
    """A one-line progress text in a graph's custom payload: a string, or its status/message/progress."""
    if isinstance(payload, str):
        return payload[:300]
    if isinstance(payload, dict):
        for key in ("status", "message", "progress", "text"):
            if isinstance(payload.get(key), str):
                return payload[key][:300]
    return None
