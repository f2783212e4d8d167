"""Scheduled runs in-process, on a real Redis: what a schedule may be (and what is refused, storing nothing),
how cron ticks fall in a time zone, and the scheduler's promises: each tick runs once however many
schedulers see it, missed ticks run once, a tick left by a scheduler that died is finished once."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from graphgate.core.errors import InvalidInput, NotFound
from graphgate.core.platform import Binding, Message, PermanentError, Platform, PlatformRegistry, Posted, Tag
from graphgate.core.platform import TransientError as PlatformTransient
from graphgate.core.schedules import Schedule, ScheduleService, next_tick
from graphgate.core.tasks import Principal
from graphgate.core.taskview import TaskView
from graphgate.testing.world import World
from graphgate.workers.scheduler import Scheduler

ALICE = "alice"
FIRING_STALE_SECONDS = 30.0  # GRAPHGATE_SCHEDULE_STALE_SECONDS's default
T0 = datetime(2026, 11, 30, 9, 0, 0, tzinfo=ZoneInfo("UTC")).timestamp()


@pytest.fixture
def world(plain_world: World) -> World:
    return plain_world


def schedules(world: World) -> ScheduleService:
    return world.services.schedules


class Channel(Platform):
    """A chat platform that only opens threads, recording them (``fail``: what the next call raises)."""

    name = "slack"

    def __init__(self) -> None:
        self.opened: list[tuple[Binding, str, str]] = []
        self.fail: Exception | None = None

    def channel_key(self, binding: Binding) -> str:
        return str(binding.get("channel"))

    def render(self, view: TaskView, binding: Binding) -> list[Message]:
        return []

    async def post(self, binding: Binding, message: Message, tag: Tag) -> Posted:
        raise AssertionError("the scheduler posts nothing but the thread's first message")

    async def edit(self, binding: Binding, posted: Posted, message: Message, tag: Tag) -> Posted:
        raise AssertionError("the scheduler edits nothing")

    async def open_thread(self, place: Binding, title: str, owner: str) -> Binding:
        if self.fail is not None:
            failure, self.fail = self.fail, None
            raise failure
        self.opened.append((place, title, owner))
        return {**place, "thread_ts": f"{len(self.opened)}.000", "user": None}


def scheduler(world: World, channel: Channel | None = None) -> Scheduler:
    factories = {"slack": lambda _settings: channel} if channel is not None else {}
    return Scheduler(world.service, schedules(world), PlatformRegistry(world.settings, factories))


def create(world: World, cron: str = "*/5 * * * *", **kwargs: Any) -> Schedule:
    kwargs.setdefault("input", {})
    kwargs.setdefault("timezone", "UTC")
    kwargs.setdefault("graph", "plain")
    return world.run(schedules(world).create(ALICE, cron=cron, now=T0, **kwargs))


def runs(world: World, schedule: Schedule) -> list[dict[str, Any]]:
    return world.run(schedules(world).get(ALICE, schedule.id)).history


def test_bad_schedules_are_refused_and_nothing_is_stored(world: World) -> None:
    refused: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"cron": "* * * *"}, InvalidInput, "5 fields"),
        ({"cron": "61 * * * *"}, InvalidInput, "not a valid cron"),
        ({"cron": "* * * * * * *"}, InvalidInput, "got 7"),
        ({"cron": "@fortnightly"}, InvalidInput, "5 fields"),
        ({"cron": "* * 31 2 *"}, InvalidInput, "never runs"),
        ({"timezone": "Mars/Olympus"}, InvalidInput, "IANA"),
        ({"graph": "nope"}, NotFound, "not registered"),
        ({"config": {"thread_id": "x"}}, InvalidInput, "thread_id"),
        ({"target": {"email": "a@b.c"}}, InvalidInput, "target must be"),
        ({"target": {"slack": {"channel": ""}}}, InvalidInput, "channel id"),
        ({"target": {"slack": {"channel": "C1", "thread": "1.0"}}}, InvalidInput, "channel and team only"),
        ({"target": {"telegram": {"chat_id": "general"}}}, InvalidInput, "chat id"),
        ({"target": {"telegram": {"chat_id": True}}}, InvalidInput, "chat id"),
        ({"target": {"webhook": "http://127.0.0.1:9/hook"}}, InvalidInput, "not a public address"),
        ({"target": {"webhook": "http://10.1.2.3/hook"}}, InvalidInput, "not a public address"),
        ({"target": {"webhook": "ftp://example.com/hook"}}, InvalidInput, "http"),
        ({"target": {"slack": {"channel": "C1"}, "webhook": "https://example.com"}}, InvalidInput, "target must"),
    ]
    for change, error, words in refused:
        with pytest.raises(error) as caught:
            create(world, **{"cron": "*/5 * * * *", **change})
        assert words in str(caught.value), (change, caught.value)
    assert world.run(schedules(world).listed(ALICE)) == []
    assert world.run(schedules(world).due(T0 + 10**9)) == []


def test_ticks_fall_in_the_schedule_time_zone() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    before_the_switch = datetime(2026, 3, 28, 12, 0, tzinfo=berlin).timestamp()
    daily = [before_the_switch]
    for _ in range(3):
        daily.append(next_tick("30 2 * * *", "Europe/Berlin", daily[-1]))
    shown = [datetime.fromtimestamp(t, berlin).strftime("%d %H:%M %z") for t in daily[1:]]
    # 02:30 does not exist on the night the clocks go forward: that run is at 03:00 local time
    assert shown == ["29 03:00 +0200", "30 02:30 +0200", "31 02:30 +0200"]
    assert next_tick("*/10 * * * * *", "UTC", T0 + 1) == T0 + 10  # six fields: seconds first
    assert next_tick("@hourly", "UTC", T0) == T0 + 3600


def test_each_due_tick_runs_once_however_many_schedulers_see_it(world: World) -> None:
    schedule = create(world, input={}, name="standup")
    tick = T0 + 300
    assert schedule.next_run_at == tick
    replicas = [scheduler(world) for _ in range(4)]

    async def all_at_once() -> list[int]:
        return list(await asyncio.gather(*(r.tick(now=tick + 0.2) for r in replicas)))

    assert sorted(world.run(all_at_once())) == [0, 0, 0, 1]
    [run] = runs(world, schedule)
    task = world.task(Principal(ALICE), run["task_id"])
    assert task.session_id == schedule.session_of(tick) and task.graph == "plain" and task.binding is None
    assert task.metadata == {"schedule_id": schedule.id, "scheduled_for": tick}
    assert world.enqueued == [task.id]
    stored = world.run(schedules(world).get(ALICE, schedule.id))
    assert (stored.runs, stored.next_run_at, stored.firing) == (1, tick + 300, None)
    assert world.run(all_at_once()) == [0, 0, 0, 0]  # the next tick has not come


def test_missed_ticks_run_once_then_the_schedule_goes_on_from_now(world: World) -> None:
    schedule = create(world)
    late = T0 + 3 * 3600 + 7  # the schedulers were down for three hours
    assert world.run(scheduler(world).tick(now=late)) == 1
    stored = world.run(schedules(world).get(ALICE, schedule.id))
    assert stored.runs == 1 and stored.next_run_at == T0 + 3 * 3600 + 300


def test_a_tick_left_by_a_scheduler_that_died_is_finished_once(world: World) -> None:
    service = schedules(world)
    schedule = create(world)
    tick = T0 + 300
    # a scheduler claimed the tick and died before starting the run
    assert world.run(service.claim(world.run(service.load(schedule.id)), now=tick)) is not None
    later = scheduler(world)
    assert world.run(later.tick(now=tick + 1)) == 0  # not stale yet: its scheduler may only be slow
    assert world.run(later.tick(now=tick + FIRING_STALE_SECONDS + 1)) == 1
    assert [r["tick"] for r in runs(world, schedule)] == [tick]

    # the next tick: claimed, run started, and the scheduler died before closing the tick
    second = tick + 300
    claimed = world.run(service.load(schedule.id))
    assert world.run(service.claim(claimed, now=second)) is not None
    world.run(
        world.service.create_task(Principal(ALICE), input={}, graph="plain", session_id=claimed.session_of(second))
    )
    assert world.run(later.tick(now=second + FIRING_STALE_SECONDS + 1)) == 0  # found, not started again
    assert [r["tick"] for r in runs(world, schedule)] == [second, tick]
    assert len(world.enqueued) == 2


def test_a_chat_target_gets_a_thread_and_the_run_is_bound_to_it(world: World) -> None:
    channel = Channel()
    schedule = create(world, target={"slack": {"team": "T1", "channel": "C1"}}, input={}, name="Morning brief")
    tick = T0 + 300
    assert world.run(scheduler(world, channel).tick(now=tick)) == 1
    [(place, title, owner)] = channel.opened
    assert place == {"platform": "slack", "team": "T1", "channel": "C1"} and owner == ALICE
    assert title.startswith("⏰ Scheduled run of plain") and title.endswith("Morning brief")
    [run] = runs(world, schedule)
    task = world.task(Principal(ALICE), run["task_id"])
    assert task.binding == {"platform": "slack", "team": "T1", "channel": "C1", "thread_ts": "1.000", "user": None}


def test_a_target_that_cannot_be_reached_is_said_and_a_passing_failure_is_tried_again(world: World) -> None:
    channel = Channel()
    schedule = create(world, target={"slack": {"team": "T1", "channel": "C1"}})
    tick = T0 + 300
    channel.fail = PermanentError("not_in_channel")
    assert world.run(scheduler(world, channel).tick(now=tick)) == 0
    stored = world.run(schedules(world).get(ALICE, schedule.id))
    assert "not_in_channel" in stored.last_error and stored.firing is None and stored.runs == 0

    channel.fail = PlatformTransient("slack unreachable")
    second = tick + 300
    assert world.run(scheduler(world, channel).tick(now=second)) == 0
    assert world.run(schedules(world).get(ALICE, schedule.id)).firing is not None  # kept: tried again
    assert world.run(scheduler(world, channel).tick(now=second + 4)) == 0  # its retry is due 5 s later
    third = second + 300
    assert world.run(scheduler(world, channel).tick(now=third)) == 1  # the waiting tick; the next one waits
    assert [r["tick"] for r in runs(world, schedule)] == [second]
    assert world.run(scheduler(world, channel).tick(now=third + 0.1)) == 1  # then the next tick's turn
    assert [r["tick"] for r in runs(world, schedule)] == [third, second]

    # no platform configured in the scheduler: said on the schedule, no run
    unconfigured = create(world, target={"slack": {"team": "T1", "channel": "C2"}})
    assert world.run(scheduler(world).tick(now=third + 300)) == 0
    assert "not configured" in world.run(schedules(world).get(ALICE, unconfigured.id)).last_error


def test_pause_resume_delete_and_only_the_owner_sees_a_schedule(world: World) -> None:
    service = schedules(world)
    schedule = create(world)
    paused = world.run(service.pause(ALICE, schedule.id, now=T0 + 1))
    assert paused.paused
    assert world.run(scheduler(world).tick(now=T0 + 3600)) == 0  # a paused schedule does not run
    resumed = world.run(service.resume(ALICE, schedule.id, now=T0 + 3600 + 1))
    assert not resumed.paused and resumed.next_run_at == T0 + 3600 + 300  # from now on, nothing made up
    for call in (service.get, service.pause, service.resume, service.delete):
        with pytest.raises(NotFound):
            world.run(call("mallory", schedule.id))
    world.run(service.delete(ALICE, schedule.id))
    assert world.run(service.listed(ALICE)) == [] and world.run(service.due(T0 + 10**9)) == []
    with pytest.raises(NotFound):
        world.run(service.get(ALICE, schedule.id))
