"""Telegram's inline keys: a press of a question's option, a tool approval's Edit, or a task's Cancel.

A question's key answers its own interrupt once (Approve and Reject are a tool approval's options); every
press is answered (``answerCallbackQuery``) with what happened, and a second press says that nothing was
resumed. The Edit key is answered first, then the edit prompt is sent (connectors/telegram/answers.py).
Keys carry short tokens (connectors/telegram/chats.py) that lead back to the task through the chat store.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram import Bot, CallbackQuery, Chat
from telegram.error import TelegramError

from graphgate.connectors.telegram.addressing import chat_of, display_name, member_actor
from graphgate.connectors.telegram.answers import (
    ALREADY_ANSWERED,
    Answers,
    pending_of_token,
    starter_refusal,
)
from graphgate.connectors.telegram.chats import (
    Pressed,
    chat_principal,
    edit_offered,
    parse_callback,
    user_ref,
)
from graphgate.connectors.telegram.services import TelegramServices
from graphgate.core.approvals import AlreadyApproved
from graphgate.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from graphgate.core.interrupts import TOOL_APPROVAL, describe_answer, resume_value
from graphgate.core.store import TaskRecord, TaskStatus
from graphgate.core.tasks import Principal

log = logging.getLogger("graphgate.telegram")

PRESS_TEXT_CHARS = 190  # of the 200 characters an answerCallbackQuery text may have
NOT_AVAILABLE = "This button is not available any more."


@dataclass(frozen=True)
class PressReply:
    """What a button press is answered with, and what to do once the press is answered."""

    text: str | None
    alert: bool = False
    then: Callable[[], Awaitable[None]] | None = None


class Keys:
    """Acts on button presses."""

    def __init__(self, bot: Bot, services: Callable[[], TelegramServices], answers: Answers) -> None:
        self.bot = bot
        self.services = services
        self.answers = answers

    async def on_callback(self, query: CallbackQuery) -> None:
        """Act on a button press; the press is always answered, with what happened, before anything the
        press asks for next (an edit prompt) is sent."""
        reply = PressReply("Something went wrong; please press again.")
        try:
            reply = await self._press(query)
        finally:
            try:
                await self.bot.answer_callback_query(query.id, text=reply.text, show_alert=reply.alert)
            except TelegramError as exc:
                log.warning("answerCallbackQuery %s failed: %s", query.id, exc)
        if reply.then is not None:
            await reply.then()

    async def _press(self, query: CallbackQuery) -> PressReply:
        pressed = parse_callback(query.data)
        message = query.message
        if pressed is None or message is None:
            return PressReply(NOT_AVAILABLE)
        svc = self.services()
        if pressed.action == "feedback":
            return await self._rate(query, pressed)
        if pressed.action == "vote":
            try:
                task = await svc.tasks.locate(pressed.token)
            except NotFound:
                return PressReply("This question is not available any more.")
            interrupt = pending_of_token(task, pressed.interrupt)
            if interrupt is None:
                return PressReply(ALREADY_ANSWERED)
            return await self._vote(query, pressed, task, interrupt)
        located = await svc.store.task_of(pressed.token)
        if located is None:
            return PressReply("This button has expired.")
        principal = chat_principal(message.chat.id)
        try:
            task = await svc.tasks.get_task(principal, located[1])
        except NotFound:
            return PressReply("This button is not available here.")
        interrupt = pending_of_token(task, pressed.interrupt) if pressed.action == "answer" else None
        if interrupt is not None and interrupt["interrupt_id"] in (task.approvals or {}):
            return await self._vote(query, pressed, task, interrupt)  # its policy decides who answers
        refusal = starter_refusal(task, message.chat.type == Chat.PRIVATE, query.from_user.id)
        if refusal is not None:
            return PressReply(refusal, alert=True)
        if pressed.action == "cancel":
            try:
                await svc.tasks.cancel(principal, task.id, reason=f"cancelled by {display_name(query.from_user)}")
            except Conflict:
                return PressReply("This task has already finished.")
            return PressReply("Cancelling…")
        interrupt = pending_of_token(task, pressed.interrupt)
        if interrupt is None:
            return PressReply(ALREADY_ANSWERED)
        if pressed.action == "edit":
            return self._edit_pressed(query, task, interrupt)
        return await self._option_pressed(query, pressed, principal, task, interrupt)

    async def _option_pressed(
        self, query: CallbackQuery, pressed: Pressed, principal: Principal, task: TaskRecord, interrupt: dict[str, Any]
    ) -> PressReply:
        """An option's key: resume with that option's value."""
        options = interrupt.get("options") or []
        if pressed.option >= len(options):
            return PressReply(NOT_AVAILABLE)
        try:
            await self.services().tasks.resume(
                principal,
                task.id,
                options[pressed.option].get("value"),
                interrupt_id=str(interrupt["interrupt_id"]),
                by=user_ref(query.from_user.id),
            )
        except Conflict:
            return PressReply(ALREADY_ANSWERED)
        except InvalidInput as exc:
            return PressReply(f"Not accepted: {exc.message}"[:PRESS_TEXT_CHARS], alert=True)
        return PressReply(answered(interrupt, options[pressed.option])[:PRESS_TEXT_CHARS])

    async def _rate(self, query: CallbackQuery, pressed: Pressed) -> PressReply:
        """👍 / 👎 under a final answer, recorded for the member who pressed (once; a change replaces it)."""
        message = query.message
        assert message is not None  # checked by _press
        actor = member_actor(message.chat.id, query.from_user)
        svc = self.services()
        try:
            record = await svc.tasks.locate(pressed.token)
            given = await svc.feedback.give(actor, record, pressed.option)
        except NotFound:
            return PressReply(NOT_AVAILABLE)
        except (Conflict, InvalidInput) as exc:
            return PressReply(exc.message[:PRESS_TEXT_CHARS])
        if given is None:
            return PressReply("You rated this answer so already.")
        return PressReply("Thanks for the 👍." if pressed.option > 0 else "Thanks; noted 👎.")

    async def _vote(
        self, query: CallbackQuery, pressed: Pressed, task: TaskRecord, interrupt: dict[str, Any]
    ) -> PressReply:
        """An option's key of a question an approval policy routes: answered as the presser, if the policy
        names them (else an alert says who may, and the refusal is recorded in the task's audit trail)."""
        options = interrupt.get("options") or []
        message = query.message
        if pressed.option >= len(options) or message is None:
            return PressReply(NOT_AVAILABLE)
        actor = member_actor(message.chat.id, query.from_user)
        try:
            after = await self.services().tasks.answer(
                actor, task.id, options[pressed.option].get("value"), interrupt_id=str(interrupt["interrupt_id"])
            )
        except Forbidden as exc:
            return PressReply(f"{exc.message[0].upper()}{exc.message[1:]}."[:PRESS_TEXT_CHARS], alert=True)
        except AlreadyApproved as exc:
            return PressReply(exc.message[:PRESS_TEXT_CHARS])
        except (Conflict, NotFound):
            return PressReply(ALREADY_ANSWERED)
        except InvalidInput as exc:
            return PressReply(f"Not accepted: {exc.message}"[:PRESS_TEXT_CHARS], alert=True)
        if after.status == TaskStatus.WAITING_INPUT and interrupt["interrupt_id"] in {
            i["interrupt_id"] for i in after.pending()
        }:
            return PressReply("Your approval is in; waiting for the other approvers.")
        return PressReply(answered(interrupt, options[pressed.option])[:PRESS_TEXT_CHARS])

    def _edit_pressed(self, query: CallbackQuery, task: TaskRecord, interrupt: dict[str, Any]) -> PressReply:
        """The Edit key of a tool approval: once the press is answered, ask for the new arguments."""
        if not edit_offered(interrupt):
            return PressReply(NOT_AVAILABLE)
        message = query.message
        assert message is not None  # checked by _press
        chat = chat_of(message)

        async def prompt() -> None:
            await self.answers.send_edit_prompt(chat, task.id, interrupt, message.message_id)

        return PressReply("Reply with the new arguments", then=prompt)


def answered(interrupt: dict[str, Any], option: dict[str, Any]) -> str:
    """The answer to a press of ``option``: "Approved" for a tool approval, else "Answered: <label>"."""
    if interrupt.get("kind") == TOOL_APPROVAL:
        return describe_answer(interrupt, resume_value(interrupt, option.get("value")))
    return f"Answered: {option.get('label', option.get('value'))}"
