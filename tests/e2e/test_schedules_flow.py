"""Scheduled runs end to end through real processes: the API, a Celery worker, a dispatcher, two (then one,
then none, then a new) scheduler processes, Redis, and fake Slack and Telegram servers and a webhook
receiver on loopback.

Three schedules tick every three seconds (a six-field cron, seconds first): into a Slack channel, into a
Telegram chat, and to a webhook. Each tick runs once, with two schedulers polling, after one is SIGKILLed, and
after both were killed and a new one started (the ticks missed meanwhile run once). Each run is a thread of
its own in Slack, a message in Telegram with its answer, one signed POST to the webhook. Bad schedules are
refused over HTTP with a clear 4xx and nothing stored. ``/schedule`` in Slack and in Telegram makes, lists,
pauses, resumes and deletes schedules that post into that channel or chat.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from graphgate.testing.client import Api
from graphgate.testing.dispatcher import start_scheduler
from graphgate.testing.fake_bot_api import FakeBotApi
from graphgate.testing.fake_slack import FakeSlack
from graphgate.testing.slack import SlackSender, new_channel, slack_api
from graphgate.testing.stack import Proc, Stack
from graphgate.testing.telegram import Webhook
from graphgate.testing.waiting import wait_for
from graphgate.testing.webhooks import Receiver

EVERY = 3  # seconds between ticks
CRON = f"*/{EVERY} * * * * *"
TELEGRAM_CHAT = 4242001  # a private chat with the bot


@pytest.fixture(scope="module")
def fakes(chat_slack: FakeSlack, chat_telegram: FakeBotApi) -> Iterator[tuple[FakeSlack, FakeBotApi, Receiver]]:
    """The shared stack's fake Slack and Telegram, and a webhook receiver of this module's own."""
    receiver = Receiver()
    yield chat_slack, chat_telegram, receiver
    receiver.stop()


@pytest.fixture(scope="module")
def stack(chat_stack: Stack, chat_dispatcher: Proc) -> Stack:
    """The package's shared stack (tests/e2e/conftest.py): a dispatcher, webhooks allowed to loopback, and
    schedulers that poll every 0.2 s and take over a tick started 2 s ago; each test starts its schedulers."""
    return chat_stack


def runs_of(api: Api, schedule_id: str) -> list[dict[str, Any]]:
    resp = api.http.get(f"/api/v1/schedules/{schedule_id}")
    assert resp.status_code == 200, resp.text
    return list(reversed(resp.json()["history"]))  # oldest first


def test_schedules_post_each_tick_once_into_slack_telegram_and_a_webhook_across_scheduler_deaths(
    stack: Stack, fakes: tuple[FakeSlack, FakeBotApi, Receiver]
) -> None:
    slack, telegram, receiver = fakes
    api = Api(stack.url, "ops")
    channel = new_channel()
    targets = {
        "slack": {"slack": {"team": "T0001", "channel": channel}},
        "telegram": {"telegram": {"chat_id": TELEGRAM_CHAT}},
        "webhook": {"webhook": receiver.url},
    }
    ids = {}
    for name, target in targets.items():
        resp = api.http.post(
            "/api/v1/schedules",
            json={"cron": CRON, "graph": "echo", "input": {"text": f"report for {name}"}, "target": target},
        )
        assert resp.status_code == 201, resp.text
        body = resp.json()
        assert body["next_run_at"] > time.time() - 1 and body["target"] == target
        ids[name] = body["schedule_id"]

    first, second = start_scheduler(stack, "scheduler-a"), start_scheduler(stack, "scheduler-b")
    wait_for(lambda: all(len(runs_of(api, i)) >= 2 for i in ids.values()), 30, what="two ticks with two schedulers")
    stack.stop_proc(first, signal.SIGKILL)
    seen = {name: len(runs_of(api, i)) for name, i in ids.items()}
    wait_for(
        lambda: all(len(runs_of(api, i)) >= seen[n] + 2 for n, i in ids.items()), 30, what="ticks with one scheduler"
    )
    stack.stop_proc(second, signal.SIGKILL)
    time.sleep(2 * EVERY)  # two ticks pass with no scheduler at all
    down = {name: len(runs_of(api, i)) for name, i in ids.items()}
    third = start_scheduler(stack, "scheduler-c")
    try:
        wait_for(
            lambda: all(len(runs_of(api, i)) >= down[n] + 2 for n, i in ids.items()), 30, what="ticks after a restart"
        )
    finally:
        for schedule_id in ids.values():
            assert api.http.post(f"/api/v1/schedules/{schedule_id}/pause").status_code == 200
        stack.stop_proc(third)

    for name, schedule_id in ids.items():
        runs = runs_of(api, schedule_id)
        ticks = [r["tick"] for r in runs]
        assert len(set(ticks)) == len(ticks), f"{name}: a tick ran twice: {ticks}"
        assert all(t % EVERY == 0 for t in ticks), ticks
        gaps = [b - a for a, b in zip(ticks, ticks[1:])]
        # with a scheduler up every tick ran; the ticks missed while none was are made up by one run
        assert sum(1 for g in gaps if g > EVERY) <= 1, f"{name}: ticks lost: {ticks}"
        for run in runs:
            task = api.wait_status(run["task_id"], {"completed"}, timeout=60)
            assert task["session_id"] == run["session_id"] and task["output"]["text"].endswith(f"report for {name}")
        stored = api.http.get(f"/api/v1/schedules/{schedule_id}").json()
        assert stored["paused"] and stored["next_run_at"] is None and stored["runs"] == len(runs)

    # Slack: one thread per run, opened by its title, with the run's answer in it
    slack_runs = runs_of(api, ids["slack"])
    roots = [m for m in slack.bot_messages(channel) if m.thread_ts in (None, m.ts) and m.text.startswith("⏰")]
    assert len(roots) == len(slack_runs)
    for root, run in zip(roots, slack_runs):
        wait_for(
            lambda root=root, run=run: any(m.task_id == run["task_id"] for m in slack.thread(channel, root.ts)),
            30,
            what="the run's messages in its thread",
        )
    # Telegram: one title per run, the run's status replying to it, and its answer
    telegram_runs = runs_of(api, ids["telegram"])
    titles = [m for m in telegram.bot_messages(TELEGRAM_CHAT) if m.text.startswith("⏰ Scheduled run of echo")]
    assert len(titles) == len(telegram_runs)
    for title in titles:
        wait_for(
            lambda title=title: any(
                m.reply_to == title.message_id and "echo" in m.text for m in telegram.bot_messages(TELEGRAM_CHAT)
            ),
            30,
            what="the run's status under its title",
        )

    def answers() -> list[Any]:
        shown = telegram.bot_messages(TELEGRAM_CHAT)
        return [m for m in shown if "report for telegram" in m.text and not m.text.startswith("⏰")]

    wait_for(lambda: len(answers()) >= len(telegram_runs), 30, what="each run's answer in the Telegram chat")
    assert len(answers()) == len(telegram_runs)
    # the webhook: each run's end POSTed once
    for run in runs_of(api, ids["webhook"]):
        wait_for(
            lambda run=run: receiver.accepted(lambda b, t=run["task_id"]: b.get("task", {}).get("task_id") == t),
            30,
            what="the run's webhook",
        )
        assert len(receiver.accepted(lambda b, t=run["task_id"]: b.get("task", {}).get("task_id") == t)) == 1


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"cron": "every day", "graph": "echo"}, 422, "5 fields"),
        ({"cron": "61 * * * *", "graph": "echo"}, 422, "not a valid cron"),
        ({"cron": "* * * * *", "graph": "echo", "timezone": "Europe/Atlantis"}, 422, "IANA"),
        ({"cron": "* * * * *", "graph": "nope"}, 404, "not registered"),
        ({"cron": "* * * * *", "graph": "echo", "input": {"text": 5}}, 422, "text"),
        ({"cron": "* * * * *", "graph": "echo", "target": {"slack": {}}}, 422, "channel"),
        ({"cron": "* * * * *", "graph": "echo", "target": {"webhook": "gopher://x"}}, 422, "http"),
        ({"cron": "* * * * *", "graph": "echo", "every": "day"}, 422, "every"),
        ({"graph": "echo"}, 422, "cron"),
    ],
)
def test_a_bad_schedule_is_refused_and_nothing_is_stored(
    stack: Stack, body: dict[str, Any], status: int, words: str
) -> None:
    api = Api(stack.url, "schedule-prober")
    resp = api.http.post("/api/v1/schedules", json=body)
    assert resp.status_code == status, resp.text
    assert words in resp.text
    assert api.http.get("/api/v1/schedules").json()["schedules"] == []


def test_only_the_owner_reaches_a_schedule(stack: Stack) -> None:
    owner, other = Api(stack.url, "schedule-owner"), Api(stack.url, "schedule-stranger")
    created = owner.http.post("/api/v1/schedules", json={"cron": "0 9 * * 1", "graph": "echo", "input": {"text": "x"}})
    assert created.status_code == 201, created.text
    schedule_id = created.json()["schedule_id"]
    for method, path in [
        ("GET", ""),
        ("POST", "/pause"),
        ("POST", "/resume"),
        ("DELETE", ""),
    ]:
        assert other.http.request(method, f"/api/v1/schedules/{schedule_id}{path}").status_code == 404
    assert other.http.get("/api/v1/schedules").json()["schedules"] == []
    assert owner.http.delete(f"/api/v1/schedules/{schedule_id}").status_code == 204
    assert owner.http.get(f"/api/v1/schedules/{schedule_id}").status_code == 404
    assert owner.http.get("/api/v1/schedules").json()["schedules"] == []


def due_now(stack: Stack, schedule_id: str) -> None:
    """Bring a schedule's next tick to now (its cron runs at 09:00 on weekdays; the test cannot wait)."""
    now = time.time()
    client = redis.Redis.from_url(stack.redis_url)
    client.hset(f"{stack.prefix}:{{schedules}}:schedule:{schedule_id}", "next_run_at", repr(now))
    client.zadd(f"{stack.prefix}:{{schedules}}:due", {schedule_id: now})


