"""Cancelling a running task whose worker vanished, in-process on a real Redis: with nobody holding the run's
lease the cancel takes effect at once; with a lease still held it takes effect when the lease lapses (the
sweep); a live run that holds its lease is never ended from outside."""

from __future__ import annotations

import time

import pytest

from graphgate.core.store import TaskRecord, TaskStatus
from graphgate.core.tasks import Principal
from graphgate.testing.world import World

ALICE = Principal("alice")


@pytest.fixture
def world(plain_world: World) -> World:
    return plain_world


def running(world: World, *, second: bool = False) -> tuple[TaskRecord, str]:
    """A task a worker started (its lease token), as the worker's store writes it; ``second``: another task
    queued behind it in the same session."""
    record = world.run(world.service.create_task(ALICE, input={}, graph="plain"))
    token = world.store.acquire_lease(record.session_id, record.id)
    assert token and world.store.transition(record, {TaskStatus.QUEUED}, TaskStatus.RUNNING, None, token).ok
    if second:
        world.run(world.service.create_task(ALICE, input={}, graph="plain", session_id=record.session_id))
    world.enqueued.clear()
    return record, token


def lease_key(world: World, record: TaskRecord) -> str:
    return world.keys.lease(record.session_id, record.id)


def test_a_cancel_of_a_run_nobody_holds_ends_it_at_once_and_hands_the_session_on(world: World) -> None:
    record, _ = running(world, second=True)
    world.store.redis.delete(lease_key(world, record))  # the worker died and its lease lapsed
    after = world.run(world.service.cancel(ALICE, record.id))
    assert after.status == TaskStatus.CANCELLED
    cancelled = [e for e in world.events(record) if e["type"] == "task.cancelled"]
    assert len(cancelled) == 1 and cancelled[0]["data"] == {"reason": "cancelled by request", "orphaned": True}
    assert len(world.enqueued) == 1  # the task queued behind it runs now


def test_a_held_lease_keeps_the_run_until_it_lapses_then_the_sweep_ends_it(world: World) -> None:
    record, token = running(world)
    after = world.run(world.service.cancel(ALICE, record.id, reason="stop"))
    assert after.status == TaskStatus.RUNNING and after.cancel_requested
    assert world.run(world.service.sweep_cancels(time.time() + 3600)) == 0  # the lease is still held
    assert world.task(ALICE, record.id).status == TaskStatus.RUNNING

    world.store.redis.delete(lease_key(world, record))  # the worker's host vanished: nobody renews it
    assert world.run(world.service.sweep_cancels(time.time() + 3600)) == 1
    assert world.task(ALICE, record.id).status == TaskStatus.CANCELLED
    assert world.run(world.service.sweep_cancels(time.time() + 3600)) == 0
    assert world.run(world.service.redis.zcard(world.keys.cancels())) == 0
    # the dead run's worker, had it come back, could no longer write: its lease is gone
    assert not world.store.renew_lease(record.session_id, record.id, token)


def test_a_run_that_stops_by_itself_leaves_nothing_to_sweep(world: World) -> None:
    record, token = running(world)
    world.run(world.service.cancel(ALICE, record.id))
    assert world.store.transition(
        record, {TaskStatus.RUNNING}, TaskStatus.CANCELLED, None, token, fields={"cancel_requested": "0"}
    ).ok
    assert world.run(world.service.sweep_cancels(time.time() + 3600)) == 0
    assert world.run(world.service.redis.zcard(world.keys.cancels())) == 0


def test_a_run_whose_message_was_lost_is_published_again_once_the_queues_are_empty(world: World) -> None:
    record = world.run(world.service.create_task(ALICE, input={}, graph="plain"))
    world.run(world.service.redis.zadd(world.keys.published(), {f"{record.session_id} {record.id}": time.time()}))
    world.enqueued.clear()
    later = time.time() + world.settings.republish_after_seconds + 1
    assert world.run(world.service.republish(time.time())) == 0  # not overdue yet
    assert world.run(world.service.republish(later, backlog=3)) == 0  # messages wait: it may be among them
    assert world.run(world.service.republish(later)) == 1 and world.enqueued == [record.id]
    # a worker took it: nothing more to do for it
    token = world.store.acquire_lease(record.session_id, record.id)
    assert token and world.store.transition(record, {TaskStatus.QUEUED}, TaskStatus.RUNNING, None, token).ok
    assert world.run(world.service.republish(later)) == 0
    assert world.run(world.service.redis.zcard(world.keys.published())) == 0
