"""The event schema: every event type and the shape of its ``data``.

An event is one entry of a session's Redis Stream. Its envelope (version ``EVENT_VERSION``)::

    {"v": 1, "type": "task.completed", "task_id": "...", "session_id": "...", "ts": 1732560000.123, "data": {...}}

The stream entry id (``1732560000123-0``) is not part of the envelope: it is the event's identity, the SSE
``id:`` and the ordering key. docs/events.md documents each type; docs/event.schema.json is the JSON Schema
that tests hold every emitted event to.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

EVENT_VERSION = 1
STREAM_FIELD = "e"  # the single field of a stream entry holding the JSON envelope


class EventType(str, Enum):
    TASK_QUEUED = "task.queued"  # accepted; data: graph, input, position (0 = runs next)
    TASK_STARTED = "task.started"  # a worker began (or resumed) the run; data: run, attempt
    NODE_COMPLETED = "node.completed"  # a graph node finished; data: node, step_id, update
    MESSAGE_DELTA = "message.delta"  # a piece of streamed model text; data: node, text, message_id
    CUSTOM = "custom"  # a payload the graph wrote with get_stream_writer(); data: the payload
    TOOL_STARTED = "tool.started"  # an agent's tool began; data: tool, call_id, args, node
    TOOL_COMPLETED = "tool.completed"  # the tool returned (or failed); data: tool, call_id, status, result
    INTERRUPT = "interrupt"  # the graph asks (one event per pending interrupt); data: graphgate/core/interrupts.py
    INTERRUPT_ANSWERED = "interrupt.answered"  # one of several pending interrupts was answered; others wait
    TASK_RESUMED = "task.resumed"  # the last pending interrupt was answered; data: interrupt_id, answer, answers, by
    TASK_RETRYING = "task.retrying"  # a transient error; the run will be retried; data: error, attempt, delay
    TASK_COMPLETED = "task.completed"  # terminal; data: output, text
    TASK_FAILED = "task.failed"  # terminal; data: error {kind, message}
    TASK_CANCELLED = "task.cancelled"  # terminal; data: reason
    STREAM_CHUNK = "stream.chunk"  # a LangGraph stream chunk a LangGraph API run asked for; data: mode, ns, chunk
    DELIVERY_FAILED = "delivery.failed"  # a chat platform refused delivery for good; data: platform, error
    FEEDBACK = "feedback"  # someone rated a final answer; data: score (1 | -1), comment, by, name, where, replaced
    # approvals (graphgate/core/approvals.py): the audit trail of a routed question
    APPROVAL_REQUESTED = "approval.requested"  # a question went to its approvers; data: interrupt_id, approval
    APPROVAL_GIVEN = "approval.given"  # an approver answered; data: interrupt_id, by, name, where, answer, votes
    APPROVAL_REFUSED = "approval.refused"  # someone not allowed tried to answer; data: interrupt_id, by, where, reason
    APPROVAL_REMINDED = "approval.reminded"  # the question was posted again; data: interrupt_id, reminder, left
    APPROVAL_ESCALATED = "approval.escalated"  # the deadline passed: the next policy decides; data: from, approval
    APPROVAL_TIMED_OUT = "approval.timed_out"  # the deadline passed: the policy's outcome answered; data: answer


TERMINAL_EVENTS = frozenset({EventType.TASK_COMPLETED, EventType.TASK_FAILED, EventType.TASK_CANCELLED})
APPROVAL_EVENTS = frozenset(
    {
        EventType.APPROVAL_REQUESTED,
        EventType.APPROVAL_GIVEN,
        EventType.APPROVAL_REFUSED,
        EventType.APPROVAL_REMINDED,
        EventType.APPROVAL_ESCALATED,
        EventType.APPROVAL_TIMED_OUT,
    }
)
# a task's audit trail (GET /api/v1/tasks/{id}/audit): its life, its questions and every answer to them
AUDIT_EVENTS = APPROVAL_EVENTS | {
    EventType.TASK_QUEUED,
    EventType.TASK_STARTED,
    EventType.INTERRUPT,
    EventType.INTERRUPT_ANSWERED,
    EventType.TASK_RESUMED,
    EventType.TASK_RETRYING,
    EventType.TASK_COMPLETED,
    EventType.TASK_FAILED,
    EventType.TASK_CANCELLED,
    EventType.DELIVERY_FAILED,
}


def parse_id(entry_id: str) -> tuple[int, int]:
    """A stream id (``<ms>-<seq>`` or ``<ms>``) as a comparable pair; raises ``ValueError`` for anything else.

    The one stream id parser: the SSE replay, /metrics and the dispatcher's dedupe all compare ids with it.
    """
    ms, _, seq = entry_id.partition("-")
    if not ms.isdigit() or (seq and not seq.isdigit()):
        raise ValueError(f"not a stream id: {entry_id!r}")
    return int(ms), int(seq or 0)


class DeserializationError(ValueError):
    """A stream entry that is not a graphgate event."""


@dataclass(frozen=True)
class Event:
    type: EventType
    task_id: str
    session_id: str
    data: dict[str, Any] = field(default_factory=dict)
    ts: float = field(default_factory=time.time)
    id: str | None = None  # the stream entry id, once written

    def envelope(self) -> dict[str, Any]:
        return {
            "v": EVENT_VERSION,
            "type": self.type.value,
            "task_id": self.task_id,
            "session_id": self.session_id,
            "ts": round(self.ts, 6),
            "data": self.data,
        }


def serialize_event(event: Event) -> str:
    """The JSON text stored in the stream entry."""
    return json.dumps(event.envelope(), ensure_ascii=False, separators=(",", ":"), default=str)


def deserialize_event(entry_id: str, raw: str | bytes) -> Event:
    """Parse a stream entry back into an ``Event``, or raise ``DeserializationError``."""
    try:
        env = json.loads(raw)
        return Event(
            type=EventType(env["type"]),
            task_id=env["task_id"],
            session_id=env["session_id"],
            data=env.get("data") or {},
            ts=float(env["ts"]),
            id=entry_id,
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise DeserializationError("unable to deserialize event") from exc


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """Turn graph state and outputs (messages, pydantic models, dataclasses, tuples...) into JSON values."""
    if _depth > 32:
        return repr(value)
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_jsonable(v, _depth + 1) for v in value]
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    message_type = getattr(value, "type", None)
    if hasattr(value, "content") and isinstance(message_type, str):  # a LangChain message
        out = {"type": message_type, "content": to_jsonable(value.content, _depth + 1)}
        for name in MESSAGE_FIELDS:
            item = getattr(value, name, None)
            if item:
                out[name] = to_jsonable(item, _depth + 1)
        return out
    if hasattr(value, "model_dump"):
        return to_jsonable(value.model_dump(), _depth + 1)
    if hasattr(value, "__dataclass_fields__"):
        return {k: to_jsonable(getattr(value, k), _depth + 1) for k in value.__dataclass_fields__}
    return str(value)


MESSAGE_FIELDS = ("id", "name", "tool_calls", "tool_call_id", "status")  # kept beside a message's type and content
AI_MESSAGE_TYPES = ("ai", "AIMessageChunk")
ANSWER_KEYS = ("answer", "article", "output", "response", "result", "text")


def answer_text(output: Any) -> str | None:
    """The human-readable answer in a graph's final output, for chat channels.

    The first string under one of ``ANSWER_KEYS``, else the text of the last AI message in ``messages``
    (or of the last message, when none is from the AI).
    """
    if isinstance(output, str):
        return output
    if not isinstance(output, dict):
        return None
    for key in ANSWER_KEYS:
        value = output.get(key)
        if isinstance(value, str):
            return value
    raw = output.get("messages")
    messages = [m for m in raw if isinstance(m, dict)] if isinstance(raw, list) else []
    if not messages:
        return None
    ai = [m for m in messages if m.get("type") in AI_MESSAGE_TYPES]
    return content_text((ai or messages)[-1].get("content"))


INPUT_TEXT_KEYS = ("text", "message", "question", "query", "input", "prompt", "topic")


def input_text(graph_input: Any) -> str | None:
    """The words a person sent as a task's input: the last message's text, else the first string under one of
    ``INPUT_TEXT_KEYS`` (the fields web/forms.js fills), else the input's first string value."""
    if isinstance(graph_input, str):
        return graph_input
    if not isinstance(graph_input, dict):
        return None
    raw = graph_input.get("messages")
    if isinstance(raw, list) and raw and isinstance(raw[-1], dict):
        text = content_text(raw[-1].get("content"), summarise=False)
        if text:
            return text
    for key in INPUT_TEXT_KEYS:
        if isinstance(graph_input.get(key), str) and graph_input[key]:
            return str(graph_input[key])
    return next((v for v in graph_input.values() if isinstance(v, str) and v), None)


def content_text(content: Any, summarise: bool = True) -> str | None:
    """The readable text of a message's content: a string, or content blocks whose text is joined and whose
    other blocks (tool use…) are summarised in brackets (left out with ``summarise=False``, for streamed
    pieces); reasoning is never shown, nor images and files (the chats post those as files)."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return None
    parts: list[str] = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict):
            kind = str(block.get("type") or "")
            if kind == "text" and isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif not summarise:
                continue
            elif kind in ("tool_use", "tool_call"):
                parts.append(f"[used tool {block.get('name') or ''}]".replace(" ]", "]"))
            elif kind in ("reasoning", "thinking"):
                continue  # the model's reasoning is not part of its answer
            elif kind in ("image", "file", "audio", "video"):
                continue  # posted beside the text (task.completed ``files``: graphgate/core/attachments.py)
            elif kind:
                parts.append(f"[{kind}]")
    return "".join(parts)
