"""The task service in-process against a real Redis: input the graph itself takes, and answers to one or
several pending interrupts (the worker's side of a pause is written with the worker's own store)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest

from graphgate.core.errors import Conflict, InvalidInput
from graphgate.core.registry import GraphRegistry
from graphgate.core.store import TaskRecord, TaskStatus
from graphgate.core.tasks import Principal
from graphgate.testing.world import World, write_registry

GRAPHS = """
from typing_extensions import NotRequired, TypedDict
from langgraph.graph import MessagesState, StateGraph

class Chat(MessagesState):
    topic: NotRequired[str]

chat = StateGraph(Chat)
chat.add_node("reply", lambda state: {})
chat.add_edge("__start__", "reply")

class Plain(TypedDict, total=False):
    topic: str
    count: int

plain = StateGraph(Plain)
plain.add_node("a", lambda state: {})
plain.add_edge("__start__", "a")
"""
HITL = {
    "action_requests": [{"name": "send_email", "args": {"to": "ann@example.com"}, "description": "Review"}],
    "review_configs": [{"action_name": "send_email", "allowed_decisions": ["approve", "edit", "reject"]}],
}
ALICE = Principal("alice")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> GraphRegistry:
    return write_registry(tmp_path_factory.mktemp("graphs"), GRAPHS, ["chat", "plain"])


@pytest.fixture
def world(redis_url: str, registry: GraphRegistry) -> Iterator[World]:
    w = World(redis_url, registry)
    yield w
    w.close()


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": "email ann the Q3 report"}],
        [{"type": "human", "content": "hi"}],
        "just a string",
        [
            {
                "role": "user",
                "content": [{"type": "text", "text": "look"}, {"type": "image", "url": "https://example.com/a.png"}],
            }
        ],
        [{"role": "system", "content": "be brief"}, {"role": "assistant", "content": "ok"}],
    ],
)
def test_any_input_the_graph_coerces_is_accepted(world: World, messages: Any) -> None:
    record = world.run(world.service.create_task(ALICE, input={"messages": messages}, graph="chat"))
    assert record.status == TaskStatus.QUEUED and world.enqueued == [record.id]


@pytest.mark.parametrize(
    ("graph", "value", "error"),
    [
        ("chat", {"messages": [{"foo": 1}]}, "messages: Message dict must contain 'role' and 'content'"),
        ("chat", {"messages": [{"role": "bogus", "content": "x"}]}, "messages: Unexpected message type: 'bogus'"),
        ("chat", {"messages": [5]}, "messages: Unsupported message type"),
        ("chat", {"messages": "hi", "topic": 3}, "topic: 3 is not of type 'string'"),
        ("plain", {"topic": "x", "count": "many"}, "count: 'many' is not of type 'integer'"),
    ],
)
def test_input_the_graph_refuses_is_refused_and_changes_nothing(
    world: World, graph: str, value: Any, error: str
) -> None:
    with pytest.raises(InvalidInput, match=error):
        world.run(world.service.create_task(ALICE, input=value, graph=graph, session_id="s-refused"))
    assert world.enqueued == []
    assert not world.store.redis.exists(world.store.keys.session("s-refused"))


def test_a_tool_approval_is_answered_with_the_middlewares_format(world: World) -> None:
    record = world.waiting(ALICE, graph="chat", questions=[HITL])
    assert record.interrupt and record.interrupt["kind"] == "tool_approval"
    with pytest.raises(InvalidInput, match="'respond' is not allowed"):
        world.run(world.service.resume(ALICE, record.id, {"type": "respond", "message": "x"}))
    assert world.run(world.service.get_task(ALICE, record.id)).status == TaskStatus.WAITING_INPUT  # unchanged
    resumed = world.run(world.service.resume(ALICE, record.id, "approve"))
    assert resumed.status == TaskStatus.QUEUED and resumed.run == 2 and world.enqueued == [record.id]
    assert resumed.resume == {"answers": {"i0": {"decisions": [{"type": "approve"}]}}}
    last = world.events(record)[-1]
    assert last["type"] == "task.resumed" and last["data"]["answer"] == {"decisions": [{"type": "approve"}]}
    with pytest.raises(Conflict, match="not waiting"):
        world.run(world.service.resume(ALICE, record.id, "approve"))


def test_several_interrupts_are_answered_one_by_one(world: World) -> None:
    record = world.waiting(
        ALICE,
        graph="plain",
        questions=[
            {"question": "Legal?", "options": ["approve", "reject"]},
            {"question": "Finance?", "options": ["approve", "reject"]},
        ],
    )
    assert [i["interrupt_id"] for i in record.pending()] == ["i0", "i1"]
    kinds = [e["type"] for e in world.events(record)]
    assert kinds[-2:] == ["interrupt", "interrupt"]
    with pytest.raises(InvalidInput, match="2 interrupts are pending"):
        world.run(world.service.resume(ALICE, record.id, "approve"))

    first = world.run(world.service.resume(ALICE, record.id, "approve", interrupt_id="i1"))
    assert first.status == TaskStatus.WAITING_INPUT and world.enqueued == []
    assert [i["interrupt_id"] for i in first.pending()] == ["i0"] and first.interrupt["interrupt_id"] == "i0"
    answered = world.events(record)[-1]
    assert answered["type"] == "interrupt.answered" and answered["data"]["pending"] == ["i0"]
    with pytest.raises(Conflict, match="already answered"):
        world.run(world.service.resume(ALICE, record.id, "reject", interrupt_id="i1"))

    done = world.run(world.service.resume(ALICE, record.id, "reject"))  # the only one left: no id needed
    assert done.status == TaskStatus.QUEUED and world.enqueued == [record.id]
    assert done.resume == {"answers": {"i1": "approve", "i0": "reject"}}
    assert world.events(record)[-1]["data"]["answers"] == {"i1": "approve", "i0": "reject"}


def test_several_interrupts_answered_at_once_with_a_map(world: World) -> None:
    record = world.waiting(ALICE, graph="plain", questions=["A?", "B?"])
    with pytest.raises(Conflict, match="'nope' is not pending"):
        world.run(world.service.resume(ALICE, record.id, "x", interrupt_id="nope"))
    done = world.run(world.service.resume(ALICE, record.id, {"i0": "a", "i1": "b"}))
    assert done.status == TaskStatus.QUEUED and done.resume == {"answers": {"i0": "a", "i1": "b"}}


def test_concurrent_answers_to_one_interrupt_resume_once(world: World) -> None:
    record = world.waiting(ALICE, graph="plain", questions=["A?"])

    async def race() -> list[Any]:
        return await asyncio.gather(
            *(world.service.resume(ALICE, record.id, f"a{n}") for n in range(8)), return_exceptions=True
        )

    results = world.run(race())
    assert sum(isinstance(r, TaskRecord) for r in results) == 1
    assert all(isinstance(r, (TaskRecord, Conflict)) for r in results)
    assert world.enqueued == [record.id]
    assert [e["type"] for e in world.events(record)].count("task.resumed") == 1


def test_concurrent_answers_to_different_interrupts_all_count(world: World) -> None:
    record = world.waiting(ALICE, graph="plain", questions=["A?", "B?", "C?"])

    async def race() -> list[Any]:
        return await asyncio.gather(
            *(world.service.resume(ALICE, record.id, n, interrupt_id=f"i{n}") for n in range(3))
        )

    world.run(race())
    final = world.run(world.service.get_task(ALICE, record.id))
    assert final.status == TaskStatus.QUEUED and final.resume == {"answers": {"i0": 0, "i1": 1, "i2": 2}}
    assert world.enqueued == [record.id]
