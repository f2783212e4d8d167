"""The services of a request-taking process on a real Redis, for in-process tests: the task service, the inbound
log and the worker's store (to leave tasks paused on questions exactly as a worker does), with a key prefix of
their own and a list where Celery would be.

Tests of the task service, the connectors' handlers and the LangGraph API's session calls all stand on it;
``write_registry`` gives them graphs of their own.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from graphgate.core import approvals, connections
from graphgate.core.attachments import AttachmentStore
from graphgate.core.feedback import FeedbackService
from graphgate.core.inbound import InboundLog
from graphgate.core.interrupts import interrupt_data
from graphgate.core.registry import GraphRegistry, load_registry
from graphgate.core.schedules import ScheduleService
from graphgate.core.services import Services
from graphgate.core.settings import Settings
from graphgate.core.store import TaskRecord, TaskStatus, pause
from graphgate.core.tasks import Principal, TaskService
from graphgate.testing.stack import cluster_settings
from graphgate.workers.runstore import RunStore

PLAIN_GRAPH = """
from typing_extensions import TypedDict
from langgraph.graph import StateGraph

class Plain(TypedDict, total=False):
    topic: str

plain = StateGraph(Plain)
plain.add_node("a", lambda state: {})
plain.add_edge("__start__", "a")
"""  # source of ``plain``: one node, no required input, for tests that only need a task to exist
QUESTION = {"question": "Ship it?", "options": ["approve", "reject"]}  # an interrupt with two options


def write_registry(
    folder: Path, source: str, graphs: Iterable[str], approvals: dict[str, Any] | None = None
) -> GraphRegistry:
    """The registry of ``graphs``, attributes of the module ``source`` (written to ``folder/graphs.py``), with
    the approval policies ``approvals`` (the ``graphgate.approvals`` section) when given."""
    (folder / "graphs.py").write_text(source)
    config = folder / "langgraph.json"
    body: dict[str, Any] = {"graphs": {name: f"./graphs.py:{name}" for name in graphs}}
    if approvals is not None:
        body["graphgate"] = {"approvals": approvals}
    config.write_text(json.dumps(body))
    return load_registry(config)


class World:
    """Services on one Redis under a key prefix of their own, the worker's store, and what was queued."""

    def __init__(self, redis_url: str, registry: GraphRegistry) -> None:
        self.settings = Settings(redis_url=redis_url, key_prefix=f"t{uuid.uuid4().hex[:8]}", **cluster_settings())
        self.loop = asyncio.new_event_loop()
        self.enqueued: list[str] = []  # task ids handed to the queue, in order
        client = connections.async_client(self.settings, decode_responses=True)
        self.services = Services(
            settings=self.settings,
            redis=client,
            graphs=registry,
            tasks=TaskService(client, self.settings, self._enqueue, registry),
            inbound=InboundLog(client, self.settings),
            feedback=FeedbackService(client, self.settings),
            schedules=ScheduleService(client, self.settings, registry),
            attachments=AttachmentStore(client, self.settings),
        )
        self.store = RunStore(connections.sync_client(self.settings, decode_responses=True), self.settings)
        self.keys = self.store.keys

    @property
    def service(self) -> TaskService:
        return self.services.tasks

    async def _enqueue(self, task_id: str, *_: Any, **__: Any) -> None:
        self.enqueued.append(task_id)

    def run(self, coro: Any) -> Any:
        return self.loop.run_until_complete(coro)

    def waiting(
        self,
        principal: Principal,
        questions: list[Any],
        *,
        graph: str,
        session_id: str | None = None,
        binding: dict[str, Any] | None = None,
    ) -> TaskRecord:
        """A task of ``principal`` whose run stopped on one interrupt per value of ``questions`` (interrupt ids
        ``i0``, ``i1``, ...), routed by the registry's approval policies as a worker routes them, written with
        the worker's own store; the queue is emptied afterwards."""
        record = self.run(
            self.service.create_task(principal, input={}, graph=graph, session_id=session_id, binding=binding)
        )
        token = self.store.acquire_lease(record.session_id, record.id)
        assert token
        assert self.store.transition(record, {TaskStatus.QUEUED}, TaskStatus.RUNNING, None, token).ok
        pending = [interrupt_data(f"i{n}", value) for n, value in enumerate(questions)]
        asked = approvals.ask(self.services.graphs.approvals, graph, pending, record.owner, binding)
        self.store.schedule_approvals(record.session_id, record.id, asked)
        events, fields = pause(pending, asked)
        assert self.store.transition(
            record, {TaskStatus.RUNNING}, TaskStatus.WAITING_INPUT, events, token, fields=fields
        ).ok
        self.store.release_lease(record.session_id, record.id, token)
        self.enqueued.clear()
        return self.task(principal, record.id)

    def task(self, principal: Principal, task_id: str) -> TaskRecord:
        return self.run(self.service.get_task(principal, task_id))  # type: ignore[no-any-return]

    def events(self, record: TaskRecord) -> list[dict[str, Any]]:
        """The envelopes in ``record``'s session stream, oldest first."""
        entries = self.store.redis.xrange(self.keys.events(record.session_id))
        return [json.loads(fields["e"]) for _, fields in entries]

    def close(self) -> None:
        self.run(self.services.redis.aclose())
        self.store.redis.close()
        self.loop.close()
