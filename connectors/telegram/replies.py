"""The bot's own short replies in a chat: notes that answer a message where the dispatcher has nothing to
say (``/help``, a refused request, a late answer) and the force-reply prompt of a tool call's Edit key.

Everything a task does is the dispatcher's to send (connectors/telegram/delivery.py, paced and counted
against the flood limits); a reply is one message, sent at once. A reply that meets a short flood limit
waits it out once; a longer one, or any other failure, is logged and dropped: the update was handled, and
Telegram must not deliver it again for the sake of a note.
"""

from __future__ import annotations

import asyncio
import logging

from telegram import Bot, ForceReply, Message, ReplyParameters
from telegram.constants import ParseMode
from telegram.error import RetryAfter, TelegramError

from graphgate.connectors.telegram import html
from graphgate.connectors.telegram.bot import retry_after
from graphgate.connectors.telegram.chats import TelegramChat
from graphgate.core.errors import InvalidInput

log = logging.getLogger("graphgate.telegram")

NOTE_RETRY_LIMIT = 5.0  # seconds a reply waits out a flood limit before it is given up


class Replies:
    """Sends the bot's replies with ``bot``."""

    def __init__(self, bot: Bot) -> None:
        self.bot = bot

    async def note(
        self, chat: TelegramChat, text_html: str, reply_to: int | None, markup: ForceReply | None = None
    ) -> Message | None:
        """A short reply from the bot (the message sent, or None); failures are logged, never raised."""
        for attempt in range(2):
            try:
                return await self.bot.send_message(
                    chat.chat_id,
                    text_html,
                    parse_mode=ParseMode.HTML,
                    message_thread_id=chat.thread_id,
                    reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None,
                    reply_markup=markup,
                )
            except RetryAfter as exc:
                wait = retry_after(exc)
                if attempt or wait > NOTE_RETRY_LIMIT:
                    log.warning("reply in chat %s dropped: flood limit (%.0fs)", chat.chat_id, wait)
                    return None
                await asyncio.sleep(wait)
            except TelegramError as exc:
                log.warning("reply in chat %s failed: %s", chat.chat_id, exc)
                return None
        return None

    async def refused(self, chat: TelegramChat, exc: InvalidInput, reply_to: int) -> None:
        """Say why an answer was not taken."""
        await self.note(chat, f"I can't use that answer: {html.escape(exc.message)}. Nothing was changed.", reply_to)
