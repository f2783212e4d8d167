"""Telegram ingress: each update, once, to the handler of its kind.

The webhook route (connectors/telegram/webhook.py) and the polling process (connectors/telegram/polling.py)
hand every update to ``TelegramConnector.handle``. A button press goes to the keys
(connectors/telegram/keys.py); a message goes through addressing (connectors/telegram/addressing.py: is it
meant for the bot, in which conversation) to the router (connectors/telegram/router.py: commands, starting
tasks, typed answers). Rendering what a task does is the dispatcher's job (connectors/telegram/delivery.py);
the handlers only start, continue, answer and cancel tasks, and reply where the dispatcher has nothing to
say.

Every update is acted on once per ``update_id`` (Telegram re-sends webhook updates it saw no answer for):
the first delivery is recorded in Redis with a TTL before anything happens, and forgotten again if
handling failed before it changed anything, so the re-sent update can try again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from telegram import Bot, Message, Update

from graphgate.connectors.telegram.addressing import addressed, chat_of, speaker
from graphgate.connectors.telegram.answers import Answers
from graphgate.connectors.telegram.bot import bot_id
from graphgate.connectors.telegram.chats import PLATFORM
from graphgate.connectors.telegram.keys import Keys
from graphgate.connectors.telegram.replies import Replies
from graphgate.connectors.telegram.router import Router
from graphgate.connectors.telegram.services import TelegramServices
from graphgate.core.settings import Settings

log = logging.getLogger("graphgate.telegram")


class TelegramConnector:
    """One bot's update handling, with the ``services`` of the process it runs in."""

    def __init__(self, settings: Settings, bot: Bot, services: Callable[[], TelegramServices]) -> None:
        self.settings = settings
        self.bot = bot
        self.services = services
        self.bot_id = int(bot_id(settings.telegram_bot_token or "0:"))
        replies = Replies(bot)
        answers = Answers(services, replies, self.bot_id)
        self.router = Router(settings, services, answers, replies)
        self.keys = Keys(bot, services, answers)
        self._ready = asyncio.Lock()

    async def ready(self) -> None:
        """Know who we are (``getMe``: the username mentions and commands address); once per process."""
        async with self._ready:
            await self.bot.initialize()  # returns at once when done before

    async def handle(self, update: Update) -> None:
        """Act on ``update`` unless its ``update_id`` was handled already.

        Raises when handling failed before anything changed; the update may then be delivered again.
        """
        svc = self.services()
        delivery = f"{self.bot_id}:{update.update_id}"
        if not await svc.inbound.first(PLATFORM, delivery):
            log.info("telegram update %s delivered again; ignored", update.update_id)
            return
        try:
            if update.callback_query is not None:
                await self.keys.on_callback(update.callback_query)
            elif update.message is not None:
                await self.on_message(update.message)
        except Exception:
            await svc.inbound.forget(PLATFORM, delivery)
            raise

    async def on_message(self, message: Message) -> None:
        """A message: acted on when a person addressed the bot with it."""
        if speaker(message) is None:
            return
        await self.ready()
        asked = addressed(message, self.bot.username or "", self.bot_id)
        if asked is None:
            return
        await self.router.on_addressed(chat_of(message), message, asked, self.bot.username)
