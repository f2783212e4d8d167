"""The Telegram connector's own bookkeeping in Redis (key names in graphgate/core/keys.py).

* a chat's current session and the graph it runs (``Keys.telegram_chat``): ``/new`` replaces the session;
* the chat's open edit prompts, in the same hash (field ``edit:<message id>`` -> ``<task id> <interrupt id>``):
  a reply to that bot message gives new arguments to the tool call that interrupt waits on;
* button tokens (``Keys.telegram_button``): the short token in a button's ``callback_data`` -> its task.

All expire with the sessions they point to. Task state itself is only ever read and changed through the
task service.
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aioredis

from graphgate.connectors.telegram.chats import TelegramChat, task_token
from graphgate.core.keys import Keys
from graphgate.core.settings import Settings


@dataclass(frozen=True)
class ChatSession:
    session_id: str
    graph: str | None  # the graph the session runs; None before its first task


class TelegramStore:
    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        self.redis = redis
        self.keys = Keys.of(settings)
        self.ttl = settings.session_ttl_seconds

    async def current(self, chat: TelegramChat) -> ChatSession:
        """The chat's current session (its first one until ``/new`` is used)."""
        raw = await self.redis.hgetall(self.keys.telegram_chat(chat.key))
        return ChatSession(raw.get("session") or chat.first_session(), raw.get("graph") or None)

    async def start_new(self, chat: TelegramChat) -> ChatSession:
        """Make a fresh session the chat's current one (edit prompts of earlier tasks stay open)."""
        session = ChatSession(chat.fresh_session(), None)
        key = self.keys.telegram_chat(chat.key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hdel(key, "graph")
            pipe.hset(key, "session", session.session_id)
            pipe.expire(key, self.ttl)
            await pipe.execute()
        return session

    async def started(self, chat: TelegramChat, session_id: str, graph: str, task_id: str) -> None:
        """Record a task started in the chat: the session's graph, and the token its buttons carry."""
        key = self.keys.telegram_chat(chat.key)
        async with self.redis.pipeline(transaction=False) as pipe:  # two slots (a cluster); each write idempotent
            pipe.hset(key, mapping={"session": session_id, "graph": graph})
            pipe.expire(key, self.ttl)
            pipe.set(self.keys.telegram_button(task_token(task_id)), f"{session_id} {task_id}", ex=self.ttl)
            await pipe.execute()

    async def task_of(self, token: str) -> tuple[str, str] | None:
        """(session id, task id) of a button token, or None when it is unknown or expired."""
        raw = await self.redis.get(self.keys.telegram_button(token))
        if not raw or " " not in raw:
            return None
        session_id, task_id = raw.split(" ", 1)
        return session_id, task_id

    async def edit_prompted(self, chat: TelegramChat, message_id: int, task_id: str, interrupt_id: str) -> None:
        """Remember that a reply to the bot's message ``message_id`` edits the tool call of ``interrupt_id``."""
        key = self.keys.telegram_chat(chat.key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, _edit_field(message_id), f"{task_id} {interrupt_id}")
            pipe.expire(key, self.ttl)
            await pipe.execute()

    async def edit_of(self, chat: TelegramChat, message_id: int) -> tuple[str, str] | None:
        """(task id, interrupt id) whose tool call a reply to ``message_id`` edits, or None."""
        raw = await self.redis.hget(self.keys.telegram_chat(chat.key), _edit_field(message_id))
        if not raw or " " not in raw:
            return None
        task_id, interrupt_id = raw.split(" ", 1)
        return task_id, interrupt_id

    async def edit_closed(self, chat: TelegramChat, message_id: int) -> None:
        """Forget the edit prompt ``message_id`` (its interrupt was answered)."""
        await self.redis.hdel(self.keys.telegram_chat(chat.key), _edit_field(message_id))


def _edit_field(message_id: int) -> str:
    return f"edit:{message_id}"
