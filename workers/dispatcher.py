"""The dispatcher: delivers the events of chat-bound tasks to their chat platform, effectively once.

Events of tasks with a chat binding are also written to one of N delivery shard streams (``Keys.delivery``;
``shard = crc32(session) % N``). Dispatcher processes share the shards:

* **Ownership.** Each shard is owned by one dispatcher at a time through a lease (``Keys.delivery_owner``)
  renewed every third of its TTL. Every dispatcher heartbeats into ``Keys.dispatchers`` and holds about
  ``ceil(N / live dispatchers)`` shards: a newcomer takes free shards, an owner above its share drains
  and releases the extra ones. A dead dispatcher's leases expire and others take its shards.
* **Reading.** One consumer group (``dispatchers``) per shard stream. Taking a shard, a dispatcher first
  claims the entries still pending there (``XAUTOCLAIM``, whoever read them before), then reads new ones.
* **Order.** Entries go to one lane per session; a lane delivers its session's events strictly in order,
  lanes run concurrently.
* **Coalescing and pacing.** A lane waits until its channel may take a call, then takes everything queued
  for the session at once, folds it into each task's ``TaskView`` and reconciles the platform's messages
  with the new view (workers/delivery.py). Progress and streamed text therefore become a few edits, about
  one call per ``dispatcher_channel_interval`` seconds per channel (``Pacer``).
* **Effectively once.** Platform message ids are recorded right after each accepted call, the views and
  the last applied session entry id after the batch, and only then are the entries acked. A redelivered
  entry at or before the recorded id is acked without a call; a post that was in flight when a dispatcher
  died is looked up on the platform (``Platform.find``) before it is posted again.
* **Failures.** Rate limits are waited out (the channel is held for Retry-After), transient errors retried
  with back-off, permanent ones end the task's delivery with a ``delivery.failed`` event on its session.

Fault injection for tests: ``GRAPHGATE_DISPATCHER_CRASH_AFTER_POST=<event type>`` makes the process SIGKILL
itself when it delivers a batch holding an event of that type: right after the platform accepted the
batch's last new message and before its id is recorded (or, when the batch posts nothing new, after the
batch's last accepted call), so always between a platform call and the ack.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
import socket
import time
import uuid
import zlib
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from gateway.events import TERMINAL_EVENTS, DeserializationError, Event, deserialize_event
from gateway.keys import Keys
from gateway.settings import Settings
from workers.delivery import (
    Binding,
    Message,
    MessageGone,
    PermanentError,
    Platform,
    PlatformRegistry,
    Posted,
    RateLimited,
    Tag,
    TransientError,
)
from workers.deliverystore import DeliveryStore, SessionDelivery, TaskInfo
from workers.pacer import Pacer
from workers.taskview import TaskView

log = logging.getLogger("graphgate.dispatcher")

GROUP = "dispatchers"  # the consumer group on every delivery shard stream
READ_COUNT = 200  # entries per XREADGROUP / XAUTOCLAIM call
READ_BLOCK_MS = 1000
MAX_BUFFERED = 20_000  # entries read but not yet acked, across lanes; reading pauses above it
MAX_CONCURRENT_BATCHES = 64  # lanes delivering at the same time
LANE_IDLE_SECONDS = 120.0  # an idle lane (and its cached state) is dropped after this long
INFO_CACHE_SIZE = 10_000
MAX_BACKOFF_SECONDS = 30.0
MAX_EDIT_STEPS = 16  # platform calls to bring one message up to date (a stream: append, stop, update)

T = TypeVar("T")


class LeaseLost(Exception):
    """The shard's lease lapsed or moved: stop delivering its entries (they stay pending for the owner)."""


@dataclass
class Entry:
    """One delivery shard entry: a session event to deliver."""

    shard: int
    entry_id: str  # id in the shard stream (what is acked)
    session_id: str
    event_id: str  # id in the session stream (what dedupes)
    event: Event | None  # None when the entry could not be read; it is acked and skipped


@dataclass
class Shard:
    number: int
    key: str
    valid_until: float = 0.0  # monotonic time the lease is surely still ours until
    ready: bool = False  # its pending entries are claimed: new ones may be read
    draining: bool = False  # above our fair share: read nothing new, release when the lanes are idle
    drain_deadline: float = 0.0


@dataclass
class Lane:
    """The delivery of one session's entries, in order."""

    session_id: str
    shard: int
    queue: deque[Entry] = field(default_factory=deque)
    task: asyncio.Task[None] | None = None
    state: SessionDelivery | None = None
    inflight: int = 0  # entries taken from the queue and not yet acked
    last_active: float = field(default_factory=time.monotonic)

    @property
    def busy(self) -> bool:
        return bool(self.queue) or (self.task is not None and not self.task.done())


