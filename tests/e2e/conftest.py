"""Fixtures the end-to-end modules share: a fake Slack and a fake Telegram Bot API on loopback, one of each per
module (a module that needs one arranged differently defines its own)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from graphgate.testing.fake_bot_api import FakeBotApi
from graphgate.testing.fake_slack import FakeSlack


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
