"""``/schedule`` in a chat: make, list, pause, resume and delete scheduled runs that post into this chat.

Slack and Telegram read the same words (``run``), each with its owner and its target:

* ``/schedule 0 9 * * 1-5 standup notes`` — the default graph with "standup notes", weekdays at 09:00 UTC,
  each run a new thread here; ``tz=Europe/Berlin`` and ``graph=writer`` may come before the text, and the
  cron may be ``@daily`` (or ``@hourly``, ``@weekly``, ``@monthly``);
* ``/schedule list``; ``/schedule pause|resume|delete <id>`` (the first characters of the id are enough);
* ``/schedule`` or ``/schedule help``: how.

A reply is plain text; the platform escapes it. Bad input (a cron or zone that is wrong, an unknown graph or
id) is answered with what is wrong, and nothing is stored.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from graphgate.core.errors import GraphgateError, InvalidInput, NotFound
from graphgate.core.schedules import ALIASES, Schedule, ScheduleService

ID_CHARS = 8  # of a schedule id shown in chat (and enough to name it)
ACTIONS = ("pause", "resume", "delete")

USAGE = (
    "Schedule runs that post here:\n"
    "/schedule 0 9 * * 1-5 standup notes  (cron: minute hour day month weekday, UTC)\n"
    "/schedule @daily tz=Europe/Berlin graph=writer the week in beekeeping\n"
    "/schedule list\n"
    "/schedule pause|resume|delete <id>"
)


async def run(
    schedules: ScheduleService,
    *,
    owner: str,
    target: dict[str, Any],
    text: str,
    default_graph: str,
    input_of: Callable[[str, str], dict[str, Any]],
) -> str:
    """Do what ``/schedule <text>`` asks for ``owner`` with runs posted to ``target``; the reply.
    ``input_of(graph, text)``: the graph's input for a chat text (connectors/inputs.py)."""
    words = text.split()
    if not words or words[0].lower() in ("help", "?"):
        return USAGE
    action = words[0].lower()
    try:
        if action == "list":
            return listing(await schedules.listed(owner))
        if action in ACTIONS:
            if len(words) != 2:
                return f"Name the schedule: /schedule {action} <id> (/schedule list shows them)"
            schedule = await find(schedules, owner, words[1])
            if action == "delete":
                await schedules.delete(owner, schedule.id)
                return f"Deleted schedule {short(schedule)} ({schedule.cron})."
            changed = await (schedules.pause if action == "pause" else schedules.resume)(owner, schedule.id)
            return f"{'Paused' if changed.paused else 'Resumed'}: {line(changed)}"
        cron, options, rest = split_request(words)
        graph = options.get("graph") or default_graph
        if not rest:
            return "Say what each run should do after the cron, e.g. /schedule @daily summarize the news"
        created = await schedules.create(
            owner,
            cron=cron,
            timezone=options.get("tz", "UTC"),
            graph=graph,
            input=input_of(graph, rest),
            target=target,
            name=rest,
        )
        return f"Scheduled {short(created)}: {line(created)}. Each run starts a new thread here."
    except GraphgateError as exc:
        return f"I can't do that: {exc.message}"


def split_request(words: list[str]) -> tuple[str, dict[str, str], str]:
    """(cron, options, text) of ``<cron> [tz=…] [graph=…] text``; ``InvalidInput`` when the cron is cut short."""
    if words[0].lower() in ALIASES:
        cron, rest = words[0].lower(), words[1:]
    elif len(words) >= 5:
        cron, rest = " ".join(words[:5]), words[5:]
    else:
        raise InvalidInput("a cron needs 5 fields (minute hour day month weekday) or @daily, @hourly…")
    options: dict[str, str] = {}
    while rest and "=" in rest[0] and rest[0].split("=", 1)[0].lower() in ("tz", "graph"):
        key, value = rest.pop(0).split("=", 1)
        options[key.lower()] = value
    return cron, options, " ".join(rest)


async def find(schedules: ScheduleService, owner: str, ref: str) -> Schedule:
    """The owner's schedule whose id starts with ``ref`` (at least 4 characters, only one may match)."""
    ref = ref.strip().lower()
    matches = [s for s in await schedules.listed(owner) if s.id.startswith(ref)] if len(ref) >= 4 else []
    if len(matches) != 1:
        raise NotFound(f"no single schedule {ref!r} here; /schedule list shows their ids")
    return matches[0]


def short(schedule: Schedule) -> str:
    return schedule.id[:ID_CHARS]


def line(schedule: Schedule) -> str:
    """One schedule in words: cron, zone, graph, what it runs, when next, what went wrong last."""
    when = "paused" if schedule.paused else f"next {at(schedule.next_run_at, schedule.timezone)}"
    text = f"{schedule.cron} ({schedule.timezone}) runs {schedule.graph}"
    if schedule.name:
        text += f" with “{schedule.name[:80]}”"
    text += f", {when}, {schedule.runs} run{'s' if schedule.runs != 1 else ''} so far"
    if schedule.last_error:
        text += f"; last tick: {schedule.last_error[:200]}"
    return text


def listing(found: list[Schedule]) -> str:
    if not found:
        return "No schedules here yet. " + USAGE.split("\n", 1)[1].split("\n", 1)[0]
    return "\n".join(f"{short(s)}  {line(s)}" for s in found)


def at(moment: float | None, timezone: str) -> str:
    if moment is None:
        return "never"
    return datetime.fromtimestamp(moment, ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")
