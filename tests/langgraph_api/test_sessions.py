"""Sessions as LangGraph threads in the task service, in-process against a real Redis: created empty or by a
task, listed per principal newest first, found by a filter, deleted with their records (never while running).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from graphgate.core.errors import Conflict, InvalidInput, NotFound
from graphgate.core.registry import GraphRegistry
from graphgate.core.store import TaskStatus
from graphgate.core.tasks import Principal
from graphgate.testing.world import World, write_registry

GRAPHS = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph

class State(TypedDict, total=False):
    text: str

one = StateGraph(State)
one.add_node("a", lambda state: {})
one.add_edge("__start__", "a")
two = StateGraph(State)
two.add_node("b", lambda state: {})
two.add_edge("__start__", "b")
"""
ALICE, BOB = Principal("alice"), Principal("bob")


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> GraphRegistry:
    return write_registry(tmp_path_factory.mktemp("graphs"), GRAPHS, ["one", "two"])


@pytest.fixture
def world(redis_url: str, registry: GraphRegistry) -> Iterator[World]:
    w = World(redis_url, registry)
    yield w
    w.close()


def test_an_empty_session_is_the_callers_and_takes_the_graph_of_its_first_task(world: World) -> None:
    made = world.run(world.service.create_session(ALICE, "t-1", {"topic": "x"}))
    assert (made.id, made.owner, made.graph, made.metadata, made.latest) == ("t-1", "alice", None, {"topic": "x"}, None)
    assert world.store.redis.ttl(world.keys.session("t-1")) > 0  # expires like any session
    with pytest.raises(Conflict, match="already exists"):
        world.run(world.service.create_session(ALICE, "t-1"))
    assert world.run(world.service.create_session(ALICE, "t-1", {"other": 1}, "do_nothing")).metadata == {"topic": "x"}
    with pytest.raises(Conflict):  # someone else's id is never handed out, whatever if_exists says
        world.run(world.service.create_session(BOB, "t-1", None, "do_nothing"))
    with pytest.raises(NotFound):
        world.run(world.service.get_session(BOB, "t-1"))

    task = world.run(world.service.create_task(ALICE, input={"text": "hi"}, graph="two", session_id="t-1"))
    found = world.run(world.service.get_session(ALICE, "t-1"))
    assert found.graph == "two" and found.active == task.id and found.latest and found.latest.id == task.id
    assert found.latest.status == TaskStatus.QUEUED and found.metadata == {"topic": "x"}
    with pytest.raises(Conflict, match="runs graph 'two'"):
        world.run(world.service.create_task(ALICE, input={}, graph="one", session_id="t-1"))


def test_bad_session_requests_change_nothing(world: World) -> None:
    with pytest.raises(InvalidInput, match="session_id must be"):
        world.run(world.service.create_session(ALICE, "no spaces"))
    with pytest.raises(InvalidInput, match="if_exists"):
        world.run(world.service.create_session(ALICE, "t-2", None, "replace"))
    assert not world.store.redis.exists(world.keys.session("t-2"), world.keys.principal_sessions("alice"))
    with pytest.raises(NotFound):
        world.run(world.service.get_session(ALICE, "no spaces"))


def test_sessions_are_listed_newest_first_whichever_way_they_began(world: World) -> None:
    world.run(world.service.create_session(ALICE, "a", {"k": 1}))
    by_task = world.run(world.service.create_task(ALICE, input={}, graph="one")).session_id
    world.run(world.service.create_session(ALICE, "c", {"k": 1}))
    world.run(world.service.create_session(BOB, "b-only"))
    listed = world.run(world.service.search_sessions(ALICE))
    assert [s.id for s in listed] == ["c", by_task, "a"]
    assert [s.id for s in world.run(world.service.search_sessions(ALICE, limit=1, offset=1))] == [by_task]
    tagged = world.run(world.service.search_sessions(ALICE, lambda s: s.metadata.get("k") == 1))
    assert [s.id for s in tagged] == ["c", "a"]
    assert [s.id for s in world.run(world.service.search_sessions(BOB))] == ["b-only"]

    world.store.redis.delete(world.keys.session("a"))  # expired
    assert [s.id for s in world.run(world.service.search_sessions(ALICE))] == ["c", by_task]
    assert world.store.redis.zrange(world.keys.principal_sessions("alice"), 0, -1) == [by_task, "c"]


def test_a_deleted_session_leaves_nothing_behind_and_a_running_one_is_kept(world: World) -> None:
    first = world.run(world.service.create_task(ALICE, input={}, graph="one", session_id="d"))
    queued = world.run(world.service.create_task(ALICE, input={}, graph="one", session_id="d"))  # waits behind
    token = world.store.acquire_lease("d", first.id)
    assert token and world.store.transition(first, {TaskStatus.QUEUED}, TaskStatus.RUNNING, None, token).ok
    with pytest.raises(Conflict, match=f"running task {first.id}; cancel it first"):
        world.run(world.service.delete_session(ALICE, "d"))
    with pytest.raises(NotFound):
        world.run(world.service.delete_session(BOB, "d"))
    assert world.run(world.service.get_task(ALICE, queued.id)).status == TaskStatus.QUEUED  # unchanged

    world.store.transition(first, {TaskStatus.RUNNING}, TaskStatus.COMPLETED, None, token)
    world.run(world.service.delete_session(ALICE, "d"))
    assert world.store.redis.keys(f"{world.keys.prefix}:{{d}}:*") == []
    assert not world.store.redis.exists(world.keys.task_index(first.id), world.keys.task_index(queued.id))
    assert world.store.redis.zrange(world.keys.principal_tasks("alice"), 0, -1) == []
    assert world.run(world.service.search_sessions(ALICE)) == []
    with pytest.raises(NotFound):
        world.run(world.service.get_task(ALICE, queued.id))
    with pytest.raises(NotFound):
        world.run(world.service.delete_session(ALICE, "d"))


def test_a_sessions_tasks_are_paged_newest_first(world: World) -> None:
    ids = [world.run(world.service.create_task(ALICE, input={}, graph="one", session_id="p")).id for _ in range(5)]
    page = world.run(world.service.list_tasks(ALICE, "p", limit=2, offset=1))
    assert [t.id for t in page] == [ids[3], ids[2]]
    assert world.run(world.service.list_tasks(ALICE, "p", limit=5, offset=5)) == []
    assert [t.id for t in world.run(world.service.list_tasks(ALICE, limit=2, offset=3))] == [ids[1], ids[0]]


def test_a_task_keeps_its_metadata_and_multitask(world: World) -> None:
    record = world.run(
        world.service.create_task(ALICE, input={}, graph="one", metadata={"from": "sdk"}, multitask="reject")
    )
    again = world.run(world.service.get_task(ALICE, record.id))
    assert (again.metadata, again.multitask) == ({"from": "sdk"}, "reject")
    assert (
        world.run(world.service.last_event_id(record.session_id))
        == world.store.redis.xrevrange(world.keys.events(record.session_id), count=1)[0][0]
    )
    assert world.run(world.service.last_event_id("never-used")) == "0-0"
