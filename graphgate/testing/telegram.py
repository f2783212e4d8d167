"""Telegram as the gateway sees it, for tests: settings pointing at the fake Bot API, webhook posts with the
secret header, and the dispatcher and polling processes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx

from graphgate.testing.client import Api
from graphgate.testing.dispatcher import DISPATCHER_ENV, spawn
from graphgate.testing.fake_bot_api import FakeBotApi, Msg
from graphgate.testing.stack import Proc, Stack

WEBHOOK_SECRET = "test-telegram-webhook-secret_0123456789"
COMMANDS: dict[str, Any] = {
    "ask": {"graph": "writer", "config": {"target_length": 1500}, "description": "write an article"},
    "brief": {"graph": "writer", "mode": "auto", "config": {"target_length": 1500}},
    "echo": "echo",
    "hello": "ask",
}


def telegram_env(fake: FakeBotApi, **extra: str) -> dict[str, str]:
    env = {
        "GRAPHGATE_TELEGRAM_BOT_TOKEN": fake.token,
        "GRAPHGATE_TELEGRAM_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GRAPHGATE_TELEGRAM_API_URL": fake.url,
        "GRAPHGATE_TELEGRAM_COMMANDS": json.dumps(COMMANDS),
        **DISPATCHER_ENV,
        "GRAPHGATE_OFFLINE_MODEL_DELAY": "0.003",  # the writer streams for a few seconds: drafts and edits
    }
    env.update(extra)
    return env


def start_polling(stack: Stack) -> Proc:
    return spawn(stack, "telegram-polling", ["telegram", "--polling"], "telegram polling as @")


def chat_api(stack: Stack, chat_id: int) -> Api:
    """The HTTP API as a Telegram chat's principal (to read its tasks and events)."""
    return Api(stack.url, f"telegram:{chat_id}")


def tasks_of(api: Api) -> list[dict[str, Any]]:
    resp = api.http.get("/api/v1/tasks")
    assert resp.status_code == 200, resp.text
    return resp.json()["tasks"]


class Webhook:
    """Posts updates to the gateway's /telegram/webhook as Telegram does."""

    def __init__(self, gateway_url: str, secret: str | None = WEBHOOK_SECRET) -> None:
        self.url = f"{gateway_url}/telegram/webhook"
        self.secret = secret
        self.http = httpx.Client(timeout=30)

    def send(self, update: dict[str, Any], secret: str | None = "default") -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        token = self.secret if secret == "default" else secret
        if token is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = token
        return self.http.post(self.url, content=json.dumps(update).encode(), headers=headers)


def question_of(fake: FakeBotApi, chat: int, n: int = 1) -> Msg | None:
    """The ``n``-th message of the chat that carries answer buttons (a question), once it has them."""
    found = [m for m in fake.bot_messages(chat) if any(d.startswith("a:") for d in m.callback_data)]
    return found[n - 1] if len(found) >= n else None


def final_parts(fake: FakeBotApi, chat: int) -> list[Msg]:
    """The chat's numbered answer parts ``(i/n)``, in chat order."""
    return [
        m
        for m in fake.bot_messages(chat)
        if m.text.rstrip().endswith(")")
        and "/" in m.text.rsplit("(", 1)[-1]
        and m.text.rsplit("(", 1)[-1][:-1].replace("/", "").isdigit()
    ]


@contextmanager
def calls_on_failure(fake: FakeBotApi, chat_id: int) -> Iterator[None]:
    """Add the chat's Bot API calls to an assertion that fails inside the block."""
    try:
        yield
    except AssertionError as exc:
        calls = "\n".join(f"{c.at:.2f} {c.summary()}" for c in fake.calls_of(chat=chat_id))
        raise AssertionError(f"{exc}\nBot API calls in chat {chat_id}:\n{calls}") from exc


def by_id(fake: FakeBotApi, chat: int, message_id: int) -> Msg | None:
    return next((m for m in fake.bot_messages(chat) if m.message_id == message_id), None)


def press(fake: FakeBotApi, hook: Webhook, chat: dict, user: dict, msg: Msg, label: str) -> dict:
    """Press the button ``label`` under ``msg`` through the webhook; the update sent."""
    data = next(b["callback_data"] for row in msg.keyboard for b in row if b["text"] == label)
    update = fake.callback_update(chat, user, msg, data)
    assert hook.send(update).status_code == 200
    return update
