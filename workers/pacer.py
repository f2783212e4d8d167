"""Per-channel pacing of chat platform calls, shared by every delivery lane of a dispatcher process.

Slack allows about one message per second per channel (bursts are tolerated, sustained floods are not);
Telegram about one per second per chat. A ``Pacer`` hands out call slots ``interval`` seconds apart per
channel, and a rate-limit answer from the platform holds the whole channel until its Retry-After has
passed: the next call into that channel (including a final answer) waits it out first.

The clock and the sleep are parameters so that tests can run pacing on a fake clock without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

Clock = Callable[[], float]  # monotonic seconds
Sleep = Callable[[float], Awaitable[None]]


class Pacer:
    def __init__(self, interval: float, clock: Clock = time.monotonic, sleep: Sleep = asyncio.sleep) -> None:
        self.interval = max(0.0, interval)
        self.clock = clock
        self.sleep = sleep
        self._next: dict[str, float] = {}  # channel -> clock time of its next free slot
        self._held: dict[str, float] = {}  # channel -> clock time a rate limit or back-off ends

    def free_in(self, channel: str) -> float:
        """Seconds until the channel could take a call (0 when it could now)."""
        now = self.clock()
        return max(0.0, self._next.get(channel, 0.0) - now, self._held.get(channel, 0.0) - now)

    async def until_free(self, channel: str) -> None:
        """Wait until the channel could take a call, without taking the slot (lets work pile up to coalesce)."""
        while (delay := self.free_in(channel)) > 0:
            await self.sleep(delay)

    async def turn(self, channel: str) -> None:
        """Take the channel's next call slot, waiting for it and for any hold on the channel."""
        while True:
            now = self.clock()
            held = self._held.get(channel, 0.0) - now
            if held > 0:
                await self.sleep(held)
                continue
            slot = max(now, self._next.get(channel, 0.0))
            self._next[channel] = slot + self.interval
            if slot > now:
                await self.sleep(slot - now)
            if self._held.get(channel, 0.0) <= self.clock():
                return  # else a rate limit arrived while we waited for the slot: wait it out too

    def hold(self, channel: str, seconds: float) -> None:
        """No call into the channel for ``seconds`` from now (a Retry-After, a back-off)."""
        self._held[channel] = max(self._held.get(channel, 0.0), self.clock() + seconds)

    def forget_idle(self, older_than: float = 300.0) -> None:
        """Drop channels whose last slot and hold are long past (keeps the maps small)."""
        cutoff = self.clock() - older_than
        for channel in [c for c, t in self._next.items() if t < cutoff and self._held.get(c, 0.0) < cutoff]:
            self._next.pop(channel, None)
            self._held.pop(channel, None)
