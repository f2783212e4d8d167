"""Chat delivery: events per second through the dispatcher into fake Slack and Telegram servers.

A graphgate stack (API with the Slack and Telegram routes mounted, one worker, one dispatcher process)
points at the fake Slack Web API and the fake Telegram Bot API of the test suite, which record every call
and enforce the platforms' limits (Telegram's flood control answers 429 with ``retry_after`` by itself; on
Slack the bench injects ``ratelimited`` answers with Retry-After). Echo runs are started through the real
ingress — signed ``/echo`` slash commands and Telegram webhook updates — spread over several channels and
chats, and the bench waits until every final answer is in its channel and every delivery shard entry is
acknowledged.

Reported: chat-bound events delivered per second (the delivery shard entries of those tasks, over the time
from the first command to the last acknowledgement), the dispatcher's platform calls, the 429s the platforms
answered them, and how many of its calls went into a channel before a 429's Retry-After had passed there
("unhonoured", must be 0). A Slack slash command's root post is the API's, not the dispatcher's: not counted.
The dispatcher's default pacing (one call per channel per ``GRAPHGATE_DISPATCHER_CHANNEL_INTERVAL`` = 1 s)
applies: the rate a chat platform allows per channel is the ceiling, not the dispatcher.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from bench.systems import BENCH_ENV
from bench.table import Row
from graphgate.core.keys import Keys
from graphgate.testing.stack import RedisServer, Stack

SLACK_INJECTED_429 = (
    4  # dispatcher chat.postMessage and chat.update calls answered `ratelimited` (Retry-After 1 s), each
)
DELIVERY_TIMEOUT = float(os.environ.get("BENCH_CHAT_TIMEOUT", "300"))  # seconds for every answer to arrive


@dataclass(frozen=True)
class NotMeasured:
    reason: str


@dataclass(frozen=True)
class PlatformResult:
    name: str
    channels: int
    tasks: int
    events: int  # delivery shard entries of this platform's tasks
    calls: int  # platform API calls that deliver (post, edit, stream)
    refused_429: int
    unhonoured_429: int


@dataclass(frozen=True)
class ChatResult:
    seconds: float  # first command sent -> last delivery shard entry acknowledged
    platforms: list[PlatformResult]

    @property
    def events(self) -> int:
        return sum(p.events for p in self.platforms)

    @property
    def per_second(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def measure(
    server: RedisServer,
    workdir: Path,
    tasks: int,
    channels: int = 20,
    injected_429s: int = SLACK_INJECTED_429,
    channel_interval: float | None = None,
    worker_concurrency: int = 2,
) -> ChatResult | NotMeasured:
    """``tasks`` echo runs per platform over ``channels`` Slack channels and as many Telegram chats; Slack answers
    ``injected_429s`` dispatcher posts and as many updates with ``ratelimited`` (Retry-After 1 s).

    ``channel_interval`` overrides the dispatcher's pacing per channel (the smoke run's shortcut); by default
    the product's own setting applies."""
    try:
        from graphgate.testing.fake_bot_api import FakeBotApi
        from graphgate.testing.fake_slack import FakeSlack
        from graphgate.testing.slack import SlackSender, slack_env
        from graphgate.testing.telegram import Webhook, spawn, telegram_env
    except ImportError as exc:
        return NotMeasured(f"fake chat servers not available ({exc.name})")
    channels = max(1, min(channels, tasks))
    slack, telegram = FakeSlack().start(), FakeBotApi().start()
    env = {**BENCH_ENV, **slack_env(slack), **telegram_env(telegram)}
    for name in (
        "GRAPHGATE_DISPATCHER_CHANNEL_INTERVAL",
        "GRAPHGATE_DELIVERY_SHARDS",
        "GRAPHGATE_DISPATCHER_LEASE_SECONDS",
    ):
        env.pop(name, None)  # the product's defaults, not the test suite's faster ones
    if channel_interval is not None:
        env["GRAPHGATE_DISPATCHER_CHANNEL_INTERVAL"] = str(channel_interval)
    stack = Stack(redis_url=server.url, workdir=workdir, extra_env=env)
    dispatcher = None
    try:
        stack.start_worker(worker_concurrency)
        url = stack.start_api()
        dispatcher = spawn(stack, "dispatcher", ["dispatcher"], "owns shards")
        slack_channels = [f"CBENCH{i:04d}" for i in range(channels)]
        chats = [910_000 + i for i in range(channels)]
        # only the dispatcher's posts (they carry event metadata), not the slash command's own echo of the question
        slack.fail(
            "chat.postMessage",
            lambda args: bool(args.get("metadata")),
            status=429,
            retry_after=1.0,
            times=injected_429s,
        )
        slack.fail("chat.update", status=429, retry_after=1.0, times=injected_429s)
        sender, hook = SlackSender(url, slack), Webhook(url)
        answers: dict[tuple[str, Any], str] = {}
        t0 = time.perf_counter()
        for i in range(tasks):
            channel, chat = slack_channels[i % channels], chats[i % channels]
            text = f"bench-{i:05d}"
            resp = sender.slash("/echo", text, user=f"UBENCH{i % channels:03d}", channel=channel)
            resp.raise_for_status()
            answers[("slack", channel, text)] = text
            update = telegram.message_update(telegram.chat(chat), telegram.user(chat), f"/echo {text}")
            resp = hook.send(update)
            resp.raise_for_status()
            answers[("telegram", chat, text)] = text
        _wait_delivered(slack, telegram, answers)
        r = redis.Redis.from_url(server.url, decode_responses=True)
        try:
            _wait_acked(r, Keys(stack.prefix))
            seconds = time.perf_counter() - t0
            events = _events_by_platform(r, Keys(stack.prefix))
        finally:
            r.close()
        return ChatResult(
            seconds,
            [
                _slack_result(slack, channels, tasks, events.get("slack", 0)),
                _telegram_result(telegram, channels, tasks, events.get("telegram", 0)),
            ],
        )
    finally:
        if dispatcher is not None:
            stack.stop_proc(dispatcher)
        stack.stop()
        slack.stop()
        telegram.stop()


