"""One platform call for one task's chat: paced, fenced, rate limits waited out, transient errors retried.

A ``Chat`` is everything such a call needs besides the message: the platform, the binding, the channel it
is paced by, the session's delivery records (where the message ids go) and the fence of the lane's shard.
``ChatCalls`` makes the calls:

* every call first passes the fence (``ShardLost`` when the shard's lease is not surely ours) and waits
  for its channel's turn (``Pacer``);
* ``RateLimited`` holds the whole channel for Retry-After, then the same call is made again;
* ``TransientError`` holds the channel for a back-off (1 s, 2 s ... ``MAX_BACKOFF_SECONDS``), then retries,
  for as long as the shard is ours;
* ``MessageGone`` and ``PermanentError`` go up to the caller (workers/dispatch/reconcile.py).

The message id of every accepted post or edit is recorded in Redis before the next call; a post is marked
"in flight" before it is made, so that a crash in between is found on recovery (``Platform.find``).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from graphgate.core.platform import (
    Binding,
    Message,
    Platform,
    Posted,
    RateLimited,
    Tag,
    TransientError,
)
from graphgate.workers.deliverystore import DeliveryStore, SessionDelivery
from graphgate.workers.dispatch.faults import Faults
from graphgate.workers.dispatch.stats import Stats
from graphgate.workers.pacer import Pacer

log = logging.getLogger("graphgate.dispatcher")

MAX_BACKOFF_SECONDS = 30.0  # the longest wait between two tries of a call that failed transiently
MAX_EDIT_STEPS = 16  # platform calls to bring one message up to date (a stream: append, stop, update)

T = TypeVar("T")


def backoff(attempt: int) -> float:
    """Seconds to wait after the ``attempt``-th failure in a row: 1, 2, 4 ... ``MAX_BACKOFF_SECONDS``."""
    return min(MAX_BACKOFF_SECONDS, 0.5 * 2 ** min(max(attempt, 1), 6))


@dataclass
class Chat:
    """One task's chat, as one batch delivers to it."""

    platform: Platform
    binding: Binding
    channel: str  # what calls are paced by (``Platform.channel_key``)
    state: SessionDelivery  # the session's records; the task's message ids are kept here and saved at once
    task_id: str
    fence: Callable[[], None]  # raises ShardLost when the lane's shard is not surely ours any more

    @property
    def slots(self) -> dict[str, Posted]:
        """Slot -> what was posted for it (an empty id: a post in flight)."""
        return self.state.slots(self.task_id)


class ChatCalls:
    def __init__(self, store: DeliveryStore, pacer: Pacer, stats: Stats, faults: Faults) -> None:
        self.store = store
        self.pacer = pacer
        self.stats = stats
        self.faults = faults

    async def find(self, chat: Chat, tag: Tag) -> Posted | None:
        """The message a post interrupted by a crash created, if the platform can tell (not paced: a read)."""
        return await self._call(chat, partial(chat.platform.find, chat.binding, tag), paced=False)

    async def post(self, chat: Chat, message: Message, tag: Tag, crash_after: bool = False) -> None:
        """Post the slot and record its id; ``crash_after`` is fault injection (never True in production)."""
        chat.slots[message.slot] = Posted("")  # in flight: after a crash, look for it before posting again
        await self.store.save_posted(chat.state, chat.task_id)
        posted = await self._call(chat, partial(chat.platform.post, chat.binding, message, tag))
        self.stats.posts += 1
        if crash_after:
            self.faults.crash(f"after posting {message.slot} of task {chat.task_id}")
        posted.digest = posted.digest or message.digest  # a platform may mark a partial post to edit again
        chat.slots[message.slot] = posted
        await self.store.save_posted(chat.state, chat.task_id)

    async def edit(self, chat: Chat, message: Message, tag: Tag) -> None:
        """Edit until the platform says the message shows ``message`` (one paced call per step)."""
        for _ in range(MAX_EDIT_STEPS):
            posted = chat.slots[message.slot]
            if posted.digest == message.digest:
                return
            updated = await self._call(chat, partial(chat.platform.edit, chat.binding, posted, message, tag))
            self.stats.edits += 1
            updated.digest = updated.digest or message.digest
            chat.slots[message.slot] = updated
            await self.store.save_posted(chat.state, chat.task_id)
        log.warning("task %s: %s still not up to date after %d edits", chat.task_id, message.slot, MAX_EDIT_STEPS)

    async def _call(self, chat: Chat, fn: Callable[[], Awaitable[T]], paced: bool = True) -> T:
        attempt = 0
        while True:
            chat.fence()
            if paced:
                await self.pacer.turn(chat.channel)
            else:
                await self.pacer.until_free(chat.channel)
            chat.fence()
            try:
                result = await fn()
                self.stats.calls += 1
                return result
            except RateLimited as exc:
                self.stats.rate_limited += 1
                self.pacer.hold(chat.channel, exc.retry_after)
                log.warning("channel %s rate limited; waiting %.1fs", chat.channel, exc.retry_after)
            except TransientError as exc:
                attempt += 1
                self.stats.retried += 1
                delay = backoff(attempt)
                self.pacer.hold(chat.channel, delay)
                log.warning("channel %s: %s; retry %d in %.1fs", chat.channel, exc, attempt, delay)
