"""``/threads``: graphgate sessions as LangGraph threads, and their state in the checkpointer (read, updated,
copied).

A thread is a session: created here (empty, owned by the caller) or by any task, from /api/v1, Slack or
Telegram alike. Every principal sees only its own threads; another's answers 404, as /api/v1 does.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from graphgate.core.errors import Conflict, NotFound
from graphgate.core.store import SessionRecord
from graphgate.core.tasks import Principal
from graphgate.gateway.api.deps import Gateway, GatewayDep
from graphgate.gateway.langgraph_api import shapes
from graphgate.gateway.langgraph_api.deps import Caller, States
from graphgate.gateway.langgraph_api.requests import (
    History,
    StateAt,
    StateUpdate,
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadSearch,
)
from graphgate.gateway.langgraph_api.state import StateReader, checkpoint_id_of

router = APIRouter(tags=["langgraph: threads"])

COUNT_LIMIT = 10_000  # threads counted at most by /threads/count


async def _thread(states: StateReader, session: SessionRecord) -> dict[str, Any]:
    return shapes.thread(session, await states.snapshot(session))


@router.post("/threads")
async def create(body: ThreadCreate, gw: GatewayDep, who: Caller, states: States) -> dict[str, Any]:
    """A new empty thread (a session of the caller's); ``if_exists='do_nothing'`` returns an existing one."""
    body.refuse_unsupported("supersteps", "ttl")
    session = await gw.service.create_session(who, body.thread_id, body.metadata, body.if_exists)
    return await _thread(states, session)


def _filter(
    metadata: dict[str, Any] | None, status: str | None, ids: list[str] | None
) -> Callable[[SessionRecord], bool]:
    wanted = set(ids) if ids else None

    def match(session: SessionRecord) -> bool:
        return (
            (wanted is None or session.id in wanted)
            and (status is None or shapes.thread_status(session) == status)
            and (not metadata or shapes.contains(shapes.thread_metadata(session), metadata))
        )

    return match


@router.post("/threads/search")
async def search(body: ThreadSearch, gw: GatewayDep, who: Caller, states: States) -> list[dict[str, Any]]:
    """The caller's threads, newest first, that hold ``metadata``, have ``status`` and are among ``ids``."""
    body.refuse_unsupported("values", "extract")
    match = _filter(body.metadata, body.status, body.ids)
    found = await gw.service.search_sessions(who, match, body.limit, body.offset)
    threads = await asyncio.gather(*(_thread(states, s) for s in found))
    return [shapes.select(t, body.select) for t in threads]


@router.post("/threads/count")
async def count(body: ThreadCount, gw: GatewayDep, who: Caller) -> int:
    body.refuse_unsupported("values")
    match = _filter(body.metadata, body.status, None)
    return len(await gw.service.search_sessions(who, match, COUNT_LIMIT))


@router.get("/threads/{thread_id}")
async def get(thread_id: str, gw: GatewayDep, who: Caller, states: States) -> dict[str, Any]:
    return await _thread(states, await gw.service.get_session(who, thread_id))


@router.patch("/threads/{thread_id}")
async def update(thread_id: str, body: ThreadPatch, gw: GatewayDep, who: Caller, states: States) -> dict[str, Any]:
    """Merge ``metadata`` into the thread's."""
    body.refuse_unsupported("ttl")
    session = await gw.service.update_session_metadata(who, thread_id, body.metadata or {})
    return await _thread(states, session)


@router.post("/threads/{thread_id}/copy")
async def copy(thread_id: str, gw: GatewayDep, who: Caller, states: States) -> dict[str, Any]:
    """A new thread of the caller's with this one's metadata, graph and checkpoints (not its runs)."""
    source = await gw.service.get_session(who, thread_id)
    if source.active:
        raise Conflict(f"thread {thread_id!r} has run {source.active} going on; copy it when it has stopped")
    copied = await gw.service.create_session(who, None, source.metadata, graph=source.graph)
    await states.copy(source, copied.id)
    return await _thread(states, copied)


@router.delete("/threads/{thread_id}", status_code=204)
async def delete(thread_id: str, gw: GatewayDep, who: Caller) -> Response:
    """Delete the thread: its session, events and run records, then its checkpoints. A running run must be
    cancelled first (409)."""
    await delete_thread(gw, who, thread_id)
    return Response(status_code=204)


async def delete_thread(gw: Gateway, who: Principal, thread_id: str) -> None:
    """The thread's session, events and run records, then its checkpoints (``Conflict`` while a run of it is
    running); the route's, and a stateless run's when it stops."""
    await gw.service.delete_session(who, thread_id)
    await asyncio.to_thread(gw.services.checkpointer().delete_thread, thread_id)


@router.get("/threads/{thread_id}/state")
async def state(
    thread_id: str,
    gw: GatewayDep,
    who: Caller,
    states: States,
    subgraphs: bool = False,
    select: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    """The thread's newest state: values, next nodes, tasks with their interrupts, checkpoint, metadata."""
    return await _state(gw, who, states, thread_id, None, subgraphs, select)


@router.get("/threads/{thread_id}/state/{checkpoint_id}")
async def state_at(
    thread_id: str,
    checkpoint_id: str,
    gw: GatewayDep,
    who: Caller,
    states: States,
    subgraphs: bool = False,
    select: Annotated[list[str] | None, Query()] = None,
) -> dict[str, Any]:
    return await _state(gw, who, states, thread_id, checkpoint_id, subgraphs, select)


@router.post("/threads/{thread_id}/state/checkpoint")
async def state_at_checkpoint(
    thread_id: str, body: StateAt, gw: GatewayDep, who: Caller, states: States
) -> dict[str, Any]:
    checkpoint_id = checkpoint_id_of(body.checkpoint, thread_id)
    return await _state(gw, who, states, thread_id, checkpoint_id, body.subgraphs, body.select)


async def _state(
    gw: Gateway,
    who: Principal,
    states: StateReader,
    thread_id: str,
    checkpoint_id: str | None,
    subgraphs: bool,
    fields: list[str] | None,
) -> dict[str, Any]:
    session = await gw.service.get_session(who, thread_id)
    snap = await states.snapshot(session, checkpoint_id, subgraphs)
    found = shapes.thread_state(snap) if snap is not None else shapes.empty_state(thread_id)
    return shapes.select(found, fields)


@router.post("/threads/{thread_id}/state")
async def update_state(
    thread_id: str, body: StateUpdate, gw: GatewayDep, who: Caller, states: States
) -> dict[str, Any]:
    """Write values to the thread's state as node ``as_node`` (a new checkpoint). The thread must be still:
    while a run is queued, running or waiting for an answer it answers 409."""
    session = await gw.service.get_session(who, thread_id)
    if session.active:
        raise Conflict(
            f"thread {thread_id!r} has run {session.active} going on; update its state when the run has stopped "
            "(answer an interrupt with command={'resume': ...})"
        )
    checkpoint_id = checkpoint_id_of(body.checkpoint or body.checkpoint_id, thread_id)
    if checkpoint_id and not await states.exists(session, checkpoint_id):
        raise NotFound(f"checkpoint {checkpoint_id!r} not found in thread {thread_id!r}")
    written = await states.update(session, body.values, body.as_node, checkpoint_id)
    checkpoint = shapes.checkpoint(written) or {}
    return {"checkpoint": checkpoint, "configurable": checkpoint, "checkpoint_id": checkpoint.get("checkpoint_id")}


@router.post("/threads/{thread_id}/history")
async def history(thread_id: str, body: History, gw: GatewayDep, who: Caller, states: States) -> list[dict[str, Any]]:
    """The thread's states, newest first: ``limit`` of them, older than checkpoint ``before``."""
    if body.checkpoint is not None:
        checkpoint_id_of(body.checkpoint, thread_id)  # only the root graph's history: refuses a subgraph's
    session = await gw.service.get_session(who, thread_id)
    before = checkpoint_id_of(body.before, thread_id)
    found = await states.history(session, body.limit, before, body.metadata)
    return [shapes.select(shapes.thread_state(s), body.select) for s in found]
