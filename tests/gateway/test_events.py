"""The event schema helpers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import jsonschema
import pytest
from langchain_core.messages import AIMessage, HumanMessage

from graphgate.core.events import (
    DeserializationError,
    Event,
    EventType,
    answer_text,
    deserialize_event,
    serialize_event,
    to_jsonable,
)

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "event.schema.json").read_text())


def test_roundtrip_and_schema() -> None:
    event = Event(EventType.TASK_COMPLETED, "t1", "s1", {"output": {"answer": "é"}, "text": "é"})
    raw = serialize_event(event)
    assert "é" in raw  # not \\u-escaped: readable in redis-cli
    back = deserialize_event("1-0", raw)
    assert back.type is EventType.TASK_COMPLETED and back.data == event.data and back.id == "1-0"
    jsonschema.validate(json.loads(raw), SCHEMA)


@pytest.mark.parametrize("raw", ["", "{", "[]", '{"type": "nope"}', '{"type": "task.queued"}', b"\xff"])
def test_deserialize_refuses_garbage(raw) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(DeserializationError):
        deserialize_event("1-0", raw)


def test_every_event_type_is_in_the_schema() -> None:
    assert set(SCHEMA["properties"]["type"]["enum"]) == {t.value for t in EventType}


def test_answer_text() -> None:
    assert answer_text({"article": "A", "other": 1}) == "A"
    assert answer_text({"messages": [{"type": "ai", "content": "last"}]}) == "last"
    assert answer_text({"count": 3}) is None
    assert answer_text("plain") == "plain"
    # an agent's answer is its last AI message, whatever follows it, and content blocks are read as text
    blocks = [
        {"type": "reasoning", "reasoning": "hm"},
        {"type": "text", "text": "Sent "},
        {"type": "text", "text": "it."},
        {"type": "tool_use", "name": "send_email", "input": {}},
    ]
    assert (
        answer_text(
            {
                "messages": [
                    {"type": "human", "content": "x"},
                    {"type": "ai", "content": blocks},
                    {"type": "tool", "content": "ok"},
                ]
            }
        )
        == "Sent it.[used tool send_email]"
    )
    assert answer_text({"messages": [{"type": "human", "content": "only"}]}) == "only"


def test_to_jsonable_handles_graph_values() -> None:
    @dataclass
    class Point:
        x: int

    value = {"m": [HumanMessage("hi"), AIMessage("yo", id="a1")], "p": Point(1), "t": (1, 2), "b": b"x", "o": object}
    out = to_jsonable(value)
    json.dumps(out)
    assert out["m"][0] == {"type": "human", "content": "hi"}
    assert out["m"][1]["id"] == "a1" and out["p"] == {"x": 1} and out["t"] == [1, 2]
    call = {"name": "send_email", "args": {"to": "ann"}, "id": "c1", "type": "tool_call"}
    assert to_jsonable(AIMessage("", tool_calls=[call]))["tool_calls"] == [call]
