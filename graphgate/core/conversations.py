"""A principal's conversations as a chat list shows them: each session with a title (its first message) and
where its latest task stands. The web widget's conversation list reads it (``GET /api/v1/sessions``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from graphgate.core.events import input_text
from graphgate.core.store import TaskStatus
from graphgate.core.tasks import Principal, TaskService

TITLE_CHARS = 80


@dataclass
class Conversation:
    session_id: str
    graph: str | None
    title: str
    status: str | None  # the latest task's status; None before the session's first task
    task_id: str | None  # the latest task (the active one while one is)
    active: bool  # a task of it is queued, running or waiting for input
    waiting_input: bool
    created_at: float
    updated_at: float


def title_of(text: str | None) -> str:
    """One line of at most ``TITLE_CHARS`` characters."""
    line = " ".join((text or "").split())
    return line if len(line) <= TITLE_CHARS else line[: TITLE_CHARS - 1] + "…"


async def conversations(tasks: TaskService, principal: Principal, limit: int = 20) -> list[Conversation]:
    """The principal's ``limit`` newest sessions, most recently active first, titled by their first task's
    input (the session's ``title`` metadata wins when it has one)."""
    sessions = await tasks.search_sessions(principal, limit=limit)
    async with tasks.redis.pipeline(transaction=False) as pipe:
        for session in sessions:
            pipe.lindex(tasks.keys.session_tasks(session.id), 0)
        first_ids = cast("list[str | None]", await pipe.execute() if sessions else [])
    async with tasks.redis.pipeline(transaction=False) as pipe:
        for session, first in zip(sessions, first_ids):
            if first:
                pipe.hget(tasks.keys.task(session.id, first), "input")
        raw_inputs = iter(cast("list[str | None]", await pipe.execute() if any(first_ids) else []))
    found: list[Conversation] = []
    for session, first in zip(sessions, first_ids):
        raw = next(raw_inputs) if first else None
        first_input: Any = json.loads(raw) if raw else None
        named = session.metadata.get("title")
        latest = session.latest
        found.append(
            Conversation(
                session_id=session.id,
                graph=session.graph,
                title=title_of(named if isinstance(named, str) and named else input_text(first_input)),
                status=latest.status.value if latest else None,
                task_id=latest.id if latest else None,
                active=session.active is not None,
                waiting_input=latest is not None and latest.status == TaskStatus.WAITING_INPUT,
                created_at=session.created_at,
                updated_at=session.updated_at,
            )
        )
    found.sort(key=lambda c: c.updated_at, reverse=True)
    return found
