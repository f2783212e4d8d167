"""Which bot token speaks for a workspace: one configured token, or the OAuth installations.

Single-workspace mode: ``GRAPHGATE_SLACK_BOT_TOKEN`` is used for everything. Multi-workspace mode (no bot
token, ``GRAPHGATE_SLACK_CLIENT_ID`` and ``..._CLIENT_SECRET`` set): workspaces install the app through
``/slack/install`` and their tokens are kept by slack_sdk's installation store in a database:

* ``GRAPHGATE_SLACK_INSTALLATION_DB`` unset: a SQLite file ``slack-installations.db`` in the data dir;
* a path: that SQLite file;
* a SQLAlchemy async URL (``postgresql+psycopg://...``, ``sqlite+aiosqlite:///...``): that database, shared
  by every API replica and dispatcher.

The OAuth ``state`` values live in the same database.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import (
    AsyncInstallationStore,
)
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from graphgate.core.settings import Settings

log = logging.getLogger("graphgate.slack")

STATE_TTL_SECONDS = 600


class SlackNotConfigured(RuntimeError):
    """Slack settings are missing or contradict each other."""


def oauth_enabled(settings: Settings) -> bool:
    return not settings.slack_bot_token and bool(settings.slack_client_id and settings.slack_client_secret)


def slack_enabled(settings: Settings) -> bool:
    """Slack is on when requests can be verified and there is a token or an OAuth app to get tokens from."""
    return bool(settings.slack_signing_secret) and (bool(settings.slack_bot_token) or oauth_enabled(settings))


def api_url(settings: Settings) -> str:
    """The Web API base URL, with the trailing slash slack_sdk needs."""
    url = settings.slack_api_url.strip() or "https://slack.com/api/"
    return url if url.endswith("/") else url + "/"


def database(settings: Settings) -> str:
    return settings.slack_installation_db or str(Path(settings.data_dir) / "slack-installations.db")


@dataclass
class Stores:
    installations: AsyncInstallationStore
    states: AsyncOAuthStateStore


_stores: dict[tuple[str, str], Stores] = {}


def stores(settings: Settings) -> Stores:
    """The installation and OAuth state stores of this process (created once; tables on first use)."""
    if not settings.slack_client_id:
        raise SlackNotConfigured("OAuth installs need GRAPHGATE_SLACK_CLIENT_ID and GRAPHGATE_SLACK_CLIENT_SECRET")
    key = (database(settings), settings.slack_client_id)
    if key not in _stores:
        _stores[key] = _open(settings)
    return _stores[key]


def _open(settings: Settings) -> Stores:
    db = database(settings)
    client_id = settings.slack_client_id or ""
    if "://" in db:
        from slack_sdk.oauth.installation_store.sqlalchemy import (
            AsyncSQLAlchemyInstallationStore,
        )
        from slack_sdk.oauth.state_store.sqlalchemy import (
            AsyncSQLAlchemyOAuthStateStore,
        )
        from sqlalchemy.ext.asyncio import create_async_engine

        engine = create_async_engine(db, pool_pre_ping=True)
        tables = _Tables()
        sql_installations = AsyncSQLAlchemyInstallationStore(client_id=client_id, engine=engine, logger=log)
        sql_states = AsyncSQLAlchemyOAuthStateStore(expiration_seconds=STATE_TTL_SECONDS, engine=engine, logger=log)
        tables.stores = [sql_installations, sql_states]
        return Stores(_PreparedInstallations(sql_installations, tables), _PreparedStates(sql_states, tables))
    from slack_sdk.oauth.installation_store.sqlite3 import SQLite3InstallationStore
    from slack_sdk.oauth.state_store.sqlite3 import SQLite3OAuthStateStore

    Path(db).parent.mkdir(parents=True, exist_ok=True)
    installations = SQLite3InstallationStore(database=db, client_id=client_id, logger=log)
    states = SQLite3OAuthStateStore(database=db, expiration_seconds=STATE_TTL_SECONDS, logger=log)
    for init in (installations.init, states.init):
        try:
            init()
        except Exception as exc:  # two processes creating the tables at once: the loser's error is harmless
            log.debug("slack tables: %s", exc)
    return Stores(installations, states)


class _Tables:
    """Creates the SQLAlchemy stores' tables once, before their first query (creation needs a loop)."""

    def __init__(self) -> None:
        self.stores: list[Any] = []
        self.ready = False
        self._lock: asyncio.Lock | None = None

    async def ensure(self) -> None:
        if self.ready:
            return
        self._lock = self._lock or asyncio.Lock()
        async with self._lock:
            if self.ready:
                return
            for store in self.stores:
                try:
                    await store.create_tables()
                except Exception as exc:  # created by another process meanwhile
                    log.debug("slack tables: %s", exc)
            self.ready = True


class _PreparedInstallations(AsyncInstallationStore):
    def __init__(self, inner: AsyncInstallationStore, tables: _Tables) -> None:
        self.inner, self.tables = inner, tables

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Any) -> None:
        await self.tables.ensure()
        await self.inner.async_save(installation)

    async def async_save_bot(self, bot: Any) -> None:
        await self.tables.ensure()
        await self.inner.async_save_bot(bot)

    async def async_find_bot(self, **kwargs: Any) -> Any:
        await self.tables.ensure()
        return await self.inner.async_find_bot(**kwargs)

    async def async_find_installation(self, **kwargs: Any) -> Any:
        await self.tables.ensure()
        return await self.inner.async_find_installation(**kwargs)

    async def async_delete_bot(self, **kwargs: Any) -> None:
        await self.tables.ensure()
        await self.inner.async_delete_bot(**kwargs)

    async def async_delete_installation(self, **kwargs: Any) -> None:
        await self.tables.ensure()
        await self.inner.async_delete_installation(**kwargs)

    async def async_delete_all(self, **kwargs: Any) -> None:
        await self.tables.ensure()
        await self.inner.async_delete_all(**kwargs)


class _PreparedStates(AsyncOAuthStateStore):
    def __init__(self, inner: AsyncOAuthStateStore, tables: _Tables) -> None:
        self.inner, self.tables = inner, tables

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        await self.tables.ensure()
        return await self.inner.async_issue(*args, **kwargs)

    async def async_consume(self, state: str) -> bool:
        await self.tables.ensure()
        return await self.inner.async_consume(state)


class TokenSource:
    """The bot token for a workspace, by mode; cached briefly so the dispatcher does not query per call."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._cache: dict[tuple[str | None, str | None], tuple[float, str]] = {}

    async def bot_token(self, team: str | None, enterprise: str | None = None) -> str | None:
        if self.settings.slack_bot_token:
            return self.settings.slack_bot_token
        if not oauth_enabled(self.settings):
            return None
        loop = asyncio.get_running_loop()
        cached = self._cache.get((enterprise, team))
        if cached and cached[0] > loop.time():
            return cached[1]
        store = stores(self.settings).installations
        bot: Any = await store.async_find_bot(enterprise_id=enterprise, team_id=team)
        token = bot.bot_token if bot is not None else None
        if token:  # a miss is not cached: the workspace may be installing right now
            self._cache[(enterprise, team)] = (loop.time() + 60.0, token)
        return token