def test_schedules_are_made_and_managed_from_slack(stack: Stack, fakes: tuple[FakeSlack, FakeBotApi, Receiver]) -> None:
    slack = fakes[0]
    sender, channel, user = SlackSender(stack.url, slack), new_channel(), "USCHED01"
    owner = slack_api(stack, user)

    def say(text: str) -> str:
        resp = sender.slash("/schedule", text, user=user, channel=channel)
        assert resp.status_code == 200, resp.text
        return resp.text

    assert "/schedule list" in say("help")
    for bad, words in [
        ("61 9 * * * notes", "not a valid cron"),
        ("0 9 * * 1 tz=Mars/Base notes", "IANA"),
        ("0 9", "5 fields"),
    ]:
        assert words in say(bad)
    assert owner.http.get("/api/v1/schedules").json()["schedules"] == []  # nothing stored

    assert "Scheduled" in say("0 9 * * 1-5 tz=Europe/Berlin graph=echo standup notes")
    [made] = owner.http.get("/api/v1/schedules").json()["schedules"]
    assert (made["cron"], made["timezone"], made["graph"], made["input"]) == (
        "0 9 * * 1-5",
        "Europe/Berlin",
        "echo",
        {"text": "standup notes"},
    )
    assert made["target"] == {"slack": {"team": "T0001", "channel": channel}}
    ref = made["schedule_id"][:8]
    assert ref in say("list")
    assert "Paused" in say(f"pause {ref}") and owner.http.get("/api/v1/schedules").json()["schedules"][0]["paused"]
    assert "Resumed" in say(f"resume {ref}")
    assert "no single schedule" in say("pause zzzz")

    due_now(stack, made["schedule_id"])
    scheduler = start_scheduler(stack, "scheduler-slack")
    try:
        root = wait_for(
            lambda: next((m for m in slack.bot_messages(channel) if m.text.startswith("⏰")), None),
            30,
            what="the scheduled run's thread in the channel",
        )
        run = wait_for(lambda: owner.http.get(f"/api/v1/schedules/{made['schedule_id']}").json()["history"], 30)[0]
        owner.wait_status(run["task_id"], {"completed"}, timeout=60)
        wait_for(lambda: any(m.task_id == run["task_id"] for m in slack.thread(channel, root.ts)), 30, what="the run")
    finally:
        stack.stop_proc(scheduler)
    assert "Deleted" in say(f"delete {ref}")
    assert owner.http.get("/api/v1/schedules").json()["schedules"] == []


