"""``/api/v1/tasks``: create, read, list, resume and cancel tasks."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from graphgate.core.attachments import with_files
from graphgate.core.errors import InvalidInput, NotFound
from graphgate.core.webhooks import check_webhook
from graphgate.gateway.api.deps import KNOWN_QUERY, ActorDep, GatewayDep, PrincipalDep, public_base
from graphgate.gateway.api.schemas import (
    ErrorResponse,
    GraphInfo,
    GraphList,
    Task,
    TaskCreate,
    TaskCreated,
    TaskList,
    TaskResume,
)
from graphgate.gateway.ratelimit import rate_limit

router = APIRouter(prefix="/api/v1", tags=["tasks"], dependencies=KNOWN_QUERY)

ERRORS = {
    401: {"model": ErrorResponse, "description": "Missing or invalid bearer token"},
    403: {"model": ErrorResponse, "description": "Not an approver of this question"},
    404: {"model": ErrorResponse, "description": "Not found (or not yours)"},
    409: {"model": ErrorResponse, "description": "Conflicts with the task's or session's state"},
    422: {"model": ErrorResponse, "description": "Invalid request"},
}
# creating, resuming and cancelling count against the caller's rate limit (GRAPHGATE_RATE_LIMIT_PER_MINUTE)
LIMITED = {**ERRORS, 429: {"model": ErrorResponse, "description": "Rate limit exceeded; see Retry-After"}}
RATE_LIMITED = [Depends(rate_limit)]


@router.post("/tasks", status_code=202, response_model=TaskCreated, responses=LIMITED, dependencies=RATE_LIMITED)
async def create_task(body: TaskCreate, request: Request, gw: GatewayDep, who: PrincipalDep) -> TaskCreated:
    """Create a task: run a graph with this input, in a new or an existing session."""
    if body.input is not None and body.model_extra and set(body.model_extra) & set(body.input):
        raise InvalidInput("a field is given both at the top level and inside input")
    if body.webhook is not None:  # where it may point is checked now too: a refused one stores nothing
        await asyncio.to_thread(check_webhook, body.webhook, gw.settings.webhook_allow_private)
    graph_input = body.graph_input()
    base = public_base(request, gw.settings)
    if body.files:
        store = gw.services.attachments
        blocks = store.blocks(await store.owned(who.id, body.files), base)
        graph = body.graph or gw.graphs.default
        if graph not in gw.graphs.names():
            raise NotFound(f"graph {graph!r} is not registered")
        graph_input = with_files(gw.graphs, graph, graph_input, blocks)
    record = await gw.service.create_task(
        who,
        input=graph_input,
        graph=body.graph,
        session_id=body.session_id,
        mode=body.mode,
        config=body.config,
        multitask=body.multitask,
        options={"webhook": body.webhook, "webhook_body": "event"} if body.webhook else None,
    )
    return TaskCreated(
        task_id=record.id,
        session_id=record.session_id,
        status=record.status.value,
        graph=record.graph,
        events_url=f"{base}/api/v1/events/{record.session_id}",
        task_url=f"{base}/api/v1/tasks/{record.id}",
    )


@router.get("/tasks/{task_id}", response_model=Task, responses=ERRORS)
async def get_task(task_id: str, gw: GatewayDep, who: PrincipalDep) -> Task:
    """A task's status, output, error and pending interrupt."""
    return Task.of(await gw.service.get_task(who, task_id))


@router.get("/tasks", response_model=TaskList, responses=ERRORS)
async def list_tasks(
    gw: GatewayDep,
    who: PrincipalDep,
    session_id: Annotated[str | None, Query(max_length=128)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> TaskList:
    """Your tasks, newest first; those of one session with ``session_id``."""
    records = await gw.service.list_tasks(who, session_id, limit)
    return TaskList(tasks=[Task.of(r) for r in records])


@router.post(
    "/tasks/{task_id}/resume", status_code=202, response_model=Task, responses=LIMITED, dependencies=RATE_LIMITED
)
async def resume_task(task_id: str, body: TaskResume, gw: GatewayDep, who: ActorDep) -> Task:
    """Answer the task's pending interrupt; the graph continues from its checkpoint.

    The task's starter answers its questions; a question an approval policy routes is answered by the
    approvers it names (403 for anyone else, recorded in the task's audit trail), and one that needs N
    approvals waits until N of them approved (docs/approvals.md).
    """
    if body.answer is None:
        raise InvalidInput("answer must not be null")
    return Task.of(await gw.service.answer(who, task_id, body.answer, body.interrupt_id))


@router.post(
    "/tasks/{task_id}/cancel", status_code=202, response_model=Task, responses=LIMITED, dependencies=RATE_LIMITED
)
async def cancel_task(task_id: str, gw: GatewayDep, who: PrincipalDep) -> Task:
    """Cancel a task: queued or waiting tasks end at once, a running one at its next step."""
    return Task.of(await gw.service.cancel(who, task_id))


@router.get("/graphs", response_model=GraphList, responses={401: ERRORS[401]})
async def list_graphs(gw: GatewayDep, who: PrincipalDep) -> GraphList:
    """The registered graphs and their input schemas."""
    return GraphList(
        default=gw.graphs.default,
        graphs=[GraphInfo(name=s.name, input_schema=s.input_schema) for s in gw.graphs.specs.values()],
    )
