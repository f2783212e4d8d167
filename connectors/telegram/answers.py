"""Answering a task's questions from Telegram messages: who may answer, typed answers, and a tool call's
Edit prompt.

* In a group only the member who started a task answers its questions or cancels it (``starter_refusal``,
  the one place this is decided, for messages and buttons alike); in a private chat the chat is the user.
* A message in a chat whose current task waits for an answer answers it (``answer_from_text`` in
  graphgate/core/interrupts.py: text naming an option picks it; to a tool approval ``approve``,
  ``reject: why``, ``edit {json}``, any other text rejects with that text as the reason); a reply to one of
  several questions waiting at once answers that one.
* A tool approval's Edit key (connectors/telegram/keys.py) asks, in a force-reply message, for the call's
  new arguments as JSON; the reply to that message edits the call (keys left out keep their value) and
  resumes the task.

An answer the graph would not take, or one that came too late, gets a note and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from telegram import ForceReply, Message, User

from graphgate.connectors.telegram import html
from graphgate.connectors.telegram.addressing import member_actor, replies_to_bot
from graphgate.connectors.telegram.chats import (
    TelegramChat,
    interrupt_token,
    question_of_buttons,
    task_token,
)
from graphgate.connectors.telegram.replies import Replies
from graphgate.connectors.telegram.services import TelegramServices
from graphgate.core.approvals import AlreadyApproved
from graphgate.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from graphgate.core.interrupts import answer_from_text, edit_decision
from graphgate.core.store import TaskRecord, TaskStatus

EXAMPLE_CHARS = 600  # characters of a tool call's current arguments quoted in an edit prompt
PLACEHOLDER_CHARS = 64  # Telegram's limit for a force reply's input_field_placeholder
ALREADY_ANSWERED = "This question was already answered; nothing was resumed."


def starter_refusal(task: TaskRecord, private: bool, user_id: int | None) -> str | None:
    """None when ``user_id`` may answer or cancel ``task``, else what they are told (plain text).

    The chat is the task's principal, so in a group every member reaches the group's tasks; only the member
    who started one (its binding's ``user``) may answer its questions or cancel it.
    """
    binding = task.binding or {}
    starter = binding.get("user")
    if private or starter is None or starter == user_id:
        return None
    return f"Only {binding.get('user_name') or 'the person who started it'} can answer or cancel this task."


def pending(task: TaskRecord, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    """The unanswered interrupt of the task's current pause that ``match`` picks, or None."""
    if task.status != TaskStatus.WAITING_INPUT:
        return None
    return next((i for i in task.pending() if match(i)), None)


def pending_of_token(task: TaskRecord, token: str) -> dict[str, Any] | None:
    """The unanswered interrupt whose ``interrupt_token`` (what a button carries) is ``token``, or None."""
    return pending(task, lambda i: interrupt_token(str(i.get("interrupt_id") or "")) == token)


def replied_interrupt(task: TaskRecord, message: Message) -> dict[str, Any] | None:
    """The pending interrupt of ``task`` whose question ``message`` replies to: a question message still
    carries its keys, and their ``callback_data`` names the task and the interrupt."""
    replied = message.reply_to_message
    markup = replied.reply_markup if replied is not None else None
    if markup is None:
        return None
    data = [b.callback_data for row in markup.inline_keyboard for b in row if isinstance(b.callback_data, str)]
    found = question_of_buttons(data)
    if found is None or found[0] != task_token(task.id):
        return None
    return pending_of_token(task, found[1])


def json_object(text: str) -> dict[str, Any]:
    """The JSON object ``text`` holds, or ``InvalidInput`` saying why it holds none."""
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(str(exc)) from exc
    if not isinstance(value, dict):
        raise InvalidInput(f'it is {_JSON_KINDS.get(type(value), "a value")}, not {{"name": value, …}}')
    return value


_JSON_KINDS = {
    list: "an array",
    str: "a string",
    int: "a number",
    float: "a number",
    bool: "a boolean",
    type(None): "null",
}


class Answers:
    """Answers from messages: typed answers, edit prompts and their replies."""

    def __init__(self, services: Callable[[], TelegramServices], replies: Replies, bot_id: int) -> None:
        self.services = services
        self.replies = replies
        self.bot_id = bot_id

    async def may_act(self, chat: TelegramChat, task: TaskRecord, user_id: int | None, reply_to: int | None) -> bool:
        """True when ``user_id`` may answer or cancel ``task``; else they are told who may."""
        refusal = starter_refusal(task, chat.private, user_id)
        if refusal is not None:
            await self.replies.note(chat, html.escape(refusal), reply_to)
        return refusal is None

    async def typed(self, chat: TelegramChat, message: Message, task: TaskRecord, text: str) -> None:
        """``text`` answers the question of the waiting ``task`` that ``message`` replies to, else its first."""
        user = message.from_user
        interrupt = replied_interrupt(task, message) or task.interrupt or {}
        routed = interrupt.get("interrupt_id") in (task.approvals or {})  # then its policy decides who answers
        if not routed and not await self.may_act(chat, task, user.id if user else None, message.message_id):
            return
        try:
            answer = answer_from_text(interrupt, text)
        except InvalidInput as exc:
            await self.replies.refused(chat, exc, message.message_id)
            return
        await self.answer(chat, task, interrupt, answer, user, message.message_id)

    async def answer(
        self,
        chat: TelegramChat,
        task: TaskRecord,
        interrupt: dict[str, Any],
        answer: Any,
        user: User | None,
        reply_to: int,
    ) -> bool:
        """Answer ``interrupt`` of ``task``; a refused or late answer gets a note. True when it was taken."""
        actor = member_actor(chat.chat_id, user)
        try:
            await self.services().tasks.answer(
                actor, task.id, answer, interrupt_id=str(interrupt.get("interrupt_id") or "")
            )
        except Forbidden as exc:
            await self.replies.note(chat, html.escape(f"{exc.message[0].upper()}{exc.message[1:]}."), reply_to)
            return False
        except AlreadyApproved as exc:
            await self.replies.note(chat, html.escape(exc.message), reply_to)
            return False
        except Conflict:
            await self.replies.note(chat, "That question was already answered; nothing was resumed.", reply_to)
            return False
        except InvalidInput as exc:
            await self.replies.refused(chat, exc, reply_to)
            return False
        return True

    # --- a tool call's new arguments ----------------------------------------------------------------------

    async def edit_prompt_of(self, chat: TelegramChat, message: Message) -> tuple[str, str] | None:
        """(task id, interrupt id) when ``message`` replies to one of the bot's edit prompts."""
        if not replies_to_bot(message, self.bot_id):
            return None
        assert message.reply_to_message is not None  # replies_to_bot checked it
        return await self.services().store.edit_of(chat, message.reply_to_message.message_id)

    async def send_edit_prompt(
        self, chat: TelegramChat, task_id: str, interrupt: dict[str, Any], question_message: int
    ) -> None:
        """Ask for the new arguments of the tool call ``interrupt`` waits on, in a force-reply message that
        replies to the question; a reply to it is then an edit of that call."""
        action = (interrupt.get("actions") or [{}])[0]
        args = action.get("args") or {}
        example = json.dumps(args, ensure_ascii=False)
        if len(example) > EXAMPLE_CHARS:
            example = json.dumps({key: "…" for key in args}, ensure_ascii=False)[:EXAMPLE_CHARS]
        text = (
            f"Reply to this message with the new arguments of <b>{html.escape(str(action.get('name')))}</b> as JSON, "
            f"e.g. <code>{html.escape(example)}</code>\n<i>Arguments you leave out keep their value.</i>"
        )
        key = next(iter(args), "")
        placeholder = json.dumps({key: "…"}, ensure_ascii=False) if key else "{…}"
        markup = ForceReply(input_field_placeholder=placeholder[:PLACEHOLDER_CHARS])
        sent = await self.replies.note(chat, text, question_message, markup=markup)
        if sent is not None:
            await self.services().store.edit_prompted(chat, sent.message_id, task_id, str(interrupt["interrupt_id"]))

    async def edit_reply(self, chat: TelegramChat, message: Message, edit: tuple[str, str], text: str) -> None:
        """A reply to an edit prompt: the tool call's new arguments (a JSON object) resume the task."""
        svc = self.services()
        user = message.from_user
        prompt = message.reply_to_message.message_id if message.reply_to_message else 0
        task_id, interrupt_id = edit
        try:
            task: TaskRecord | None = await svc.tasks.get_task(chat.principal, task_id)
        except NotFound:
            task = None
        interrupt = pending(task, lambda i: i["interrupt_id"] == interrupt_id) if task is not None else None
        if task is None or interrupt is None:
            await svc.store.edit_closed(chat, prompt)
            await self.replies.note(chat, ALREADY_ANSWERED, message.message_id)
            return
        if not await self.may_act(chat, task, user.id if user else None, message.message_id):
            return
        try:
            answer = edit_decision(interrupt.get("actions") or [], json_object(text))
        except InvalidInput as exc:
            await self.replies.note(
                chat,
                f"That is not a JSON object: {html.escape(exc.message)}; nothing was changed. "
                "Reply to my message again with the new arguments.",
                message.message_id,
            )
            return
        if await self.answer(chat, task, interrupt, answer, user, message.message_id):
            await svc.store.edit_closed(chat, prompt)
