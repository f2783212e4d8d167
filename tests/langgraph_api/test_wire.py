"""The LangGraph wire format, in-process: which frames each graphgate event becomes in each stream mode, where
a run stops, and values serialized as the LangGraph server does."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.types import Interrupt

from graphgate.core.errors import InvalidInput
from graphgate.core.events import Event, EventType
from graphgate.core.wirejson import jsonable
from graphgate.gateway.langgraph_api.wire import RunView, stops, stream_modes


def event(etype: EventType, data: dict[str, Any], id: str = "1-0") -> Event:
    return Event(etype, "run-1", "thread-1", data, id=id)


def view(*modes: str, chunked: tuple[str, ...] = ()) -> RunView:
    return RunView("run-1", "thread-1", "agent", "asst-1", modes, frozenset(chunked))


def chunk(mode: str, data: Any, ns: tuple[str, ...] = (), id: str = "5-0") -> Event:
    return event(EventType.STREAM_CHUNK, {"mode": mode, "ns": list(ns), "chunk": data}, id)


@pytest.mark.parametrize(
    ("asked", "modes"),
    [
        (None, ("values",)),
        ([], ("values",)),
        ("updates", ("updates",)),
        (["custom", "values", "custom"], ("values", "custom")),
        (["messages-tuple", "updates"], ("updates", "messages-tuple")),
    ],
)
def test_stream_modes_are_taken_once_in_frame_order(asked: Any, modes: tuple[str, ...]) -> None:
    assert stream_modes(asked) == modes


def test_a_mode_not_streamed_here_is_refused_by_name() -> None:
    with pytest.raises(InvalidInput, match=r"stream_mode 'tools', 'nope' is not supported \(tools: the streaming"):
        stream_modes(["values", "debug", "tools", "nope"])


def test_progress_events_become_the_frames_of_the_requested_modes() -> None:
    node = event(EventType.NODE_COMPLETED, {"node": "plan", "step_id": "s", "update": {"outline": ["a"]}})
    delta = event(EventType.MESSAGE_DELTA, {"node": "model", "text": "Hel", "seq": 0, "message_id": "m-1"}, "2-0")
    custom = event(EventType.CUSTOM, {"payload": {"step": 1}}, "3-0")
    tool = event(EventType.TOOL_STARTED, {"tool": "calc", "call_id": "c", "args": {}, "node": "tools"})
    every = view("values", "updates", "messages-tuple", "custom")
    assert [(f.event, f.data, f.id) for f in every.progress(node)] == [("updates", {"plan": {"outline": ["a"]}}, "1-0")]
    ((message, meta),) = [f.data for f in every.progress(delta)]
    assert (message["type"], message["content"], message["id"]) == ("AIMessageChunk", "Hel", "m-1")
    assert meta["langgraph_node"] == "model" and meta["run_id"] == "run-1" and meta["thread_id"] == "thread-1"
    assert [(f.event, f.data) for f in every.progress(custom)] == [("custom", {"step": 1})]
    assert every.progress(tool) == []
    assert view("values").progress(node) == [] and view("updates").progress(delta) == []


def test_a_run_stops_at_its_terminal_event_or_the_last_interrupt_of_a_pause() -> None:
    assert stops(event(EventType.TASK_COMPLETED, {"output": {}}))
    assert stops(event(EventType.TASK_CANCELLED, {"reason": "x"}))
    assert not stops(event(EventType.INTERRUPT, {"interrupt_id": "a", "index": 0, "count": 2}))
    assert stops(event(EventType.INTERRUPT, {"interrupt_id": "b", "index": 1, "count": 2}))
    assert not stops(event(EventType.TASK_RETRYING, {"error": {}}))


def test_stop_frames_carry_the_interrupts_the_values_and_errors() -> None:
    pause = event(EventType.INTERRUPT, {"interrupt_id": "i1", "value": "Name?", "index": 0, "count": 1}, "9-0")
    pending = [{"value": "Name?", "id": "i1"}]
    frames = view("values", "updates").stop(pause, pending, {"text": "hi"})
    # the pause in updates, the state, then the pause as a values frame of its own, as LangGraph streams them
    assert [(f.event, f.data, f.id) for f in frames] == [
        ("updates", {"__interrupt__": pending}, "9-0"),
        ("values", {"text": "hi"}, "9-0"),
        ("values", {"__interrupt__": pending}, "9-0"),
    ]
    # a run whose worker published both modes carried the pause in its chunks
    assert view("values", "updates", chunked=("values", "updates")).stop(pause, pending, None) == []
    done = event(EventType.TASK_COMPLETED, {"output": {"answer": "x"}})
    assert [(f.event, f.data) for f in view("values", "updates").stop(done, [], {"answer": "x"})] == [
        ("values", {"answer": "x"})
    ]
    failed = event(EventType.TASK_FAILED, {"error": {"kind": "ValueError", "message": "bad"}})
    assert [(f.event, f.data) for f in view("custom").stop(failed, [], None)] == [
        ("error", {"error": "ValueError", "message": "bad"})
    ]
    assert view("values").needs_values(done) and not view("updates").needs_values(done)


def test_values_are_serialized_as_the_langgraph_server_does() -> None:
    state = {
        "messages": (HumanMessage("hi", id="h"), AIMessage("yo", id="a")),
        "asked": Interrupt(value={"q": 1}, id="i"),
        "tags": {"x"},
        "ratio": float("nan"),
    }
    out = jsonable(state)
    assert out["messages"][0]["type"] == "human" and out["messages"][1]["content"] == "yo"
    assert out["messages"][1]["tool_calls"] == [] and out["messages"][0]["additional_kwargs"] == {}
    assert out["asked"] == {"value": {"q": 1}, "id": "i", "response_schema": None}
    assert out["tags"] == ["x"] and out["ratio"] is None


def test_published_chunks_become_frames_of_their_mode_and_replace_what_events_show() -> None:
    every = view("values", "updates", "debug", chunked=("values", "updates", "debug"))
    node = event(EventType.NODE_COMPLETED, {"node": "plan", "step_id": "s", "update": {"outline": ["a"]}})
    assert every.progress(node) == []  # the updates come as chunks: no second frame from node.completed
    assert [(f.event, f.data) for f in every.progress(chunk("updates", {"plan": {"x": 1}}))] == [
        ("updates", {"plan": {"x": 1}})
    ]
    assert [f.event for f in every.progress(chunk("values", {"x": 1}, ("sub:1",)))] == ["values|sub:1"]
    assert every.progress(chunk("tasks", {"id": "t"})) == []  # a mode this client did not ask for
    done = event(EventType.TASK_COMPLETED, {"output": {}})
    assert not every.needs_values(done)  # the values came step by step


def test_message_chunks_make_both_message_modes() -> None:
    both = view("messages-tuple", "messages", chunked=("messages-tuple", "messages"))
    meta = {"langgraph_node": "model", "langgraph_step": 1}
    first = {"type": "AIMessageChunk", "content": "Hel", "id": "m-1"}
    second = {"type": "AIMessageChunk", "content": "lo", "id": "m-1"}
    frames = both.progress(chunk("messages", [first, meta]))
    assert [f.event for f in frames] == ["messages", "messages/metadata", "messages/partial"]
    assert frames[0].data[1]["langgraph_node"] == "model" and frames[0].data[1]["run_id"] == "run-1"
    assert frames[1].data == {"m-1": {"metadata": frames[0].data[1]}}
    later = both.progress(chunk("messages", [second, meta]))
    assert [f.event for f in later] == ["messages", "messages/partial"]
    assert later[1].data[0]["content"] == "Hello"  # the message so far
    tool = {"type": "tool", "content": "42", "id": "t-1", "tool_call_id": "c"}
    assert [f.event for f in view("messages", chunked=("messages",)).progress(chunk("messages", [tool, {}]))] == [
        "messages/metadata",
        "messages/complete",
    ]
