"""In-process doubles for testing the dispatcher against a real Redis: a fake clock, an in-memory chat
platform that fails on request, and a harness that feeds shard entries and runs dispatchers in this loop."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from graphgate.core import connections
from graphgate.core.events import Event, EventType, deserialize_event, serialize_event
from graphgate.core.keys import Keys, delivery_shard
from graphgate.core.platform import (
    Binding,
    Message,
    Platform,
    PlatformRegistry,
    Posted,
    Tag,
)
from graphgate.core.settings import Settings
from graphgate.core.taskview import TaskView
from graphgate.testing.clock import FakeClock
from graphgate.testing.stack import cluster_settings
from graphgate.workers.dispatch.faults import Faults
from graphgate.workers.dispatcher import Dispatcher

T = TypeVar("T")


@dataclass
class Call:
    at: float  # the fake clock's time of the call
    method: str  # post | edit | find
    task_id: str
    slot: str
    text: str = ""
    ok: bool = True  # False when the call raised


@dataclass
class Failure:
    method: str
    error: Callable[[], Exception]
    times: int
    slot: str | None = None  # None: any slot


@dataclass
class Shown:
    """A message as the fake chat shows it."""

    id: str
    task_id: str
    slot: str
    text: str
    channel: str


class MemoryPlatform(Platform):
    """A chat platform in memory. ``render`` shows a status line and, once the task completed, its answer;
    a view whose activity is ``"poison"`` makes ``render`` raise (a renderer bug), and so does each error
    queued in ``render_errors``."""

    name = "mem"

    def __init__(self, clock: Callable[[], float] = time.monotonic, findable: bool = True) -> None:
        self.clock = clock
        self.findable = findable  # like Slack (message metadata); False is like Telegram
        self.calls: list[Call] = []
        self.messages: dict[str, Shown] = {}
        self.failures: list[Failure] = []
        self.render_errors: list[Exception] = []  # raised by the next renders, one each
        self.guard: Callable[[Tag], Awaitable[None]] | None = None  # runs before every call (a test's check)
        self.renders_failed = 0
        self._ids = 0

    def fail(self, method: str, error: Callable[[], Exception], times: int = 1, slot: str | None = None) -> None:
        """The next ``times`` ``method`` calls (of ``slot``) raise ``error()``."""
        self.failures.append(Failure(method, error, times, slot))

    def channel_key(self, binding: Binding) -> str:
        return str(binding["channel"])

    def render(self, view: TaskView, binding: Binding) -> list[Message]:
        if self.render_errors:
            self.renders_failed += 1
            raise self.render_errors.pop(0)
        if view.activity == "poison":
            self.renders_failed += 1
            raise ValueError("the renderer cannot show this")
        messages = [Message("status", {"text": f"{view.status} after {view.steps} steps"})]
        if view.final_text is not None:
            messages.append(Message("answer", {"text": view.final_text}, final=True))
        return messages

    async def _attempt(self, method: str, tag: Tag, text: str = "") -> None:
        if self.guard is not None:
            await self.guard(tag)
        for failure in self.failures:
            if failure.times > 0 and failure.method == method and failure.slot in (None, tag.slot):
                failure.times -= 1
                self.calls.append(Call(self.clock(), method, tag.task_id, tag.slot, text, ok=False))
                raise failure.error()
        self.calls.append(Call(self.clock(), method, tag.task_id, tag.slot, text))

    async def post(self, binding: Binding, message: Message, tag: Tag) -> Posted:
        await self._attempt("post", tag, message.body["text"])
        self._ids += 1
        shown = Shown(f"m{self._ids}", tag.task_id, tag.slot, message.body["text"], self.channel_key(binding))
        self.messages[shown.id] = shown
        return Posted(shown.id)

    async def edit(self, binding: Binding, posted: Posted, message: Message, tag: Tag) -> Posted:
        await self._attempt("edit", tag, message.body["text"])
        self.messages[posted.id].text = message.body["text"]
        return Posted(posted.id)

    async def find(self, binding: Binding, tag: Tag) -> Posted | None:
        await self._attempt("find", tag)
        if not self.findable:
            return None
        for shown in self.messages.values():
            if (shown.task_id, shown.slot) == (tag.task_id, tag.slot):
                return Posted(shown.id, digest="?")  # content unknown: the core edits it to be sure
        return None

    def shown(self, task_id: str, slot: str) -> list[Shown]:
        return [m for m in self.messages.values() if (m.task_id, m.slot) == (task_id, slot)]

    def posts(self) -> list[Call]:
        return [c for c in self.calls if c.method == "post" and c.ok]


class OnePlatform(PlatformRegistry):
    """A registry that knows one platform."""

    def __init__(self, settings: Settings, platform: Platform) -> None:
        super().__init__(settings, {platform.name: lambda _: platform})


class Killed(Faults):
    """Fault injection for in-process tests: ``armed`` like ``CrashAfterPost``, but ``crash`` cancels the
    dispatcher's ``run`` (a crash: nothing after the post is recorded or acked, no lease is released)."""

    def __init__(self, event_type: str) -> None:
        self.event_type = event_type
        self.run: asyncio.Task[None] | None = None
        self.fired = asyncio.Event()

    def armed(self, events: Any) -> bool:
        return not self.fired.is_set() and any(e.type.value == self.event_type for e in events)

    def crash(self, where: str) -> None:
        self.fired.set()
        assert self.run is not None
        self.run.cancel()
        raise asyncio.CancelledError(where)


