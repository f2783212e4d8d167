"""Slack as the gateway sees it, for tests: requests signed with the signing secret and shaped like Slack's
(slash command form bodies, ``event_callback`` JSON, ``block_actions`` and ``view_submission`` payloads),
plus process helpers."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from graphgate.testing.client import Api
from graphgate.testing.dispatcher import DISPATCHER_ENV
from graphgate.testing.fake_slack import FakeSlack, Msg
from graphgate.testing.stack import Stack
from graphgate.testing.waiting import wait_for

SIGNING_SECRET = "test-slack-signing-secret-0123456789"
COMMANDS = {
    "/ask": "writer",
    "/echo": "echo",
    "/hello": "ask",
    "/brief": {"graph": "writer", "config": {"target_length": 300}},
}


def slack_env(fake: FakeSlack, **extra: str) -> dict[str, str]:
    env = {
        "GRAPHGATE_SLACK_BOT_TOKEN": fake.bot_token,
        "GRAPHGATE_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "GRAPHGATE_SLACK_API_URL": fake.api_url,
        "GRAPHGATE_SLACK_COMMANDS": json.dumps(COMMANDS),
        **DISPATCHER_ENV,
        "GRAPHGATE_DISPATCHER_CHANNEL_INTERVAL": "0.3",
    }
    env.update(extra)
    return env


def new_channel() -> str:
    return "C" + uuid.uuid4().hex[:10].upper()


def slack_api(stack: Stack, user: str, team: str = "T0001") -> Api:
    """The HTTP API as the Slack user's principal (to read their tasks and events)."""
    return Api(stack.url, f"slack:{team}:{user}")


