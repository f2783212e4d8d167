"""A clock for in-process tests of code that paces itself (the dispatcher's pacer, Telegram's flood control,
the fake Bot API's limits): time moves only when someone sleeps on it, so waits pass at once."""

from __future__ import annotations

import asyncio


class FakeClock:
    """Monotonic time that moves only when someone sleeps on it: a 30 s Retry-After passes at once."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)
