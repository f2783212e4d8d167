"""The services a process that takes requests stands on, built in one place: Redis, the graphs, the task
service and the inbound log. The HTTP app, Slack's Socket Mode and Telegram's polling each open one."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from graphgate.core.inbound import InboundLog
from graphgate.core.queue import enqueue_run_async
from graphgate.core.registry import GraphRegistry, load_registry
from graphgate.core.settings import Settings
from graphgate.core.tasks import TaskService


@dataclass
class Services:
    settings: Settings
    redis: aioredis.Redis
    graphs: GraphRegistry
    tasks: TaskService
    inbound: InboundLog  # which platform deliveries were handled already

    async def close(self) -> None:
        await self.redis.aclose()


def open_services(settings: Settings, *, pool: aioredis.ConnectionPool | None = None) -> Services:
    """Load the graphs and connect to Redis (through ``pool`` when given); nothing is sent until used."""
    graphs = load_registry(settings.config, settings.default_graph)
    client = (
        aioredis.Redis(connection_pool=pool)
        if pool is not None
        else aioredis.Redis.from_url(settings.redis_url, decode_responses=True, health_check_interval=30)
    )
    return Services(
        settings=settings,
        redis=client,
        graphs=graphs,
        tasks=TaskService(client, settings, enqueue_run_async, graphs),
        inbound=InboundLog(client, settings),
    )
