"""A task service on a real Redis for the connectors' in-process tests, with tasks paused on questions the
way a worker leaves them (written with the worker's own store), and what the service handed to the queue.

The connectors' handlers run against it unchanged; only the chat platform's side (a Bolt client, a Bot) is
a recording stand-in.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any

import redis
import redis.asyncio as aioredis

from graphgate.core.inbound import InboundLog
from graphgate.core.interrupts import interrupt_data
from graphgate.core.registry import GraphRegistry, load_registry
from graphgate.core.services import Services
from graphgate.core.settings import Settings
from graphgate.core.store import TaskRecord, TaskStatus, pause
from graphgate.core.tasks import Principal, TaskService
from graphgate.workers.runstore import RunStore

GRAPHS = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph

class Plain(TypedDict, total=False):
    topic: str

plain = StateGraph(Plain)
plain.add_node("a", lambda state: {})
plain.add_edge("__start__", "a")
"""
QUESTION = {"question": "Ship it?", "options": ["approve", "reject"]}


def registry_in(folder: Path) -> GraphRegistry:
    """A registry of one graph, ``plain``, written into ``folder``."""
    (folder / "graphs.py").write_text(GRAPHS)
    config = folder / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"plain": "./graphs.py:plain"}}))
    return load_registry(Path(config))


class World:
    """Services on one Redis (a key prefix of their own), and the worker's store to pause tasks with."""

    def __init__(self, redis_url: str, registry: GraphRegistry) -> None:
        self.settings = Settings(redis_url=redis_url, key_prefix=f"t{uuid.uuid4().hex[:8]}")
        self.loop = asyncio.new_event_loop()
        self.enqueued: list[str] = []
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        self.services = Services(
            settings=self.settings,
            redis=client,
            graphs=registry,
            tasks=TaskService(client, self.settings, self._enqueue, registry),
            inbound=InboundLog(client, self.settings),
        )
        self.store = RunStore(redis.Redis.from_url(redis_url, decode_responses=True), self.settings)

    async def _enqueue(self, task_id: str, *_: Any, **__: Any) -> None:
        self.enqueued.append(task_id)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def waiting(
        self, principal: Principal, session_id: str, binding: dict[str, Any], question: dict[str, Any] = QUESTION
    ) -> TaskRecord:
        """A task of ``principal`` whose run stopped on ``question`` (interrupt id ``i0``)."""
        tasks = self.services.tasks
        record = self.run(tasks.create_task(principal, input={}, graph="plain", session_id=session_id, binding=binding))
        token = self.store.acquire_lease(record.session_id, record.id)
        assert token
        assert self.store.transition(record, {TaskStatus.QUEUED}, TaskStatus.RUNNING, None, token).ok
        events, fields = pause([interrupt_data("i0", question)])
        assert self.store.transition(
            record, {TaskStatus.RUNNING}, TaskStatus.WAITING_INPUT, events, token, fields=fields
        ).ok
        self.store.release_lease(record.session_id, record.id, token)
        self.enqueued.clear()
        return self.task(principal, record.id)

    def task(self, principal: Principal, task_id: str) -> TaskRecord:
        return self.run(self.services.tasks.get_task(principal, task_id))

    def close(self) -> None:
        self.run(self.services.redis.aclose())
        self.store.redis.close()
        self.loop.close()