class SlackSender:
    """Sends Slack-shaped, signed requests to the gateway's /slack/events."""

    def __init__(self, gateway_url: str, fake: FakeSlack, team: str = "T0001", secret: str = SIGNING_SECRET) -> None:
        self.url = f"{gateway_url}/slack/events"
        self.fake = fake
        self.team = team
        self.secret = secret
        self.http = httpx.Client(timeout=10)
        self._n = 0

    def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        secret: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        signature = SignatureVerifier(secret or self.secret).generate_signature(timestamp=ts, body=body)
        sent = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature,
            **(headers or {}),
        }
        return self.http.post(self.url, content=body.encode(), headers=sent)

    def slash_body(self, command: str, text: str, *, user: str, channel: str) -> str:
        self._n += 1
        return urlencode(
            {
                "token": "legacy-verification-token",
                "team_id": self.team,
                "team_domain": "graphgate-test",
                "channel_id": channel,
                "channel_name": "general",
                "user_id": user,
                "user_name": user.lower(),
                "command": command,
                "text": text,
                "api_app_id": "AGRAPHGATE",
                "is_enterprise_install": "false",
                "response_url": f"{self.fake.url}/respond/slash-{self._n}",
                "trigger_id": f"{self._n}.{int(time.time())}.abc",
            }
        )

    def slash(self, command: str, text: str, *, user: str, channel: str, **kw: Any) -> httpx.Response:
        return self.post(
            self.slash_body(command, text, user=user, channel=channel), "application/x-www-form-urlencoded", **kw
        )

    def event_body(self, event: dict[str, Any], event_id: str | None = None) -> str:
        return json.dumps(
            {
                "token": "legacy-verification-token",
                "team_id": self.team,
                "api_app_id": "AGRAPHGATE",
                "event": event,
                "type": "event_callback",
                "event_id": event_id or "Ev" + uuid.uuid4().hex[:10].upper(),
                "event_time": int(time.time()),
                "authorizations": [
                    {
                        "enterprise_id": None,
                        "team_id": self.team,
                        "user_id": self.fake.bot_user,
                        "is_bot": True,
                        "is_enterprise_install": False,
                    }
                ],
                "is_ext_shared_channel": False,
            }
        )

    def event(self, event: dict[str, Any], *, event_id: str | None = None, retry: int | None = None) -> httpx.Response:
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return self.post(self.event_body(event, event_id), "application/json", headers=headers)

    def mention(
        self,
        channel: str,
        user: str,
        text: str,
        thread_ts: str | None = None,
        event_id: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> tuple[Msg, httpx.Response]:
        """A user message mentioning the bot (with ``files``: entries of ``FakeSlack.add_file``): it appears in
        the fake channel and its event is sent."""
        msg = self.fake.user_message(channel, user, f"<@{self.fake.bot_user}> {text}", thread_ts)
        event: dict[str, Any] = {
            "type": "app_mention",
            "user": user,
            "text": msg.text,
            "ts": msg.ts,
            "channel": channel,
            "event_ts": msg.ts,
            "team": self.team,
        }
        if thread_ts:
            event["thread_ts"] = thread_ts
        if files:
            event["files"], event["upload"] = files, False
        return msg, self.event(event, event_id=event_id)

    def dm_files(self, channel: str, user: str, text: str, files: list[dict[str, Any]]) -> httpx.Response:
        """A direct message with files (``message`` of subtype ``file_share``)."""
        msg = self.fake.user_message(channel, user, text)
        return self.event(
            {
                "type": "message",
                "subtype": "file_share",
                "user": user,
                "text": text,
                "ts": msg.ts,
                "channel": channel,
                "event_ts": msg.ts,
                "channel_type": "im",
                "team": self.team,
                "files": files,
                "upload": False,
            }
        )

    def reply(
        self, channel: str, user: str, text: str, thread_ts: str, channel_type: str = "channel"
    ) -> httpx.Response:
        """A plain reply in a thread (no mention)."""
        msg = self.fake.user_message(channel, user, text, thread_ts)
        return self.event(
            {
                "type": "message",
                "user": user,
                "text": text,
                "ts": msg.ts,
                "thread_ts": thread_ts,
                "channel": channel,
                "event_ts": msg.ts,
                "channel_type": channel_type,
                "team": self.team,
            }
        )

    def click(self, message: Msg, action: dict[str, Any], *, user: str) -> httpx.Response:
        """A click on ``action`` (a button element of ``message``) by ``user``."""
        self._n += 1
        block_id = next(b.get("block_id") for b in message.blocks if action in b.get("elements", []))
        payload = {
            "type": "block_actions",
            "team": {"id": self.team, "domain": "graphgate-test"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": self.team},
            "api_app_id": "AGRAPHGATE",
            "token": "legacy-verification-token",
            "container": {
                "type": "message",
                "message_ts": message.ts,
                "channel_id": message.channel,
                "is_ephemeral": False,
                "thread_ts": message.thread_ts,
            },
            "trigger_id": self.fake.trigger(),
            "channel": {"id": message.channel, "name": "general"},
            "message": message.as_api(False),
            "response_url": f"{self.fake.url}/respond/click-{self._n}",
            "actions": [
                {
                    "type": "button",
                    "action_id": action["action_id"],
                    "block_id": block_id,
                    "text": action["text"],
                    "value": action.get("value", ""),
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")

    def submit(self, view: dict[str, Any], *, user: str, **typed: str) -> httpx.Response:
        """``user`` submits the modal ``view`` (as ``views.open`` opened it) with ``typed`` in the inputs
        named by their action ids; the other inputs keep their initial values, as in Slack's client. The
        response's JSON body, if any, is the app's ``response_action``."""
        values: dict[str, dict[str, Any]] = {}
        for block in view["blocks"]:
            if block.get("type") != "input":
                continue
            element = block["element"]
            value = typed.get(element["action_id"], element.get("initial_value"))
            if not value and not block.get("optional"):
                raise ValueError(
                    f"Slack's client does not submit a modal whose required input {block['block_id']!r} is empty"
                )
            values[block["block_id"]] = {element["action_id"]: {"type": element["type"], "value": value or None}}
        payload = {
            "type": "view_submission",
            "team": {"id": self.team, "domain": "graphgate-test"},
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": self.team},
            "api_app_id": "AGRAPHGATE",
            "token": "legacy-verification-token",
            "trigger_id": self.fake.trigger(),
            "view": {
                **view,
                "state": {"values": values},
                "root_view_id": view["id"],
                "previous_view_id": None,
                "clear_on_close": False,
                "notify_on_close": False,
                "external_id": "",
            },
            "response_urls": [],
            "is_enterprise_install": False,
            "enterprise": None,
        }
        return self.post(urlencode({"payload": json.dumps(payload)}), "application/x-www-form-urlencoded")


# --- reading a task's thread in the fake ---------------------------------------------------------------------


def root_of(fake: FakeSlack, channel: str) -> Msg:
    """The bot's root message in ``channel`` (a slash command's "asked" line), once it is there."""
    return wait_for(lambda: next((m for m in fake.bot_messages(channel) if m.thread_ts is None), None), 20, what="root")


def slot_message(
    fake: FakeSlack, channel: str, prefix: str, check: Callable[[Msg], bool] = lambda m: True, timeout: float = 60
) -> Msg:
    """The first bot message whose slot starts with ``prefix`` and that passes ``check``, once there is one."""
    return wait_for(
        lambda: next((m for m in fake.bot_messages(channel) if (m.slot or "").startswith(prefix) and check(m)), None),
        timeout,
        what=f"a {prefix} message",
    )


def status_says(fake: FakeSlack, channel: str, words: str, timeout: float = 60) -> Msg:
    return slot_message(fake, channel, "status", lambda m: words in m.section_text(), timeout)


def accepted_posts(fake: FakeSlack, channel: str) -> dict[str, int]:
    """slot -> number of accepted calls that created a message for it (must be 1 each)."""
    counts: dict[str, int] = {}
    for c in fake.calls_of(channel=channel):
        if c.ok and c.method == "chat.postMessage" and c.slot:
            counts[c.slot] = counts.get(c.slot, 0) + 1
    for c in fake.calls_of("chat.startStream", channel):
        if c.ok:
            ts = c.response["ts"]
            msg = next(m for m in fake.bot_messages(channel) if m.ts == ts)
            key = msg.slot or f"stream:{ts}"
            counts[key] = counts.get(key, 0) + 1
    return counts


def final_sections(fake: FakeSlack, channel: str, run: int) -> list[str]:
    """The section texts of run ``run``'s answer messages, in thread order."""
    parts = [
        m
        for m in fake.bot_messages(channel)
        if m.slot == f"answer:{run}" or (m.slot or "").startswith(f"answer:{run}:")
    ]
    parts.sort(key=lambda m: m.ts)
    return [b["text"]["text"] for m in parts for b in m.blocks if b["type"] == "section"]


def tasks_of(stack: Stack, user: str) -> list[dict[str, Any]]:
    """The Slack user's tasks, newest first, as the HTTP API lists them."""
    return slack_api(stack, user).http.get("/api/v1/tasks").json()["tasks"]  # type: ignore[no-any-return]


def only_task(stack: Stack, user: str) -> dict[str, Any]:
    tasks = tasks_of(stack, user)
    assert len(tasks) == 1, tasks
    return tasks[0]


def summarize_calls(fake: FakeSlack, channel: str) -> list[str]:
    """One line per Web API call made for a channel: method and its key arguments (for reports)."""
    lines = []
    for c in fake.calls:
        if c.args.get("channel") != channel:
            continue
        a = c.args
        bits = [c.method]
        for key in ("thread_ts", "ts", "user"):
            if a.get(key):
                bits.append(f"{key}={a[key]}")
        if c.slot:
            bits.append(f"slot={c.slot}")
        if "markdown_text" in a:
            bits.append(f"markdown_text=<{len(a['markdown_text'])} chars>")
        if "blocks" in a and isinstance(a["blocks"], list):
            kinds = [b.get("type") for b in a["blocks"]]
            bits.append("blocks=" + ",".join(kinds))
        elif a.get("text"):
            bits.append(f"text={a['text'][:40]!r}")
        bits.append("-> ok" if c.ok else f"-> {c.status} {c.response.get('error')}")
        lines.append(" ".join(bits))
    return lines


def write_report(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n")
