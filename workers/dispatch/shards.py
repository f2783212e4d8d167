"""Which delivery shards this dispatcher owns: leases, the fair share, hand-over, and the fence.

Each shard stream is owned by one dispatcher at a time through a lease (``Keys.delivery_owner``, a
dispatcher id with a TTL; workers/deliverystore.py). Every dispatcher heartbeats into ``Keys.dispatchers``
and aims at ``ceil(shards / live dispatchers)``: a newcomer takes free shards, an owner above its share
drains the extra ones (reads nothing new there, lets their lanes finish, releases them), and a dead
dispatcher's leases expire so the others take its shards.

The fence: a platform call is made only while the lease is surely valid, i.e. renewed less than
``FENCE_FRACTION`` of the lease time ago (``ShardLeases.check``). A fence inside Redis would need a script
over the shard's key and the session's key, two hash slots on Redis Cluster; the time check is portable.
Lease times are real monotonic time, as Redis's TTLs are: never a test's fake clock.
"""

from __future__ import annotations

import logging
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from redis.exceptions import RedisError

from graphgate.core.keys import Keys
from graphgate.workers.deliverystore import DeliveryStore

log = logging.getLogger("graphgate.dispatcher")

FENCE_FRACTION = 0.8  # a lease renewed less than this share of its TTL ago is surely still ours


class ShardLost(Exception):
    """The shard's lease lapsed or moved: stop delivering its entries (they stay pending for the owner)."""


@dataclass
class Shard:
    """A delivery shard this dispatcher holds the lease of."""

    number: int
    key: str  # its stream
    valid_until: float = 0.0  # monotonic time the lease is surely still ours until
    ready: bool = False  # its pending entries are claimed: new ones may be read
    draining: bool = False  # above our fair share: read nothing new, release when the lanes are idle
    drain_deadline: float = 0.0


class ShardLeases:
    """The shards one dispatcher owns, kept to its fair share by ``balance`` (called every third of the TTL)."""

    def __init__(self, store: DeliveryStore, keys: Keys, dispatcher_id: str, shards: int, lease_ttl: float) -> None:
        self.store = store
        self.keys = keys
        self.id = dispatcher_id
        self.count = shards
        self.ttl = lease_ttl
        self.owned: dict[int, Shard] = {}
        self.stopping = False  # take no more shards (the dispatcher is shutting down)

    def check(self, number: int) -> None:
        """The fence: raise ``ShardLost`` unless the shard's lease is surely still ours."""
        shard = self.owned.get(number)
        if shard is None or time.monotonic() > shard.valid_until:
            raise ShardLost(f"shard {number}")

    def holds(self, number: int) -> bool:
        return number in self.owned

    def readable(self) -> dict[str, int]:
        """Stream key -> number of the shards whose new entries may be read now."""
        return {s.key: s.number for s in self.owned.values() if s.ready and not s.draining}

    async def balance(self, busy: Callable[[int], bool], drop: Callable[[int], None]) -> bool:
        """Renew, hand over and take shards; True when the owned set changed. Shards taken are not
        ``ready``: their pending entries are to be claimed (``unready``) before new ones are read.

        ``busy(n)``: whether shard n still has entries in its lanes; ``drop(n)``: stop everything for shard n
        (called before its lease is given up or once it is lost).
        """
        live = await self.store.heartbeat(self.id, self.ttl)
        target = math.ceil(self.count / live)
        changed = False
        for number, shard in list(self.owned.items()):
            started = time.monotonic()
            if await self.store.renew(number, self.id, self.ttl):
                shard.valid_until = started + self.ttl * FENCE_FRACTION
            else:
                log.warning("dispatcher %s lost shard %d", self.id, number)
                self._forget(number, drop)
                changed = True
        active = [s for s in self.owned.values() if not s.draining]
        if len(active) > target:
            for shard in sorted(active, key=lambda s: -s.number)[: len(active) - target]:
                shard.draining, shard.drain_deadline = True, time.monotonic() + self.ttl
                log.info("dispatcher %s hands shard %d over (fair share %d)", self.id, shard.number, target)
        for number, shard in list(self.owned.items()):
            if shard.draining and (not busy(number) or time.monotonic() > shard.drain_deadline):
                self._forget(number, drop)
                await self.store.release(number, self.id)
                changed = True
        if len(self.owned) < target and not self.stopping:
            start = zlib.crc32(self.id.encode())  # dispatchers try the shards in different orders
            for i in range(self.count):
                number = (start + i) % self.count
                if len(self.owned) >= target:
                    break
                if number in self.owned:
                    continue
                started = time.monotonic()
                if await self.store.acquire(number, self.id, self.ttl):
                    valid = started + self.ttl * FENCE_FRACTION
                    self.owned[number] = Shard(number, self.keys.delivery(number), valid_until=valid)
                    changed = True
        return changed

    def unready(self) -> list[Shard]:
        """Owned shards whose pending entries are not claimed yet (taken just now, or a claim that failed)."""
        return [s for s in self.owned.values() if not s.ready]

    async def release_all(self, drop: Callable[[int], None]) -> None:
        """Give every shard up (a dispatcher stopping cleanly): the others take them at once."""
        for number in list(self.owned):
            self._forget(number, drop)
            try:
                await self.store.release(number, self.id)
            except RedisError:
                pass  # it lapses after the lease time

    def _forget(self, number: int, drop: Callable[[int], None]) -> None:
        self.owned.pop(number, None)
        drop(number)
