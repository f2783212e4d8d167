"""Fixtures the end-to-end modules share: a fake Slack and a fake Telegram Bot API on loopback, one of each per
module (a module that needs one arranged differently defines its own), and one stack for the modules whose
settings do not conflict.

Starting a stack (a Celery worker, the API, a dispatcher) costs seconds on a loaded machine, so the modules
that need no settings of their own (files, schedules, feedback, webhooks) share ``chat_stack``: one stack with
its own fake Slack, fake Telegram and webhook receiver, alive for the package. Each test there keeps to its own
principals, chats, channels and sessions, so that no test's data can satisfy another's assertion; a module
whose settings would change what another sees (LangSmith tracing, the PostgreSQL checkpointer, S3 storage,
approval policies, pacing measured by the Slack tests) keeps a stack of its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphgate.testing.dispatcher import start_dispatcher
from graphgate.testing.fake_bot_api import FakeBotApi
from graphgate.testing.fake_slack import FakeSlack
from graphgate.testing.slack import slack_env
from graphgate.testing.stack import Proc, Stack, running_stack
from graphgate.testing.telegram import telegram_env
from graphgate.testing.webhooks import Receiver

# look and draw (tests/e2e/files) beside the examples' echo and ask
CHAT_CONFIG = Path(__file__).with_name("langgraph.json")
ATTACHMENT_LIMIT = 64 * 1024  # GRAPHGATE_ATTACHMENT_MAX_BYTES of chat_stack
WEBHOOK_SECRET = "webhook-secret-for-the-tests"  # GRAPHGATE_WEBHOOK_SECRET of chat_stack


@pytest.fixture(scope="module")
def fake_slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def fake_telegram() -> Iterator[FakeBotApi]:
    fake = FakeBotApi().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="package")
def chat_slack() -> Iterator[FakeSlack]:
    """The fake Slack ``chat_stack`` posts to."""
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="package")
def chat_telegram() -> Iterator[FakeBotApi]:
    """The fake Telegram Bot API ``chat_stack`` posts to."""
    fake = FakeBotApi().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="package")
def chat_receiver() -> Iterator[Receiver]:
    """The webhook receiver that is the ``ask`` graph's default webhook on ``chat_stack``."""
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture(scope="package")
def chat_stack(
    redis_url: str,
    tmp_path_factory: pytest.TempPathFactory,
    chat_slack: FakeSlack,
    chat_telegram: FakeBotApi,
    chat_receiver: Receiver,
) -> Iterator[Stack]:
    """API (Slack events and the Telegram webhook mounted) and a worker of two children, with the graphs of
    CHAT_CONFIG, attachments up to ATTACHMENT_LIMIT, signed webhooks allowed to loopback, and schedulers (each
    test starts its own) polling fast."""
    workdir = tmp_path_factory.mktemp("chat")
    env = {
        **slack_env(
            chat_slack, GRAPHGATE_SLACK_COMMANDS=json.dumps({"/look": "look", "/echo": "echo", "/draw": "draw"})
        ),
        **telegram_env(
            chat_telegram, GRAPHGATE_TELEGRAM_COMMANDS=json.dumps({"look": "look", "echo": "echo", "draw": "draw"})
        ),
        "GRAPHGATE_CONFIG": str(CHAT_CONFIG),
        "GRAPHGATE_OFFLINE_MODEL_DELAY": "0.001",
        "GRAPHGATE_DISPATCHER_CHANNEL_INTERVAL": "0.05",
        "GRAPHGATE_ATTACHMENT_MAX_BYTES": str(ATTACHMENT_LIMIT),
        "GRAPHGATE_ATTACHMENTS_DIR": str(workdir / "attachments"),
        "GRAPHGATE_WEBHOOK_ALLOW_PRIVATE": "true",  # the receivers are on loopback
        "GRAPHGATE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "GRAPHGATE_GRAPH_WEBHOOKS": json.dumps({"ask": chat_receiver.url}),
        "GRAPHGATE_SCHEDULE_POLL_SECONDS": "0.2",
        "GRAPHGATE_SCHEDULE_STALE_SECONDS": "2",
    }
    with running_stack(redis_url, workdir, env, public_url=True) as stack:
        yield stack


@pytest.fixture(scope="package")
def chat_dispatcher(chat_stack: Stack) -> Iterator[Proc]:
    """The dispatcher of ``chat_stack``, for the modules that post into the fake Slack and Telegram."""
    proc = start_dispatcher(chat_stack)
    yield proc
    chat_stack.stop_proc(proc)
