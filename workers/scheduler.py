"""The scheduler process (``graphgate scheduler``): starts the runs of schedules whose tick has come.

Every ``GRAPHGATE_SCHEDULE_POLL_SECONDS`` it reads the due schedules and, for each, claims the tick
(graphgate/core/schedules.py: a compare-and-set, so with any number of schedulers running each tick is
claimed by one), then starts the run: a Slack or Telegram target gets a new conversation in its channel or
chat (``Platform.open_thread``) whose binding the task carries, so the dispatcher posts the run there as it
does for any chat task; a webhook target is the task's webhook; no target, the run is only recorded.

A tick left half-started by a scheduler that died is finished by another once its note is stale
(``GRAPHGATE_SCHEDULE_STALE_SECONDS``); the
run's session is named after the tick, so a run that was already created is found, not created again.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Mapping
from typing import Any

from redis.exceptions import RedisError

from graphgate.core.errors import GraphgateError, NotFound
from graphgate.core.platform import (
    Binding,
    DeliveryError,
    PermanentError,
    PlatformFactory,
    PlatformRegistry,
    RateLimited,
)
from graphgate.core.schedules import Schedule, ScheduleService
from graphgate.core.services import Services, open_services
from graphgate.core.settings import Settings
from graphgate.core.tasks import Principal, TaskService

log = logging.getLogger("graphgate.scheduler")

TITLE_CHARS = 200  # of the input's text in the message that opens a scheduled run's thread
RETRY_SECONDS = 5.0  # a tick whose chat platform failed for now is tried again this much later


class Scheduler:
    def __init__(self, tasks: TaskService, schedules: ScheduleService, platforms: PlatformRegistry) -> None:
        self.tasks = tasks
        self.schedules = schedules
        self.platforms = platforms
        self.started = 0  # runs this process started (tests and logs)

    async def run(self, stop: asyncio.Event, poll_seconds: float) -> None:
        while not stop.is_set():
            try:
                await self.tick()
            except (RedisError, OSError) as exc:
                log.warning("scheduler: %s: %s; trying again", type(exc).__name__, exc)
            try:
                await asyncio.wait_for(stop.wait(), max(0.05, poll_seconds))
            except TimeoutError:
                pass

    async def tick(self, now: float | None = None) -> int:
        """Start every due tick this process claims, and finish stale ones; the number of runs started."""
        now = time.time() if now is None else now
        started = 0
        for schedule_id in await self.schedules.due(now):
            schedule = await self.schedules.load(schedule_id)
            if schedule is None or schedule.paused:
                continue
            note = await self.schedules.claim(schedule, now)
            if note is not None:
                started += await self._fire_safely(schedule, note, now)
        for schedule_id in await self.schedules.stale(now):
            schedule = await self.schedules.load(schedule_id)
            note = await self.schedules.take_over(schedule, now) if schedule is not None else None
            if schedule is not None and note is not None:
                log.info("schedule %s: finishing tick %s left by a scheduler that stopped", schedule.id, note["tick"])
                started += await self._fire_safely(schedule, note, now)
        self.started += started
        return started

    async def _fire_safely(self, schedule: Schedule, note: dict[str, Any], now: float) -> int:
        """``_fire``; a failure of one schedule leaves its note (tried again once stale) and spares the others."""
        try:
            return await self._fire(schedule, note, now)
        except (RedisError, OSError):
            raise
        except Exception:
            log.exception("schedule %s: tick %s failed; tried again later", schedule.id, note["tick"])
            return 0

    async def _fire(self, schedule: Schedule, note: dict[str, Any], now: float) -> int:
        """Start the run of the noted tick (once: a run already in its session is found instead)."""
        tick = float(note["tick"])
        session_id = schedule.session_of(tick)
        owner = Principal(schedule.owner)
        try:
            existing = await self.tasks.list_tasks(owner, session_id, limit=1)
        except NotFound:
            existing = []
        if existing:
            await self.schedules.fired(schedule, tick, task_id=existing[0].id, session_id=session_id)
            return 0
        try:
            binding = note.get("binding") or await self._open(schedule, note)
        except PermanentError as exc:
            log.warning("schedule %s: cannot post into %s: %s", schedule.id, schedule.target, exc)
            await self.schedules.fired(schedule, tick, error=f"cannot post into the target: {exc}")
            return 0
        except DeliveryError as exc:  # rate limited, unreachable: the note stays, and the tick is tried again
            delay = exc.retry_after if isinstance(exc, RateLimited) else RETRY_SECONDS
            log.warning("schedule %s: %s; tick %s tried again in %.1fs", schedule.id, exc, tick, delay)
            await self.schedules.retry(schedule, max(delay, 0.2), now)
            return 0
        target = schedule.target or {}
        options = {"webhook": target["webhook"], "webhook_body": "event"} if "webhook" in target else None
        try:
            record = await self.tasks.create_task(
                owner,
                input=schedule.input,
                graph=schedule.graph,
                session_id=session_id,
                config=schedule.config,
                multitask="reject",
                binding=binding,
                metadata={"schedule_id": schedule.id, "scheduled_for": tick},
                options=options,
            )
        except GraphgateError as exc:  # the graph was removed, or no longer takes this input
            log.warning("schedule %s: run refused: %s", schedule.id, exc.message)
            await self.schedules.fired(schedule, tick, error=f"run refused: {exc.message}")
            return 0
        await self.schedules.fired(schedule, tick, task_id=record.id, session_id=session_id)
        log.info("schedule %s: tick %s started task %s", schedule.id, tick, record.id)
        return 1

    async def _open(self, schedule: Schedule, note: dict[str, Any]) -> Binding | None:
        """The chat binding of the tick's run: a new thread in the target channel or chat (None: no chat)."""
        target = schedule.target or {}
        if "slack" in target:
            kind, place = "slack", {"platform": "slack", **target["slack"]}
        elif "telegram" in target:
            kind, place = "telegram", {"platform": "telegram", "chat": target["telegram"]["chat_id"]}
        else:
            return None
        platform = self.platforms.get(kind)
        if platform is None:
            raise PermanentError("not_configured", f"{kind} is not configured in the scheduler")
        binding = await platform.open_thread(place, title(schedule), schedule.owner)
        await self.schedules.note_binding(schedule, note, binding)
        return binding


def title(schedule: Schedule) -> str:
    """The text of the message that opens a scheduled run's thread."""
    what = schedule.name or next((str(v) for v in schedule.input.values() if isinstance(v, str) and v), "")
    what = what if len(what) <= TITLE_CHARS else what[: TITLE_CHARS - 1] + "…"
    return f"⏰ Scheduled run of {schedule.graph} ({schedule.cron}, {schedule.timezone})" + (
        f": {what}" if what else ""
    )


async def serve(settings: Settings, platforms: Mapping[str, PlatformFactory]) -> None:
    """Run one scheduler until SIGTERM or SIGINT."""
    services: Services = open_services(settings)
    registry = PlatformRegistry(settings, platforms)
    scheduler = Scheduler(services.tasks, services.schedules, registry)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("scheduler started (poll every %.2fs)", settings.schedule_poll_seconds)
    try:
        await scheduler.run(stop, settings.schedule_poll_seconds)
    finally:
        await registry.close()
        await services.close()


def main(settings: Settings, platforms: Mapping[str, PlatformFactory]) -> int:
    """``graphgate scheduler``."""
    asyncio.run(serve(settings, platforms))
    return 0
