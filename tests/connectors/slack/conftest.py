"""Fixtures of the Slack connector tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from graphgate.testing.fake_slack import FakeSlack


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeSlack]:
    """A fake Slack Web API of the test module's own."""
    f = FakeSlack().start()
    yield f
    f.stop()
