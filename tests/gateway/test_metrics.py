"""The tasks-by-state count of ``/metrics``, in-process on a real Redis (``make test-cluster``: on each primary of a
Redis Cluster): every task of the world's prefix is counted once by its status, also in a session whose id holds
``:task:`` (its stream and lists match the scan pattern too, and are skipped, not an error)."""

from __future__ import annotations

import pytest

from graphgate.core.store import TaskStatus
from graphgate.core.tasks import Principal
from graphgate.gateway.metrics import count_tasks
from graphgate.testing.world import World

ALICE = Principal("alice")


@pytest.fixture
def world(plain_world: World) -> World:
    return plain_world


def test_tasks_are_counted_by_state_across_the_keyspace(world: World) -> None:
    sessions = ["odd:task:session", *(f"metrics-{n}" for n in range(12))]  # spread over the slot groups
    records = [world.run(world.service.create_task(ALICE, input={}, graph="plain", session_id=s)) for s in sessions]
    token = world.store.acquire_lease(records[0].session_id, records[0].id)
    assert token and world.store.transition(records[0], {TaskStatus.QUEUED}, TaskStatus.RUNNING, None, token).ok

    counts = world.run(count_tasks(world.service.redis, world.keys, limit=1_000_000))
    assert counts.complete
    assert counts.by_state == {"running": 1, "queued": len(sessions) - 1}
