"""SSE fan-out: one Redis reader per API process, shared by every connected browser.

The hub blocks on all the streams its subscribers follow with one ``XREAD`` on a dedicated connection and
copies each entry into the subscribers' in-memory queues. A browser never holds a Redis connection. When
the set of streams changes, the hub's blocked ``XREAD`` is released with ``CLIENT UNBLOCK`` so a new
stream joins at once.

On a Redis Cluster one ``XREAD`` can only name streams of one slot: the hub reads each slot group (the sessions
sharing a hash tag, graphgate/core/keys.py) in a task of its own, and a new stream restarts its group's read.

``follow`` gives a client its events with no gap and no duplicate: it subscribes first, replays the
stream with ``XRANGE`` after the client's last id, then passes on live entries newer than the last one sent.

With replicas that a failover may promote (Redis Sentinel), a primary can die before its last writes reach
a replica: the promoted replica never had them, and the run writes its events again under new ids. A client
that had already seen the lost entries would see a gap in the ids and a step twice. So the hub passes entries
on only once a replica holds them (``_replicated``: a ``PUBLISH`` then ``WAIT 1`` on one connection, which
waits for a replica to acknowledge everything written before the ``PUBLISH``, including what was just read). On a
Redis Cluster, whose primaries each have replicas the cluster promotes, the same is asked of the primary serving
the stream (``GRAPHGATE_SSE_WAIT_FOR_REPLICA``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sse_starlette import ServerSentEvent

from graphgate.core import connections
from graphgate.core.events import STREAM_FIELD, Event, deserialize_event, parse_id
from graphgate.core.settings import Settings

log = logging.getLogger("graphgate.fanout")
REPLAY_BATCH = 500
READ_BATCH = 1000
MAX_QUEUED = 10_000  # a subscriber this far behind is dropped; its client reconnects with Last-Event-ID
REPLICA_WAIT_MS = 1000  # how long to wait for a replica's acknowledgement before passing entries on anyway
NO_REPLICA_PAUSE = 5.0  # after a wait with no replica answering, seconds before waiting for one again


class SubscriberTooSlow(Exception):
    pass


class Entry:
    """One stream entry as the hub hands it on: its id and JSON envelope (it unpacks as ``entry_id, raw``).

    The hub makes one per entry it reads and gives that same object to every follower of the stream, so what
    a follower derives from it, the parsed event and the SSE frame, is worked out once per entry and shared,
    not once per client: with a hundred browsers on a session that is one JSON parse and one frame per event
    instead of a hundred of each.
    """

    __slots__ = ("id", "raw", "pos", "_event", "_frame")

    def __init__(self, entry_id: str, raw: str) -> None:
        self.id, self.raw = entry_id, raw
        self.pos = parse_id(entry_id)  # (ms, seq): ordered as the stream is
        self._event: Event | None = None
        self._frame: bytes | None = None

    def __iter__(self) -> Iterator[str]:
        return iter((self.id, self.raw))

    def event(self) -> Event:
        """The envelope as an ``Event`` (parsed on first use); raises ``DeserializationError`` when malformed."""
        if self._event is None:
            self._event = deserialize_event(self.id, self.raw)
        return self._event

    def frame(self) -> bytes:
        """The entry as one SSE frame (``id:``, ``event:`` its type, ``data:`` the envelope), encoded on first use;
        raises ``DeserializationError`` when the envelope is malformed."""
        if self._frame is None:
            self._frame = sse_frame(self.id, self.event().type.value, self.raw)
        return self._frame


def sse_frame(entry_id: str, etype: str, raw: str, retry: int | None = None) -> bytes:
    """The SSE frame of one event, as sse-starlette writes it."""
    return ServerSentEvent(data=raw, event=etype, id=entry_id, retry=retry).encode()


@dataclass(eq=False)
class Subscription:
    key: str
    queue: asyncio.Queue[Entry | None] = field(default_factory=asyncio.Queue)
    dropped: bool = False


def hash_tag(key: str) -> str:
    """The part of a key Redis Cluster hashes: between its first ``{`` and the next ``}``."""
    start = key.find("{")
    end = key.find("}", start + 1)
    return key[start + 1 : end] if start >= 0 and end > start + 1 else key


class StreamHub:
    def __init__(self, settings: Settings, client: aioredis.Redis, block_ms: int = 1000) -> None:
        self._cluster = settings.redis_cluster
        # a client of its own, whose socket timeout outlasts the blocking XREAD: one connection (a pool of one:
        # a single-connection client would keep reconnecting to a primary that Sentinel demoted), or on a cluster
        # one per slot group being read
        self._reader = connections.async_client(
            settings,
            max_connections=None if self._cluster else 1,
            decode_responses=True,
            socket_timeout=block_ms / 1000 + 10,
        )
        self._client = client
        self._block_ms = block_ms
        self._groups: dict[str, asyncio.Task[None]] = {}  # on a cluster: hash tag -> the task reading its streams
        wait = settings.sse_wait_for_replica
        self._wait_for_replica = bool(connections.sentinels(settings)) if wait is None else wait
        self._settings = settings
        self._nodes: dict[str, aioredis.Redis] = {}  # on a cluster: a client of each primary WAIT is asked of
        self._barrier_channel = f"{settings.key_prefix}:replicated"
        self._no_replica_until = 0.0
        self._subs: dict[str, set[Subscription]] = {}
        self._cursor: dict[str, str] = {}
        self._reader_id: int | None = None
        self._reading = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def streams(self) -> int:
        return len(self._cursor)

    def cursors(self) -> dict[str, str]:
        """Each followed stream and the id of the last entry the hub read from it."""
        return dict(self._cursor)

    @property
    def subscribers(self) -> int:
        return sum(len(s) for s in self._subs.values())

    async def start(self) -> None:
        if not self._cluster:
            self._task = asyncio.create_task(self._loop(), name="graphgate-stream-hub")

    async def stop(self) -> None:
        """Stop the reader and end every follower's feed."""
        groups = set(self._groups.values())
        self._groups.clear()
        for task in groups:
            task.cancel()
        if groups:
            await asyncio.wait(groups, timeout=0.5)
        if self._task:
            self._task.cancel()
            self._wake.set()
            await asyncio.wait({self._task}, timeout=2)
        for subs in self._subs.values():
            for sub in subs:
                sub.queue.put_nowait(None)
        for client in [self._reader, *self._nodes.values()]:
            try:
                await asyncio.wait_for(client.aclose(), 2)
            except (TimeoutError, RedisError, OSError):
                pass

    # --- subscriptions ------------------------------------------------------------------------------

    async def subscribe(self, key: str) -> Subscription:
        sub = Subscription(key)
        self._subs.setdefault(key, set()).add(sub)
        if key not in self._cursor:
            latest = await self._client.xrevrange(key, count=1)
            if key not in self._cursor:  # another subscriber may have added it while we awaited
                self._cursor[key] = latest[0][0] if latest else "0-0"
                await self._interrupt_read(key)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        subs = self._subs.get(sub.key)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[sub.key]
                self._cursor.pop(sub.key, None)

    async def _interrupt_read(self, key: str) -> None:
        if self._cluster:  # the group's read starts again, naming the new stream too
            tag = hash_tag(key)
            running = self._groups.pop(tag, None)
            if running is not None:
                running.cancel()  # its entries not handed on yet are read again: the cursors did not move
            self._groups[tag] = asyncio.create_task(self._read_group(tag), name=f"graphgate-stream-hub-{tag}")
            return
        self._wake.set()
        if self._reading and self._reader_id is not None:
            try:
                await self._client.execute_command("CLIENT", "UNBLOCK", self._reader_id)
            except RedisError:
                pass

    # --- the reader -----------------------------------------------------------------------------------

    async def _loop(self) -> None:
        while True:
            if not self._cursor:
                self._wake.clear()
                await self._wake.wait()
                continue
            try:
                if self._reader_id is None:
                    self._reader_id = await self._reader.client_id()
                streams = dict(self._cursor)  # read after the await above: the last follower may have left
                if not streams:
                    continue
                self._reading = True
                response = await self._reader.xread(streams, count=READ_BATCH, block=self._block_ms)
                self._reading = False
                if response:
                    await self._replicated(next(iter(streams)))  # fails with the primary: the entries are read again
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away, failing over (any error a reconnect may raise): never die
                log.warning("stream hub: %s: %s; retrying", type(exc).__name__, exc)
                self._reader_id = None
                await asyncio.sleep(0.5)
                continue
            finally:
                self._reading = False
            self._hand_on(response)

    async def _read_group(self, tag: str) -> None:
        """On a cluster: read the followed streams of one slot group until none is left, or until another read of
        the group took over (a cancel that reaches a read as it starts can be lost in redis-py: the superseded
        read then ends when its block time does, handing nothing on)."""
        me = asyncio.current_task()
        while self._groups.get(tag) is me:
            streams = {key: cursor for key, cursor in self._cursor.items() if hash_tag(key) == tag}
            if not streams:
                del self._groups[tag]
                return
            try:
                response = await self._reader.xread(streams, count=READ_BATCH, block=self._block_ms)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a node away, a slot moving (the client follows MOVED and ASK): never die
                log.warning("stream hub, group %s: %s: %s; retrying", tag, type(exc).__name__, exc)
                await asyncio.sleep(0.2)
                continue
            if self._groups.get(tag) is not me:
                continue
            if response:
                try:
                    await self._replicated(next(iter(streams)))
                except Exception as exc:  # the primary failing: the cursors stay, the entries are read again
                    log.warning("stream hub, group %s: %s: %s; retrying", tag, type(exc).__name__, exc)
                    await asyncio.sleep(0.2)
                    continue
            self._hand_on(response)

    def _hand_on(self, response: list[Any] | None) -> None:
        for key, entries in response or []:
            if key not in self._cursor:
                continue  # nobody follows it any more
            for entry_id, fields in entries:
                self._cursor[key] = entry_id
                self._deliver(key, Entry(entry_id, fields.get(STREAM_FIELD, "")))

    async def _replicated(self, key: str) -> None:
        """Return once a replica holds every entry of ``key`` read so far (when waiting for replicas is on); on
        a cluster, a replica of the primary serving ``key``."""
        if not self._wait_for_replica or time.monotonic() < self._no_replica_until:
            return
        pipe = (await self._node_of(key) if self._cluster else self._client).pipeline(transaction=False)
        pipe.publish(self._barrier_channel, "")  # replicated: WAIT then waits for this offset, past the reads
        pipe.wait(1, REPLICA_WAIT_MS)
        _, acknowledged = await pipe.execute()
        if not acknowledged:
            log.warning("stream hub: no replica acknowledged within %d ms; not waiting for one", REPLICA_WAIT_MS)
            self._no_replica_until = time.monotonic() + NO_REPLICA_PAUSE

    async def _node_of(self, key: str) -> aioredis.Redis:
        """A plain client of the primary serving ``key`` (WAIT counts the writes of its own connection, so the
        PUBLISH before it must go to that primary too, which a cluster client's keyless routing would not do)."""
        node = cast("Any", self._reader).get_node_from_key(key)  # its slot map follows the reads' redirections
        client = self._nodes.get(node.name)
        if client is None:
            url = urlsplit(self._settings.redis_url)
            client = aioredis.Redis(
                host=node.host, port=node.port, username=url.username, password=url.password, decode_responses=True
            )
            self._nodes[node.name] = client
        return client

    def _deliver(self, key: str, entry: Entry) -> None:
        subs = self._subs.get(key)
        if not subs:
            return
        slow: list[Subscription] = []
        for sub in subs:
            if sub.queue.qsize() >= MAX_QUEUED:
                slow.append(sub)
                continue
            sub.queue.put_nowait(entry)
        for sub in slow:  # dropped after the loop: unsubscribing changes the set it walks
            sub.dropped = True
            self.unsubscribe(sub)
            sub.queue.put_nowait(None)

    # --- one client's feed ------------------------------------------------------------------------------

    async def follow(self, key: str, after: str) -> AsyncIterator[Entry]:
        """Every entry of ``key`` after id ``after`` ("0-0" = from the start), then live ones, in order."""
        sub = await self.subscribe(key)
        try:
            last = parse_id(after)
            cursor = after
            while True:
                batch = await self._client.xrange(key, min=f"({cursor}", count=REPLAY_BATCH)
                if batch:
                    await self._replicated(key)
                for entry_id, fields in batch:
                    replayed = Entry(entry_id, fields.get(STREAM_FIELD, ""))
                    last = replayed.pos
                    yield replayed
                if len(batch) < REPLAY_BATCH:
                    break
                cursor = batch[-1][0]
            while True:
                entry = await sub.queue.get()
                if entry is None:
                    if sub.dropped:
                        raise SubscriberTooSlow(key)
                    return
                if entry.pos <= last:
                    continue  # already sent during the replay
                last = entry.pos
                yield entry
        finally:
            self.unsubscribe(sub)
