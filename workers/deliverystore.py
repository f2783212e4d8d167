"""The dispatcher's Redis state: what was delivered per session, shard leases, and delivery failures.

Per session, one hash (``Keys.delivered``, same hash slot as the session) holds:

* ``eid``: the last session stream entry applied; a redelivered entry at or before it is acked unread;
* ``view:<task>``: the task's ``TaskView`` as of ``eid``;
* ``posted:<task>`` (and ``posted:<task>@<place>`` for each approvers' chat a question of it went to): slot -> ``Posted`` (platform message id, content digest), written right after each
  accepted call and before anything is acked; a slot with an empty id is a post in flight;
* ``failed:<task>``: the platform error that ended the task's delivery.

Shard ownership is a lease per shard (``Keys.delivery_owner``): a dispatcher id with a TTL, renewed by its
owner with the same scripts as a task's run lease (graphgate/core/scripts.py); live dispatchers announce
themselves in ``Keys.dispatchers`` so each can take a fair share.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis

from graphgate.core import scripts
from graphgate.core.events import Event, EventType, parse_id, serialize_event
from graphgate.core.keys import Keys
from graphgate.core.platform import Posted
from graphgate.core.settings import Settings
from graphgate.core.taskview import TaskView


@dataclass
class SessionDelivery:
    """The delivery state of one session, as loaded from and saved to its hash."""

    session_id: str
    last_eid: str = "0-0"
    views: dict[str, TaskView] = field(default_factory=dict)
    posted: dict[str, dict[str, Posted]] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def is_new(self, eid: str) -> bool:
        """True when the session entry ``eid`` comes after everything already applied."""
        return parse_id(eid) > parse_id(self.last_eid)

    def slots(self, task_id: str) -> dict[str, Posted]:
        return self.posted.setdefault(task_id, {})


@dataclass(frozen=True)
class TaskInfo:
    """What the dispatcher reads of a task record: where it is delivered and which graph runs it."""

    binding: dict[str, Any] | None
    graph: str


class DeliveryStore:
    """The dispatcher's reads and writes of its Redis state; no delivery logic."""

    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.keys = Keys.of(settings)
        # the same lease scripts as a task's run lease; the token is the dispatcher id
        self._renew = redis.register_script(scripts.RENEW_LEASE)
        self._release = redis.register_script(scripts.RELEASE_LEASE)

    # --- per-session delivery state -----------------------------------------------------------------

    async def load(self, session_id: str) -> SessionDelivery:
        """The session's delivery state as last recorded (an empty one for a new session)."""
        raw = await self.redis.hgetall(self.keys.delivered(session_id))
        state = SessionDelivery(session_id, last_eid=raw.get("eid") or "0-0")
        for name, value in raw.items():
            kind, _, task_id = name.partition(":")
            if kind == "view":
                state.views[task_id] = TaskView.from_json(value)
            elif kind == "posted":
                state.posted[task_id] = {k: Posted.from_dict(v) for k, v in json.loads(value).items()}
            elif kind == "failed":
                state.failed[task_id] = value
        return state

    async def save_posted(self, state: SessionDelivery, task_id: str) -> None:
        """Record the task's platform message ids now (called right after each accepted post or edit)."""
        key = self.keys.delivered(state.session_id)
        value = json.dumps({k: v.to_dict() for k, v in state.slots(task_id).items()}, separators=(",", ":"))
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, f"posted:{task_id}", value)
            pipe.expire(key, self.settings.session_ttl_seconds)
            await pipe.execute()

    async def save_progress(self, state: SessionDelivery, touched: set[str], finished: set[str]) -> None:
        """Record that every entry up to ``state.last_eid`` is applied: the views of ``touched`` tasks, and
        forget tasks whose delivery is over (``finished``): no entry of theirs can follow."""
        key = self.keys.delivered(state.session_id)
        mapping: dict[str, str] = {"eid": state.last_eid}
        for task_id in touched - finished:
            if task_id in state.views:
                mapping[f"view:{task_id}"] = state.views[task_id].to_json()
            if task_id in state.failed:
                mapping[f"failed:{task_id}"] = state.failed[task_id]
        # a finished task's records go, with those of the places its questions were posted to (<task>@<place>)
        gone = {k for k in [*state.posted, *state.failed] for t in finished if k.startswith(t + "@")} | finished
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping=mapping)
            for task_id in gone:
                pipe.hdel(key, f"view:{task_id}", f"posted:{task_id}", f"failed:{task_id}")
            pipe.expire(key, self.settings.session_ttl_seconds)
            await pipe.execute()
        for task_id in gone:
            state.views.pop(task_id, None)
            state.posted.pop(task_id, None)
            state.failed.pop(task_id, None)

    async def task_info(self, session_id: str, task_id: str) -> TaskInfo | None:
        """The task's chat binding and graph, or None when the task record is gone."""
        binding, graph = await self.redis.hmget(self.keys.task(session_id, task_id), "binding", "graph")
        if binding is None and graph is None:
            return None
        return TaskInfo(binding=json.loads(binding) if binding else None, graph=graph or "")

    async def record_failure(self, session_id: str, task_id: str, platform: str, error: str, detail: str = "") -> str:
        """Announce on the session stream that delivery to the task's chat failed for good.

        The ``delivery.failed`` event goes to the session stream only (web clients and the API see it), not
        to the delivery shard: the platform that refused it would refuse it again.
        """
        data: dict[str, Any] = {"platform": platform, "error": error}
        if detail:
            data["detail"] = detail[:500]
        event = Event(EventType.DELIVERY_FAILED, task_id, session_id, data)
        events_key = self.keys.events(session_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(events_key, {"e": serialize_event(event)}, maxlen=self.settings.stream_maxlen, approximate=True)
            pipe.expire(events_key, self.settings.session_ttl_seconds)
            entry_id, _ = await pipe.execute()
        return str(entry_id)

    # --- dispatchers and shard leases ----------------------------------------------------------------

    async def heartbeat(self, dispatcher_id: str, ttl: float) -> int:
        """Announce this dispatcher for ``ttl`` seconds; the number of live dispatchers (itself included)."""
        key = self.keys.dispatchers()
        now = time.time()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {dispatcher_id: now + ttl})
            pipe.zremrangebyscore(key, "-inf", now)
            pipe.zcard(key)
            _, _, live = await pipe.execute()
        return max(1, int(live))

    async def leave(self, dispatcher_id: str) -> None:
        """Stop counting this dispatcher among the live ones (the others take its share at once)."""
        await self.redis.zrem(self.keys.dispatchers(), dispatcher_id)

    async def acquire(self, shard: int, dispatcher_id: str, ttl: float) -> bool:
        """Take the shard's lease if nobody holds it."""
        return bool(await self.redis.set(self.keys.delivery_owner(shard), dispatcher_id, nx=True, px=int(ttl * 1000)))

    async def renew(self, shard: int, dispatcher_id: str, ttl: float) -> bool:
        """Extend the shard's lease; False when it is no longer ours."""
        return bool(await self._renew(keys=[self.keys.delivery_owner(shard)], args=[dispatcher_id, int(ttl * 1000)]))

    async def release(self, shard: int, dispatcher_id: str) -> None:
        """Give the shard's lease up if it is ours (a lease another dispatcher took meanwhile is left alone)."""
        await self._release(keys=[self.keys.delivery_owner(shard)], args=[dispatcher_id])
