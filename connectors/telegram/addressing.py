"""Whether a Telegram message is meant for the bot, what it asks, who speaks and in which conversation.

In a private chat every text message is for the bot. In a group the bot acts only when addressed: a
command (``/ask`` or ``/ask@bot``; a command for another bot is not ours), a mention of the bot, or a
reply to one of its messages. The command and the bot's mention are taken out of the text the graph gets.
A chat, or one topic of a forum supergroup, is the conversation (``TelegramChat``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from telegram import Chat, MaybeInaccessibleMessage, Message, MessageEntity, User

from graphgate.connectors.telegram.chats import TelegramChat, chat_principal, user_ref
from graphgate.core.approvals import Actor

_ENTITIES: list[str | None] = [MessageEntity.BOT_COMMAND, MessageEntity.MENTION, MessageEntity.TEXT_MENTION]


@dataclass(frozen=True)
class Addressed:
    """A message meant for the bot: a command (without the slash, lower case) or None, and the text for the
    graph."""

    command: str | None
    text: str


def speaker(message: Message) -> User | None:
    """The person who wrote ``message``, or None for what the bot never answers (bots, channel posts)."""
    user = message.from_user
    if user is None or user.is_bot or message.chat.type == Chat.CHANNEL:
        return None
    return user


def addressed(message: Message, username: str, bot_id: int) -> Addressed | None:
    """What ``message`` asks of the bot ``@username`` (id ``bot_id``), or None when it is not meant for it."""
    text = message.text or message.caption or ""
    private = message.chat.type == Chat.PRIVATE
    username = username.lower()
    entities = message.parse_caption_entities(_ENTITIES) if message.caption else message.parse_entities(_ENTITIES)
    command: str | None = None
    mentioned = False
    strip: list[str] = []
    for entity, value in sorted(entities.items(), key=lambda item: item[0].offset):
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            name, _, target = value[1:].partition("@")
            if target and target.lower() != username:
                return None  # a command for another bot
            command = name.lower()
            strip.append(value)
        elif entity.type == MessageEntity.MENTION and value[1:].lower() == username:
            mentioned = True
            strip.append(value)
        elif entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == bot_id:
            mentioned = True
    if not (private or command or mentioned or replies_to_bot(message, bot_id)):
        return None
    for value in strip:
        text = text.replace(value, " ", 1)
    return Addressed(command, " ".join(text.split()) if "\n" not in text else text.strip())


def replies_to_bot(message: Message, bot_id: int) -> bool:
    """True when ``message`` is a reply to one of the bot's messages."""
    replied = message.reply_to_message
    return bool(replied and replied.from_user and replied.from_user.id == bot_id)


def chat_of(message: MaybeInaccessibleMessage) -> TelegramChat:
    """The conversation ``message`` belongs to: its chat, or its topic of a forum supergroup."""
    topic = getattr(message, "message_thread_id", None) if getattr(message, "is_topic_message", False) else None
    return TelegramChat(message.chat.id, message.chat.type, topic)


def display_name(user: Any) -> str:
    """How a user is named in notes and cancel reasons."""
    if user is None:
        return "someone"
    return str(user.full_name or (f"@{user.username}" if user.username else user.id))


def member_actor(chat_id: int, user: Any) -> Actor:
    """A member of the chat ``chat_id`` as someone who answers or rates (the chat is the principal; the member
    is who answered)."""
    return Actor(
        chat_principal(chat_id).id,
        "telegram",
        str(user.id if user else ""),
        user_ref(user.id if user else None),
        name=display_name(user) if user else "",
        where=f"telegram:{chat_id}",
    )
