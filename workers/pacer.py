"""Per-channel pacing of chat platform calls, shared by every delivery lane of a dispatcher process.

Slack allows about one message per second per channel (bursts are tolerated, sustained floods are not);
Telegram about one per second per chat. A ``Pacer`` hands out call slots ``interval`` seconds apart per
channel, and a rate-limit answer from the platform holds the whole channel until its Retry-After has
passed: the next call into that channel (including a final answer) waits it out first.
"""

from __future__ import annotations

import asyncio
import time


class Pacer:
    def __init__(self, interval: float) -> None:
        self.interval = max(0.0, interval)
        self._next: dict[str, float] = {}  # channel -> monotonic time of its next free slot
        self._held: dict[str, float] = {}  # channel -> monotonic time a rate limit or back-off ends

    def free_in(self, channel: str) -> float:
        """Seconds until the channel could take a call (0 when it could now)."""
        now = time.monotonic()
        return max(0.0, self._next.get(channel, 0.0) - now, self._held.get(channel, 0.0) - now)

    async def until_free(self, channel: str) -> None:
        """Wait until the channel could take a call, without taking the slot (lets work pile up to coalesce)."""
        while (delay := self.free_in(channel)) > 0:
            await asyncio.sleep(delay)

    async def turn(self, channel: str) -> None:
        """Take the channel's next call slot, waiting for it and for any hold on the channel."""
        while True:
            now = time.monotonic()
            held = self._held.get(channel, 0.0) - now
            if held > 0:
                await asyncio.sleep(held)
                continue
            slot = max(now, self._next.get(channel, 0.0))
            self._next[channel] = slot + self.interval
            if slot > now:
                await asyncio.sleep(slot - now)
            if self._held.get(channel, 0.0) <= time.monotonic():
                return  # else a rate limit arrived while we waited for the slot: wait it out too

    def hold(self, channel: str, seconds: float) -> None:
        """No call into the channel for ``seconds`` from now (a Retry-After, a back-off)."""
        self._held[channel] = max(self._held.get(channel, 0.0), time.monotonic() + seconds)

    def forget_idle(self, older_than: float = 300.0) -> None:
        """Drop channels whose last slot and hold are long past (keeps the maps small)."""
        cutoff = time.monotonic() - older_than
        for channel in [c for c, t in self._next.items() if t < cutoff and self._held.get(c, 0.0) < cutoff]:
            self._next.pop(channel, None)
            self._held.pop(channel, None)
