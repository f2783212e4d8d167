"""Feedback on final answers in-process, on a real Redis: one per person per task (a second replaces the first,
the same again changes nothing), counted per graph, listed for the tasks' owner; bad feedback is refused and
changes nothing."""

from __future__ import annotations

import pytest

from graphgate.core.approvals import Actor
from graphgate.core.errors import Conflict, InvalidInput, NotFound
from graphgate.core.store import TaskRecord, TaskStatus
from graphgate.core.tasks import Principal
from graphgate.testing.world import World

ALICE = Principal("alice")


@pytest.fixture
def world(plain_world: World) -> World:
    return plain_world


def completed(world: World, binding: dict | None = None) -> TaskRecord:
    record = world.run(world.service.create_task(ALICE, input={}, graph="plain", binding=binding))
    token = world.store.acquire_lease(record.session_id, record.id)
    assert token and world.store.transition(record, {TaskStatus.QUEUED}, TaskStatus.RUNNING, None, token).ok
    assert world.store.transition(record, {TaskStatus.RUNNING}, TaskStatus.COMPLETED, None, token).ok
    return world.task(ALICE, record.id)


def test_one_feedback_per_person_a_change_replaces_it_and_the_counts_follow(world: World) -> None:
    record = completed(world)
    feedback = world.services.feedback
    alice = Actor.api("alice")
    assert world.run(feedback.give(alice, record, 1)) is not None
    assert world.run(feedback.give(alice, record, 1)) is None  # a double click: nothing new
    assert world.run(feedback.counts()) == {("plain", 1): 1}
    changed = world.run(feedback.give(alice, record, -1, "too short"))
    assert changed is not None and changed.comment == "too short"
    assert world.run(feedback.counts()) == {("plain", 1): 0, ("plain", -1): 1}
    events = [e["data"] for e in world.events(record) if e["type"] == "feedback"]
    assert [(e["score"], e["replaced"]) for e in events] == [(1, False), (-1, True)]
    [listed] = world.run(feedback.listed("plain", "alice"))
    assert (listed.by, listed.score, listed.comment) == ("alice", -1, "too short")
    assert world.run(feedback.listed("plain", "mallory")) == []


def test_who_may_rate_and_what_is_refused(world: World) -> None:
    binding = {"platform": "slack", "team": "T1", "channel": "C1", "thread_ts": "1.0", "user": "U1"}
    record = completed(world, binding)
    feedback = world.services.feedback
    in_channel = Actor("slack:T1:U2", "slack", "U2", "slack:T1:U2", where="slack:T1:C1", team="T1")
    elsewhere = Actor("slack:T1:U3", "slack", "U3", "slack:T1:U3", where="slack:T1:C9", team="T1")
    assert world.run(feedback.give(in_channel, record, 1)) is not None  # a colleague in the thread's channel
    with pytest.raises(NotFound):
        world.run(feedback.give(elsewhere, record, 1))
    with pytest.raises(NotFound):
        world.run(feedback.give(Actor.api("mallory"), record, 1))
    for score in (0, 2, True):
        with pytest.raises(InvalidInput):
            world.run(feedback.give(Actor.api("alice"), record, score))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        world.run(feedback.give(Actor.api("alice"), record, 1, "x" * 2001))
    queued = world.run(world.service.create_task(ALICE, input={}, graph="plain"))
    with pytest.raises(Conflict, match="no final answer"):
        world.run(feedback.give(Actor.api("alice"), queued, 1))
    assert world.run(feedback.counts()) == {("plain", 1): 1}
