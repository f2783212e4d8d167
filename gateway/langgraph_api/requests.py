"""Request bodies of the LangGraph API, field for field as the LangGraph SDK sends them.

Every field the SDK may send is named, so an unknown one is refused (422) rather than ignored; a known field
graphgate does not honour yet is refused by ``refuse_unsupported`` with its name, unless it is left at the
value that asks for nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from graphgate.core.errors import InvalidInput
from graphgate.gateway.api.schemas import _finite

DOCS = "see docs/langgraph-api.md"


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def refuse_unsupported(self, *names: str) -> None:
        """``InvalidInput`` naming each of ``names`` that is set to something other than null/false/empty."""
        given = [n for n in names if getattr(self, n) not in (None, False, [], {})]
        if given:
            raise InvalidInput(f"{', '.join(given)}: not supported by graphgate's LangGraph API ({DOCS})")


class RunCreate(Body):
    assistant_id: str = Field(..., min_length=1, max_length=128)
    input: dict[str, Any] | None = None
    command: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    context: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    stream_mode: str | list[str] | None = None
    stream_subgraphs: bool = False
    stream_resumable: bool = False  # every graphgate stream can be resumed: its frames carry event ids
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] = "reject"
    if_not_exists: Literal["reject", "create"] = "reject"
    on_disconnect: Literal["cancel", "continue"] = "continue"
    strict_resume: bool | None = None  # graphgate's resumes are always strict: a stale answer gets 409
    # known to the LangGraph server, not honoured here yet (refused when set)
    interrupt_before: Any = None
    interrupt_after: Any = None
    feedback_keys: Any = None
    webhook: Any = None
    checkpoint: Any = None
    checkpoint_id: Any = None
    checkpoint_during: Any = None
    on_completion: Any = None
    after_seconds: Any = None
    durability: Any = None
    langsmith_tracer: Any = None

    @model_validator(mode="after")
    def _only_finite_numbers(self) -> RunCreate:
        _finite([self.input, self.command, self.config, self.metadata])
        return self

    def check(self) -> None:
        self.refuse_unsupported(
            "context",
            "stream_subgraphs",
            "interrupt_before",
            "interrupt_after",
            "feedback_keys",
            "webhook",
            "checkpoint",
            "checkpoint_id",
            "checkpoint_during",
            "on_completion",
            "after_seconds",
            "durability",
            "langsmith_tracer",
        )
        if self.multitask_strategy == "rollback":
            raise InvalidInput("multitask_strategy 'rollback' is not supported; use reject, interrupt or enqueue")
        if (self.input is None) == (self.command is None):
            raise InvalidInput("give either input (a new run) or command (to resume the thread's interrupted run)")

    def run_config(self) -> tuple[str, dict[str, Any]]:
        """(mode, configurable) of the task: ``config.configurable`` is the graph's configuration; its ``mode``
        (``auto`` or ``interactive``) is graphgate's run mode."""
        config = dict(self.config or {})
        other = sorted(set(config) - {"configurable"})
        if other:
            raise InvalidInput(f"config: only 'configurable' is supported, not {', '.join(other)} ({DOCS})")
        configurable = config.get("configurable") or {}
        if not isinstance(configurable, dict):
            raise InvalidInput("config.configurable must be an object")
        configurable = dict(configurable)
        mode = configurable.pop("mode", "auto")
        if mode not in ("auto", "interactive"):
            raise InvalidInput("config.configurable.mode must be 'auto' or 'interactive'")
        return str(mode), configurable


class ThreadCreate(Body):
    thread_id: str | None = Field(None, min_length=1, max_length=128)
    metadata: dict[str, Any] | None = None
    if_exists: Literal["raise", "do_nothing"] = "raise"
    supersteps: Any = None
    ttl: Any = None

    @model_validator(mode="after")
    def _only_finite_numbers(self) -> ThreadCreate:
        _finite(self.metadata)
        return self


class ThreadSearch(Body):
    metadata: dict[str, Any] | None = None
    ids: list[str] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    sort_by: Literal["created_at"] | None = None
    sort_order: Literal["desc"] | None = None
    select: list[str] | None = None
    values: Any = None
    extract: Any = None


class ThreadCount(Body):
    metadata: dict[str, Any] | None = None
    status: Literal["idle", "busy", "interrupted", "error"] | None = None
    values: Any = None


class History(Body):
    limit: int = Field(10, ge=1, le=1000)
    before: str | dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    checkpoint: dict[str, Any] | None = None
    select: list[str] | None = None


class StateAt(Body):
    checkpoint: dict[str, Any]
    subgraphs: bool = False
    select: list[str] | None = None


class AssistantSearch(Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
    limit: int = Field(10, ge=1, le=1000)
    offset: int = Field(0, ge=0)
    sort_by: Literal["assistant_id", "graph_id", "name", "created_at", "updated_at"] | None = None
    sort_order: Literal["asc", "desc"] | None = None
    select: list[str] | None = None


class AssistantCount(Body):
    metadata: dict[str, Any] | None = None
    graph_id: str | None = None
    name: str | None = None
