"""Per-principal rate limits on the calls that start or change work: creating, resuming and cancelling tasks.

A fixed one-minute window counted in Redis (``Keys.rate(principal, window)``), so every API replica shares
one count. A fixed window lets a client burst up to twice the limit across a window boundary; in exchange
it costs one round trip and no script. ``GRAPHGATE_RATE_LIMIT_PER_MINUTE`` = 0 turns limiting off.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import redis.asyncio as aioredis

from graphgate.core.errors import TooManyRequests
from graphgate.core.keys import Keys
from graphgate.core.tasks import Principal
from graphgate.gateway.api.deps import GatewayDep, PrincipalDep

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateLimiter:
    redis: aioredis.Redis
    keys: Keys
    per_minute: int

    async def hit(self, principal: Principal, now: float | None = None) -> None:
        """Count one request of ``principal``; raise ``TooManyRequests`` (429 with Retry-After: the seconds until
        the window ends) when it is over the limit. Refused requests count too."""
        if self.per_minute <= 0:
            return
        now = time.time() if now is None else now
        window = int(now // WINDOW_SECONDS)
        key = self.keys.rate(principal.id, window)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 2 * WINDOW_SECONDS)
            count, _ = await pipe.execute()
        if count > self.per_minute:
            retry_after = max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))
            raise TooManyRequests(
                f"rate limit of {self.per_minute} requests per minute exceeded; try again in {retry_after} s",
                retry_after,
            )


async def rate_limit(gw: GatewayDep, who: PrincipalDep) -> None:
    """FastAPI dependency: count the request against its principal's limit (after authentication)."""
    await RateLimiter(gw.redis, gw.service.keys, gw.settings.rate_limit_per_minute).hit(who)
