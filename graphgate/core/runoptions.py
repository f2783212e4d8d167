"""What a run asks of the worker beyond graphgate's task: the LangGraph server API's run options.

A task started from a chat has none; one from ``/api/v1`` at most its ``webhook``. A run started through the LangGraph server API
(gateway/langgraph_api/) may ask for LangGraph stream modes the worker publishes as ``stream.chunk`` events,
breakpoints, a runtime context, a durability mode, a fork from a checkpoint, a command's ``goto``/``update``,
LangGraph config keys (``recursion_limit``, ``tags``, ``run_name``) and a webhook to call when it stops. The API writes them into the task
record (``TaskRecord.options``); the worker passes them to ``graph.stream``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# the LangGraph server's stream modes a worker can publish as stream.chunk events ("events" come from callbacks;
# both message modes from LangGraph's messages chunks)
CHUNK_MODES = ("values", "updates", "messages-tuple", "messages", "custom", "events", "debug", "tasks", "checkpoints")
DURABILITY_MODES = ("sync", "async", "exit")
CONFIG_KEYS = ("recursion_limit", "tags", "run_name", "max_concurrency")  # LangGraph config a run may set


@dataclass(frozen=True)
class RunOptions:
    stream: tuple[str, ...] = ()  # the run's stream modes (CHUNK_MODES): their chunks are stream.chunk events
    subgraphs: bool = False  # publish the chunks of subgraphs too, with their namespace
    interrupt_before: list[str] | str | None = None  # nodes to stop before ("*" = every node)
    interrupt_after: list[str] | str | None = None  # nodes to stop after
    context: dict[str, Any] | None = None  # the graph's runtime context (``context_schema``)
    durability: str | None = None  # when LangGraph writes checkpoints: sync, async or exit
    checkpoint_id: str | None = None  # start from this checkpoint of the thread (a fork), not its newest
    from_checkpoint: bool = False  # no input: go on from where the thread stands (after a breakpoint)
    goto: Any = None  # Command(goto=...) for the first step
    update: Any = None  # Command(update=...) for the first step
    config: dict[str, Any] = field(default_factory=dict)  # CONFIG_KEYS the run sets
    webhook: str | None = None  # POST the run here when it stops (workers/webhooks.py)
    webhook_body: str | None = None  # None: the LangGraph server's run; "event": the /api/v1 stopping event
    rollback: str | None = None  # first undo what this (cancelled) task wrote (graphgate/core/rollback.py)

    @property
    def empty(self) -> bool:
        return self == RunOptions()

    @property
    def command(self) -> bool:
        return self.goto is not None or self.update is not None

    def to_dict(self) -> dict[str, Any]:
        """Only the options that are set (what the task record keeps)."""
        defaults = asdict(RunOptions())
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items() if v != defaults[k]}

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> RunOptions:
        if not raw:
            return cls()
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        if "stream" in known:
            known["stream"] = tuple(known["stream"])
        return cls(**known)
