"""Threads' state in the checkpointer the workers write, through the thread's own compiled graph: read, written
as a node (``update_state``), copied to another thread, rolled back to before a run.

The API process opens the checkpointer once (``Services.checkpointer``); its calls block, so they run in a
worker thread and never on the event loop. A write is made only while no run of the thread is going on (the
routes check), so the workers' own writes do not interleave with it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.types import StateSnapshot

from graphgate.core.errors import Conflict, InvalidInput
from graphgate.core.rollback import roll_back
from graphgate.core.services import Services
from graphgate.core.store import SessionRecord
from graphgate.core.wirejson import jsonable


class StateReader:
    def __init__(self, services: Services) -> None:
        self.services = services

    def _graph(self, session: SessionRecord) -> Any | None:
        """The session's graph compiled with the checkpointer; None before its first run (no state yet), or when
        the graph is no longer registered."""
        if session.graph is None or session.graph not in self.services.graphs.specs:
            return None
        config = {"configurable": {"thread_id": session.id}}
        return self.services.graphs.compiled(session.graph, self.services.checkpointer(), config)

    async def snapshot(
        self, session: SessionRecord, checkpoint_id: str | None = None, subgraphs: bool = False
    ) -> StateSnapshot | None:
        """The thread's state (at ``checkpoint_id``, else its newest); None when no run has written any."""

        def read() -> StateSnapshot | None:
            graph = self._graph(session)
            return None if graph is None else graph.get_state(config(session.id, checkpoint_id), subgraphs=subgraphs)

        return await asyncio.to_thread(read)

    async def values(self, session: SessionRecord) -> dict[str, Any]:
        """The thread's current values, JSON-safe ({} before any run)."""
        snap = await self.snapshot(session)
        values = jsonable(snap.values) if snap is not None else {}
        return values if isinstance(values, dict) else {"__root__": values}

    async def history(
        self,
        session: SessionRecord,
        limit: int,
        before: str | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> list[StateSnapshot]:
        """The thread's states, newest first: at most ``limit``, older than checkpoint ``before``, whose
        checkpoint metadata holds ``metadata``."""

        def read() -> list[StateSnapshot]:
            graph = self._graph(session)
            if graph is None:
                return []
            return list(
                graph.get_state_history(
                    config(session.id, None),
                    filter=metadata or None,
                    before=config(session.id, before) if before else None,
                    limit=limit,
                )
            )

        return await asyncio.to_thread(read)

    async def exists(self, session: SessionRecord, checkpoint_id: str) -> bool:
        """Whether the thread has the checkpoint ``checkpoint_id``."""

        def read() -> bool:
            saver = self.services.checkpointer()
            return saver.get_tuple(config(session.id, checkpoint_id)) is not None

        return await asyncio.to_thread(read)

    async def update(
        self, session: SessionRecord, values: Any, as_node: str | None, checkpoint_id: str | None
    ) -> dict[str, Any]:
        """Write ``values`` to the thread as if node ``as_node`` had returned them (from ``checkpoint_id``, else
        its newest checkpoint): a new checkpoint, whose config is returned. ``Conflict`` before the thread's first
        run (it has no graph yet), ``InvalidInput`` for an update the graph refuses."""
        from langgraph.errors import InvalidUpdateError

        def write() -> dict[str, Any]:
            graph = self._graph(session)
            if graph is None:
                raise Conflict(f"thread {session.id!r} has no graph yet: start a run on it first")
            try:
                return dict(graph.update_state(config(session.id, checkpoint_id), values, as_node=as_node))
            except (InvalidUpdateError, ValueError, KeyError) as exc:
                raise InvalidInput(f"the update was refused: {exc}") from None

        return await asyncio.to_thread(write)

    async def copy(self, source: SessionRecord, target_id: str) -> None:
        """Copy every checkpoint of ``source`` (its subgraphs' too) and their pending writes to thread
        ``target_id``, oldest first, so the copy has the same history."""

        def write() -> None:
            saver = self.services.checkpointer()
            tuples = list(saver.list({"configurable": {"thread_id": source.id}}))
            for item in reversed(tuples):  # oldest first: a checkpoint's parent is there before it
                conf = item.config["configurable"]
                ns = conf.get("checkpoint_ns", "")
                parent = (item.parent_config or {}).get("configurable", {}).get("checkpoint_id")
                target = {"configurable": {"thread_id": target_id, "checkpoint_ns": ns}}
                if parent:
                    target["configurable"]["checkpoint_id"] = parent
                checkpoint = item.checkpoint
                saved = saver.put(target, checkpoint, item.metadata, dict(checkpoint.get("channel_versions", {})))
                by_task: dict[str, list[tuple[str, Any]]] = {}
                for task_id, channel, value in item.pending_writes or []:
                    by_task.setdefault(task_id, []).append((channel, value))
                for task_id, writes in by_task.items():
                    saver.put_writes(saved, writes, task_id)

        await asyncio.to_thread(write)

    async def roll_back(self, session: SessionRecord, task_id: str) -> None:
        """Put the thread back where it stood before task ``task_id`` ran (graphgate/core/rollback.py)."""

        def write() -> None:
            graph = self._graph(session)
            if graph is not None:
                roll_back(graph, session.id, task_id)

        await asyncio.to_thread(write)


def config(thread_id: str, checkpoint_id: str | None) -> dict[str, Any]:
    conf: dict[str, Any] = {"thread_id": thread_id, "checkpoint_ns": ""}
    if checkpoint_id:
        conf["checkpoint_id"] = checkpoint_id
    return {"configurable": conf}


def checkpoint_id_of(checkpoint: Any, thread_id: str) -> str | None:
    """The checkpoint id a request names: a bare id, or a ``{"checkpoint_id", "checkpoint_ns"}`` object of this
    thread's root graph; ``InvalidInput`` for a subgraph's namespace or another thread."""
    if checkpoint is None or isinstance(checkpoint, str):
        return checkpoint or None
    if not isinstance(checkpoint, dict):
        raise InvalidInput("checkpoint must be a checkpoint id or an object with checkpoint_id")
    if isinstance(checkpoint.get("configurable"), dict):  # a config, as get_history's `before` is given
        checkpoint = checkpoint["configurable"]
    if checkpoint.get("checkpoint_ns"):
        raise InvalidInput("a subgraph's checkpoint (checkpoint_ns) is not supported")
    if checkpoint.get("thread_id") not in (None, thread_id):
        raise InvalidInput("checkpoint belongs to another thread")
    value = checkpoint.get("checkpoint_id")
    return str(value) if value else None