def test_schedules_are_made_and_managed_from_telegram(
    stack: Stack, fakes: tuple[FakeSlack, FakeBotApi, Receiver]
) -> None:
    telegram = fakes[1]
    chat_id = 4242002
    chat, user, hook = telegram.chat(chat_id), telegram.user(chat_id), Webhook(stack.url)
    owner = Api(stack.url, f"telegram:{chat_id}")  # a chat owns its tasks and its schedules

    def say(text: str) -> str:
        before = len(telegram.bot_messages(chat_id))
        assert hook.send(telegram.message_update(chat, user, f"/schedule {text}")).status_code == 200
        return wait_for(lambda: telegram.bot_messages(chat_id)[before:] and telegram.bot_messages(chat_id)[-1].text, 30)

    assert "I can't do that" in say("61 9 * * * notes")
    assert owner.http.get("/api/v1/schedules").json()["schedules"] == []
    assert "Scheduled" in say("@daily graph=echo morning digest")
    [made] = owner.http.get("/api/v1/schedules").json()["schedules"]
    assert made["target"] == {"telegram": {"chat_id": chat_id}} and made["input"] == {"text": "morning digest"}
    ref = made["schedule_id"][:8]
    assert ref in say("list")
    due_now(stack, made["schedule_id"])
    scheduler = start_scheduler(stack, "scheduler-telegram")
    try:
        wait_for(
            lambda: any(m.text.startswith("⏰ Scheduled run of echo") for m in telegram.bot_messages(chat_id)),
            30,
            what="the scheduled run's title in the chat",
        )
        wait_for(lambda: any(m.text == "morning digest" for m in telegram.bot_messages(chat_id)), 30, what="its answer")
    finally:
        stack.stop_proc(scheduler)
    assert "Deleted" in say(f"delete {ref}")
    assert owner.http.get("/api/v1/schedules").json()["schedules"] == []
