"""The API's CPU per delivered SSE event, in-process (``python -m bench.hub``): the hub's read, its in-memory
fan-out and each client's SSE frames, without HTTP, measured the same way before and after a change.

Starts a private redis-server, a ``StreamHub`` and ``--clients`` followers on each of ``--sessions`` streams,
each reading ``sse_feed`` (gateway/api/events.py: the frames ``/api/v1/events`` sends); a child process writes
``--events`` well-formed events to every stream at a steady pace (its CPU is not counted). Prints this
process's CPU per delivered event (one event to one client). What the ASGI server does with the bytes
afterwards is the same for every frame and not part of it.

docs/performance.md ("A worker's run" and after) reports what this measured.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import shutil
import tempfile
import time
from pathlib import Path

import redis

from graphgate.core import connections
from graphgate.core.events import STREAM_FIELD, Event, EventType, serialize_event
from graphgate.core.settings import Settings
from graphgate.gateway.api.events import sse_feed
from graphgate.gateway.fanout import StreamHub
from graphgate.testing.stack import RedisServer

PACE = 0.002  # the writer adds one event to every stream each PACE seconds


def write(url: str, keys: list[str], events: int) -> None:
    """The load: ``events`` node-sized events to each stream, one pipeline per round."""
    client = redis.Redis.from_url(url)
    for n in range(events):
        pipe = client.pipeline(transaction=False)
        for key in keys:
            data = {"node": "respond", "step_id": f"step-{n}", "update": {"text": f"event {n} " + "x" * 200}}
            raw = serialize_event(Event(EventType.NODE_COMPLETED, "task", key, data))
            pipe.xadd(key, {STREAM_FIELD: raw})
        pipe.execute()
        time.sleep(PACE)


async def follow(url: str, sessions: int, clients: int, events: int) -> tuple[float, int]:
    settings = Settings(redis_url=url, key_prefix="bench-hub")
    client = connections.async_client(settings, max_connections=50, decode_responses=True)  # as the API's
    hub = StreamHub(settings, client)
    await hub.start()
    keys = [f"bench-hub:{{s{i}}}:events" for i in range(sessions)]
    got = 0

    async def one(key: str) -> None:
        nonlocal got
        n = 0
        async for frame in sse_feed(hub, key, "0-0"):
            got += len(frame) > 0
            n += 1
            if n == events:
                return

    followers = [asyncio.create_task(one(key)) for key in keys for _ in range(clients)]
    while hub.subscribers < sessions * clients or hub.streams < sessions:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.2)
    writer = multiprocessing.get_context("fork").Process(target=write, args=(url, keys, events))
    cpu = time.process_time()
    writer.start()
    await asyncio.gather(*followers)
    cpu = time.process_time() - cpu
    writer.join()
    await hub.stop()
    await client.aclose()
    return cpu, got


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.hub", description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--clients", type=int, default=20, help="followers of each session")
    parser.add_argument("--events", type=int, default=300, help="events written to each session")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="gg-hub-"))
    server = RedisServer(work / "redis").start()
    try:
        cpu, delivered = asyncio.run(follow(server.url, args.sessions, args.clients, args.events))
        print(
            f"{delivered} deliveries ({args.sessions} sessions x {args.clients} clients x {args.events} events): "
            f"CPU {1e6 * cpu / delivered:.1f} us per delivered event"
        )
        return 0
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
