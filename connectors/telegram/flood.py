"""Telegram's flood limits, kept on our side so the Bot API rarely has to refuse us.

Telegram allows about one message per second in a chat (the dispatcher's ``Pacer`` keeps that), at most
20 messages per minute in a group, and about 30 messages per second over all chats. ``FloodControl``
keeps sliding windows for the last two: a call into a group whose minute is full gets ``RateLimited`` with
the wait (the dispatcher holds the chat that long, and meanwhile folds new events into fewer edits); a call
over the global rate waits its turn. A 429 with ``retry_after`` from Telegram is still honoured on top.

The clock and the sleep are parameters (as for workers/pacer.py's ``Pacer``) so that tests can run the
windows on a fake clock without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable

from graphgate.core.platform import RateLimited

GROUP_PER_MINUTE = 18  # of Telegram's 20: room for the gateway's own replies in the chat
GLOBAL_PER_SECOND = 28  # of Telegram's 30

Clock = Callable[[], float]  # monotonic seconds
Sleep = Callable[[float], Awaitable[None]]


class Window:
    """At most ``limit`` events in any ``seconds``-long window."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.times: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more event fits (0 when it fits now)."""
        while self.times and self.times[0] <= now - self.seconds:
            self.times.popleft()
        if len(self.times) < self.limit:
            return 0.0
        return self.times[0] + self.seconds - now

    def take(self, now: float) -> None:
        self.times.append(now)


class FloodControl:
    def __init__(
        self,
        group_per_minute: int = GROUP_PER_MINUTE,
        global_per_second: int = GLOBAL_PER_SECOND,
        clock: Clock = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.group_per_minute = group_per_minute
        self.clock = clock
        self.sleep = sleep
        self._global = Window(global_per_second, 1.0)
        self._groups: dict[int, Window] = {}

    async def admit(self, chat_id: int, group: bool) -> None:
        """Count one message into ``chat_id``, waiting for the global window; ``RateLimited`` when the
        group's minute is full."""
        if group:
            window = self._groups.setdefault(chat_id, Window(self.group_per_minute, 60.0))
            wait = window.wait(self.clock())
            if wait > 0:
                raise RateLimited(wait, f"group {chat_id} sent {self.group_per_minute} messages this minute")
        while (wait := self._global.wait(self.clock())) > 0:
            await self.sleep(wait)
        now = self.clock()
        self._global.take(now)
        if group:
            self._groups[chat_id].take(now)
        if len(self._groups) > 10_000:
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        for chat_id in [c for c, w in self._groups.items() if not w.times or w.times[-1] < now - 60.0]:
            del self._groups[chat_id]
