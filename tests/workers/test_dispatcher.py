"""The dispatcher in-process: real Redis (a private key prefix per test), an in-memory platform, a fake clock
for pacing and back-offs. The subprocess flows stay in tests/e2e; these check the core's promises one by one."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from itertools import pairwise
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from graphgate.core.events import EventType
from graphgate.core.keys import delivery_shard
from graphgate.core.platform import PermanentError, RateLimited, Tag, TransientError
from graphgate.workers.dispatch.lanes import MAX_BATCH_ATTEMPTS
from graphgate.workers.dispatch.reconcile import UNDELIVERABLE
from tests.workers.fakes import (
    FakeClock,
    Harness,
    Killed,
    MemoryPlatform,
    harness,
    until,
)


def run(redis_url: str, scenario: Callable[[Harness], Awaitable[None]], **settings: Any) -> None:
    async def main() -> None:
        async with harness(redis_url, **settings) as h:
            await scenario(h)

    asyncio.run(asyncio.wait_for(main(), 20))


def test_each_session_is_delivered_in_order(redis_url: str) -> None:
    sessions, tasks = ["s-a", "s-b", "s-c"], 4

    async def scenario(h: Harness) -> None:
        platform = MemoryPlatform()
        h.start(platform)
        for n in range(tasks):
            for s in sessions:
                await h.bind(s, f"{s}-t{n}", channel=f"C-{s}")
        for n in range(tasks):  # the sessions' events interleaved, as concurrent runs write them
            for s in sessions:
                await h.run_task(s, f"{s}-t{n}", steps=3)
        await until(h.settled, what="every entry acked")

        for s in sessions:
            posted = [c.task_id for c in platform.posts() if c.slot == "status" and c.task_id.startswith(s)]
            assert posted == [f"{s}-t{n}" for n in range(tasks)]
            for n in range(tasks):
                task = f"{s}-t{n}"
                steps = [int(c.text.split()[2]) for c in platform.calls if c.task_id == task and c.slot == "status"]
                assert steps == sorted(steps), f"{task}'s status went backwards: {steps}"
                assert [m.text for m in platform.shown(task, "answer")] == [f"answer of {task}"]
                assert [m.text for m in platform.shown(task, "status")] == ["completed after 3 steps"]

    run(redis_url, scenario)


def test_entries_already_recorded_are_acked_without_a_call(redis_url: str) -> None:
    async def scenario(h: Harness) -> None:
        platform = MemoryPlatform()
        running = h.start(platform)
        await h.bind("s1", "t1")
        await h.run_task("s1", "t1")
        await until(h.settled, what="the task delivered")
        calls = len(platform.calls)

        # the same entries again, as after a crash between the record and the ack
        shard = h.keys.delivery(delivery_shard("s1", h.settings.delivery_shards))
        entries = await h.redis.xrange(shard)
        for _, fields in entries:
            await h.redis.xadd(shard, fields)
        await until(lambda: running.dispatcher.stats.skipped_entries == len(entries), what="the redelivery skipped")
        await until(h.settled, what="the redelivery acked")
        assert len(platform.calls) == calls

    run(redis_url, scenario)


@pytest.mark.parametrize(("findable", "copies"), [(True, 1), (False, 2)], ids=["slack-like", "telegram-like"])
def test_a_crash_between_post_and_ack(redis_url: str, findable: bool, copies: int) -> None:
    """The answer's post is accepted, then the dispatcher dies before recording its id and acking. The next
    owner finds the post in flight and asks the platform: found, it is not posted again. A platform that
    cannot be searched (Telegram) shows it twice: the window docs/dispatcher.md documents."""

    async def scenario(h: Harness) -> None:
        platform = MemoryPlatform(findable=findable)
        faults = Killed("task.completed")
        doomed = h.start(platform, faults=faults)
        await h.bind("s1", "t1")
        await h.run_task("s1", "t1", answer="forty-two")
        await until(doomed.task.done, what="the dispatcher killed after the post")
        assert faults.fired.is_set()
        assert [m.text for m in platform.shown("t1", "answer")] == ["forty-two"]
        assert await h.pending() > 0  # the batch was not acked

        h.start(platform)
        await until(h.settled, timeout=8, what="the next owner delivering the pending entries")
        assert [m.text for m in platform.shown("t1", "answer")] == ["forty-two"] * copies
        assert [c.slot for c in platform.calls if c.method == "find"] == ["answer"]
        assert len(platform.shown("t1", "status")) == 1

    run(redis_url, scenario)


def test_a_dead_dispatchers_shard_is_taken_over_with_its_pending_entries(redis_url: str) -> None:
    async def scenario(h: Harness) -> None:
        platform = MemoryPlatform()
        platform.fail("post", lambda: RateLimited(600), slot="status")  # holds the first owner's lane
        first = h.start(platform, name="first")
        await h.bind("s1", "t1")
        await h.run_task("s1", "t1")
        await until(lambda: any(not c.ok for c in platform.calls), what="the first owner's rate-limited post")
        await until(h.pending, what="the entries read and not acked")
        await h.kill(first)
        await h.bind("s1", "t2")
        await h.run_task("s1", "t2")  # more entries while nobody reads the shard

        second = h.start(platform, name="second", clock=FakeClock())
        await until(h.settled, timeout=8, what="the second dispatcher delivering both tasks")
        owners = {await h.redis.get(h.keys.delivery_owner(n)) for n in range(h.settings.delivery_shards)}
        assert owners == {"second"}
        assert sorted(second.dispatcher.leases.owned) == [0, 1]
        for task in ("t1", "t2"):
            assert [m.text for m in platform.shown(task, "answer")] == [f"answer of {task}"]
            assert len(platform.shown(task, "status")) == 1
        first_post = [c.task_id for c in platform.posts()]
        assert first_post.index("t1") < first_post.index("t2")

    run(redis_url, scenario)


def test_two_live_dispatchers_share_the_shards(redis_url: str) -> None:
    async def scenario(h: Harness) -> None:
        platform = MemoryPlatform()
        a = h.start(platform, name="a")
        await until(lambda: len(a.dispatcher.leases.owned) == 4, what="a alone owning every shard")
        b = h.start(platform, name="b")
        await until(
            lambda: len(a.dispatcher.leases.owned) == len(b.dispatcher.leases.owned) == 2,
            what="a handing two shards to b",
        )
        await h.stop(a)
        await until(lambda: len(b.dispatcher.leases.owned) == 4, what="b taking a's shards after a stopped")

    run(redis_url, scenario, delivery_shards=4)


def test_a_rate_limit_holds_the_channel_for_retry_after(redis_url: str) -> None:
    async def scenario(h: Harness) -> None:
        clock = FakeClock()
        platform = MemoryPlatform(clock=clock)
        platform.fail("post", lambda: RateLimited(30), slot="answer")
        h.start(platform, clock=clock)
        await h.bind("s1", "t1")
        await h.run_task("s1", "t1")
        await until(h.settled, what="the task delivered")

        refused = next(i for i, c in enumerate(platform.calls) if not c.ok)
        after = platform.calls[refused + 1 :]
        assert after, "the refused post was not made again"
        waited = [round(c.at - platform.calls[refused].at, 3) for c in after]
        assert min(waited) >= 30, f"calls went out during the Retry-After: {waited}"
        assert [m.text for m in platform.shown("t1", "answer")] == ["answer of t1"]

    run(redis_url, scenario)


def test_transient_errors_are_retried_with_a_growing_back_off(redis_url: str) -> None:
    async def scenario(h: Harness) -> None:
        clock = FakeClock()
        platform = MemoryPlatform(clock=clock)
        platform.fail("post", lambda: TransientError("503"), times=3, slot="answer")
        running = h.start(platform, clock=clock)
        await h.bind("s1", "t1")
        await h.run_task("s1", "t1")
        await until(h.settled, what="the task delivered")

        tries = [c for c in platform.calls if c.method == "post" and c.slot == "answer"]
        assert [c.ok for c in tries] == [False, False, False, True]
        assert [round(b.at - a.at, 3) for a, b in pairwise(tries)] == [1.0, 2.0, 4.0]
        assert running.dispatcher.stats.retried == 3
        assert [m.text for m in platform.shown("t1", "answer")] == ["answer of t1"]

    run(redis_url, scenario)


def test_a_permanent_error_ends_the_tasks_delivery_with_delivery_failed(redis_url: str) -> None:
    async def scenario(h: Harness) -> None:
        platform = MemoryPlatform()
        platform.fail("post", lambda: PermanentError("channel_not_found", "gone"))
        h.start(platform)
        await h.bind("s1", "t1")
        await h.run_task("s1", "t1")
        await until(h.settled, what="the entries acked")

        failed = [e for e in await h.session_events("s1") if e.type == EventType.DELIVERY_FAILED]
        assert [(e.task_id, e.data["platform"], e.data["error"]) for e in failed] == [
            ("t1", "mem", "channel_not_found")
        ]
        assert [c.method for c in platform.calls] == ["post"]  # nothing more for that task

    run(redis_url, scenario)


def test_a_batch_that_always_fails_is_given_up_with_delivery_failed(redis_url: str) -> None:
    """A poison entry (the renderer raises on it) is tried ``MAX_BATCH_ATTEMPTS`` times on its own, then
    acked with ``delivery.failed``; the session's next task is delivered."""

    async def scenario(h: Harness) -> None:
        clock = FakeClock()
        platform = MemoryPlatform(clock=clock)
        await h.bind("s1", "t1")
        await h.bind("s1", "t2")
        await h.publish("s1", "t1", EventType.TASK_QUEUED, {"graph": "g"})
        await h.publish("s1", "t1", EventType.TASK_STARTED, {"run": 1})
        await h.publish("s1", "t1", EventType.CUSTOM, {"payload": {"status": "poison"}})
        await h.publish("s1", "t1", EventType.TASK_COMPLETED, {"output": {}, "text": "never shown"})
        await h.run_task("s1", "t2")
        start = clock.now
        running = h.start(platform, clock=clock)  # every entry is there: the first batch holds them all
        await until(h.settled, what="every entry acked, the poison one included")

        # the whole first batch failed once, then the poison entry failed alone MAX_BATCH_ATTEMPTS times
        assert platform.renders_failed == 1 + MAX_BATCH_ATTEMPTS
        assert running.dispatcher.stats.given_up == 1
        assert clock.now - start >= 1 + 2 + 4 + 8 + 16 + 30 + 30  # backed off (on the fake clock) between tries
        failed = [e for e in await h.session_events("s1") if e.type == EventType.DELIVERY_FAILED]
        assert [(e.task_id, e.data["error"]) for e in failed] == [("t1", UNDELIVERABLE)]
        assert "ValueError" in failed[0].data["detail"]
        assert platform.shown("t1", "answer") == []
        assert [m.text for m in platform.shown("t2", "answer")] == ["answer of t2"]

    run(redis_url, scenario)


