"""``/api/v1/approvals`` and ``/api/v1/tasks/{id}/audit``: the questions waiting for the caller's approval,
and a task's audit trail (docs/approvals.md)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from graphgate.core.approvalclock import open_questions
from graphgate.core.events import Event
from graphgate.gateway.api.deps import KNOWN_QUERY, ActorDep, GatewayDep
from graphgate.gateway.api.tasks import ERRORS

router = APIRouter(prefix="/api/v1", tags=["approvals"], dependencies=KNOWN_QUERY)

JSONL = "application/x-ndjson"


class AuditEntry(BaseModel):
    id: str = Field(description="The event's stream id (its SSE id)")
    type: str
    ts: float
    data: dict[str, Any]

    @classmethod
    def of(cls, event: Event) -> AuditEntry:
        return cls(id=event.id or "", type=event.type.value, ts=event.ts, data=event.data)


class Audit(BaseModel):
    task_id: str
    events: list[AuditEntry]


class OpenQuestion(BaseModel):
    task_id: str
    session_id: str
    graph: str
    interrupt: dict[str, Any] = Field(description="The question, as its interrupt event described it")
    approval: dict[str, Any] = Field(description="Its approval: policy, label, required, votes, deadline")


class OpenQuestions(BaseModel):
    approvals: list[OpenQuestion]


@router.get(
    "/tasks/{task_id}/audit",
    response_model=Audit,
    responses={**ERRORS, 200: {"content": {JSONL: {}}, "description": "JSON, or JSON lines with format=jsonl"}},
)
async def task_audit(
    task_id: str,
    gw: GatewayDep,
    who: ActorDep,
    format: Annotated[Literal["json", "jsonl"], Query(description="jsonl: one event per line, for export")] = "json",
) -> Any:
    """The task's audit trail, in order: queued, started, every question, who was asked where, every answer,
    vote, refusal, reminder, escalation and timeout, and how the task ended. For the task's starter and the
    approvers of its questions."""
    trail = [AuditEntry.of(e) for e in await gw.service.audit(who, task_id)]
    if format == "jsonl":
        lines = "".join(json.dumps({"task_id": task_id, **e.model_dump()}, ensure_ascii=False) + "\n" for e in trail)
        return Response(lines, media_type=JSONL)
    return Audit(task_id=task_id, events=trail)


@router.get("/approvals", response_model=OpenQuestions, responses={401: ERRORS[401]})
async def my_approvals(gw: GatewayDep, who: ActorDep, limit: Annotated[int, Query(ge=1, le=200)] = 50) -> OpenQuestions:
    """The routed questions waiting for an answer the caller may give (its JWT subject or claims are named
    by their policy), oldest first. Answer one with ``POST /api/v1/tasks/{task_id}/resume``."""
    found = await open_questions(gw.service, who, limit)
    return OpenQuestions(
        approvals=[
            OpenQuestion(
                task_id=record.id,
                session_id=record.session_id,
                graph=record.graph,
                interrupt=next(i for i in record.pending() if i["interrupt_id"] == iid),
                approval=(record.approvals or {})[iid],
            )
            for record, iid in found
        ]
    )
