"""Multi-workspace mode: OAuth install through /slack/install, tokens in the installation store database,
and a freshly installed workspace served end to end (real API, worker and dispatcher processes)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from slack_sdk.oauth.installation_store.models.installation import Installation

from graphgate.connectors.slack import installs
from graphgate.core.settings import Settings
from graphgate.testing.dispatcher import start_dispatcher
from graphgate.testing.fake_slack import FakeSlack
from graphgate.testing.slack import SlackSender, new_channel, slack_env
from graphgate.testing.stack import Stack, running_stack
from graphgate.testing.waiting import wait_for

pytestmark = pytest.mark.integration  # starts graphgate processes

CLIENT_ID = "1111.2222"


@pytest.fixture(scope="module")
def oauth_stack(redis_url: str, tmp_path_factory: pytest.TempPathFactory, fake: FakeSlack) -> Iterator[Stack]:
    env = slack_env(fake, GRAPHGATE_SLACK_CLIENT_ID=CLIENT_ID, GRAPHGATE_SLACK_CLIENT_SECRET="client-secret")
    env["GRAPHGATE_SLACK_BOT_TOKEN"] = ""
    with running_stack(redis_url, tmp_path_factory.mktemp("slack-oauth"), env, concurrency=1) as stack:
        yield stack


def install(stack: Stack, fake: FakeSlack, team: str) -> httpx.Response:
    page = httpx.get(f"{stack.url}/slack/install")
    assert page.status_code == 200
    link = re.search(r'href="(https://slack\.com/oauth/v2/authorize\?[^"]+)"', page.text)
    assert link, page.text
    assert f"client_id={CLIENT_ID}" in link.group(1) and "chat:write" in link.group(1)
    state = re.search(r"state=([^&\"]+)", link.group(1)).group(1)  # type: ignore[union-attr]
    code = f"code-{team}"
    fake.oauth_codes[code] = team
    # the browser comes back from Slack with the code, the state and the state cookie
    return httpx.get(
        f"{stack.url}/slack/oauth_redirect",
        params={"code": code, "state": state},
        headers={"Cookie": f"slack-app-oauth-state={state}"},
    )


def test_install_then_the_new_workspace_is_served(oauth_stack: Stack, fake: FakeSlack) -> None:
    done = install(oauth_stack, fake, "T0002")
    assert done.status_code == 200, done.text
    db = oauth_stack.workdir / "data" / "slack-installations.db"
    assert db.exists()  # the project's database, not memory

    dispatcher = start_dispatcher(oauth_stack)
    try:
        channel = new_channel()
        sender = SlackSender(oauth_stack.url, fake, team="T0002")
        assert (
            sender.slash("/echo", "hello from the second workspace", user="UTWO0001", channel=channel).status_code
            == 200
        )
        answer = wait_for(lambda: next((m for m in fake.bot_messages(channel) if m.slot == "answer:1"), None), 60)
        assert "hello from the second workspace" in answer.section_text()
        calls = fake.calls_of(channel=channel)
        assert calls and {c.token for c in calls} == {"xoxb-T0002-installed"}

        # a workspace that never installed the app gets nothing done
        stranger = SlackSender(oauth_stack.url, fake, team="T0009")
        other = new_channel()
        resp = stranger.slash("/echo", "am I in?", user="UNINE001", channel=other)
        assert resp.status_code == 200  # Bolt's authorization finds no installation: acked, nothing done
        assert fake.calls_of(channel=other) == []
    finally:
        oauth_stack.stop_proc(dispatcher)


def test_an_oauth_state_is_good_once(oauth_stack: Stack, fake: FakeSlack) -> None:
    page = httpx.get(f"{oauth_stack.url}/slack/install")
    state = re.search(r"state=([^&\"]+)", page.text).group(1)  # type: ignore[union-attr]
    fake.oauth_codes["code-T0003"] = "T0003"
    first = httpx.get(
        f"{oauth_stack.url}/slack/oauth_redirect",
        params={"code": "code-T0003", "state": state},
        headers={"Cookie": f"slack-app-oauth-state={state}"},
    )
    assert first.status_code == 200
    fake.oauth_codes["code-T0004"] = "T0004"
    again = httpx.get(
        f"{oauth_stack.url}/slack/oauth_redirect",
        params={"code": "code-T0004", "state": state},
        headers={"Cookie": f"slack-app-oauth-state={state}"},
    )
    assert again.status_code >= 400
    forged = httpx.get(f"{oauth_stack.url}/slack/oauth_redirect", params={"code": "code-T0004", "state": "made-up"})
    assert forged.status_code >= 400


def test_sqlalchemy_installation_store_by_url(tmp_path: Path) -> None:
    """GRAPHGATE_SLACK_INSTALLATION_DB as a SQLAlchemy URL: tables appear on first use, tokens are found."""
    url = f"sqlite+aiosqlite:///{tmp_path / 'installs.db'}"
    settings = Settings(slack_client_id="9.9", slack_client_secret="s", slack_installation_db=url, data_dir=tmp_path)

    async def scenario() -> tuple[str | None, str | None]:
        store = installs.stores(settings).installations
        await store.async_save(
            Installation(
                app_id="A1",
                team_id="T0042",
                bot_token="xoxb-42",
                bot_id="B42",
                bot_user_id="U42",
                user_id="UINSTALL",
                installed_at=1.0,
            )
        )
        tokens = installs.TokenSource(settings)
        return await tokens.bot_token("T0042"), await tokens.bot_token("T0043")

    found, missing = asyncio.run(scenario())
    assert found == "xoxb-42" and missing is None
    assert (tmp_path / "installs.db").exists()
