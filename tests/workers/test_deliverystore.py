"""The dispatcher's Redis records, round trip: per-session delivery state, task info, failures, leases."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable

import pytest

from graphgate.core.events import EventType
from graphgate.core.platform import Posted
from graphgate.core.taskview import TaskView
from graphgate.workers.deliverystore import DeliveryStore, SessionDelivery
from tests.workers.fakes import Harness, harness


def run(redis_url: str, scenario: Callable[[Harness, DeliveryStore], Awaitable[None]]) -> None:
    async def main() -> None:
        async with harness(redis_url) as h:
            await scenario(h, DeliveryStore(h.redis, h.settings))

    asyncio.run(main())


def test_a_new_session_has_nothing_recorded(redis_url: str) -> None:
    async def scenario(h: Harness, store: DeliveryStore) -> None:
        state = await store.load("s1")
        assert state == SessionDelivery("s1")
        assert state.is_new("1-0") and not state.is_new("0-0")

    run(redis_url, scenario)


def test_views_message_ids_and_the_last_entry_round_trip(redis_url: str) -> None:
    async def scenario(h: Harness, store: DeliveryStore) -> None:
        state = await store.load("s1")
        view = state.views["t1"] = TaskView("t1", graph="writer", steps=3, answers={"1": "draft"})
        state.slots("t1")["status"] = Posted("")  # a post in flight
        await store.save_posted(state, "t1")
        assert (await store.load("s1")).posted == {"t1": {"status": Posted("")}}

        state.slots("t1")["status"] = Posted("1700.1", "d1", {"streaming": True})
        await store.save_posted(state, "t1")
        state.last_eid = "1700000000000-10"
        await store.save_progress(state, {"t1"}, set())

        again = await store.load("s1")
        assert again.last_eid == "1700000000000-10"
        assert again.views == {"t1": view}
        assert again.posted == {"t1": {"status": Posted("1700.1", "d1", {"streaming": True})}}
        # ids compare as numbers, not as text
        assert again.is_new("1700000000000-11") and not again.is_new("1700000000000-9")
        assert again.is_new("1700000000001-0") and not again.is_new("999999999999-99")
        assert await h.redis.ttl(h.keys.delivered("s1")) > 0

    run(redis_url, scenario)


def test_a_finished_task_is_forgotten_and_a_failed_one_remembered(redis_url: str) -> None:
    async def scenario(h: Harness, store: DeliveryStore) -> None:
        state = await store.load("s1")
        for task in ("done", "broken"):
            state.views[task] = TaskView(task)
            state.slots(task)["status"] = Posted("m-" + task)
            await store.save_posted(state, task)
        state.failed["broken"] = "channel_not_found"
        state.last_eid = "5-0"
        await store.save_progress(state, {"done", "broken"}, finished={"done"})
        assert "done" not in state.views and "done" not in state.posted

        again = await store.load("s1")
        assert set(again.views) == {"broken"} and set(again.posted) == {"broken"}
        assert again.failed == {"broken": "channel_not_found"}
        fields = await h.redis.hkeys(h.keys.delivered("s1"))
        assert not [f for f in fields if f.endswith(":done")]

    run(redis_url, scenario)


def test_task_info_reads_the_binding_and_graph(redis_url: str) -> None:
    async def scenario(h: Harness, store: DeliveryStore) -> None:
        assert await store.task_info("s1", "gone") is None
        await h.bind("s1", "t1", channel="C9")
        info = await store.task_info("s1", "t1")
        assert info is not None and info.graph == "g" and info.binding == {"platform": "mem", "channel": "C9"}
        await h.redis.hset(h.keys.task("s1", "web"), mapping={"graph": "g"})
        assert (await store.task_info("s1", "web")).binding is None  # type: ignore[union-attr]

    run(redis_url, scenario)


def test_a_failure_is_announced_on_the_session_stream_only(redis_url: str) -> None:
    async def scenario(h: Harness, store: DeliveryStore) -> None:
        entry_id = await store.record_failure("s1", "t1", "slack", "is_archived", "x" * 900)
        events = await h.session_events("s1")
        assert [(e.id, e.type, e.task_id) for e in events] == [(entry_id, EventType.DELIVERY_FAILED, "t1")]
        assert events[0].data == {"platform": "slack", "error": "is_archived", "detail": "x" * 500}
        for shard in range(h.settings.delivery_shards):  # not to a delivery shard: it would be refused again
            assert await h.redis.xlen(h.keys.delivery(shard)) == 0
        raw = await h.redis.xrange(h.keys.events("s1"))
        assert json.loads(raw[0][1]["e"])["v"] == 1

    run(redis_url, scenario)


def test_shard_leases_belong_to_one_dispatcher_at_a_time(redis_url: str) -> None:
    async def scenario(h: Harness, store: DeliveryStore) -> None:
        assert await store.acquire(0, "a", ttl=5)
        assert not await store.acquire(0, "b", ttl=5)
        assert not await store.renew(0, "b", ttl=5)
        assert await store.renew(0, "a", ttl=60)
        assert 5_000 < await h.redis.pttl(h.keys.delivery_owner(0)) <= 60_000
        await store.release(0, "b")  # not b's: nothing happens
        assert await h.redis.get(h.keys.delivery_owner(0)) == "a"
        await store.release(0, "a")
        assert not await store.renew(0, "a", ttl=5)
        assert await store.acquire(0, "b", ttl=5)

    run(redis_url, scenario)


@pytest.mark.parametrize("others", [0, 2])
def test_heartbeats_count_the_live_dispatchers(redis_url: str, others: int) -> None:
    async def scenario(h: Harness, store: DeliveryStore) -> None:
        for n in range(others):
            await store.heartbeat(f"other-{n}", ttl=30)
        await h.redis.zadd(h.keys.dispatchers(), {"dead": 1.0})  # its heartbeat ran out long ago
        assert await store.heartbeat("me", ttl=30) == others + 1
        await store.leave("me")
        assert await h.redis.zscore(h.keys.dispatchers(), "me") is None

    run(redis_url, scenario)
