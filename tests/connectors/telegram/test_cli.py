"""``graphgate telegram set-webhook`` / ``delete-webhook`` as an operator runs them, against the fake Bot API."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest

from graphgate.testing.fake_bot_api import FakeBotApi
from graphgate.testing.stack import ROOT
from graphgate.testing.telegram import WEBHOOK_SECRET

pytestmark = pytest.mark.integration  # starts graphgate processes


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBotApi]:
    api = FakeBotApi().start()
    yield api
    api.stop()


def graphgate(fake: FakeBotApi, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHGATE_")}
    base.update(
        GRAPHGATE_TELEGRAM_BOT_TOKEN=fake.token,
        GRAPHGATE_TELEGRAM_WEBHOOK_SECRET=WEBHOOK_SECRET,
        GRAPHGATE_TELEGRAM_API_URL=fake.url,
        PYTHONPATH=str(ROOT),
    )
    base.update(env)
    return subprocess.run(
        [sys.executable, "-m", "graphgate.cli", "telegram", *args],
        env=base,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_set_webhook_registers_the_route_with_the_secret(fake: FakeBotApi) -> None:
    done = graphgate(fake, "set-webhook", "--url", "https://bot.example.com/")
    assert done.returncode == 0, done.stderr
    assert "https://bot.example.com/telegram/webhook" in done.stdout
    assert fake.webhook == {
        "url": "https://bot.example.com/telegram/webhook",
        "secret_token": WEBHOOK_SECRET,
        "allowed_updates": ["message", "callback_query"],
    }
    done = graphgate(fake, "delete-webhook")
    assert done.returncode == 0, done.stderr
    assert fake.webhook == {}


def test_set_webhook_needs_a_usable_secret_and_a_url(fake: FakeBotApi) -> None:
    bad = graphgate(
        fake, "set-webhook", "--url", "https://bot.example.com", GRAPHGATE_TELEGRAM_WEBHOOK_SECRET="no spaces"
    )
    assert bad.returncode == 2 and "WEBHOOK_SECRET" in bad.stderr
    no_url = graphgate(fake, "set-webhook")
    assert no_url.returncode == 2 and "--url" in no_url.stderr
    wrong_token = graphgate(fake, "set-webhook", "--url", "https://x.example", GRAPHGATE_TELEGRAM_BOT_TOKEN="1:nope")
    assert wrong_token.returncode == 1 and "refused" in wrong_token.stderr
    assert "1:nope" not in wrong_token.stderr  # the token is never printed
    assert fake.webhook == {}
