"""Scheduled runs: a cron expression, a time zone, a graph and its input, and where the result goes.

A schedule is a Redis hash; the ``due`` sorted set holds each active schedule at the time of its next tick.
Any number of scheduler processes (workers/scheduler.py) poll ``due`` and ``claim`` a tick with a
compare-and-set on ``next_run_at``: of all the processes that see the same due tick, one wins, and it moves
the schedule on to its next tick in the same script. The winner notes the tick as ``firing`` before it does
anything else, starts the run in a session named after the tick (``schedule:<id>:<tick>``), then clears the
note (``fired``). A scheduler that dies between the two leaves the note; another one finds it once it is
``GRAPHGATE_SCHEDULE_STALE_SECONDS`` old and finishes the tick, starting the run only when that session has
none. So each tick runs once, whatever dies when.

Ticks missed while no scheduler ran are not made up one by one: the first scheduler back runs the overdue
tick once and goes on from the next tick after now. Likewise a tick waits while the one before it is still
being started (a chat platform asking to wait): it is not claimed over it.

Cron expressions have five fields (minute hour day month weekday) or six, with seconds first
(``*/10 * * * * *``), or are one of ``@hourly``, ``@daily``, ``@weekly``, ``@monthly``, ``@yearly``; they are read by croniter in the schedule's IANA time zone (a daily ``30 2 * * *`` in
Europe/Berlin runs at 02:30 local time, and at 03:00 on the night the clocks skip 02:30).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import redis.asyncio as aioredis
from croniter import CroniterBadDateError, croniter

from graphgate.core.errors import InvalidInput, NotFound
from graphgate.core.keys import Keys
from graphgate.core.registry import GraphRegistry
from graphgate.core.settings import Settings
from graphgate.core.tasks import RESERVED_CONFIG_KEYS
from graphgate.core.webhooks import check_webhook

MIN_INTERVAL_SECONDS = 1.0  # two ticks closer than this are refused
MAX_SCHEDULES_PER_OWNER = 100
HISTORY = 20  # recent runs kept per schedule

TARGET_KINDS = ("slack", "telegram", "webhook")

# KEYS: schedule hash, due zset, firing zset. ARGV: id, tick, next tick, now, firing JSON
CLAIM = """
local key, due, firing = KEYS[1], KEYS[2], KEYS[3]
local id, tick, nxt, now, note = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local current = redis.call('HMGET', key, 'next_run_at', 'paused', 'firing')
if not current[1] or current[1] ~= tick or current[2] == '1' then return 0 end
if current[3] then return 0 end  -- an earlier tick is still being started: this one waits its turn
redis.call('HSET', key, 'next_run_at', nxt, 'firing', note)
redis.call('ZADD', due, nxt, id)
redis.call('ZADD', firing, now, id)
return 1
"""

# KEYS: schedule hash, firing zset. ARGV: id, the firing note expected, the note that replaces it, now
TAKE_OVER = """
local key, firing = KEYS[1], KEYS[2]
if redis.call('HGET', key, 'firing') ~= ARGV[2] then return 0 end
redis.call('HSET', key, 'firing', ARGV[3])
redis.call('ZADD', firing, ARGV[4], ARGV[1])
return 1
"""

# KEYS: schedule hash, firing zset. ARGV: id, tick, the run's JSON summary (or ''), error (or ''), history length
FIRED = """
local key, firing = KEYS[1], KEYS[2]
local note = redis.call('HGET', key, 'firing')
if not note or cjson.decode(note)['tick'] ~= tonumber(ARGV[2]) then return 0 end
redis.call('HDEL', key, 'firing')
redis.call('ZREM', firing, ARGV[1])
if ARGV[3] ~= '' then
  local run = cjson.decode(ARGV[3])
  redis.call('HSET', key, 'last_run_at', run['at'], 'last_task_id', run['task_id'],
    'last_session_id', run['session_id'], 'last_error', '')
  redis.call('HINCRBY', key, 'runs', 1)
  local history = cjson.decode(redis.call('HGET', key, 'history') or '[]')
  table.insert(history, 1, run)
  while #history > tonumber(ARGV[5]) do table.remove(history) end
  redis.call('HSET', key, 'history', cjson.encode(history))
