"""One lane per session: its entries delivered strictly in order, in batches, each acked once recorded.

Lanes run concurrently (up to ``MAX_CONCURRENT_BATCHES`` batches at once). A lane waits until its channel
may take a call (``Pacer.until_free``), then takes everything queued for the session at once, so events
that arrive while the channel is busy coalesce into few calls; workers/dispatch/reconcile.py delivers the
batch, and only then are its entries ``XACK``ed.

When a batch raises (a renderer bug, an error a platform did not sort into a ``DeliveryError`` kind...), the
lane reloads the recorded state and tries again after a back-off, then one entry at a time until it is past
the entries of the failed batch, so a bad entry is found alone. An entry that failed
``MAX_BATCH_ATTEMPTS`` times in a row is given up: its task's delivery ends with ``delivery.failed``
(error ``undeliverable``) and the entry is acked, so one poison entry never blocks its session. Losing the
shard's lease and Redis being away are not the entry's fault: they never count towards the cap.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ReadOnlyError
from redis.exceptions import TimeoutError as RedisTimeoutError

from graphgate.core.keys import DELIVERY_GROUP, Keys
from graphgate.workers.deliverystore import DeliveryStore, SessionDelivery
from graphgate.workers.dispatch.calls import backoff
from graphgate.workers.dispatch.reader import DeliveryEntry
from graphgate.workers.dispatch.reconcile import Reconciler
from graphgate.workers.dispatch.shards import ShardLeases, ShardLost
from graphgate.workers.dispatch.stats import Stats
from graphgate.workers.dispatch.targets import Targets
from graphgate.workers.pacer import Pacer, Sleep

log = logging.getLogger("graphgate.dispatcher")

MAX_CONCURRENT_BATCHES = 64  # lanes delivering at the same time
LANE_IDLE_SECONDS = 120.0  # an idle lane (and its cached state) is dropped after this long
# Failed batches in a row after which a lane gives its first entry up with delivery.failed. With the
# back-off of workers/dispatch/calls.py (1, 2, 4, 8, 16, 30, 30 s) that is about a minute and a half.
MAX_BATCH_ATTEMPTS = 8
OUTAGES = (RedisConnectionError, RedisTimeoutError, ReadOnlyError)  # Redis away or failing over: wait, never give up


@dataclass
class Lane:
    """The delivery of one session's entries, in order."""

    session_id: str
    shard: int
    queue: deque[DeliveryEntry] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    state: SessionDelivery | None = None  # the recorded state, loaded on the first batch; None after a failure
    inflight: int = 0  # entries taken from the queue and not yet acked
    last_active: float = field(default_factory=time.monotonic)
    failures: int = 0  # failed batches in a row
    singles: int = 0  # entries still to deliver one per batch (after a failed batch of that many)
    last_error: str = ""

    @property
    def busy(self) -> bool:
        return bool(self.queue) or (self.task is not None and not self.task.done())


