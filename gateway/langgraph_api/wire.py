"""The LangGraph server's wire format: JSON values as it serializes them, and a run's stream as its SSE frames.

A run's stream is a view of the run's graphgate events (docs/events.md); nothing here reads Redis or the
checkpointer. ``RunView`` turns one event into the frames of the requested stream modes:

* ``metadata`` first, ``{"run_id", "attempt"}``;
* ``updates`` ← ``node.completed``: ``{node: update}``; a pause adds ``{"__interrupt__": [{"value", "id"}]}``;
* ``messages`` (stream mode ``messages-tuple``) ← ``message.delta``: ``[AIMessageChunk dict, metadata]``;
* ``custom`` ← ``custom``: the payload as the graph wrote it;
* ``values`` ← the thread's state where the run stopped (completion or pause; with ``__interrupt__`` on a
  pause): the workers do not write the state after each step, so values are not streamed step by step;
* ``error`` ← ``task.failed``: ``{"error", "message"}``, in any mode, as the LangGraph server does.

There is no ``end`` frame: the LangGraph server ends a run's stream by closing it, and the SDK takes a clean
close (or an ``error`` frame) as the end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields, is_dataclass
from typing import Any

from langchain_core.messages import AIMessageChunk
from langgraph.types import Interrupt
from sse_starlette import ServerSentEvent

from graphgate.core.errors import InvalidInput
from graphgate.core.events import TERMINAL_EVENTS, Event, EventType, to_jsonable

STREAM_MODES = ("values", "updates", "messages-tuple", "custom")  # the modes this API streams, in frame order
LANGGRAPH_ONLY_MODES = ("messages", "events", "debug", "tasks", "checkpoints", "tools", "lifecycle")


@dataclass(frozen=True)
class Frame:
    """One SSE frame: its ``event:`` name, its JSON ``data:`` and the graphgate event id it came from."""

    event: str
    data: Any
    id: str | None = None

    def sse(self) -> ServerSentEvent:
        return ServerSentEvent(data=dumps(self.data), event=self.event, id=self.id)


def dumps(value: Any) -> str:
    """Compact JSON of an already JSON-safe value (``jsonable``)."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def jsonable(value: Any, _depth: int = 0) -> Any:
    """``value`` as the LangGraph server serializes it: messages and pydantic models by ``model_dump()``,
    interrupts as ``{"value", "id"}``, dataclasses as dicts, tuples and sets as lists."""
    if _depth > 64:
        return repr(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, _depth + 1) for v in value]
    if isinstance(value, Interrupt):
        return interrupt(value)
    if hasattr(value, "model_dump"):
        try:
            return jsonable(value.model_dump(), _depth + 1)
        except Exception:  # a model that cannot dump itself falls back to graphgate's own reading
            return to_jsonable(value)
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name), _depth + 1) for f in fields(value)}
    return to_jsonable(value)


def interrupt(value: Interrupt) -> dict[str, Any]:
    out = {"value": jsonable(value.value), "id": value.id}
    if getattr(value, "response_schema", None) is not None:
        out["response_schema"] = jsonable(value.response_schema)
    return out


def stream_modes(requested: str | list[str] | None, default: tuple[str, ...] = ("values",)) -> tuple[str, ...]:
    """The requested stream modes, each once, in frame order; ``InvalidInput`` for a mode not streamed here."""
    if requested is None:
        return default
    asked = [requested] if isinstance(requested, str) else list(requested)
    if not asked:
        return default
    unknown = [m for m in asked if m not in STREAM_MODES]
    if unknown:
        later = [m for m in unknown if m in LANGGRAPH_ONLY_MODES]
        note = f" ({', '.join(later)} not yet)" if later else ""
        raise InvalidInput(
            f"stream_mode {', '.join(map(repr, unknown))} is not supported{note}; use {', '.join(STREAM_MODES)}"
        )
    return tuple(m for m in STREAM_MODES if m in asked)


def stops(event: Event) -> bool:
    """Whether the run stops at ``event``: its terminal event, or the last interrupt of a pause (a pause's
    interrupt events are written together, numbered ``index`` of ``count``)."""
    if event.type in TERMINAL_EVENTS:
        return True
    if event.type == EventType.INTERRUPT:
        return int(event.data.get("index", 0)) >= int(event.data.get("count", 1)) - 1
    return False


def pause_interrupts(events: list[Event]) -> list[dict[str, Any]]:
    """``[{"value", "id"}]`` of the interrupt events of one pause, in order."""
    return [
        {"value": e.data.get("value"), "id": e.data.get("interrupt_id")}
        for e in events
        if e.type == EventType.INTERRUPT
    ]


def failure(event: Event) -> dict[str, Any]:
    """What ``task.failed`` says, as the LangGraph server reports a run's error."""
    error = event.data.get("error") or {}
    return {"error": str(error.get("kind") or "Error"), "message": str(error.get("message") or "")}


@dataclass
class RunView:
    """The frames one SSE client of a run asked for (``modes``), event by event."""

    run_id: str
    thread_id: str
    graph: str
    assistant_id: str
    modes: tuple[str, ...]

    def metadata(self) -> Frame:
        return Frame("metadata", {"run_id": self.run_id, "attempt": 1})

    def progress(self, event: Event) -> list[Frame]:
        """The frames of a progress event (none for events no requested mode shows)."""
        if event.type == EventType.NODE_COMPLETED and "updates" in self.modes:
            return [Frame("updates", {event.data.get("node", ""): event.data.get("update")}, event.id)]
        if event.type == EventType.MESSAGE_DELTA and "messages-tuple" in self.modes:
            return [Frame("messages", [self._chunk(event), self._message_metadata(event)], event.id)]
        if event.type == EventType.CUSTOM and "custom" in self.modes:
            return [Frame("custom", event.data.get("payload"), event.id)]
        return []

    def stop(self, event: Event, interrupts: list[dict[str, Any]], values: dict[str, Any] | None) -> list[Frame]:
        """The frames where the run stopped at ``event``: the pause's ``interrupts`` (``[]`` when it ended), the
        thread's state ``values`` (read by the caller when ``needs_values``), an error when it failed."""
        frames: list[Frame] = []
        if interrupts and "updates" in self.modes:
            frames.append(Frame("updates", {"__interrupt__": interrupts}, event.id))
        if values is not None and "values" in self.modes:
            frames.append(Frame("values", with_interrupts(values, interrupts), event.id))
        if event.type == EventType.TASK_FAILED:
            frames.append(Frame("error", failure(event), event.id))
        return frames

    def needs_values(self, event: Event) -> bool:
        return "values" in self.modes and event.type in (EventType.TASK_COMPLETED, EventType.INTERRUPT)

    def _chunk(self, event: Event) -> dict[str, Any]:
        chunk = AIMessageChunk(content=str(event.data.get("text") or ""), id=event.data.get("message_id"))
        return jsonable(chunk)  # type: ignore[no-any-return]

    def _message_metadata(self, event: Event) -> dict[str, Any]:
        return {
            "langgraph_node": event.data.get("node", ""),
            "langgraph_checkpoint_ns": "",
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "graph_id": self.graph,
            "assistant_id": self.assistant_id,
        }


def with_interrupts(values: dict[str, Any], interrupts: list[dict[str, Any]]) -> dict[str, Any]:
    """The thread's values as a run that stopped returns them: with ``__interrupt__`` when it paused."""
    return {**values, "__interrupt__": interrupts} if interrupts else dict(values)
