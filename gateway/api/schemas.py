"""Request and response bodies of the HTTP API (they define the OpenAPI document)."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from graphgate.core.store import TaskRecord


def _finite(value: Any) -> Any:
    """``value`` unchanged; ValueError if it holds NaN or Infinity anywhere (Python's JSON parser takes them,
    but they are not JSON: every event carrying them would be unreadable to browsers)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("numbers must be finite (NaN and Infinity are not JSON)")
    if isinstance(value, dict):
        for item in value.values():
            _finite(item)
    elif isinstance(value, list):
        for item in value:
            _finite(item)
    return value


class TaskCreate(BaseModel):
    """A new task. Unknown top-level fields are merged into ``input`` (``{"topic": ...}`` works as is)."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "topic": "人工智能在医疗诊断中的应用",
                    "mode": "interactive",
                    "config": {"target_audience": "医疗专业人士", "depth_level": "deep", "target_length": 3000},
                },
                {"graph": "echo", "input": {"text": "hello"}},
            ]
        },
    )

    graph: str | None = Field(None, max_length=128, description="Registered graph name; default from settings.")
    input: dict[str, Any] | None = Field(None, description="The graph's input state.")
    session_id: str | None = Field(None, max_length=128, description="Continue this conversation.")
    mode: Literal["interactive", "auto"] = Field("auto", description="Handed to the graph as configurable 'mode'.")
    config: dict[str, Any] = Field(default_factory=dict, description="The graph's configurable values.")
    multitask: Literal["enqueue", "reject", "interrupt"] = Field(
        "enqueue", description="When the session is busy: wait, refuse with 409, or cancel the running task."
    )
    webhook: str | None = Field(
        None,
        max_length=2048,
        description="POST the event that stops the task (completed, failed, cancelled, or its questions) here, "
        "signed and retried (docs/webhooks.md); the graph's default webhook when left out.",
    )

    files: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="Ids of files uploaded with POST /api/v1/files: handed to the graph as content blocks on "
        "the user's message, or in its 'attachments' input (docs/files.md).",
    )

    def graph_input(self) -> dict[str, Any]:
        return {**(self.input or {}), **(self.model_extra or {})}

    @model_validator(mode="after")
    def _only_finite_numbers(self) -> TaskCreate:
        _finite([self.input, self.config, self.model_extra])
        return self


class TaskResume(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answer: Any = Field(
        ...,
        description=(
            "The answer handed to the graph as Command(resume=answer); any JSON value but null. A tool "
            "approval also takes 'approve', 'reject', one decision or a list of them; an object in the "
            'middleware\'s own format ({"decisions": [...]}) passes unchanged. With several interrupts '
            "pending and no interrupt_id: {interrupt id: answer}."
        ),
        json_schema_extra={"not": {"type": "null"}},
    )
    interrupt_id: str | None = Field(
        None, max_length=128, description="The pending interrupt this answers (needed while several are pending)."
    )

    @model_validator(mode="after")
    def _only_finite_numbers(self) -> TaskResume:
        _finite(self.answer)
        return self


class ErrorBody(BaseModel):
    code: str
    message: str


class ErrorResponse(BaseModel):
    error: ErrorBody


class TaskCreated(BaseModel):
    task_id: str
    session_id: str
    status: str
    graph: str
    events_url: str
    task_url: str


class Task(BaseModel):
    task_id: str
    session_id: str
    graph: str
    status: Literal["queued", "running", "waiting_input", "completed", "failed", "cancelled"]
    mode: str
    input: dict[str, Any]
    config: dict[str, Any]
    output: Any = None
    error: dict[str, Any] | None = None
    interrupt: dict[str, Any] | None = Field(None, description="The first unanswered interrupt while waiting_input.")
    interrupts: list[dict[str, Any]] = Field(
        default_factory=list, description="Every unanswered interrupt while waiting_input (answer each by its id)."
    )
    approvals: dict[str, Any] = Field(
        default_factory=dict,
        description="Interrupt id -> its approval (who answers, where, votes, deadline) for each unanswered "
        "question an approval policy routes (docs/approvals.md).",
    )
    run: int
    attempts: int
    cancel_requested: bool
    created_at: float
    updated_at: float
    finished_at: float | None = None

    @classmethod
    def of(cls, record: TaskRecord) -> Task:
        return cls(
            task_id=record.id,
            session_id=record.session_id,
            graph=record.graph,
            status=record.status.value,  # type: ignore[arg-type]
            mode=record.mode,
            input=record.input,
            config=record.config,
            output=record.output,
            error=record.error,
            interrupt=record.interrupt if record.status.value == "waiting_input" else None,
            interrupts=record.pending(),
            approvals=record.routed(),
            run=record.run,
            attempts=record.attempts,
            cancel_requested=record.cancel_requested,
            created_at=record.created_at,
            updated_at=record.updated_at,
            finished_at=record.finished_at,
        )


class TaskList(BaseModel):
    tasks: list[Task]


class StreamToken(BaseModel):
    token: str
    expires_in: int
    events_url: str


class GraphInfo(BaseModel):
    name: str
    input_schema: dict[str, Any] | None


class GraphList(BaseModel):
    default: str
    graphs: list[GraphInfo]