def test_redis_errors_are_waited_out_and_never_given_up(redis_url: str) -> None:
    """Redis away is not the entry's fault: however long it lasts, nothing is given up. (The renderer raising
    Redis's ConnectionError stands in for a batch's Redis calls failing.)"""

    async def scenario(h: Harness) -> None:
        clock = FakeClock()
        platform = MemoryPlatform(clock=clock)
        platform.render_errors = [RedisConnectionError("redis went away")] * (MAX_BATCH_ATTEMPTS + 3)
        running = h.start(platform, clock=clock)
        await h.bind("s1", "t1")
        await h.run_task("s1", "t1")
        await until(h.settled, what="the task delivered once Redis is back")
        assert platform.render_errors == []
        assert running.dispatcher.stats.given_up == 0
        assert not [e for e in await h.session_events("s1") if e.type == EventType.DELIVERY_FAILED]
        assert [m.text for m in platform.shown("t1", "answer")] == ["answer of t1"]

    run(redis_url, scenario)


def test_a_dispatcher_that_lost_its_shards_makes_no_call_until_it_holds_them_again(redis_url: str) -> None:
    async def scenario(h: Harness) -> None:
        platform = MemoryPlatform()
        running = h.start(platform, name="owner")
        await until(lambda: len(running.dispatcher.leases.owned) == 2, what="the dispatcher owning both shards")
        for n in range(2):  # another dispatcher took the shards (this one stalled past its lease)
            await h.redis.set(h.keys.delivery_owner(n), "thief", px=60_000)
        await until(lambda: not running.dispatcher.leases.owned, what="the dispatcher noticing")

        shard_owner = h.keys.delivery_owner(delivery_shard("s1", h.settings.delivery_shards))
        calls_by_others: list[str | None] = []

        async def guard(tag: Tag) -> None:
            holder = await h.redis.get(shard_owner)
            if holder != "owner":
                calls_by_others.append(holder)

        platform.guard = guard
        heartbeat = await h.redis.zscore(h.keys.dispatchers(), "owner")
        await h.bind("s1", "t1")
        await h.run_task("s1", "t1")
        # sentinel: a balance round after the entries were written (the reader had every chance to read them)
        await until(_later_than(h, heartbeat), what="a heartbeat after the entries")
        assert platform.calls == []
        assert await h.unread() + await h.pending() == 5  # (a read blocked since before the loss may hold some)

        for n in range(2):  # the thief is gone: its leases end
            await h.redis.delete(h.keys.delivery_owner(n))
        await until(h.settled, what="the entries delivered by the owner again")
        assert calls_by_others == []
        assert [m.text for m in platform.shown("t1", "answer")] == ["answer of t1"]

    run(redis_url, scenario)


def _later_than(h: Harness, score: float | None) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        now = await h.redis.zscore(h.keys.dispatchers(), "owner")
        return now is not None and (score is None or now > score)

    return check
