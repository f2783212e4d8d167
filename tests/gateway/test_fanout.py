"""The SSE hub against a real Redis: replay, live feed, and the seam between them."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable

import pytest
import redis.asyncio as aioredis

from graphgate.core.events import parse_id
from graphgate.core.settings import Settings
from graphgate.gateway.fanout import StreamHub


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
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        key = "fanout-test:stream"
        await client.delete(key)
        ids = [await client.xadd(key, {"e": str(i)}) for i in range(5)]
        hub = StreamHub(Settings(redis_url=redis_url), client, block_ms=5000)
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
