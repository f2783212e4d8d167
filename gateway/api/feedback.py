"""``/api/v1/tasks/{id}/feedback`` and ``/api/v1/feedback``: 👍/👎 on final answers (graphgate/core/feedback.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from graphgate.core.errors import NotFound
from graphgate.core.feedback import MAX_COMMENT
from graphgate.gateway.api.deps import KNOWN_QUERY, ActorDep, GatewayDep, PrincipalDep
from graphgate.gateway.api.tasks import ERRORS, LIMITED, RATE_LIMITED

router = APIRouter(prefix="/api/v1", tags=["feedback"], dependencies=KNOWN_QUERY)


class FeedbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: Literal[1, -1] = Field(..., description="1: 👍, -1: 👎")
    comment: str = Field("", max_length=MAX_COMMENT, description="What was good or wrong (optional)")


class FeedbackOut(BaseModel):
    task_id: str
    session_id: str
    graph: str
    by: str
    score: int
    comment: str
    name: str = ""
    where: str = ""
    at: float


class FeedbackList(BaseModel):
    feedback: list[FeedbackOut]


@router.post(
    "/tasks/{task_id}/feedback",
    status_code=201,
    response_model=FeedbackOut,
    responses=LIMITED,
    dependencies=RATE_LIMITED,
)
async def give_feedback(task_id: str, body: FeedbackIn, gw: GatewayDep, who: ActorDep) -> FeedbackOut:
    """Rate a completed task's final answer. One feedback per caller per task: a second replaces the first;
    the same one again changes nothing. 409 while the task has no final answer."""
    record = await gw.service.locate(task_id)
    given = await gw.services.feedback.give(who, record, body.score, body.comment)
    if given is None:  # the same as before: what is recorded
        given = await gw.services.feedback.given(record, who.ref)
    if given is None:  # expired between the two reads, with its session
        raise NotFound(f"task {task_id!r} not found")
    return FeedbackOut(**given.to_dict())


@router.get("/feedback", response_model=FeedbackList, responses={401: ERRORS[401]})
async def list_feedback(
    gw: GatewayDep,
    who: PrincipalDep,
    graph: Annotated[str, Query(max_length=128, description="The graph whose answers were rated")],
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> FeedbackList:
    """The feedback on a graph's answers to your tasks, newest first."""
    found = await gw.services.feedback.listed(graph, who.id, limit)
    return FeedbackList(feedback=[FeedbackOut(**f.to_dict()) for f in found])