@dataclass
class Stats:
    calls: int = 0
    posts: int = 0
    edits: int = 0
    rate_limited: int = 0
    retried: int = 0
    skipped_entries: int = 0  # redelivered entries already applied
    failures: int = 0


def parse_entry(shard: int, entry_id: str, fields: dict[str, str]) -> Entry:
    session_id, event_id = fields.get("sid", ""), fields.get("eid", "")
    try:
        event: Event | None = deserialize_event(event_id, fields.get("e", ""))
    except DeserializationError:
        log.warning("shard %d entry %s is not an event; skipping it", shard, entry_id)
        event = None
    return Entry(shard, entry_id, session_id, event_id, event)


class Dispatcher:
    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        platforms: PlatformRegistry,
        dispatcher_id: str | None = None,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.platforms = platforms
        self.keys = Keys(settings.key_prefix)
        self.store = DeliveryStore(redis, settings)
        self.id = dispatcher_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self.lease_ttl = max(1.0, settings.dispatcher_lease_seconds)
        self.pacer = Pacer(settings.dispatcher_channel_interval)
        self.shards: dict[int, Shard] = {}
        self.lanes: dict[str, Lane] = {}
        self.stats = Stats()
        self._infos: dict[tuple[str, str], TaskInfo | None] = {}
        self._batches = asyncio.Semaphore(MAX_CONCURRENT_BATCHES)
        self._stopping = False
        self._crash_type = (settings.dispatcher_crash_after_post or "").strip() or None

    @property
    def buffered(self) -> int:
        """Entries read and not yet acked, over all lanes."""
        return sum(len(lane.queue) + lane.inflight for lane in self.lanes.values())

    # --- process life ---------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then finish the batches in flight and give the shards up."""
        log.info("dispatcher %s starting (%d shards, lease %.0fs)", self.id, self.settings.delivery_shards, self.lease_ttl)
        if self._crash_type:
            log.warning("FAULT INJECTION: will SIGKILL itself after a post for %r", self._crash_type)
        balance = asyncio.create_task(self._balance_loop(), name="balance")
        reader = asyncio.create_task(self._read_loop(), name="read")
        try:
            await stop.wait()
        finally:
            self._stopping = True
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)
            running = [lane.task for lane in self.lanes.values() if lane.task and not lane.task.done()]
            if running:
                await asyncio.wait(running, timeout=10)
            balance.cancel()
            await asyncio.gather(balance, return_exceptions=True)
            for lane in self.lanes.values():
                if lane.task and not lane.task.done():
                    lane.task.cancel()
            for number in list(self.shards):
                try:
                    await self.store.release(number, self.id)
                except RedisError:
                    pass
            try:
                await self.store.leave(self.id)
            except RedisError:
                pass
            await self.platforms.close()
            log.info("dispatcher %s stopped: %s", self.id, self.stats)

    # --- shard ownership ------------------------------------------------------------------------------

    async def _balance_loop(self) -> None:
        interval = self.lease_ttl / 3
        while True:
            try:
                await self._balance()
            except RedisError as exc:
                log.warning("dispatcher %s: redis unavailable (%s); retrying", self.id, exc)
            self._sweep_lanes()
            await asyncio.sleep(interval)

    async def _balance(self) -> None:
        n = self.settings.delivery_shards
        live = await self.store.heartbeat(self.id, self.lease_ttl)
        target = math.ceil(n / live)
        changed = False
        for number, shard in list(self.shards.items()):
            started = time.monotonic()
            if await self.store.renew(number, self.id, self.lease_ttl):
                shard.valid_until = started + self.lease_ttl * 0.8
            else:
                log.warning("dispatcher %s lost shard %d", self.id, number)
                self._drop_shard(number)
                changed = True
        active = [s for s in self.shards.values() if not s.draining]
        if len(active) > target:
            for shard in sorted(active, key=lambda s: -s.number)[: len(active) - target]:
                shard.draining, shard.drain_deadline = True, time.monotonic() + self.lease_ttl
                log.info("dispatcher %s hands shard %d over (fair share %d)", self.id, shard.number, target)
        for number, shard in list(self.shards.items()):
            if shard.draining:
                idle = not any(l.busy for l in self.lanes.values() if l.shard == number)
                if idle or time.monotonic() > shard.drain_deadline:
                    self._drop_shard(number)
                    await self.store.release(number, self.id)
                    changed = True
        if len(self.shards) < target and not self._stopping:
            start = zlib.crc32(self.id.encode())
            for i in range(n):
                number = (start + i) % n
                if len(self.shards) >= target:
                    break
                if number in self.shards:
                    continue
                started = time.monotonic()
                if await self.store.acquire(number, self.id, self.lease_ttl):
                    try:
                        await self._adopt(number, started)
                    except RedisError:
                        self._drop_shard(number)
                        raise
                    changed = True
        if changed:
            log.info("dispatcher %s owns shards %s", self.id, sorted(self.shards))

    async def _adopt(self, number: int, lease_started: float) -> None:
        """Take over a shard: make sure its group exists, claim what is pending there, then read it."""
        key = self.keys.delivery(number)
        try:
            await self.redis.xgroup_create(key, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        shard = self.shards[number] = Shard(number, key, valid_until=lease_started + self.lease_ttl * 0.8)
        claimed = 0
        start = "0-0"
        while True:
            reply = await self.redis.xautoclaim(key, GROUP, self.id, min_idle_time=0, start_id=start, count=READ_COUNT)
            next_start, entries = reply[0], reply[1]
            for entry_id, fields in entries:
                if fields:
                    self._route(parse_entry(number, entry_id, fields))
                    claimed += 1
            if next_start in ("0-0", b"0-0"):
                break
            start = next_start
        shard.ready = True  # pending (older) entries are queued first, so lanes keep stream order
        if claimed:
            log.info("dispatcher %s claimed %d pending entries of shard %d", self.id, claimed, number)
        await self._forget_dead_consumers(key)

    async def _forget_dead_consumers(self, key: str) -> None:
        """Remove consumers of the group that hold nothing and were idle for long (dead dispatchers)."""
        try:
            consumers = await self.redis.xinfo_consumers(key, GROUP)
        except RedisError:
            return
        for c in consumers:
            name = c.get("name")
            if name != self.id and int(c.get("pending", 0)) == 0 and int(c.get("idle", 0)) > self.lease_ttl * 20_000:
                await self.redis.xgroup_delconsumer(key, GROUP, name)

    def _drop_shard(self, number: int) -> None:
        """Stop everything for a shard: its unacked entries stay pending in Redis for the next owner."""
        self.shards.pop(number, None)
        for sid, lane in list(self.lanes.items()):
            if lane.shard == number:
                if lane.task and not lane.task.done():
                    lane.task.cancel()
                del self.lanes[sid]

    def _check_lease(self, number: int) -> None:
        shard = self.shards.get(number)
        if shard is None or time.monotonic() > shard.valid_until:
            raise LeaseLost(f"shard {number}")

    # --- reading --------------------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        while True:
            readable = {s.key: s.number for s in self.shards.values() if s.ready and not s.draining}
            if not readable or self.buffered >= MAX_BUFFERED:
                await asyncio.sleep(0.05 if readable else 0.2)
                continue
            try:
                reply = await self.redis.xreadgroup(
                    GROUP, self.id, {key: ">" for key in readable}, count=READ_COUNT, block=READ_BLOCK_MS
                )
            except ResponseError as exc:
                if "NOGROUP" in str(exc):  # the stream was deleted; the next adoption recreates the group
                    await asyncio.sleep(0.5)
                    continue
                raise
            except RedisError as exc:
                log.warning("dispatcher %s: read failed (%s); retrying", self.id, exc)
                await asyncio.sleep(1.0)
                continue
            for stream_key, entries in reply or []:
                number = readable.get(stream_key)
                if number is None or number not in self.shards:
                    continue  # lost meanwhile: the entries stay pending for the owner
                for entry_id, fields in entries:
                    self._route(parse_entry(number, entry_id, fields))

    def _route(self, entry: Entry) -> None:
        lane = self.lanes.get(entry.session_id)
        if lane is None or lane.shard != entry.shard:
            lane = self.lanes[entry.session_id] = Lane(entry.session_id, entry.shard)
        lane.queue.append(entry)
        lane.last_active = time.monotonic()
        if lane.task is None or lane.task.done():
            lane.task = asyncio.create_task(self._run_lane(lane), name=f"lane-{entry.session_id[:40]}")

    def _sweep_lanes(self) -> None:
        cutoff = time.monotonic() - LANE_IDLE_SECONDS
        for sid, lane in list(self.lanes.items()):
            if not lane.busy and lane.last_active < cutoff:
                del self.lanes[sid]
        if len(self._infos) > INFO_CACHE_SIZE:
            self._infos.clear()
        self.pacer.forget_idle()

    # --- one session's lane ---------------------------------------------------------------------------

    async def _run_lane(self, lane: Lane) -> None:
        failures = 0
        while lane.queue:
            batch: list[Entry] = []
            try:
                self._check_lease(lane.shard)
                if lane.state is None:
                    lane.state = await self.store.load(lane.session_id)
                channel = await self._channel_of(lane.queue[0])
                if channel:
                    await self.pacer.until_free(channel)  # let events pile up while the channel is busy
                self._check_lease(lane.shard)
                batch = list(lane.queue)
                lane.queue.clear()
                lane.inflight = len(batch)
                async with self._batches:
                    await self._deliver(lane, batch)
                await self.redis.xack(self.keys.delivery(lane.shard), GROUP, *[e.entry_id for e in batch])
                lane.inflight = 0
                lane.last_active = time.monotonic()
                failures = 0
            except LeaseLost:
                lane.inflight = 0
                lane.queue.extendleft(reversed(batch))
                lane.state = None
                if lane.shard not in self.shards:
                    return  # _drop_shard cleans up; the entries stay pending for the next owner
                await asyncio.sleep(0.5)  # the lease is being renewed late; go on once it is
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away, a bug in a renderer...: retry the batch from saved state
                failures += 1
                lane.inflight = 0
                lane.queue.extendleft(reversed(batch))
                lane.state = None
                delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** min(failures, 6))
                log.error("dispatcher %s: delivery for session %s failed (%s); retrying in %.1fs",
                          self.id, lane.session_id, exc, delay, exc_info=failures == 1)
                await asyncio.sleep(delay)

    async def _info(self, session_id: str, task_id: str) -> TaskInfo | None:
        key = (session_id, task_id)
        if key not in self._infos:
            self._infos[key] = await self.store.task_info(session_id, task_id)
        return self._infos[key]

    async def _target(self, session_id: str, task_id: str) -> tuple[Platform | None, Binding | None]:
        info = await self._info(session_id, task_id)
        binding = info.binding if info else None
        if not binding:
            return None, None
        return self.platforms.get(str(binding.get("platform", ""))), binding

    async def _channel_of(self, entry: Entry) -> str | None:
        if entry.event is None:
            return None
        platform, binding = await self._target(entry.session_id, entry.event.task_id)
        return platform.channel_key(binding) if platform and binding else None

    async def _deliver(self, lane: Lane, batch: list[Entry]) -> None:
        """Apply the batch's new events to the task views, bring the chat up to date, record it all."""
        state = lane.state
        assert state is not None
        fresh = [e for e in batch if e.event is not None and state.is_new(e.event_id)]
        self.stats.skipped_entries += len(batch) - len(fresh)
        if not fresh:
            return
        touched: dict[str, Entry] = {}  # task -> its last entry in the batch
        finished: set[str] = set()
        for entry in fresh:
            event = entry.event
            assert event is not None
            view = state.views.get(event.task_id)
            if view is None:
                info = await self._info(entry.session_id, event.task_id)
                view = state.views[event.task_id] = TaskView(event.task_id, graph=info.graph if info else "")
            view.apply(event)
            touched[event.task_id] = entry
            if event.type in TERMINAL_EVENTS:
                finished.add(event.task_id)
        crash = self._crash_type is not None and any(e.event and e.event.type.value == self._crash_type for e in fresh)
        calls_before = self.stats.calls
        for task_id, entry in touched.items():
            if task_id in state.failed:
                continue
            platform, binding = await self._target(entry.session_id, task_id)
            if binding is None:
                continue  # not chat-bound (or the record expired): nothing to show anywhere
            if platform is None:
                await self._fail(state, task_id, str(binding.get("platform")), "platform_unavailable",
                                 "this dispatcher has no configured platform for the binding")
                continue
            try:
                await self._reconcile(lane, platform, binding, state, state.views[task_id], entry, crash)
            except PermanentError as exc:
                await self._fail(state, task_id, platform.name, exc.code, str(exc))
        if crash and self.stats.calls > calls_before:
            self._crash("after the batch's last accepted call")
        state.last_eid = fresh[-1].event_id
        await self.store.save_progress(state, set(touched), finished)
        for task_id in finished:
            self._infos.pop((lane.session_id, task_id), None)

    async def _fail(self, state: SessionDelivery, task_id: str, platform: str, code: str, detail: str) -> None:
        self.stats.failures += 1
        state.failed[task_id] = code
        log.warning("delivery of task %s to %s failed for good: %s", task_id, platform, detail or code)
        await self.store.record_failure(state.session_id, task_id, platform, code, detail)

    async def _reconcile(
        self,
        lane: Lane,
        platform: Platform,
        binding: Binding,
        state: SessionDelivery,
        view: TaskView,
        entry: Entry,
        crash: bool,
    ) -> None:
        """Make the chat show what the view says: post missing slots, edit changed ones."""
        task_id = view.task_id
        slots = state.slots(task_id)
        channel = platform.channel_key(binding)
        messages = platform.render(view, binding)
        new = [m.slot for m in messages if not (slots.get(m.slot) and slots[m.slot].id)]
        last_new = new[-1] if new else None  # the fault injection fires after this one's post
        for message in messages:
            tag = Tag(task_id, message.slot, entry.event_id)
            posted = slots.get(message.slot)
            if posted is not None and not posted.id:  # a post was in flight when a dispatcher stopped
                found = await self._call(lane, channel, lambda: platform.find(binding, tag), paced=False)
                posted = slots[message.slot] = found if found else Posted("")
                if found:
                    log.info("task %s: found %s posted before a restart (%s)", task_id, message.slot, found.id)
                    await self.store.save_posted(state, task_id)
            if posted is not None and posted.id:
                try:
                    await self._edit(lane, platform, binding, state, message, tag, channel)
                    continue
                except MessageGone:
                    log.info("task %s: %s was deleted in the chat; posting it again", task_id, message.slot)
            await self._post(lane, platform, binding, state, message, tag, channel, crash and message.slot == last_new)
            await self._edit(lane, platform, binding, state, message, tag, channel)  # when the post was partial

    async def _edit(
        self,
        lane: Lane,
        platform: Platform,
        binding: Binding,
        state: SessionDelivery,
        message: Message,
        tag: Tag,
        channel: str,
    ) -> None:
        """Edit until the platform says the message shows ``message`` (one paced call per step)."""
        slots = state.slots(tag.task_id)
        for _ in range(MAX_EDIT_STEPS):
            posted = slots[message.slot]
            if posted.digest == message.digest:
                return
            updated = await self._call(lane, channel, lambda: platform.edit(binding, posted, message, tag))
            self.stats.edits += 1
            updated.digest = updated.digest or message.digest
            slots[message.slot] = updated
            await self.store.save_posted(state, tag.task_id)
        log.warning("task %s: %s still not up to date after %d edits", tag.task_id, message.slot, MAX_EDIT_STEPS)

    async def _post(
        self,
        lane: Lane,
        platform: Platform,
        binding: Binding,
        state: SessionDelivery,
        message: Message,
        tag: Tag,
        channel: str,
        crash: bool,
    ) -> None:
        slots = state.slots(tag.task_id)
        slots[message.slot] = Posted("")  # in flight: after a crash, look for it before posting again
        await self.store.save_posted(state, tag.task_id)
        posted = await self._call(lane, channel, lambda: platform.post(binding, message, tag))
        self.stats.posts += 1
        if crash:
            self._crash(f"after posting {message.slot} of task {tag.task_id}")
        posted.digest = posted.digest or message.digest  # a platform may mark a partial post to edit again
        slots[message.slot] = posted
        await self.store.save_posted(state, tag.task_id)

    async def _call(self, lane: Lane, channel: str, fn: Callable[[], Awaitable[T]], paced: bool = True) -> T:
        """One platform call: paced per channel, rate limits waited out, transient errors retried."""
        attempt = 0
        while True:
            self._check_lease(lane.shard)
            if paced:
                await self.pacer.turn(channel)
            else:
                await self.pacer.until_free(channel)
            self._check_lease(lane.shard)
            try:
                result = await fn()
                self.stats.calls += 1
                return result
            except RateLimited as exc:
                self.stats.rate_limited += 1
                self.pacer.hold(channel, exc.retry_after)
                log.warning("channel %s rate limited; waiting %.1fs", channel, exc.retry_after)
            except TransientError as exc:
                attempt += 1
                self.stats.retried += 1
                delay = min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** min(attempt, 6))
                self.pacer.hold(channel, delay)
                log.warning("channel %s: %s; retry %d in %.1fs", channel, exc, attempt, delay)

    def _crash(self, where: str) -> None:
        log.critical("FAULT INJECTION: SIGKILL %s", where)
        for handler in logging.getLogger().handlers:
            handler.flush()
        os.kill(os.getpid(), signal.SIGKILL)


async def serve(settings: Settings) -> None:
    """Run one dispatcher until SIGTERM or SIGINT."""
    redis = aioredis.Redis.from_url(settings.redis_url, decode_responses=True, health_check_interval=30)
    dispatcher = Dispatcher(settings, redis, PlatformRegistry(settings))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await dispatcher.run(stop)
    finally:
        await redis.aclose()


def main(settings: Settings) -> int:
    """``graphgate dispatcher``."""
    asyncio.run(serve(settings))
    return 0
