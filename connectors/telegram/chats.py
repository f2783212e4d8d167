"""Where a Telegram conversation lives and who speaks for it: chats, sessions, bindings, principals, buttons.

A Telegram chat (or one topic of a forum supergroup) holds one *current* session at a time; ``/new``
starts another. The chat is the principal (``telegram:<chat id>``): in a private chat that is the user,
in a group everyone who addresses the bot continues the group's conversation. Answering a question or
cancelling a task in a group is left to the member who started it (``binding["user"]``).

Buttons carry short ``callback_data`` (at most 64 bytes): ``a:<token>:<interrupt>:<option>`` to answer
with one of the interrupt's options (a tool approval's options are its one-click decisions, approve and
reject), ``e:<token>:<interrupt>`` to edit a tool call's arguments, ``c:<token>`` to cancel,
``v:<task id as hex>:<interrupt>:<option>`` to answer in a chat an approval policy posted the question to,
``f:<task id as hex>:u|d`` for 👍 / 👎 under a final answer, where
``<token>`` is derived from the task id and maps back to the task in Redis (``Keys.telegram_button``) and
``<interrupt>`` is a short digest of the interrupt id, so a button of an earlier question never answers a
later one, and each of several questions waiting at once answers only its own interrupt.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

from graphgate.core.interrupts import TOOL_APPROVAL
from graphgate.core.tasks import Principal

PLATFORM = "telegram"
CALLBACK_DATA_LIMIT = 64  # bytes, Telegram's limit for an inline button's callback_data
_ANSWER_RE = re.compile(r"^a:([A-Za-z0-9_-]{12}):([A-Za-z0-9_-]{8}):(\d{1,3})$")
_EDIT_RE = re.compile(r"^e:([A-Za-z0-9_-]{12}):([A-Za-z0-9_-]{8})$")
_CANCEL_RE = re.compile(r"^c:([A-Za-z0-9_-]{12})$")
_VOTE_RE = re.compile(r"^v:([0-9a-f]{32}):([A-Za-z0-9_-]{8}):(\d{1,3})$")
_FEEDBACK_RE = re.compile(r"^f:([0-9a-f]{32}):([ud])$")


def _digest(text: str, chars: int) -> str:
    raw = hashlib.sha256(text.encode()).digest()
    return base64.urlsafe_b64encode(raw).decode()[:chars]


def task_token(task_id: str) -> str:
    """The 12-character token of a task in its buttons (72 bits of its id's SHA-256)."""
    return _digest(f"task:{task_id}", 12)


def interrupt_token(interrupt_id: str) -> str:
    return _digest(f"interrupt:{interrupt_id}", 8)


def answer_data(task_id: str, interrupt_id: str, option: int) -> str:
    return f"a:{task_token(task_id)}:{interrupt_token(interrupt_id)}:{option}"


def edit_data(task_id: str, interrupt_id: str) -> str:
    return f"e:{task_token(task_id)}:{interrupt_token(interrupt_id)}"


def edit_offered(interrupt: dict[str, Any]) -> bool:
    """True when a tool approval (interrupt event data) gets an Edit key: one call, whose arguments may
    be edited (several calls are edited one by one in the widget or the API)."""
    actions = interrupt.get("actions") or []
    return (
        interrupt.get("kind") == TOOL_APPROVAL
        and len(actions) == 1
        and "edit" in (actions[0].get("allowed_decisions") or [])
    )


def vote_data(task_id: str, interrupt_id: str, option: int) -> str:
    """An option's key in an approvers' chat: the task's full id (hex), since that chat never started it."""
    return f"v:{uuid.UUID(task_id).hex}:{interrupt_token(interrupt_id)}:{option}"


def feedback_data(task_id: str, score: int) -> str:
    """👍 (``u``) or 👎 (``d``) under a final answer: the task's full id, like a vote."""
    return f"f:{uuid.UUID(task_id).hex}:{'u' if score > 0 else 'd'}"


def cancel_data(task_id: str) -> str:
    return f"c:{task_token(task_id)}"


@dataclass(frozen=True)
class Pressed:
    """A decoded button press."""

    action: str  # "answer" | "edit" | "cancel" | "vote" (an option's key in an approvers' chat) | "feedback"
    token: str  # the task's token (a vote: the task id)
    interrupt: str = ""  # interrupt_token of the question (answers and edits)
    option: int = 0


def parse_callback(data: str | None) -> Pressed | None:
    """The button behind ``callback_data``, or None when it is not one of ours."""
    if not data:
        return None
    if m := _ANSWER_RE.match(data):
        return Pressed("answer", m.group(1), m.group(2), int(m.group(3)))
    if m := _EDIT_RE.match(data):
        return Pressed("edit", m.group(1), m.group(2))
    if m := _CANCEL_RE.match(data):
        return Pressed("cancel", m.group(1))
    if m := _VOTE_RE.match(data):
        return Pressed("vote", str(uuid.UUID(m.group(1))), m.group(2), int(m.group(3)))
    if m := _FEEDBACK_RE.match(data):
        return Pressed("feedback", str(uuid.UUID(m.group(1))), option=1 if m.group(2) == "u" else -1)
    return None


@dataclass(frozen=True)
class TelegramChat:
    """One conversation place: a chat, or a topic of a forum supergroup."""

    chat_id: int
    chat_type: str  # "private" | "group" | "supergroup" | "channel"
    thread_id: int | None = None  # forum topic (message_thread_id)

    @property
    def private(self) -> bool:
        return self.chat_type == "private"

    @property
    def key(self) -> str:
        """Names the chat (and topic) in Redis keys and session ids."""
        return f"{self.chat_id}" if self.thread_id is None else f"{self.chat_id}:t{self.thread_id}"

    @property
    def principal(self) -> Principal:
        return chat_principal(self.chat_id)

    def first_session(self) -> str:
        """The session of a chat that never used ``/new``."""
        return f"{PLATFORM}:{self.key}"

    def fresh_session(self) -> str:
        """A new session id for ``/new`` (time-ordered, unique)."""
        return f"{PLATFORM}:{self.key}:{int(time.time() * 1000):x}{secrets.token_hex(2)}"

    def binding(self, user_id: int | None, user_name: str, reply_to: int | None) -> dict[str, Any]:
        """The chat binding of a task started here by ``user_id`` with the message ``reply_to``."""
        return {
            "platform": PLATFORM,
            "chat": self.chat_id,
            "chat_type": self.chat_type,
            "thread": self.thread_id,
            "user": user_id,
            "user_name": user_name[:64],
            "reply_to": reply_to,
        }


def chat_principal(chat_id: int | str) -> Principal:
    return Principal(f"{PLATFORM}:{chat_id}")


def user_ref(user_id: int | None) -> str:
    """The ``by`` of an answer given by a Telegram user."""
    return f"{PLATFORM}:user:{user_id}"


def question_of_buttons(callback_data: list[str]) -> tuple[str, str] | None:
    """(task token, interrupt token) of a question message, read from its buttons' ``callback_data``
    (a reply to a question carries the message and its keyboard), or None when it has none of ours."""
    for data in callback_data:
        pressed = parse_callback(data)
        if pressed is not None and pressed.action in ("answer", "edit"):
            return pressed.token, pressed.interrupt
    return None
