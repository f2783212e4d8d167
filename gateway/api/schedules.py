"""``/api/v1/schedules``: runs of a graph on a cron schedule, posted into a chat or a webhook
(graphgate/core/schedules.py; the runs are started by ``graphgate scheduler``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from graphgate.core.schedules import Schedule
from graphgate.gateway.api.deps import KNOWN_QUERY, GatewayDep, PrincipalDep
from graphgate.gateway.api.schemas import _finite
from graphgate.gateway.api.tasks import ERRORS, LIMITED, RATE_LIMITED

router = APIRouter(prefix="/api/v1", tags=["schedules"], dependencies=KNOWN_QUERY)


class ScheduleCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "cron": "0 9 * * 1-5",
                    "timezone": "Europe/Berlin",
                    "graph": "writer",
                    "input": {"topic": "this week in urban beekeeping"},
                    "target": {"slack": {"team": "T0123ABCD", "channel": "C0123ABCD"}},
                }
            ]
        },
    )

    cron: str = Field(
        ...,
        max_length=200,
        description="Five fields (minute hour day month weekday), or six with seconds first: '*/5 * * * *'.",
    )
    timezone: str = Field("UTC", max_length=64, description="IANA time zone the cron is read in.")
    graph: str | None = Field(None, max_length=128, description="Registered graph name; default from settings.")
    input: dict[str, Any] = Field(default_factory=dict, description="The graph's input for each run.")
    config: dict[str, Any] = Field(default_factory=dict, description="The graph's configurable values.")
    target: dict[str, Any] | None = Field(
        None,
        description='Where each run goes: {"slack": {"team", "channel"}}, {"telegram": {"chat_id"}}, '
        '{"webhook": "https://…"}, or null (the run is only recorded).',
    )
    name: str = Field("", max_length=200, description="Shown in the message that opens each run's thread.")

    @model_validator(mode="after")
    def _only_finite_numbers(self) -> ScheduleCreate:
        _finite([self.input, self.config])
        return self


class ScheduleOut(BaseModel):
    schedule_id: str
    owner: str
    cron: str
    timezone: str
    graph: str
    input: dict[str, Any]
    config: dict[str, Any]
    target: dict[str, Any] | None
    name: str
    paused: bool
    next_run_at: float | None = Field(description="Unix time of the next run (null while paused)")
    created_at: float
    updated_at: float
    runs: int = Field(description="Runs started so far")
    last_run_at: float | None
    last_task_id: str | None
    last_session_id: str | None
    last_error: str = Field(description="Why the last tick started no run (empty when it did)")
    history: list[dict[str, Any]] = Field(description="The latest runs: tick, task_id, session_id, at")

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleOut:
        shown = schedule.public()
        if schedule.paused:
            shown["next_run_at"] = None
        return cls(**shown)


class ScheduleList(BaseModel):
    schedules: list[ScheduleOut]


@router.post("/schedules", status_code=201, response_model=ScheduleOut, responses=LIMITED, dependencies=RATE_LIMITED)
async def create_schedule(body: ScheduleCreate, gw: GatewayDep, who: PrincipalDep) -> ScheduleOut:
    """Run a graph on a cron schedule. Each run is a task of yours, in a session of its own; with a chat target
    it is posted into the channel as a new thread, as if started there."""
    schedule = await gw.services.schedules.create(
        who.id,
        cron=body.cron,
        timezone=body.timezone,
        graph=body.graph,
        input=body.input,
        config=body.config,
        target=body.target,
        name=body.name,
    )
    return ScheduleOut.of(schedule)


@router.get("/schedules", response_model=ScheduleList, responses={401: ERRORS[401]})
async def list_schedules(gw: GatewayDep, who: PrincipalDep) -> ScheduleList:
    """Your schedules, oldest first."""
    return ScheduleList(schedules=[ScheduleOut.of(s) for s in await gw.services.schedules.listed(who.id)])


@router.get("/schedules/{schedule_id}", response_model=ScheduleOut, responses=ERRORS)
async def get_schedule(schedule_id: str, gw: GatewayDep, who: PrincipalDep) -> ScheduleOut:
    """One of your schedules, with its latest runs."""
    return ScheduleOut.of(await gw.services.schedules.get(who.id, schedule_id))


@router.post("/schedules/{schedule_id}/pause", response_model=ScheduleOut, responses=ERRORS)
async def pause_schedule(schedule_id: str, gw: GatewayDep, who: PrincipalDep) -> ScheduleOut:
    """Stop starting runs until resumed (a run already started goes on)."""
    return ScheduleOut.of(await gw.services.schedules.pause(who.id, schedule_id))


@router.post("/schedules/{schedule_id}/resume", response_model=ScheduleOut, responses=ERRORS)
async def resume_schedule(schedule_id: str, gw: GatewayDep, who: PrincipalDep) -> ScheduleOut:
    """Start runs again, from the first tick after now (ticks missed while paused are not made up)."""
    return ScheduleOut.of(await gw.services.schedules.resume(who.id, schedule_id))


@router.delete("/schedules/{schedule_id}", status_code=204, responses=ERRORS)
async def delete_schedule(schedule_id: str, gw: GatewayDep, who: PrincipalDep) -> Response:
    """Delete a schedule (its past runs stay: they are tasks)."""
    await gw.services.schedules.delete(who.id, schedule_id)
    return Response(status_code=204)