class Lanes:
    """Every session lane of one dispatcher: routing entries to them and running them."""

    def __init__(
        self,
        redis: aioredis.Redis,
        keys: Keys,
        store: DeliveryStore,
        leases: ShardLeases,
        targets: Targets,
        reconciler: Reconciler,
        pacer: Pacer,
        stats: Stats,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.redis = redis
        self.keys = keys
        self.store = store
        self.leases = leases
        self.targets = targets
        self.reconciler = reconciler
        self.pacer = pacer
        self.stats = stats
        self.sleep = sleep  # back-offs after a failed batch (a test's fake clock skips them)
        self.lanes: dict[str, Lane] = {}
        self._batches = asyncio.Semaphore(MAX_CONCURRENT_BATCHES)

    @property
    def buffered(self) -> int:
        """Entries read and not yet acked, over all lanes."""
        return sum(len(lane.queue) + lane.inflight for lane in self.lanes.values())

    def route(self, entry: DeliveryEntry) -> None:
        """Queue the entry in its session's lane; start the lane if it is idle."""
        lane = self.lanes.get(entry.session_id)
        if lane is None or lane.shard != entry.shard:
            lane = self.lanes[entry.session_id] = Lane(entry.session_id, entry.shard)
        lane.queue.append(entry)
        lane.last_active = time.monotonic()
        if lane.task is None or lane.task.done():
            lane.task = asyncio.create_task(self._run(lane), name=f"lane-{entry.session_id[:40]}")

    def busy(self, shard: int) -> bool:
        """Whether a lane of the shard still has entries to deliver."""
        return any(lane.busy for lane in self.lanes.values() if lane.shard == shard)

    def drop_shard(self, shard: int) -> None:
        """Stop every lane of the shard: their unacked entries stay pending in Redis for the next owner."""
        for sid, lane in list(self.lanes.items()):
            if lane.shard == shard:
                if lane.task and not lane.task.done():
                    lane.task.cancel()
                del self.lanes[sid]

    def running(self) -> list[asyncio.Task[None]]:
        return [lane.task for lane in self.lanes.values() if lane.task and not lane.task.done()]

    def sweep(self) -> None:
        """Forget lanes idle for ``LANE_IDLE_SECONDS`` (their state is reloaded if the session speaks again)."""
        cutoff = time.monotonic() - LANE_IDLE_SECONDS
        for sid, lane in list(self.lanes.items()):
            if not lane.busy and lane.last_active < cutoff:
                del self.lanes[sid]

    async def _run(self, lane: Lane) -> None:
        while lane.queue:
            batch: list[DeliveryEntry] = []
            try:
                self.leases.check(lane.shard)
                if lane.state is None:
                    lane.state = await self.store.load(lane.session_id)
                if lane.failures >= MAX_BATCH_ATTEMPTS:
                    batch = [lane.queue.popleft()]
                    lane.inflight = 1
                    log.error(
                        "dispatcher %s: giving up entry %s of session %s after %d failed attempts",
                        self.leases.id,
                        batch[0].entry_id,
                        lane.session_id,
                        lane.failures,
                    )
                    await self.reconciler.give_up(lane.state, batch[0], lane.last_error)
                else:
                    channel = await self.targets.channel_of(lane.queue[0])
                    if channel:
                        await self.pacer.until_free(channel)  # let events pile up while the channel is busy
                    self.leases.check(lane.shard)
                    batch = self._take(lane)
                    async with self._batches:
                        await self.reconciler.deliver(lane.state, batch, lambda: self.leases.check(lane.shard))
                await self.redis.xack(self.keys.delivery(lane.shard), DELIVERY_GROUP, *[e.entry_id for e in batch])
                lane.inflight = 0
                lane.last_active = time.monotonic()
                lane.failures = 0
                lane.singles = max(0, lane.singles - len(batch))
            except ShardLost:
                self._put_back(lane, batch)
                if not self.leases.holds(lane.shard):
                    return  # drop_shard cleans up; the entries stay pending for the next owner
                await asyncio.sleep(0.5)  # the lease is being renewed late; go on once it is (real time)
            except asyncio.CancelledError:
                raise
            except OUTAGES as exc:
                self._put_back(lane, batch)
                log.warning(
                    "dispatcher %s: redis unavailable for session %s (%s); retrying",
                    self.leases.id,
                    lane.session_id,
                    exc,
                )
                await self.sleep(backoff(1))
            except Exception as exc:  # a bug in a renderer, an unsorted platform error...: retry from saved state
                self._put_back(lane, batch)
                lane.failures += 1
                lane.singles = max(lane.singles, len(batch))
                lane.last_error = f"{type(exc).__name__}: {exc}"
                self.stats.batch_errors += 1
                delay = backoff(lane.failures)
                log.error(
                    "dispatcher %s: delivery for session %s failed (%s, attempt %d of %d); retrying in %.1fs",
                    self.leases.id,
                    lane.session_id,
                    exc,
                    lane.failures,
                    MAX_BATCH_ATTEMPTS,
                    delay,
                    exc_info=lane.failures == 1,
                )
                if lane.failures < MAX_BATCH_ATTEMPTS:
                    await self.sleep(delay)

    @staticmethod
    def _take(lane: Lane) -> list[DeliveryEntry]:
        """The next batch: everything queued, or the first entry alone while looking for a bad one."""
        if lane.singles > 0:
            batch = [lane.queue.popleft()]
        else:
            batch = list(lane.queue)
            lane.queue.clear()
        lane.inflight = len(batch)
        return batch

    @staticmethod
    def _put_back(lane: Lane, batch: list[DeliveryEntry]) -> None:
        """Requeue the batch in front and forget the in-memory state: the next try starts from the record."""
        lane.inflight = 0
        lane.queue.extendleft(reversed(batch))
        lane.state = None
