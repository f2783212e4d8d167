"""Feedback on final answers through real processes (API, worker, dispatcher, Redis) with fake Slack and
Telegram servers: 👍/👎 under every final answer, stored once however often it is clicked, a 👎's comment in
Slack's modal, the API's own feedback and its listing, and the counts on /metrics."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from graphgate.testing.client import Api
from graphgate.testing.fake_bot_api import FakeBotApi
from graphgate.testing.fake_slack import FakeSlack, Msg
from graphgate.testing.slack import SlackSender, new_channel, slack_api, slot_message
from graphgate.testing.stack import Proc, Stack
from graphgate.testing.telegram import Webhook
from graphgate.testing.waiting import wait_for


@pytest.fixture(scope="module")
def fake_slack(chat_slack: FakeSlack) -> FakeSlack:
    return chat_slack


@pytest.fixture(scope="module")
def fake_telegram(chat_telegram: FakeBotApi) -> FakeBotApi:
    return chat_telegram


@pytest.fixture(scope="module")
def stack(chat_stack: Stack) -> Stack:
    """The package's shared stack (tests/e2e/conftest.py)."""
    return chat_stack


@pytest.fixture(scope="module")
def dispatcher(chat_dispatcher: Proc) -> Proc:
    return chat_dispatcher


def feedback_of(api: Api, task_id: str) -> list[dict]:
    graph = api.get(task_id)["graph"]
    resp = api.http.get("/api/v1/feedback", params={"graph": graph})
    assert resp.status_code == 200, resp.text
    return [f for f in resp.json()["feedback"] if f["task_id"] == task_id]


def thumbs(message: Msg) -> list[dict[str, Any]]:
    return [a for a in message.actions() if str(a.get("action_id", "")).startswith("gg_feedback:")]


def test_slack_thumbs_are_stored_once_and_a_thumbs_down_takes_a_comment(
    stack: Stack, fake_slack: FakeSlack, dispatcher: Proc
) -> None:
    slack, channel, user = SlackSender(stack.url, fake_slack), new_channel(), "URATER01"
    slack.slash("/echo", "rate me", user=user, channel=channel)
    # the buttons are on the final answer's message: no message of their own
    card = slot_message(fake_slack, channel, "answer:", lambda m: bool(thumbs(m)), timeout=60)
    assert not [m for m in fake_slack.bot_messages(channel) if m.slot == "feedback"]
    up, down = thumbs(card)
    assert [up["text"]["text"], down["text"]["text"]] == ["👍 Helpful", "👎 Not helpful"]
    api = slack_api(stack, user)
    [task] = api.http.get("/api/v1/tasks").json()["tasks"]

    for _ in range(2):  # a double click counts once
        assert slack.click(card, up, user=user).status_code == 200
    wait_for(lambda: len([e for e in fake_slack.ephemerals if e["user"] == user]) == 2, 15, what="two notes")
    notes = [e["text"] for e in fake_slack.ephemerals if e["user"] == user]
    assert notes == ["Thanks for the 👍.", "You rated this answer so already."]
    assert [(f["score"], f["by"]) for f in feedback_of(api, task["task_id"])] == [(1, f"slack:T0001:{user}")]

    views_before = len(fake_slack.views)
    assert slack.click(card, down, user=user).status_code == 200
    modal = wait_for(lambda: fake_slack.views[views_before:], 15, what="the comment modal")[0]
    assert modal["callback_id"] == "gg_feedback"
    assert slack.submit(modal, user=user, comment="it only repeated me").status_code == 200
    wait_for(
        lambda: [f["comment"] for f in feedback_of(api, task["task_id"])] == ["it only repeated me"],
        15,
        what="the comment",
    )
    [stored] = feedback_of(api, task["task_id"])
    assert stored["score"] == -1 and stored["where"] == f"slack:T0001:{channel}"


def test_telegram_keys_and_the_api_and_metrics(stack: Stack, fake_telegram: FakeBotApi, dispatcher: Proc) -> None:
    hook, chat_id = Webhook(stack.url), 9_100_001
    chat, user = fake_telegram.chat(chat_id), fake_telegram.user(chat_id, "Rita", "rita")
    assert hook.send(fake_telegram.message_update(chat, user, "/echo rate this too")).status_code == 200
    card = wait_for(
        lambda: next(
            (m for m in fake_telegram.bot_messages(chat_id) if "rate this too" in m.text and m.keyboard), None
        ),
        60,
        what="the answer with its feedback keys",
    )
    assert [b["text"] for row in card.keyboard for b in row] == ["👍", "👎"]
    thumbs_up = next(b["callback_data"] for row in card.keyboard for b in row if b["text"] == "👍")
    for _ in range(2):
        assert hook.send(fake_telegram.callback_update(chat, user, card, thumbs_up)).status_code == 200
    answers = wait_for(
        lambda: (
            [c.args.get("text") for c in fake_telegram.calls_of("answerCallbackQuery")][-2:]
            if len(fake_telegram.calls_of("answerCallbackQuery")) >= 2
            else None
        ),
        15,
        what="the keys' answers",
    )
    assert answers == ["Thanks for the 👍.", "You rated this answer so already."]
    chat_api = Api(stack.url, f"telegram:{chat_id}")
    [task] = chat_api.http.get("/api/v1/tasks").json()["tasks"]
    assert [(f["score"], f["by"]) for f in feedback_of(chat_api, task["task_id"])] == [(1, f"telegram:user:{chat_id}")]

    # the API: its own tasks, one feedback each; bad feedback is refused and changes nothing
    api = Api(stack.url, "feedback-api-user")
    created = api.create(graph="echo", input={"text": "via the api"})
    api.wait_status(created["task_id"], {"completed"})
    url = f"/api/v1/tasks/{created['task_id']}/feedback"
    for body, status in (({"score": 0}, 422), ({"score": "up"}, 422), ({"score": 1, "extra": 1}, 422)):
        assert api.http.post(url, json=body).status_code == status
    assert Api(stack.url, "someone-else").http.post(url, json={"score": 1}).status_code == 404
    assert feedback_of(api, created["task_id"]) == []
    resp = api.http.post(url, json={"score": -1, "comment": "wrong language"})
    assert resp.status_code == 201 and resp.json()["comment"] == "wrong language"
    again = api.http.post(url, json={"score": -1, "comment": "wrong language"})
    assert again.status_code == 201 and again.json()["at"] == resp.json()["at"]  # the same: nothing new
    running = api.create(graph="echo", input={"text": "slow", "sleep": 3})
    assert api.http.post(f"/api/v1/tasks/{running['task_id']}/feedback", json={"score": 1}).status_code == 409

    metrics = httpx.get(f"{stack.url}/metrics", timeout=10).text
    down = [
        line for line in metrics.splitlines() if line.startswith('graphgate_feedback_total{graph="echo",score="down"}')
    ]
    assert down and float(down[0].split()[-1]) >= 1
