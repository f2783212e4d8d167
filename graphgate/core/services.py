"""The services a process that takes requests stands on, built in one place: Redis, the graphs, the task
service and the inbound log. The HTTP app, Slack's Socket Mode and Telegram's polling each open one.

The checkpointer is opened on first use only: the LangGraph API reads threads' state from it, nothing else in
a process that takes requests needs it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from langgraph.checkpoint.base import BaseCheckpointSaver

from graphgate.core import connections
from graphgate.core.attachments import AttachmentStore
from graphgate.core.checkpointer import open_checkpointer
from graphgate.core.feedback import FeedbackService
from graphgate.core.inbound import InboundLog
from graphgate.core.queue import enqueue_run_async, enqueue_webhook_async
from graphgate.core.registry import GraphRegistry, load_registry
from graphgate.core.schedules import ScheduleService
from graphgate.core.settings import Settings
from graphgate.core.tasks import TaskService


@dataclass
class Services:
    settings: Settings
    redis: aioredis.Redis
    graphs: GraphRegistry
    tasks: TaskService
    inbound: InboundLog  # which platform deliveries were handled already
    feedback: FeedbackService  # 👍/👎 on final answers
    schedules: ScheduleService  # scheduled runs (cron)
    attachments: AttachmentStore  # files sent with messages
    _checkpointer: BaseCheckpointSaver[Any] | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def checkpointer(self) -> BaseCheckpointSaver[Any]:
        """The checkpointer the workers write, opened once for this process (safe from any thread)."""
        with self._lock:
            if self._checkpointer is None:
                self._checkpointer = open_checkpointer(self.settings)
            return self._checkpointer

    async def close(self) -> None:
        await self.redis.aclose()
        with self._lock:
            close = getattr(getattr(self._checkpointer, "conn", None), "close", None)
            if callable(close):
                close()
            self._checkpointer = None


def open_services(settings: Settings, *, max_connections: int | None = None) -> Services:
    """Load the graphs and connect to Redis (a bounded pool of ``max_connections`` when given); nothing is
    sent until used."""
    graphs = load_registry(settings.config, settings.default_graph, settings.approvals_file)
    client = connections.async_client(
        settings, max_connections=max_connections, decode_responses=True, health_check_interval=30
    )
    return Services(
        settings=settings,
        redis=client,
        graphs=graphs,
        tasks=TaskService(client, settings, enqueue_run_async, graphs, enqueue_webhook_async),
        inbound=InboundLog(client, settings),
        feedback=FeedbackService(client, settings),
        schedules=ScheduleService(client, settings, graphs),
        attachments=AttachmentStore(client, settings),
    )
