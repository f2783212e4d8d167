"""Following one run: its events from a point in its thread's stream until the run stops.

A run is a graphgate task; its events are in its session's stream among those of the session's other tasks.
The caller takes the stream's newest id *before* it creates, resumes or looks at the run
(``TaskService.last_event_id``), so whatever the run writes next is after that point: no stop is missed.
The events come through the process's ``StreamHub``, as the browsers' SSE does.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from graphgate.core.events import DeserializationError, Event, EventType, deserialize_event, parse_id
from graphgate.core.store import TaskRecord, TaskStatus
from graphgate.core.tasks import Principal
from graphgate.gateway.api.deps import Gateway
from graphgate.gateway.fanout import SubscriberTooSlow
from graphgate.gateway.langgraph_api.wire import pause_interrupts, stops


@dataclass
class Stop:
    """Where a run stopped: its terminal event, or the last interrupt event of a pause (with all of them)."""

    event: Event
    pause: list[Event] = field(default_factory=list)

    @property
    def interrupts(self) -> list[dict[str, Any]]:
        return pause_interrupts(self.pause)

    @property
    def failed(self) -> bool:
        return self.event.type == EventType.TASK_FAILED


START_EVENTS = {EventType.TASK_QUEUED.value, EventType.TASK_RESUMED.value}
SCAN_PAGE = 500  # events read per step when looking back for a run's start


async def run_start(gw: Gateway, session_id: str, task_id: str) -> str:
    """The stream id just before the run's latest start (its ``task.queued``, or the ``task.resumed`` that sent it
    on): following from there replays the run as it goes now. "0-0" when the start is no longer in the stream."""
    key = gw.service.keys.events(session_id)
    top = "+"
    while True:
        page = await gw.redis.xrevrange(key, max=top, min="-", count=SCAN_PAGE)
        for entry_id, raw in page:
            try:
                event = deserialize_event(entry_id, raw)
            except DeserializationError:
                continue
            if event.task_id == task_id and event.type.value in START_EVENTS:
                return before(entry_id)
        if len(page) < SCAN_PAGE:
            return "0-0"
        top = f"({page[-1][0]}"


def before(entry_id: str) -> str:
    """The greatest stream id smaller than ``entry_id``."""
    ms, seq = parse_id(entry_id)
    return f"{ms}-{seq - 1}" if seq else f"{ms - 1}-18446744073709551615"


async def run_events(gw: Gateway, session_id: str, task_id: str, after: str) -> AsyncIterator[Event]:
    """The events of task ``task_id`` after stream id ``after``, live, up to and including the one it stops at
    (ends early only when the API process shuts down)."""
    key = gw.service.keys.events(session_id)
    while True:
        try:
            async for entry in gw.hub.follow(key, after):
                after = entry.id
                try:
                    event = entry.event()  # parsed once for every follower of the stream
                except DeserializationError:
                    continue
                if event.task_id != task_id:
                    continue
                yield event
                if stops(event):
                    return
            return
        except SubscriberTooSlow:
            continue  # dropped for lagging: read on from the last event taken


class Watch:
    """Where a run stands as its events go by: the interrupts of the pause it is in, and its stop."""

    def __init__(self) -> None:
        self.pause: list[Event] = []

    def see(self, event: Event) -> Stop | None:
        """The run's stop if ``event`` is it, else None."""
        if event.type == EventType.INTERRUPT:
            self.pause.append(event)
        elif event.type == EventType.TASK_RESUMED:
            self.pause = []
        if not stops(event):
            return None
        return Stop(event, self.pause if event.type == EventType.INTERRUPT else [])


async def until_stopped(gw: Gateway, session_id: str, task_id: str, after: str) -> Stop | None:
    """Wait for the run to stop after ``after``; None if the process shut down first."""
    watch = Watch()
    async for event in run_events(gw, session_id, task_id, after):
        stop = watch.see(event)
        if stop is not None:
            return stop
    return None


TERMINAL = {
    TaskStatus.COMPLETED: EventType.TASK_COMPLETED,
    TaskStatus.FAILED: EventType.TASK_FAILED,
    TaskStatus.CANCELLED: EventType.TASK_CANCELLED,
}


def stopped_now(record: TaskRecord) -> Stop | None:
    """The stop a run is at now, rebuilt from its record (as its events had it), or None while it is going."""
    if record.status == TaskStatus.WAITING_INPUT:
        pending = record.pending()
        pause = [
            Event(EventType.INTERRUPT, record.id, record.session_id, {**data, "index": n, "count": len(pending)})
            for n, data in enumerate(pending)
        ]
        return Stop(pause[-1], pause) if pause else None
    if record.status in TERMINAL:
        data = {"error": record.error or {}} if record.status == TaskStatus.FAILED else {}
        return Stop(Event(TERMINAL[record.status], record.id, record.session_id, data, ts=record.updated_at))
    return None


async def wait_stop(gw: Gateway, who: Principal, record: TaskRecord, after: str | None = None) -> Stop | None:
    """Where the run stops: at once when it already has (``after`` None: look at the record first), else
    when its stop event comes."""
    if after is None:
        after = await gw.service.last_event_id(record.session_id)
        record = await gw.service.get_task(who, record.id)
        now = stopped_now(record)
        if now is not None:
            return now
    return await until_stopped(gw, record.session_id, record.id, after)
