"""Socket Mode: ``graphgate slack --socket`` as a real process, speaking to the fake Slack's WebSocket."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from urllib.parse import parse_qsl

import pytest

from graphgate.testing.dispatcher import start_dispatcher
from graphgate.testing.fake_slack import FakeSlack
from graphgate.testing.slack import SlackSender, new_channel, slack_env
from graphgate.testing.stack import ROOT, Proc, Stack
from graphgate.testing.waiting import wait_for

pytestmark = pytest.mark.integration  # starts graphgate processes


@pytest.fixture(scope="module")
def socket_stack(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory, fake: FakeSlack
) -> Iterator[tuple[Stack, Proc]]:
    env = slack_env(fake, GRAPHGATE_SLACK_APP_TOKEN=fake.app_token)
    stack = Stack(redis_url=redis_url, workdir=tmp_path_factory.mktemp("slack-socket"), extra_env=env)
    log = stack.workdir / "slack-socket.log"
    stack.workdir.mkdir(parents=True, exist_ok=True)
    popen = subprocess.Popen(
        [sys.executable, "-m", "graphgate.cli", "slack", "--socket"],
        env=stack.env,
        cwd=ROOT,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )
    connector = Proc("slack-socket", popen, log)
    dispatcher: Proc | None = None
    try:
        stack.start_worker(concurrency=1)
        dispatcher = start_dispatcher(stack)
        wait_for(lambda: fake.sockets or popen.poll() is not None, 60, what="the socket connection")
        assert popen.poll() is None, connector.text()
        yield stack, connector
    finally:
        if dispatcher is not None:
            stack.stop_proc(dispatcher)
        stack.stop_proc(connector)
        stack.stop()


def envelope(kind: str, payload: dict) -> dict:  # type: ignore[type-arg]
    return {
        "envelope_id": uuid.uuid4().hex,
        "type": kind,
        "payload": payload,
        "accepts_response_payload": True,
        "retry_attempt": 0,
        "retry_reason": "",
    }


def test_slash_command_and_event_over_socket_mode(socket_stack: tuple[Stack, Proc], fake: FakeSlack) -> None:
    stack, connector = socket_stack
    channel = new_channel()
    sender = SlackSender("http://unused", fake)
    slash = dict(parse_qsl(sender.slash_body("/echo", "over the socket", user="USOCK001", channel=channel)))
    sent = envelope("slash_commands", slash)
    fake.socket_send(sent)
    ack = wait_for(lambda: next((a for a in fake.socket_acks if a.get("envelope_id") == sent["envelope_id"]), None), 20)
    assert "Starting *echo*" in str(ack.get("payload"))
    answer = wait_for(lambda: next((m for m in fake.bot_messages(channel) if m.slot == "answer:1"), None), 60)
    assert "over the socket" in answer.section_text()

    # an Events API delivery and its retry: one task
    msg = fake.user_message(channel, "USOCK001", f"<@{fake.bot_user}> echo this")
    body = {
        "type": "app_mention",
        "user": "USOCK001",
        "text": msg.text,
        "ts": msg.ts,
        "channel": channel,
        "event_ts": msg.ts,
        "team": "T0001",
    }
    event = json.loads(sender.event_body(body, event_id="Ev0SOCKET01"))
    fake.socket_send(envelope("events_api", event))
    fake.socket_send({**envelope("events_api", event), "retry_attempt": 1, "retry_reason": "timeout"})
    wait_for(lambda: [m for m in fake.bot_messages(channel) if m.slot == "status" and m.thread_ts == msg.ts], 30)
    wait_for(lambda: len(fake.socket_acks) >= 3, 20)
    # the sentinel: the connector has handled both deliveries (the one it ignores is logged when it is)
    ignored = f"slack event {event['event_id']} delivered again; ignored"
    wait_for(lambda: connector.text().count(ignored) == 1, 20, what="the retry to be ignored")
    assert len([m for m in fake.bot_messages(channel) if m.slot == "status" and m.thread_ts == msg.ts]) == 1
    assert "Traceback" not in connector.text()