def _wait_delivered(slack: Any, telegram: Any, answers: dict[tuple[str, Any], str]) -> None:
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    missing = dict(answers)
    while missing:
        for key in list(missing):
            platform, channel, text = key
            messages = slack.bot_messages(channel) if platform == "slack" else telegram.bot_messages(channel)
            if any(text in _shown(m) for m in messages):
                del missing[key]
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(missing)} final answers never reached their chat, e.g. {next(iter(missing))}")
        time.sleep(0.2)


def _shown(message: Any) -> str:
    return " ".join(str(getattr(message, name, "") or "") for name in ("text", "html", "section_text"))


def _shards() -> range:
    """The delivery shards of the stack (it runs with the default number of shards)."""
    from graphgate.core.settings import Settings

    return range(Settings.model_fields["delivery_shards"].default)


def _wait_acked(r: redis.Redis, keys: Keys) -> None:
    """Until every delivery shard's consumer group has read and acknowledged everything."""
    deadline = time.monotonic() + DELIVERY_TIMEOUT
    while time.monotonic() < deadline:
        busy = False
        for shard in _shards():
            key = keys.delivery(shard)
            if not r.exists(key):
                continue
            groups = r.xinfo_groups(key)
            if not groups or any(g["pending"] or g.get("lag") for g in groups):
                busy = True
        if not busy:
            return
        time.sleep(0.1)
    raise RuntimeError("the dispatcher did not acknowledge every delivery entry in time")


def _events_by_platform(r: redis.Redis, keys: Keys) -> dict[str, int]:
    """Delivery shard entries by the platform of their task's binding."""
    counts: dict[str, int] = {}
    platform_of: dict[str, str] = {}
    for shard in _shards():
        for _, fields in r.xrange(keys.delivery(shard)):
            sid = fields.get("sid", "")
            if sid not in platform_of:
                envelope = json.loads(fields.get("e", "{}"))
                raw = r.hget(keys.task(sid, envelope.get("task_id", "")), "binding") or "{}"
                platform_of[sid] = json.loads(raw).get("platform", "?")
            counts[platform_of[sid]] = counts.get(platform_of[sid], 0) + 1
    return counts


def _unhonoured(calls: list[tuple[float, Any, int, float | None]]) -> int:
    """Calls made into a channel while a 429 answered there still asked to wait: (at, channel, status, retry_after)."""
    until: dict[Any, float] = {}
    early = 0
    for at, channel, status, retry_after in sorted(calls, key=lambda c: c[0]):
        # 50 ms of slack: the fake stamps a call when it arrives, the dispatcher times its wait from the answer
        if at < until.get(channel, 0.0) - 0.05:
            early += 1
        if status == 429:
            until[channel] = max(until.get(channel, 0.0), at + (retry_after or 1.0))
    return early


SLACK_DELIVERY = {"chat.postMessage", "chat.update", "chat.startStream", "chat.appendStream", "chat.stopStream"}
TELEGRAM_DELIVERY = {"sendMessage", "editMessageText", "editMessageReplyMarkup", "sendMessageDraft", "deleteMessage"}


def _slack_result(fake: Any, channels: int, tasks: int, events: int) -> PlatformResult:
    # the dispatcher's calls only: a slash command's root post ("<@U> asked ...", no event metadata) is made by
    # the API while it acknowledges the command, outside the dispatcher's pacing
    with fake.lock:
        calls = [
            c
            for c in fake.calls
            if c.method in SLACK_DELIVERY and (c.method != "chat.postMessage" or c.args.get("metadata"))
        ]
    rows = [
        (
            c.at,
            c.args.get("channel"),
            429 if c.status == 429 or c.response.get("error") == "ratelimited" else c.status,
            1.0,
        )
        for c in calls
    ]  # every 429 on Slack here is an injected one, with Retry-After 1
    refused = sum(1 for row in rows if row[2] == 429)
    return PlatformResult("slack", channels, tasks, events, len(calls), refused, _unhonoured(rows))


def _telegram_result(fake: Any, channels: int, tasks: int, events: int) -> PlatformResult:
    with fake.lock:
        calls = [c for c in fake.calls if c.method in TELEGRAM_DELIVERY]
    rows = [
        (c.at, c.chat, c.status, float((c.response.get("parameters") or {}).get("retry_after") or 1)) for c in calls
    ]
    refused = sum(1 for row in rows if row[2] == 429)
    return PlatformResult("telegram", channels, tasks, events, len(calls), refused, _unhonoured(rows))


def rows(result: ChatResult) -> list[Row]:
    title = "chat delivery (dispatcher -> fake Slack + Telegram)"
    out = [
        Row(
            title,
            f"events/s delivered ({result.events:,} events in {result.seconds:.1f} s)",
            {"graphgate": result.per_second, "peer": "n/a", "aegra": "n/a"},
            higher_is_better=True,
        )
    ]
    for p in result.platforms:
        out.append(
            Row(
                title,
                f"{p.name}: {p.tasks} runs in {p.channels} channels: calls / 429s / unhonoured",
                {"graphgate": f"{p.calls} / {p.refused_429} / {p.unhonoured_429}"},
                target="0 unhonoured",
                met=p.unhonoured_429 == 0,
            )
        )
    return out
