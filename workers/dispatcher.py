"""The dispatcher process: delivers the events of chat-bound tasks to their chat platform, effectively once.

Events of tasks with a chat binding are also written to one of N delivery shard streams (``Keys.delivery``;
``shard = crc32(session) % N``). Dispatcher processes share the shards; this module puts together the parts
that do the work (workers/dispatch/, one job each; docs/dispatcher.md):

* ``ShardLeases`` (shards): which shards this dispatcher owns, renewed every third of the lease time;
* ``ShardReader`` (reader): their entries, pending ones first, into per-session lanes;
* ``Lanes`` (lanes): each session's entries in order, in batches, acked once recorded;
* ``Reconciler`` (reconcile) and ``ChatCalls`` (calls): the batch folded into task views and the chat
  brought up to date, paced per channel, with rate limits, retries and recovery after a crash;
* ``ApprovalClock`` (graphgate/core/approvalclock.py): reminders, escalations and timeouts of routed
  questions, every ``GRAPHGATE_APPROVAL_TICK_SECONDS`` (every dispatcher runs it; each change is a
  compare-and-set, so a due question is acted on once); with it, cancelled runs whose worker vanished are
  ended as soon as their lease lapses.

Stopping (``stop`` set, SIGTERM) is clean: batches in flight finish and the shards are released for the
others to take at once. Cancelling ``Dispatcher.run`` is a crash: nothing is released or acked, the leases
lapse and the entries stay pending for the next owner.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import time
import uuid
from collections.abc import Mapping
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from graphgate.core import connections
from graphgate.core.approvalclock import ApprovalClock
from graphgate.core.keys import Keys
from graphgate.core.platform import PlatformFactory, PlatformRegistry
from graphgate.core.queue import broker_connection, enqueue_run_async, enqueue_webhook_async, queue_depths
from graphgate.core.registry import GraphRegistry, load_approvals
from graphgate.core.settings import Settings
from graphgate.core.tasks import TaskService
from graphgate.workers.deliverystore import DeliveryStore
from graphgate.workers.dispatch.calls import ChatCalls
from graphgate.workers.dispatch.faults import Faults, faults_from_settings
from graphgate.workers.dispatch.lanes import Lanes
from graphgate.workers.dispatch.reader import DeliveryEntry, ShardReader
from graphgate.workers.dispatch.reconcile import Reconciler
from graphgate.workers.dispatch.shards import ShardLeases, ShardLost
from graphgate.workers.dispatch.stats import Stats
from graphgate.workers.dispatch.targets import Targets
from graphgate.workers.pacer import Clock, Pacer, Sleep

__all__ = ["DeliveryEntry", "Dispatcher", "ShardLost", "main", "serve"]

log = logging.getLogger("graphgate.dispatcher")

STOP_GRACE_SECONDS = 10.0  # how long a stopping dispatcher lets its batches in flight finish


class Dispatcher:
    """One dispatcher: owns a fair share of the delivery shards and delivers their entries.

    ``clock`` and ``sleep`` time the chat side (pacing, Retry-After, back-offs): tests pass a fake clock.
    Shard leases always run on real time, as Redis's TTLs do. ``faults`` defaults to what the settings ask
    (the inert ``Faults`` in production).
    """

    def __init__(
        self,
        settings: Settings,
        redis: aioredis.Redis,
        platforms: PlatformRegistry,
        dispatcher_id: str | None = None,
        *,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        faults: Faults | None = None,
        clock_service: ApprovalClock | None = None,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.platforms = platforms
        self.id = dispatcher_id or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        keys = Keys.of(settings)
        self.store = DeliveryStore(redis, settings)
        self._broker: Any = None  # a kombu connection to the broker, for the run queues' depth (``_backlog``)
        self.stats = Stats()
        self.pacer = Pacer(settings.dispatcher_channel_interval, clock=clock, sleep=sleep)
        self.faults = faults if faults is not None else faults_from_settings(settings)
        self.targets = Targets(self.store, platforms)
        self.leases = ShardLeases(
            self.store, keys, self.id, settings.delivery_shards, max(1.0, settings.dispatcher_lease_seconds)
        )
        calls = ChatCalls(self.store, self.pacer, self.stats, self.faults)
        reconciler = Reconciler(self.store, self.targets, calls, self.faults, self.stats)
        self.lanes = Lanes(
            redis, keys, self.store, self.leases, self.targets, reconciler, self.pacer, self.stats, sleep
        )
        self.reader = ShardReader(
            redis, self.leases, self.lanes.route, lambda: self.lanes.buffered, per_shard=settings.redis_cluster
        )
        self.clock = clock_service

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; then finish the batches in flight and give the shards up."""
        log.info("dispatcher %s starting (%d shards, lease %.0fs)", self.id, self.leases.count, self.leases.ttl)
        balance = asyncio.create_task(self._balance_loop(), name="balance")
        reader = asyncio.create_task(self.reader.run(), name="read")
        clock = asyncio.create_task(self._clock_loop(), name="approval-clock")
        for task in (balance, reader, clock):
            task.add_done_callback(_report_death)
        try:
            await stop.wait()
        except asyncio.CancelledError:  # a crash: leave everything as it is for the next owner
            for task in (reader, balance, clock, *self.lanes.running()):
                task.cancel()
            raise
        clock.cancel()
        self.leases.stopping = True
        reader.cancel()
        await asyncio.gather(reader, return_exceptions=True)
        running = self.lanes.running()
        if running:
            await asyncio.wait(running, timeout=STOP_GRACE_SECONDS)
        balance.cancel()
        await asyncio.gather(balance, return_exceptions=True)
        await self.leases.release_all(self.lanes.drop_shard)
        try:
            await self.store.leave(self.id)
        except RedisError:
            pass
        await self.platforms.close()
        if self._broker is not None:
            self._broker.release()
        log.info("dispatcher %s stopped: %s", self.id, self.stats)

    async def _clock_loop(self) -> None:
        """Reminders, escalations and timeouts of routed questions (graphgate/core/approvalclock.py), and the
        cancelled runs whose worker vanished, ended once their lease lapsed (``TaskService.sweep_cancels``)."""
        if self.clock is None:
            return
        while True:
            try:
                await self.clock.tick()
                ended = await self.clock.service.sweep_cancels()
                if ended:
                    log.info("dispatcher %s: ended %d cancelled run(s) whose worker is gone", self.id, ended)
                again = await self.clock.service.republish(backlog=await self._backlog())
                if again:
                    log.warning("dispatcher %s: published %d run(s) again whose message was lost", self.id, again)
            except RedisError as exc:
                log.warning("dispatcher %s: clock: redis unavailable (%s); retrying", self.id, exc)
            await asyncio.sleep(max(0.05, self.settings.approval_tick_seconds))

    async def _backlog(self) -> int:
        """Run messages waiting in the run queues, asked of the broker (Redis or RabbitMQ): while any wait, a
        lost one may be among them and nothing is republished. A broker that cannot be asked counts as one."""
        try:
            if self._broker is None:
                self._broker = broker_connection(self.settings)
            depths = await asyncio.to_thread(queue_depths, self.settings, self._broker)
        except Exception as exc:  # kombu's and the transports' errors alike
            log.warning("dispatcher %s: the broker did not say how many runs wait (%s)", self.id, exc)
            if self._broker is not None:
                self._broker.release()
                self._broker = None
            return 1
        return sum(depths.values())

    async def _balance_loop(self) -> None:
        announce = False  # the owned shards changed: log them once they are all claimed
        while True:
            try:
                announce = await self.leases.balance(busy=self.lanes.busy, drop=self.lanes.drop_shard) or announce
                for shard in self.leases.unready():  # taken just now, or a claim that failed before
                    await self.reader.claim(shard)
                if announce:
                    log.info("dispatcher %s owns shards %s", self.id, sorted(self.leases.owned))
                    announce = False
            except RedisError as exc:
                log.warning("dispatcher %s: redis unavailable (%s); retrying", self.id, exc)
            self.lanes.sweep()
            self.targets.trim()
            self.pacer.forget_idle()
            await asyncio.sleep(self.leases.ttl / 3)


async def serve(settings: Settings, platforms: Mapping[str, PlatformFactory]) -> None:
    """Run one dispatcher, delivering to ``platforms`` (name -> factory), until SIGTERM or SIGINT."""
    redis = connections.async_client(settings, decode_responses=True, health_check_interval=30)
    # the approval clock answers timed-out questions (and queues their runs): a task service on the policies alone
    policies = GraphRegistry(config_path=None, approvals=load_approvals(settings.config, settings.approvals_file))
    clock = ApprovalClock(TaskService(redis, settings, enqueue_run_async, policies, enqueue_webhook_async))
    dispatcher = Dispatcher(settings, redis, PlatformRegistry(settings, platforms), clock_service=clock)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await dispatcher.run(stop)
    finally:
        await redis.aclose()


def main(settings: Settings, platforms: Mapping[str, PlatformFactory]) -> int:
    """``graphgate dispatcher``."""
    asyncio.run(serve(settings, platforms))
    return 0


def _report_death(task: asyncio.Task[None]) -> None:
    """A loop of the dispatcher that ended by an error (none should): said at once, not when it is collected."""
    if not task.cancelled() and task.exception() is not None:
        log.error("dispatcher loop %s died", task.get_name(), exc_info=task.exception())
