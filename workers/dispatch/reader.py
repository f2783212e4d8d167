"""Reading the owned delivery shard streams and handing each entry to its session's lane.

All dispatchers read each shard through one consumer group (``DELIVERY_GROUP``). Taking a shard, a dispatcher first
claims every entry still pending in it (``XAUTOCLAIM ... 0``: whoever read it before, the dead or the
departed owner) and routes them; only then does it read new entries (``>``), so older entries always come
first and a session's lane sees its events in stream order. Reading pauses while ``MAX_BUFFERED`` entries
are read and not yet acked.

One ``XREADGROUP`` names every readable shard; on a Redis Cluster, where a call can only name streams of one slot,
each shard is read by a loop of its own (``per_shard``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from graphgate.core.events import (
    DeserializationError,
    Event,
    deserialize_event,
    parse_id,
)
from graphgate.core.keys import DELIVERY_GROUP
from graphgate.workers.dispatch.shards import Shard, ShardLeases

log = logging.getLogger("graphgate.dispatcher")

READ_COUNT = 200  # entries per XREADGROUP / XAUTOCLAIM call
READ_BLOCK_MS = 1000
MAX_BUFFERED = 20_000  # entries read but not yet acked, across lanes; reading pauses above it
DEAD_CONSUMER_LEASES = 20  # a consumer idle this many lease times and holding nothing is forgotten


@dataclass
class DeliveryEntry:
    """One delivery shard entry: a session event to deliver."""

    shard: int
    entry_id: str  # id in the shard stream (what is acked)
    session_id: str
    event_id: str  # id in the session stream (what dedupes)
    event: Event | None  # None when the entry could not be read; it is acked and skipped


def parse_entry(shard: int, entry_id: str, fields: dict[str, str]) -> DeliveryEntry:
    """The shard entry's fields (``sid``, ``eid``, ``e``, written by graphgate/core/scripts.py ``emit``)."""
    session_id, event_id = fields.get("sid", ""), fields.get("eid", "")
    try:
        parse_id(event_id)
        event: Event | None = deserialize_event(event_id, fields.get("e", ""))
    except (DeserializationError, ValueError):
        log.warning("shard %d entry %s is not an event; skipping it", shard, entry_id)
        event = None
    return DeliveryEntry(shard, entry_id, session_id, event_id, event)


Route = Callable[[DeliveryEntry], None]


class ShardReader:
    """Feeds ``route`` with the entries of the shards ``leases`` says may be read."""

    def __init__(
        self,
        redis: aioredis.Redis,
        leases: ShardLeases,
        route: Route,
        buffered: Callable[[], int],
        per_shard: bool = False,
    ) -> None:
        self.redis = redis
        self.leases = leases
        self.route = route
        self.buffered = buffered  # entries read and not yet acked
        self.per_shard = per_shard

    @property
    def consumer(self) -> str:
        return self.leases.id

    async def claim(self, shard: Shard) -> int:
        """Take over a shard: make sure its group exists, route what is pending there, then mark it ready."""
        try:
            await self.redis.xgroup_create(shard.key, DELIVERY_GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        claimed = 0
        start = "0-0"
        while True:
            reply = await self.redis.xautoclaim(
                shard.key, DELIVERY_GROUP, self.consumer, min_idle_time=0, start_id=start, count=READ_COUNT
            )
            next_start, entries = reply[0], reply[1]
            for entry_id, fields in entries:
                if fields:  # a pending entry trimmed from the stream has no fields
                    self.route(parse_entry(shard.number, entry_id, fields))
                    claimed += 1
            if next_start in ("0-0", b"0-0"):
                break
            start = next_start
        shard.ready = True  # pending (older) entries are queued first, so lanes keep stream order
        if claimed:
            log.info("dispatcher %s claimed %d pending entries of shard %d", self.consumer, claimed, shard.number)
        await self._forget_dead_consumers(shard.key)
        return claimed

    async def _forget_dead_consumers(self, key: str) -> None:
        """Remove consumers of the group that hold nothing and were idle for long (dead dispatchers)."""
        try:
            consumers = await self.redis.xinfo_consumers(key, DELIVERY_GROUP)
        except RedisError:
            return
        idle_ms = self.leases.ttl * DEAD_CONSUMER_LEASES * 1000
        for c in consumers:
            name = c.get("name")
            if name != self.consumer and int(c.get("pending", 0)) == 0 and int(c.get("idle", 0)) > idle_ms:
                await self.redis.xgroup_delconsumer(key, DELIVERY_GROUP, name)

    async def run(self) -> None:
        """Read new entries of every readable shard until cancelled."""
        if not self.per_shard:
            await self._read(None)
            return
        loops = [asyncio.create_task(self._read(n), name=f"read-{n}") for n in range(self.leases.count)]
        try:
            await asyncio.gather(*loops)
        finally:
            for loop in loops:
                loop.cancel()

    async def _read(self, only: int | None) -> None:
        """Read the readable shards (``only`` that one, when not None) until cancelled."""
        while True:
            readable = self.leases.readable()
            if only is not None:
                readable = {key: n for key, n in readable.items() if n == only}
            if not readable or self.buffered() >= MAX_BUFFERED:
                await asyncio.sleep(0.05 if readable else 0.2)
                continue
            try:
                reply = await self.redis.xreadgroup(
                    DELIVERY_GROUP, self.consumer, {key: ">" for key in readable}, count=READ_COUNT, block=READ_BLOCK_MS
                )
            except Exception as exc:  # RedisError, or an OSError redis-py let through while a cluster node died
                if "NOGROUP" in str(exc):  # the stream was deleted; the next adoption recreates the group
                    await asyncio.sleep(0.5)
                    continue
                # Redis away, or a cluster slot moving for longer than the client follows it: never stop reading
                log.warning("dispatcher %s: read failed (%s: %s); retrying", self.consumer, type(exc).__name__, exc)
                await asyncio.sleep(0.5)
                continue
            for stream_key, entries in reply or []:
                number = readable.get(stream_key)
                if number is None or not self.leases.holds(number):
                    continue  # lost meanwhile: the entries stay pending for the owner
                for entry_id, fields in entries:
                    self.route(parse_entry(number, entry_id, fields))
