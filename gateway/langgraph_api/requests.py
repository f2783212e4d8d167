"""Request bodies of the LangGraph API, field for field as the LangGraph SDK sends them.

Every field the SDK may send is named, so an unknown one is refused (422) rather than ignored; a known field
graphgate does not honour yet is refused by ``refuse_unsupported`` with its name, unless it is left at the
value that asks for nothing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from graphgate.core import webhooks
from graphgate.core.errors import InvalidInput
from graphgate.core.runoptions import CONFIG_KEYS, RunOptions
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
    multitask_strategy: Literal["reject", "interrupt", "rollback", "enqueue"] = "enqueue"  # the server's default
    if_not_exists: Literal["reject", "create"] = "reject"
    on_disconnect: Literal["cancel", "continue"] = "continue"
    on_completion: Literal["delete", "keep"] | None = None  # stateless runs: delete the thread made for it
    strict_resume: bool | None = None  # graphgate's resumes are always strict: a stale answer gets 409
    interrupt_before: Literal["*"] | list[str] | None = None
    interrupt_after: Literal["*"] | list[str] | None = None
    webhook: str | None = Field(None, max_length=2048)
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None
    checkpoint_during: bool | None = None  # the older spelling of durability: true = async, false = exit
    durability: Literal["sync", "async", "exit"] | None = None
    # known to the LangGraph server, not honoured here yet (refused when set)
    feedback_keys: Any = None
    after_seconds: Any = None
    langsmith_tracer: Any = None

    @model_validator(mode="after")
    def _only_finite_numbers(self) -> RunCreate:
        _finite([self.input, self.command, self.config, self.context, self.metadata])
        return self

    def check(self) -> None:
        self.refuse_unsupported("feedback_keys", "after_seconds", "langsmith_tracer")
        if self.webhook is not None:
            check_webhook_url(self.webhook)
        if self.input is not None and self.command is not None:
            raise InvalidInput("give input (a new run) or command, not both")
        if self.command is not None:
            other = sorted(set(self.command) - {"resume", "goto", "update"})
            if other:
                raise InvalidInput(f"command: only resume, goto and update are supported, not {', '.join(other)}")
            if "resume" in self.command and ({"goto", "update"} & set(self.command)):
                raise InvalidInput(f"command: resume cannot be combined with goto or update here ({DOCS})")
            if not self.command:
                raise InvalidInput("command needs resume, goto or update")

    @property
    def resumes(self) -> bool:
        """The run answers the thread's pending interrupt(s)."""
        return self.command is not None and "resume" in self.command

    def run_config(self) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """(mode, configurable, LangGraph config keys) of the task: ``config.configurable`` is the graph's
        configuration, its ``mode`` (``auto`` or ``interactive``) graphgate's run mode; ``recursion_limit``,
        ``tags``, ``run_name`` and ``max_concurrency`` go to LangGraph as they are."""
        config = dict(self.config or {})
        other = sorted(set(config) - {"configurable", "metadata", *CONFIG_KEYS})
        if other:
            raise InvalidInput(f"config: {', '.join(other)} not supported ({DOCS})")
        configurable = config.pop("configurable", None) or {}
        config.pop("metadata", None)
        if not isinstance(configurable, dict):
            raise InvalidInput("config.configurable must be an object")
        configurable = dict(configurable)
        mode = configurable.pop("mode", "auto")
        if mode not in ("auto", "interactive"):
            raise InvalidInput("config.configurable.mode must be 'auto' or 'interactive'")
        limit = config.get("recursion_limit")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
            raise InvalidInput("config.recursion_limit must be a positive integer")
        tags = config.get("tags")
        if tags is not None and (not isinstance(tags, list) or not all(isinstance(t, str) for t in tags)):
            raise InvalidInput("config.tags must be a list of strings")
        return str(mode), configurable, {k: v for k, v in config.items() if v is not None}

    def run_metadata(self) -> dict[str, Any] | None:
        """The run's metadata: ``metadata``, over ``config.metadata`` (the LangGraph server merges both)."""
        merged = {**((self.config or {}).get("metadata") or {}), **(self.metadata or {})}
        return merged or None

    def options(self, modes: tuple[str, ...], checkpoint_id: str | None, extra: dict[str, Any]) -> RunOptions:
        """What the worker is asked for beyond the task (graphgate/core/runoptions.py)."""
        durability = self.durability
        if durability is None and self.checkpoint_during is not None:
            durability = "async" if self.checkpoint_during else "exit"
        command = self.command or {}
        return RunOptions(
            stream=modes,
            subgraphs=self.stream_subgraphs and bool(modes),
            interrupt_before=self.interrupt_before,
            interrupt_after=self.interrupt_after,
            context=self.context,
            durability=durability,
            checkpoint_id=checkpoint_id,
            from_checkpoint=self.input is None and self.command is None,
            goto=command.get("goto"),
            update=command.get("update"),
            config=extra,
            webhook=self.webhook,
        )


class CancelMany(Body):
    thread_id: str | None = None
    run_ids: list[str] | None = Field(None, max_length=1000)
    status: Literal["pending", "running", "all"] | None = None


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


class ThreadPatch(Body):
    metadata: dict[str, Any] | None = None
    ttl: Any = None

    @model_validator(mode="after")
    def _only_finite_numbers(self) -> ThreadPatch:
        _finite(self.metadata)
        return self


class StateUpdate(Body):
    values: dict[str, Any] | list[Any] | None = None
    as_node: str | None = Field(None, min_length=1, max_length=256)
    checkpoint: dict[str, Any] | None = None
    checkpoint_id: str | None = None

    @model_validator(mode="after")
    def _only_finite_numbers(self) -> StateUpdate:
        _finite(self.values)
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


def check_webhook_url(url: str) -> None:
    """A webhook must be an absolute http(s) URL (where it may point is checked when it is called)."""
    webhooks.check_url(url)