@dataclass
class Running:
    dispatcher: Dispatcher
    stop: asyncio.Event
    task: asyncio.Task[None]


@dataclass
class Harness:
    """A private key prefix on the test Redis, entries fed as the task scripts write them, dispatchers run
    in this event loop."""

    redis: aioredis.Redis
    settings: Settings
    keys: Keys
    running: list[Running] = field(default_factory=list)

    def start(
        self, platform: Platform, clock: FakeClock | None = None, faults: Faults | None = None, name: str | None = None
    ) -> Running:
        extra: dict[str, Any] = {"clock": clock, "sleep": clock.sleep} if clock else {}
        dispatcher = Dispatcher(
            self.settings,
            self.redis,
            OnePlatform(self.settings, platform),
            name or f"d-{uuid.uuid4().hex[:6]}",
            faults=faults,
            **extra,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(dispatcher.run(stop))
        if isinstance(faults, Killed):
            faults.run = task
        running = Running(dispatcher, stop, task)
        self.running.append(running)
        return running

    async def stop(self, running: Running) -> None:
        running.stop.set()
        await asyncio.wait_for(asyncio.gather(running.task, return_exceptions=True), 15)

    async def kill(self, running: Running) -> None:
        running.task.cancel()
        await asyncio.gather(running.task, return_exceptions=True)

    async def bind(self, session_id: str, task_id: str, channel: str = "C1", platform: str = "mem") -> None:
        """The task record a connector writes: its chat binding and graph."""
        await self.redis.hset(
            self.keys.task(session_id, task_id),
            mapping={"binding": json.dumps({"platform": platform, "channel": channel}), "graph": "g"},
        )

    async def publish(self, session_id: str, task_id: str, kind: EventType, data: dict[str, Any] | None = None) -> str:
        """Write an event to the session stream and its delivery shard, as graphgate/core/scripts.py ``emit`` does."""
        payload = serialize_event(Event(kind, task_id, session_id, data or {}))
        eid = await self.redis.xadd(self.keys.events(session_id), {"e": payload})
        shard = delivery_shard(session_id, self.settings.delivery_shards)
        await self.redis.xadd(self.keys.delivery(shard), {"sid": session_id, "eid": eid, "e": payload})
        return str(eid)

    async def run_task(self, session_id: str, task_id: str, steps: int = 2, answer: str | None = None) -> None:
        """A task's events from queued to completed."""
        await self.publish(session_id, task_id, EventType.TASK_QUEUED, {"graph": "g", "position": 0})
        await self.publish(session_id, task_id, EventType.TASK_STARTED, {"run": 1, "attempt": 1})
        for i in range(steps):
            await self.publish(session_id, task_id, EventType.NODE_COMPLETED, {"node": f"n{i}"})
        await self.publish(
            session_id, task_id, EventType.TASK_COMPLETED, {"output": {}, "text": answer or f"answer of {task_id}"}
        )

    async def session_events(self, session_id: str) -> list[Event]:
        entries = await self.redis.xrange(self.keys.events(session_id))
        return [deserialize_event(entry_id, fields["e"]) for entry_id, fields in entries]

    async def pending(self) -> int:
        """Shard entries read by a dispatcher and not acked, over all shards."""
        total = 0
        for shard in range(self.settings.delivery_shards):
            try:
                total += int((await self.redis.xpending(self.keys.delivery(shard), "dispatchers"))["pending"])
            except ResponseError:
                pass  # no group yet
        return total

    async def unread(self) -> int:
        """Shard entries no dispatcher has read yet."""
        total = 0
        for shard in range(self.settings.delivery_shards):
            try:
                groups = await self.redis.xinfo_groups(self.keys.delivery(shard))
            except ResponseError:
                continue  # no stream yet
            total += sum(int(g.get("lag") or 0) for g in groups)
            if not groups:
                total += await self.redis.xlen(self.keys.delivery(shard))
        return total

    async def settled(self) -> bool:
        """Every entry written so far is read and acked."""
        return await self.unread() == 0 and await self.pending() == 0


@asynccontextmanager
async def harness(redis_url: str, **overrides: Any) -> AsyncIterator[Harness]:
    """A harness with its own key prefix; stops (cleanly) every dispatcher still running at the end."""
    values: dict[str, Any] = {
        "redis_url": redis_url,
        "key_prefix": f"t{uuid.uuid4().hex[:10]}",
        "delivery_shards": 2,
        "dispatcher_lease_seconds": 1.0,
        "dispatcher_channel_interval": 0.0,
        "dispatcher_crash_after_post": None,
    }
    values.update(cluster_settings())
    values.update(overrides)
    settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
    redis = connections.async_client(settings, decode_responses=True)
    h = Harness(redis, settings, Keys.of(settings))
    try:
        yield h
    finally:
        for running in h.running:
            if not running.task.done():
                await h.stop(running)
        await redis.aclose()


async def until(check: Callable[[], Awaitable[T] | T], timeout: float = 5.0, what: str = "condition") -> T:
    """Poll ``check`` (sync or async) until it returns something truthy, else fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what} ({timeout} s)")
        await asyncio.sleep(0.01)