end
if ARGV[4] ~= '' then redis.call('HSET', key, 'last_error', ARGV[4]) end
return 1
"""


ALIASES = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


def check_cron(expression: str) -> str:
    """The expression, normalized (single spaces), or ``InvalidInput`` saying what is wrong with it."""
    if expression.strip().lower() in ALIASES:
        return expression.strip().lower()
    fields = expression.split()
    if len(fields) not in (5, 6):
        raise InvalidInput(
            "cron must have 5 fields (minute hour day month weekday) or 6 with seconds first, "
            f"e.g. '*/5 * * * *'; got {len(fields)}"
        )
    normalized = " ".join(fields)
    if not croniter.is_valid(normalized, second_at_beginning=len(fields) == 6):
        raise InvalidInput(f"cron {expression!r} is not a valid cron expression")
    return normalized


def check_timezone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidInput(f"timezone {name!r} is not an IANA time zone (e.g. 'Europe/Berlin', 'UTC')") from exc


def next_tick(expression: str, timezone: str, after: float) -> float:
    """The first tick of ``expression`` in ``timezone`` strictly after the Unix time ``after``."""
    start = datetime.fromtimestamp(after, check_timezone(timezone))
    try:
        found = croniter(expression, start, second_at_beginning=len(expression.split()) == 6).get_next(datetime)
    except CroniterBadDateError as exc:  # a date that never comes, such as 31 February
        raise InvalidInput(f"cron {expression!r} never runs") from exc
    return cast("datetime", found).timestamp()


def check_target(target: Any, allow_private_webhooks: bool) -> dict[str, Any] | None:
    """The target as stored: ``{"slack": {"channel", "team"?}}``, ``{"telegram": {"chat_id"}}``,
    ``{"webhook": url}`` or None; ``InvalidInput`` for anything else."""
    if target is None:
        return None
    if not isinstance(target, dict) or len(target) != 1 or next(iter(target)) not in TARGET_KINDS:
        raise InvalidInput(
            'target must be {"slack": {"channel": "C…", "team": "T…"}}, {"telegram": {"chat_id": …}}, '
            '{"webhook": "https://…"} or null'
        )
    kind, value = next(iter(target.items()))
    if kind == "webhook":
        if not isinstance(value, str) or not value:
            raise InvalidInput("target.webhook must be a URL")
        check_webhook(value, allow_private_webhooks)
        return {"webhook": value}
    if not isinstance(value, dict):
        raise InvalidInput(f"target.{kind} must be an object")
    if kind == "slack":
        channel, team = value.get("channel"), value.get("team", "")
        if not isinstance(channel, str) or not channel.strip() or len(channel) > 64:
            raise InvalidInput("target.slack.channel must be a channel id such as 'C0123ABCD'")
        if not isinstance(team, str) or len(team) > 64:
            raise InvalidInput("target.slack.team must be a team id such as 'T0123ABCD'")
        if set(value) - {"channel", "team"}:
            raise InvalidInput("target.slack takes channel and team only")
        return {"slack": {"channel": channel.strip(), "team": team.strip()}}
    chat = value.get("chat_id")
    if isinstance(chat, bool) or not isinstance(chat, int | str) or not str(chat).lstrip("-").isdigit():
        raise InvalidInput("target.telegram.chat_id must be a chat id such as -1001234567890")
    if set(value) - {"chat_id"}:
        raise InvalidInput("target.telegram takes chat_id only")
    return {"telegram": {"chat_id": int(chat)}}


@dataclass
class Schedule:
    id: str
    owner: str
    cron: str
    timezone: str
    graph: str
    input: dict[str, Any]
    config: dict[str, Any]
    target: dict[str, Any] | None
    name: str
    paused: bool
    next_run_at: float | None
    created_at: float
    updated_at: float
    runs: int = 0
    last_run_at: float | None = None
    last_task_id: str | None = None
    last_session_id: str | None = None
    last_error: str = ""
    history: list[dict[str, Any]] = field(default_factory=list)
    firing: dict[str, Any] | None = None  # the tick being started now (or left by a scheduler that died)

    def to_hash(self) -> dict[str, str]:
        raw = asdict(self)
        out: dict[str, str] = {}
        for name, value in raw.items():
            if name in ("input", "config", "target", "history", "firing"):
                if value is not None:
                    out[name] = json.dumps(value, ensure_ascii=False)
            elif isinstance(value, bool):
                out[name] = "1" if value else "0"
            elif value is not None:
                out[name] = str(value)
        return out

    @classmethod
    def from_hash(cls, raw: dict[str, str]) -> Schedule:
        def num(name: str) -> float | None:
            return float(raw[name]) if raw.get(name) else None

        def obj(name: str) -> Any:
            return json.loads(raw[name]) if raw.get(name) else None

        return cls(
            id=raw["id"],
            owner=raw["owner"],
            cron=raw["cron"],
            timezone=raw["timezone"],
            graph=raw["graph"],
            input=obj("input") or {},
            config=obj("config") or {},
            target=obj("target"),
            name=raw.get("name", ""),
            paused=raw.get("paused") == "1",
            next_run_at=num("next_run_at"),
            created_at=float(raw["created_at"]),
            updated_at=float(raw["updated_at"]),
            runs=int(raw.get("runs") or 0),
            last_run_at=num("last_run_at"),
            last_task_id=raw.get("last_task_id") or None,
            last_session_id=raw.get("last_session_id") or None,
            last_error=raw.get("last_error", ""),
            history=obj("history") or [],
            firing=obj("firing"),
        )

    def session_of(self, tick: float) -> str:
        """The session of this schedule's run at ``tick``: one per tick, so a tick's run is found again."""
        return f"schedule:{self.id}:{int(tick * 1000)}"

    def public(self) -> dict[str, Any]:
        """What the API shows of it."""
        shown = asdict(self)
        shown.pop("firing")
        shown["schedule_id"] = shown.pop("id")
        return shown


class ScheduleService:
    """Schedules in Redis: create, read, pause, resume, delete; and the scheduler's claim of a due tick."""

    def __init__(self, redis: aioredis.Redis, settings: Settings, graphs: GraphRegistry) -> None:
        self.redis = redis
        self.settings = settings
        self.graphs = graphs
        self.keys = Keys.of(settings)
        self._claim = redis.register_script(CLAIM)
        self._take_over = redis.register_script(TAKE_OVER)
        self._fired = redis.register_script(FIRED)

    # --- the owner's side -----------------------------------------------------------------------------

    async def create(
        self,
        owner: str,
        *,
        cron: str,
        timezone: str,
        graph: str | None,
        input: dict[str, Any],
        config: dict[str, Any] | None = None,
        target: Any = None,
        name: str = "",
        now: float | None = None,
    ) -> Schedule:
        """Store a schedule; ``InvalidInput`` (or ``NotFound`` for an unknown graph) for anything its runs
        would be refused for, and nothing is stored then."""
        graph = graph or self.graphs.default
        if graph not in self.graphs.names():
            raise NotFound(f"graph {graph!r} is not registered")
        reserved = RESERVED_CONFIG_KEYS & (config or {}).keys()
        if reserved:
            raise InvalidInput(f"config may not set {', '.join(sorted(reserved))}")
        self.graphs.validate_input(graph, input)
        cron = check_cron(cron)
        check_timezone(timezone)
        # a webhook's address is resolved (DNS): off the event loop
        stored_target = await asyncio.to_thread(check_target, target, self.settings.webhook_allow_private)
        now = time.time() if now is None else now
        first = next_tick(cron, timezone, now)
        if next_tick(cron, timezone, first) - first < MIN_INTERVAL_SECONDS:
            raise InvalidInput("cron may not run more often than once a second")
        if await self.redis.zcard(self.keys.owner_schedules(owner)) >= MAX_SCHEDULES_PER_OWNER:
            raise InvalidInput(f"at most {MAX_SCHEDULES_PER_OWNER} schedules per owner; delete one first")
        schedule = Schedule(
            id=uuid.uuid4().hex,
            owner=owner,
            cron=cron,
            timezone=timezone,
            graph=graph,
            input=input,
            config=dict(config or {}),
            target=stored_target,
            name=name[:200],
            paused=False,
            next_run_at=first,
            created_at=now,
            updated_at=now,
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.schedule(schedule.id), mapping=cast("dict[Any, Any]", schedule.to_hash()))
            pipe.zadd(self.keys.schedules_due(), {schedule.id: first})
            pipe.zadd(self.keys.owner_schedules(owner), {schedule.id: now})
            await pipe.execute()
        return schedule

    async def load(self, schedule_id: str) -> Schedule | None:
        raw = cast("dict[str, str]", await self.redis.hgetall(self.keys.schedule(schedule_id)))
        return Schedule.from_hash(raw) if raw.get("id") else None

    async def get(self, owner: str, schedule_id: str) -> Schedule:
        """The owner's schedule; ``NotFound`` for an unknown one or another owner's (they look the same)."""
        schedule = await self.load(schedule_id) if len(schedule_id) <= 64 else None
        if schedule is None or schedule.owner != owner:
            raise NotFound(f"schedule {schedule_id!r} not found")
        return schedule

    async def listed(self, owner: str) -> list[Schedule]:
        """The owner's schedules, oldest first."""
        ids = cast("list[str]", await self.redis.zrange(self.keys.owner_schedules(owner), 0, -1))
        async with self.redis.pipeline(transaction=False) as pipe:
            for schedule_id in ids:
                pipe.hgetall(self.keys.schedule(schedule_id))
            raws = await pipe.execute() if ids else []
        return [Schedule.from_hash(raw) for raw in raws if raw.get("id")]

    async def delete(self, owner: str, schedule_id: str) -> None:
        await self.get(owner, schedule_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self.keys.schedule(schedule_id))
            pipe.zrem(self.keys.schedules_due(), schedule_id)
            pipe.zrem(self.keys.schedules_firing(), schedule_id)
            pipe.zrem(self.keys.owner_schedules(owner), schedule_id)
            await pipe.execute()

    async def pause(self, owner: str, schedule_id: str, now: float | None = None) -> Schedule:
        """Stop its ticks until resumed (a tick already started still runs)."""
        schedule = await self.get(owner, schedule_id)
        now = time.time() if now is None else now
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.schedule(schedule_id), mapping={"paused": "1", "updated_at": str(now)})
            pipe.zrem(self.keys.schedules_due(), schedule_id)
            await pipe.execute()
        schedule.paused, schedule.updated_at = True, now
        return schedule

    async def resume(self, owner: str, schedule_id: str, now: float | None = None) -> Schedule:
        """Tick again, from the first tick after now (the ticks missed while paused are not made up)."""
        schedule = await self.get(owner, schedule_id)
        now = time.time() if now is None else now
        upcoming = next_tick(schedule.cron, schedule.timezone, now)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(
                self.keys.schedule(schedule_id),
                mapping={"paused": "0", "next_run_at": str(upcoming), "updated_at": str(now)},
            )
            pipe.zadd(self.keys.schedules_due(), {schedule_id: upcoming})
            await pipe.execute()
        schedule.paused, schedule.next_run_at, schedule.updated_at = False, upcoming, now
        return schedule

    # --- the scheduler's side -------------------------------------------------------------------------

    async def due(self, now: float, limit: int = 100) -> list[str]:
        """Ids of schedules whose next tick has come."""
        return cast(
            "list[str]", await self.redis.zrangebyscore(self.keys.schedules_due(), "-inf", now, start=0, num=limit)
        )

    async def claim(self, schedule: Schedule, now: float) -> dict[str, Any] | None:
        """Take ``schedule``'s due tick for this process: the firing note, or None when another process took
        it (or the schedule changed). The schedule moves on to its first tick after now in the same step."""
        if schedule.next_run_at is None or schedule.next_run_at > now:
            return None  # read after another process moved it on: that next tick has not come
        tick = schedule.next_run_at
        upcoming = next_tick(schedule.cron, schedule.timezone, max(tick, now))
        note = {"tick": tick, "at": now, "by": uuid.uuid4().hex[:12]}
        won = await self._claim(
            keys=[self.keys.schedule(schedule.id), self.keys.schedules_due(), self.keys.schedules_firing()],
            args=[schedule.id, repr(tick), repr(upcoming), repr(now), json.dumps(note)],
        )
        if not won:
            return None
        schedule.next_run_at, schedule.firing = upcoming, note
        return note

    async def stale(self, now: float, limit: int = 100) -> list[str]:
        """Ids of schedules whose tick was noted as firing over ``schedule_stale_seconds`` ago."""
        return cast(
            "list[str]",
            await self.redis.zrangebyscore(
                self.keys.schedules_firing(), "-inf", now - self.settings.schedule_stale_seconds, start=0, num=limit
            ),
        )

    async def take_over(self, schedule: Schedule, now: float) -> dict[str, Any] | None:
        """Take a stale firing note over from a scheduler that died: the new note, or None (someone else did)."""
        if schedule.firing is None:
            return None
        note = {**schedule.firing, "at": now, "by": uuid.uuid4().hex[:12]}
        won = await self._take_over(
            keys=[self.keys.schedule(schedule.id), self.keys.schedules_firing()],
            args=[schedule.id, json.dumps(schedule.firing), json.dumps(note), repr(now)],
        )
        if not won:
            return None
        schedule.firing = note
        return note

    async def retry(self, schedule: Schedule, delay: float, now: float | None = None) -> None:
        """Let the firing tick be tried again ``delay`` seconds from now (a chat platform asked to wait)."""
        now = time.time() if now is None else now
        due = now + delay - self.settings.schedule_stale_seconds
        await self.redis.zadd(self.keys.schedules_firing(), {schedule.id: due}, xx=True)

    async def note_binding(self, schedule: Schedule, note: dict[str, Any], binding: dict[str, Any]) -> None:
        """Remember the chat thread opened for the firing tick: a scheduler that takes over uses it."""
        note["binding"] = binding
        await self.redis.hset(self.keys.schedule(schedule.id), "firing", json.dumps(note))

    async def fired(
        self,
        schedule: Schedule,
        tick: float,
        *,
        task_id: str | None = None,
        session_id: str | None = None,
        error: str = "",
        now: float | None = None,
    ) -> bool:
        """Close the tick: the run it started (or the error that stopped it). False when it was closed already."""
        run = ""
        if task_id is not None:
            at = time.time() if now is None else now
            run = json.dumps({"tick": tick, "task_id": task_id, "session_id": session_id, "at": at})
        return bool(
            await self._fired(
                keys=[self.keys.schedule(schedule.id), self.keys.schedules_firing()],
                args=[schedule.id, repr(tick), run, error[:500], HISTORY],
            )
        )
