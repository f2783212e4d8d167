"""``GET /api/v1/sessions``: your conversations, for a chat's conversation list (graphgate/core/conversations.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from graphgate.core.conversations import conversations
from graphgate.gateway.api.deps import KNOWN_QUERY, GatewayDep, PrincipalDep
from graphgate.gateway.api.tasks import ERRORS

router = APIRouter(prefix="/api/v1", tags=["sessions"], dependencies=KNOWN_QUERY)


class SessionSummary(BaseModel):
    session_id: str
    graph: str | None
    title: str = Field(description="The first message of the conversation, on one line (or its `title` metadata)")
    status: str | None = Field(description="The latest task's status; null before the first task")
    task_id: str | None = Field(description="The latest task (the active one while there is one)")
    active: bool = Field(description="A task of it is queued, running or waiting for input")
    waiting_input: bool = Field(description="Its latest task waits for an answer")
    created_at: float
    updated_at: float


class SessionList(BaseModel):
    sessions: list[SessionSummary]


@router.get("/sessions", response_model=SessionList, responses=ERRORS)
async def list_sessions(
    gw: GatewayDep, who: PrincipalDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> SessionList:
    """Your newest conversations, most recently active first, each titled by its first message."""
    found = await conversations(gw.service, who, limit)
    return SessionList(sessions=[SessionSummary(**vars(c)) for c in found])
