"""Recognising a chat platform's retried deliveries, so a retry never starts a second task.

Slack re-sends an Events API delivery (with ``X-Slack-Retry-Num``) when it did not see a 200 within 3 s;
Telegram re-sends a webhook update until it is answered. Connectors ask ``InboundLog.first`` with the
platform's delivery id (Slack ``event_id``, Telegram ``update_id``) before acting on a delivery.
"""

from __future__ import annotations

import redis.asyncio as aioredis

from graphgate.core.keys import Keys
from graphgate.core.settings import Settings

INBOUND_TTL_SECONDS = 24 * 3600  # Slack retries for minutes, Telegram for up to a day


class InboundLog:
    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        self.redis = redis
        self.keys = Keys.of(settings)

    async def first(self, platform: str, delivery_id: str, ttl: int = INBOUND_TTL_SECONDS) -> bool:
        """True exactly once per ``(platform, delivery_id)`` within ``ttl``: for the first of its deliveries."""
        return bool(await self.redis.set(self.keys.inbound(platform, delivery_id), "1", nx=True, ex=ttl))

    async def forget(self, platform: str, delivery_id: str) -> None:
        """Undo ``first`` after acting on the delivery failed, so the platform's retry is accepted."""
        await self.redis.delete(self.keys.inbound(platform, delivery_id))
