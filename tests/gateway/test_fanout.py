"""The SSE hub against a real Redis: replay, live feed, and the seam between them."""

from __future__ import annotations

import asyncio
import inspect
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from graphgate.core import connections
from graphgate.core.events import parse_id
from graphgate.core.settings import Settings
from graphgate.gateway.fanout import StreamHub
from graphgate.testing.stack import TEST_CLUSTER, RedisServer, cluster_settings


def test_parse_id() -> None:
    assert parse_id("5-1") == (5, 1) and parse_id("7") == (7, 0)
    for bad in ("", "x-1", "1-x", "-1", "1--1"):
        with pytest.raises(ValueError):
            parse_id(bad)


async def until(check: Callable[[], bool | Awaitable[bool]], what: str, timeout: float = 5) -> None:
    """Poll ``check`` (plain or async) until it is true; an AssertionError after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what} ({timeout} s)")
        await asyncio.sleep(0.01)


async def reader_blocked(client: aioredis.Redis, hub: StreamHub) -> bool:
    """Redis's own view (CLIENT LIST): the hub's reader connection waits in a blocking XREAD."""
    reader = hub._reader_id
    return any(int(c["id"]) == reader and c["cmd"] == "xread" and "b" in c["flags"] for c in await client.client_list())


async def _collect(hub: StreamHub, key: str, after: str, n: int) -> list[str]:
    out = []
    async for _entry_id, raw in hub.follow(key, after):
        out.append(raw)
        if len(out) == n:
            break
    return out


def test_replay_then_live_without_gap_or_duplicate(redis_url: str) -> None:
    async def scenario() -> None:
        settings = Settings(redis_url=redis_url, **cluster_settings())
        client = connections.async_client(settings, decode_responses=True)
        key = "fanout-test:stream"
        await client.delete(key)
        ids = [await client.xadd(key, {"e": str(i)}) for i in range(5)]
        hub = StreamHub(settings, client, block_ms=5000)
        await hub.start()

        async def writer() -> None:
            for i in range(5, 300):
                await client.xadd(key, {"e": str(i)})
                if i % 50 == 0:
                    await asyncio.sleep(0.01)  # a pause between bursts: the hub's reader and the followers run

        # many followers join while the writer is writing: each sees every entry once, in order
        followers = [asyncio.create_task(_collect(hub, key, "0-0", 300)) for _ in range(20)]
        late = asyncio.create_task(_collect(hub, key, ids[2], 297))
        await asyncio.sleep(0)  # one turn of the event loop: the followers start subscribing as the writer starts
        await writer()
        results = await asyncio.wait_for(asyncio.gather(*followers, late), 20)
        for r in results[:-1]:
            assert r == [str(i) for i in range(300)]
        assert results[-1] == [str(i) for i in range(3, 300)]
        assert hub.subscribers == 0 and hub.streams == 0  # followers that left are forgotten
        await hub.stop()
        await client.aclose()

    asyncio.run(scenario())


@pytest.mark.skipif(TEST_CLUSTER, reason="one Redis's reader; a cluster's: test_a_cluster_hub_reads_each_slot_group")
def test_new_stream_joins_a_blocked_reader_at_once(redis_url: str) -> None:
    """A second stream added while the reader blocks on the first gets its entries without waiting
    for the block timeout (the reader is released with CLIENT UNBLOCK)."""

    async def scenario() -> None:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        await client.delete("fanout-test:a", "fanout-test:b")
        hub = StreamHub(Settings(redis_url=redis_url), client, block_ms=30_000)
        await hub.start()
        first = asyncio.create_task(_collect(hub, "fanout-test:a", "0-0", 1))
        await until(lambda: reader_blocked(client, hub), "the reader to block")  # on stream a only
        assert hub.cursors() == {"fanout-test:a": "0-0"}
        second = asyncio.create_task(_collect(hub, "fanout-test:b", "0-0", 2))
        await until(lambda: "fanout-test:b" in hub.cursors(), "the hub to follow stream b")
        b1 = await client.xadd("fanout-test:b", {"e": "b1"})
        # the reader itself read b1 (a follower's replay does not move its cursor): its 30 s block was cut short
        await until(lambda: hub.cursors().get("fanout-test:b") == b1, "the reader to read b1")
        await client.xadd("fanout-test:b", {"e": "b2"})
        assert await asyncio.wait_for(second, 5) == ["b1", "b2"]
        await client.xadd("fanout-test:a", {"e": "a1"})
        assert await asyncio.wait_for(first, 5) == ["a1"]
        await hub.stop()
        await client.aclose()

    asyncio.run(scenario())


def test_a_cluster_hub_reads_each_slot_group(tmp_path: Path) -> None:
    """On a Redis Cluster one XREAD names streams of one slot: the hub reads each hash tag's streams in a task of
    its own, on whichever primary serves it, and a stream added while its group's read blocks (5 s here) joins at
    once, as does a stream of another group."""
    from graphgate.testing.cluster import RedisCluster

    cluster = RedisCluster(tmp_path / "cluster").start()

    async def scenario() -> None:
        settings = Settings(redis_url=cluster.url, redis_cluster=True, broker_url="redis://127.0.0.1:9/0")
        client = connections.async_client(settings, decode_responses=True)
        a, c, b = "fanout-test:{d1}:a", "fanout-test:{d1}:c", "fanout-test:{d2}:b"
        assert cluster.owner(cluster.keyslot(a)) is not cluster.owner(cluster.keyslot(b))  # two primaries
        hub = StreamHub(settings, client, block_ms=5_000)
        await hub.start()
        first = asyncio.create_task(_collect(hub, a, "0-0", 2))
        await until(lambda: a in hub.cursors(), "the hub to follow a")
        await asyncio.sleep(0.2)  # its group's read is blocked now
        third = asyncio.create_task(_collect(hub, c, "0-0", 2))
        second = asyncio.create_task(_collect(hub, b, "0-0", 2))
        await until(lambda: {a, b, c} <= hub.cursors().keys(), "the hub to follow b and c")
        c1, b1 = await client.xadd(c, {"e": "c1"}), await client.xadd(b, {"e": "b1"})
        # read by the hub's own reads (a follower's replay does not move its cursor), well within the block time
        await until(lambda: hub.cursors()[c] == c1 and hub.cursors()[b] == b1, "the reads of both groups", 3)
        await client.xadd(a, {"e": "a1"})
        await client.xadd(a, {"e": "a2"})
        await client.xadd(c, {"e": "c2"})
        assert await asyncio.wait_for(first, 5) == ["a1", "a2"]
        await client.xadd(b, {"e": "b2"})
        assert await asyncio.wait_for(second, 5) == ["b1", "b2"] and await asyncio.wait_for(third, 5) == ["c1", "c2"]
        await hub.stop()
        await client.aclose()

    try:
        asyncio.run(scenario())
    finally:
        cluster.stop()


def test_entries_reach_followers_only_once_a_replica_holds_them(tmp_path: Path) -> None:
    """With a replica a failover could promote, what a follower saw must be on it: while the replica is
    stopped (SIGSTOP) the hub holds entries back; they flow the moment it acknowledges them."""
    primary = RedisServer(tmp_path / "primary", extra=["--repl-diskless-sync-delay", "0"]).start()
    replica = RedisServer(tmp_path / "replica", extra=["--replicaof", "127.0.0.1", str(primary.port)]).start()

    async def scenario() -> None:
        client = aioredis.Redis.from_url(primary.url, decode_responses=True)
        await until(lambda: _linked(client), "the replica to attach")
        hub = StreamHub(Settings(redis_url=primary.url, sse_wait_for_replica=True), client, block_ms=5000)
        await hub.start()
        key = "fanout-test:replicated"
        got: list[str] = []

        async def follow() -> None:
            async for _entry_id, raw in hub.follow(key, "0-0"):
                got.append(raw)

        follower = asyncio.create_task(follow())
        await until(lambda: reader_blocked(client, hub), "the hub to read")
        await client.xadd(key, {"e": "0"})
        await until(lambda: got == ["0"], "an entry the replica holds")

        assert replica.proc is not None
        replica.proc.send_signal(signal.SIGSTOP)
        try:
            await client.xadd(key, {"e": "1"})
            await asyncio.sleep(0.4)
            assert got == ["0"], "an entry reached a follower before any replica held it"
        finally:
            replica.proc.send_signal(signal.SIGCONT)
        await until(lambda: got == ["0", "1"], "the entry once the replica has it", timeout=2)
        follower.cancel()
        await hub.stop()
        await client.aclose()

    try:
        asyncio.run(scenario())
    finally:
        replica.stop()
        primary.stop()


async def _linked(client: aioredis.Redis) -> bool:
    """The primary has a replica past its first full sync (the only kind WAIT counts)."""
    replica = (await client.info("replication")).get("slave0")
    return isinstance(replica, dict) and replica.get("state") == "online"
