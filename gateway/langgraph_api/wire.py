"""The LangGraph server's wire format: JSON values as it serializes them, and a run's stream as its SSE frames.

A run's stream is a view of the run's graphgate events (docs/events.md); nothing here reads Redis or the
checkpointer. ``RunView`` turns one event into the frames of the requested stream modes:

* ``metadata`` first, ``{"run_id", "attempt"}``;
* a ``stream.chunk`` event (a LangGraph stream chunk the run's worker published because the run asked for its
  mode: values, updates, messages, custom, events, debug, tasks, checkpoints) → a frame of its mode, named
  ``mode|namespace`` for a subgraph's; ``messages`` chunks make both ``messages-tuple`` frames and the
  ``messages/metadata``, ``messages/partial`` and ``messages/complete`` frames of the ``messages`` mode;
* for a run that did not ask for a mode (one started from /api/v1, a chat, or joined later), what graphgate's
  own events show: ``updates`` ← ``node.completed``, ``messages-tuple`` ← ``message.delta`` (the model's
  text), ``custom`` ← ``custom``, ``values`` ← the thread's state where the run stopped;
* a pause, for a run whose worker did not publish the mode → ``{"__interrupt__": [{"value", "id"}]}`` in
  ``updates`` and in ``values``, from graphgate's interrupt events;
* ``error`` ← ``task.failed``: ``{"error", "message"}``, in any mode, as the LangGraph server does.

There is no ``end`` frame: the LangGraph server ends a run's stream by closing it, and the SDK takes a clean
close (or an ``error`` frame) as the end.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from langchain_core.messages import AIMessageChunk, message_chunk_to_message, messages_from_dict
from sse_starlette import ServerSentEvent

from graphgate.core.errors import InvalidInput
from graphgate.core.events import TERMINAL_EVENTS, Event, EventType
from graphgate.core.wirejson import jsonable

# the modes this API streams, in frame order (LangGraph's own names; messages-tuple is its pair form of messages)
STREAM_MODES = ("values", "updates", "messages-tuple", "messages", "custom", "events", "debug", "tasks", "checkpoints")
DERIVED_MODES = ("values", "updates", "messages-tuple", "custom")  # what graphgate's own events can show
PROTOCOL_V2_MODES = ("tools", "lifecycle")


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


def stream_modes(requested: str | list[str] | None, default: tuple[str, ...] = ("values",)) -> tuple[str, ...]:
    """The requested stream modes, each once, in frame order; ``InvalidInput`` for a mode not streamed here."""
    if requested is None:
        return default
    asked = [requested] if isinstance(requested, str) else list(requested)
    if not asked:
        return default
    unknown = [m for m in asked if m not in STREAM_MODES]
    if unknown:
        v2 = [m for m in unknown if m in PROTOCOL_V2_MODES]
        note = f" ({', '.join(v2)}: the streaming protocol v2's, not served here)" if v2 else ""
        raise InvalidInput(
            f"stream_mode {', '.join(map(repr, unknown))} is not supported{note}; use {', '.join(STREAM_MODES)}"
        )
    return tuple(m for m in STREAM_MODES if m in asked)


def chunk_modes(modes: tuple[str, ...]) -> tuple[str, ...]:
    """The LangGraph stream modes a worker publishes for these stream modes (both message modes are made
    from LangGraph's ``messages`` chunks)."""
    return tuple(dict.fromkeys("messages" if m == "messages-tuple" else m for m in modes))


def stops(event: Event) -> bool:
    """Whether the run stops at ``event``: its terminal event, or the last interrupt of a pause (a pause's
    interrupt events are written together, numbered ``index`` of ``count``)."""
    if event.type in TERMINAL_EVENTS:
        return True
    if event.type == EventType.INTERRUPT:
        return int(event.data.get("index", 0)) >= int(event.data.get("count", 1)) - 1
    return False


def pause_interrupts(events: list[Event]) -> list[dict[str, Any]]:
    """``[{"value", "id", "response_schema"}]`` of the interrupt events of one pause, in order."""
    return [
        {
            "value": e.data.get("value"),
            "id": e.data.get("interrupt_id"),
            "response_schema": e.data.get("response_schema"),
        }
        for e in events
        if e.type == EventType.INTERRUPT
    ]


def failure(event: Event) -> dict[str, Any]:
    """What ``task.failed`` says, as the LangGraph server reports a run's error."""
    error = event.data.get("error") or {}
    return {"error": str(error.get("kind") or "Error"), "message": str(error.get("message") or "")}


@dataclass
class RunView:
    """The frames one SSE client of a run asked for (``modes``), event by event.

    ``chunked`` are the LangGraph stream modes the run's worker publishes as ``stream.chunk`` events (what the
    run was started with); a mode that is not among them is made from graphgate's own events where it can be
    (values at the stops, updates, messages-tuple, custom), so a run started from /api/v1 or a chat can be
    followed here too.
    """

    run_id: str
    thread_id: str
    graph: str
    assistant_id: str
    modes: tuple[str, ...]
    chunked: frozenset[str] = frozenset()
    _messages: dict[str, Any] = field(default_factory=dict)  # messages mode: each message so far, by id

    def metadata(self) -> Frame:
        return Frame("metadata", {"run_id": self.run_id, "attempt": 1})

    def _from_chunks(self, mode: str) -> bool:
        return ("messages" if mode == "messages-tuple" else mode) in self.chunked

    def progress(self, event: Event) -> list[Frame]:
        """The frames of a progress event (none for events no requested mode shows)."""
        if event.type == EventType.STREAM_CHUNK:
            return self._chunk_frames(event)
        if event.type == EventType.NODE_COMPLETED and self._derives("updates"):
            return [Frame("updates", {event.data.get("node", ""): event.data.get("update")}, event.id)]
        if event.type == EventType.MESSAGE_DELTA and self._derives("messages-tuple"):
            meta = {"langgraph_node": event.data.get("node", "")}
            return [Frame("messages", [self._delta_chunk(event), self._message_metadata(meta)], event.id)]
        if event.type == EventType.CUSTOM and self._derives("custom"):
            return [Frame("custom", event.data.get("payload"), event.id)]
        return []

    def _derives(self, mode: str) -> bool:
        return mode in self.modes and not self._from_chunks(mode)

    def _chunk_frames(self, event: Event) -> list[Frame]:
        mode, chunk = str(event.data.get("mode")), event.data.get("chunk")
        ns = [str(p) for p in event.data.get("ns") or []]
        suffix = f"|{'|'.join(ns)}" if ns else ""
        if mode == "messages":
            frames = []
            if "messages-tuple" in self.modes:
                message, meta = chunk
                frames.append(Frame(f"messages{suffix}", [message, self._message_metadata(meta)], event.id))
            if "messages" in self.modes:
                frames.extend(self._full_messages(chunk, event.id))
            return frames
        return [Frame(f"{mode}{suffix}", chunk, event.id)] if mode in self.modes else []

    def _full_messages(self, chunk: Any, event_id: str | None) -> list[Frame]:
        """The ``messages`` mode: ``messages/metadata`` when a message first shows, then ``messages/partial``
        with the message so far (its chunks added up), or ``messages/complete`` for a whole message."""
        message, meta = chunk
        msg_id = str(message.get("id") or "")
        frames = []
        is_chunk = "chunk" in str(message.get("type", "")).lower()
        if msg_id not in self._messages:
            frames.append(Frame("messages/metadata", {msg_id: {"metadata": self._message_metadata(meta)}}, event_id))
        if is_chunk:
            piece = _message(message)
            so_far = self._messages.get(msg_id)
            self._messages[msg_id] = piece if so_far is None else so_far + piece
            whole = message_chunk_to_message(self._messages[msg_id])  # the message so far, as a message
            frames.append(Frame("messages/partial", [jsonable(whole)], event_id))
        else:
            self._messages[msg_id] = message
            frames.append(Frame("messages/complete", [message], event_id))
        return frames

    def stop(self, event: Event, interrupts: list[dict[str, Any]], values: dict[str, Any] | None) -> list[Frame]:
        """The frames where the run stopped at ``event`` that its chunks did not carry: the pause's
        ``interrupts`` (``[]`` when it ended) in ``updates``, the thread's state ``values`` (read by the caller
        when ``needs_values``) and the pause in ``values``, as LangGraph streams them; an error when it failed."""
        frames: list[Frame] = []
        if interrupts and self._derives("updates"):
            frames.append(Frame("updates", {"__interrupt__": interrupts}, event.id))
        if values is not None:
            frames.append(Frame("values", values, event.id))
        if interrupts and self._derives("values"):
            frames.append(Frame("values", {"__interrupt__": interrupts}, event.id))
        if event.type == EventType.TASK_FAILED:
            frames.append(Frame("error", failure(event), event.id))
        return frames

    def needs_values(self, event: Event) -> bool:
        """Whether the stop needs the thread's values read: values are asked for but the run's worker does not
        publish them step by step."""
        return self._derives("values") and event.type in (EventType.TASK_COMPLETED, EventType.INTERRUPT)

    def _delta_chunk(self, event: Event) -> dict[str, Any]:
        chunk = AIMessageChunk(content=str(event.data.get("text") or ""), id=event.data.get("message_id"))
        return jsonable(chunk)  # type: ignore[no-any-return]

    def _message_metadata(self, meta: dict[str, Any]) -> dict[str, Any]:
        """A message's LangGraph metadata with the run's ids, as the LangGraph server's config metadata has them."""
        return {
            "langgraph_node": "",
            "langgraph_checkpoint_ns": "",
            **meta,
            "thread_id": self.thread_id,
            "run_id": self.run_id,
            "graph_id": self.graph,
            "assistant_id": self.assistant_id,
        }


def _message(data: dict[str, Any]) -> Any:
    """A serialized message (``model_dump()``) as its LangChain class, so chunks of one message add up."""
    return messages_from_dict([{"type": data.get("type"), "data": data}])[0]


def with_interrupts(values: dict[str, Any], interrupts: list[dict[str, Any]]) -> dict[str, Any]:
    """The thread's values as a run that stopped returns them: with ``__interrupt__`` when it paused."""
    return {**values, "__interrupt__": interrupts} if interrupts else dict(values)
