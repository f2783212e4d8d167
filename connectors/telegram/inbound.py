"""Telegram ingress: turns updates (messages, commands, button presses) into task service calls.

Rendering what a task does is the dispatcher's job (connectors/telegram/delivery.py); this module only
starts, continues, answers and cancels tasks, and answers the user directly where the dispatcher has
nothing to say (``/help``, a refused request, a button press).

* In a private chat every text message is for the bot. In a group the bot acts only when addressed:
  a command (``/ask`` or ``/ask@bot``), a mention of the bot, or a reply to one of its messages.
* A message in a chat whose current session waits for an answer answers it (text matching an option's
  label picks that option); otherwise it starts a task in the chat's session (continuing its graph's
  conversation). ``/ask <text>`` (``GRAPHGATE_TELEGRAM_COMMANDS``) does the same with the command's graph,
  ``/new`` starts a fresh session, ``/cancel`` cancels the session's active task, ``/help`` explains.
* A question's button resumes its task once; every press is answered (``answerCallbackQuery``), and a
  second press says that nothing was resumed.

Every update is acted on once per ``update_id`` (Telegram re-sends webhook updates it saw no answer
for): the first delivery is recorded in Redis with a TTL before anything happens, and forgotten again if
handling failed before it changed anything, so the re-sent update can try again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from telegram import Bot, CallbackQuery, Chat, Message, MessageEntity, ReplyParameters, Update
from telegram.constants import ParseMode
from telegram.error import RetryAfter, TelegramError

from connectors.inputs import text_input
from connectors.telegram import html
from connectors.telegram.bot import CommandTarget, bot_id, command_targets, retry_after
from connectors.telegram.chats import (
    PLATFORM,
    TelegramChat,
    chat_principal,
    interrupt_token,
    parse_callback,
    user_ref,
)
from connectors.telegram.store import TelegramStore
from gateway.errors import Conflict, InvalidInput, NotFound
from gateway.inbound import InboundLog
from gateway.settings import Settings
from gateway.store import TaskRecord, TaskStatus
from gateway.tasks import TaskService

log = logging.getLogger("graphgate.telegram")

NOTE_RETRY_LIMIT = 5.0  # seconds a reply waits out a flood limit before it is given up


@dataclass
class TelegramServices:
    """What the handlers need from the process they run in."""

    tasks: TaskService
    inbound: InboundLog
    store: TelegramStore


@dataclass(frozen=True)
class Addressed:
    """A message meant for the bot: a command (without the slash) or None, and the text for the graph."""

    command: str | None
    text: str


def display_name(user: Any) -> str:
    if user is None:
        return "someone"
    return str(user.full_name or (f"@{user.username}" if user.username else user.id))


class TelegramConnector:
    def __init__(self, settings: Settings, bot: Bot, services: Callable[[], TelegramServices]) -> None:
        self.settings = settings
        self.bot = bot
        self.services = services
        self.commands = command_targets(settings)
        self.bot_id = int(bot_id(settings.telegram_bot_token or "0:"))
        self._ready = asyncio.Lock()

    async def ready(self) -> None:
        """Know who we are (``getMe``: the username mentions and commands address); once per process."""
        async with self._ready:
            await self.bot.initialize()  # returns at once when done before

    # --- one update ---------------------------------------------------------------------------------

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
                await self.on_callback(update.callback_query)
            elif update.message is not None:
                await self.on_message(update.message)
        except Exception:
            await svc.inbound.forget(PLATFORM, delivery)
            raise

    # --- messages -----------------------------------------------------------------------------------

    def addressed(self, message: Message) -> Addressed | None:
        """What ``message`` asks of the bot, or None when it is not meant for the bot."""
        text = message.text or message.caption or ""
        private = message.chat.type == Chat.PRIVATE
        username = (self.bot.username or "").lower()
        kinds = [MessageEntity.BOT_COMMAND, MessageEntity.MENTION, MessageEntity.TEXT_MENTION]
        entities = message.parse_caption_entities(kinds) if message.caption else message.parse_entities(kinds)
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
            elif entity.type == MessageEntity.TEXT_MENTION and entity.user and entity.user.id == self.bot_id:
                mentioned = True
        replied = message.reply_to_message
        to_bot = bool(replied and replied.from_user and replied.from_user.id == self.bot_id)
        if not (private or command or mentioned or to_bot):
            return None
        for value in strip:
            text = text.replace(value, " ", 1)
        return Addressed(command, " ".join(text.split()) if "\n" not in text else text.strip())

    async def on_message(self, message: Message) -> None:
        user = message.from_user
        if user is None or user.is_bot or message.chat.type == Chat.CHANNEL:
            return
        await self.ready()
        asked = self.addressed(message)
        if asked is None:
            return
        topic = message.message_thread_id if message.is_topic_message else None
        chat = TelegramChat(message.chat.id, message.chat.type, topic)
        command = asked.command
        if command in ("start", "help"):
            await self._note(chat, self.help_text(), message.message_id)
        elif command == "new":
            await self.services().store.start_new(chat)
            if asked.text:
                await self._text(chat, message, asked.text, self._default_target(), fresh=True)
            else:
                await self._note(chat, "Started a new conversation. Send me your request.", message.message_id)
        elif command == "cancel":
            await self._cancel_current(chat, message)
        elif command is not None and command not in self.commands:
            if chat.private or f"@{self.bot.username}".lower() in (message.text or "").lower():
                note = f"I don't know /{html.escape(command)}. /help lists what I can do."
                await self._note(chat, note, message.message_id)
        elif command is not None and not asked.text:
            note = f"Tell me what to do: <code>/{html.escape(command)} your request</code>"
            await self._note(chat, note, message.message_id)
        elif asked.text:
            target = self.commands[command] if command else None
            await self._text(chat, message, asked.text, target)

    def help_text(self) -> str:
        lines = ["<b>What I can do</b>"]
        for name, target in self.commands.items():
            what = target.description or f"runs {target.graph or 'the default graph'}"
            lines.append(f"/{html.escape(name)} <i>request</i> — {html.escape(what)}")
        lines += [
            "/new — start a fresh conversation",
            "/cancel — cancel the running task",
            "/help — this help",
            "",
            "In a private chat just write to me. In a group, use a command, mention me or reply to me.",
            "When I ask a question, tap an answer or reply with your own.",
        ]
        return "\n".join(lines)

    def _default_target(self) -> CommandTarget:
        return self.commands.get("ask") or next(iter(self.commands.values()))

    def _target_for(self, graph: str) -> CommandTarget:
        for target in self.commands.values():
            if target.graph == graph:
                return target
        return CommandTarget(graph=graph, mode=self.settings.telegram_task_mode)

    async def _latest(self, chat: TelegramChat, session_id: str) -> TaskRecord | None:
        try:
            tasks = await self.services().tasks.list_tasks(chat.principal, session_id, limit=5)
        except NotFound:
            return None
        return tasks[0] if tasks else None

    async def _text(
        self, chat: TelegramChat, message: Message, text: str, target: CommandTarget | None, fresh: bool = False
    ) -> None:
        """Answer the session's pending question with ``text``, or start a task with it."""
        svc = self.services()
        user = message.from_user
        session = await svc.store.current(chat)
        latest = None if fresh else await self._latest(chat, session.session_id)
        if latest is not None and latest.status == TaskStatus.WAITING_INPUT and latest.interrupt:
            if target is not None:
                await self._note(chat, "A question is waiting for an answer: reply to it, /cancel the task, or /new to "
                                       "start over.", message.message_id)
                return
            if not await self._may_act(chat, latest, user.id if user else None, message.message_id):
                return
            await self._answer(chat, latest, _pick(latest.interrupt, text), user, message.message_id)
            return
        graphs = svc.tasks.graphs
        if target is None:
            target = self._target_for(session.graph) if session.graph else self._default_target()
        graph = target.graph or graphs.default
        session_id = session.session_id
        if session.graph and session.graph != graph:
            session_id = (await svc.store.start_new(chat)).session_id  # another graph: another conversation
        await self._start(chat, message, session_id, graph, target, text)

    async def _start(
        self, chat: TelegramChat, message: Message, session_id: str, graph: str, target: CommandTarget, text: str
    ) -> None:
        svc = self.services()
        user = message.from_user
        try:
            record = await svc.tasks.create_task(
                chat.principal,
                input=text_input(svc.tasks.graphs, graph, text),
                graph=graph,
                session_id=session_id,
                mode=target.mode,
                config=target.config,
                multitask="enqueue",
                binding=chat.binding(user.id if user else None, display_name(user), message.message_id),
            )
        except (NotFound, Conflict, InvalidInput) as exc:
            await self._note(chat, f"I can't run that: {html.escape(exc.message)}", message.message_id)
            return
        try:
            await svc.store.started(chat, session_id, graph, record.id)
        except Exception:  # the task runs; only its buttons will not resolve. Never let the update retry.
            log.exception("task %s started, but recording its chat session failed", record.id)

    async def _cancel_current(self, chat: TelegramChat, message: Message) -> None:
        svc = self.services()
        session = await svc.store.current(chat)
        try:
            tasks = await svc.tasks.list_tasks(chat.principal, session.session_id, limit=20)
        except NotFound:
            tasks = []
        active = next((t for t in tasks if not t.status.terminal), None)
        if active is None:
            await self._note(chat, "Nothing to cancel.", message.message_id)
            return
        user = message.from_user
        if not await self._may_act(chat, active, user.id if user else None, message.message_id):
            return
        try:
            await svc.tasks.cancel(chat.principal, active.id, reason=f"cancelled by {display_name(user)}")
        except Conflict:
            await self._note(chat, "That task has already finished.", message.message_id)

    async def _may_act(self, chat: TelegramChat, task: TaskRecord, user_id: int | None, reply_to: int | None) -> bool:
        """In groups only the member who started a task answers its questions or cancels it."""
        starter = (task.binding or {}).get("user")
        if chat.private or starter is None or starter == user_id:
            return True
        name = html.escape(str((task.binding or {}).get("user_name") or "the person who started it"))
        await self._note(chat, f"Only {name} can answer or cancel this task.", reply_to)
        return False

    async def _answer(self, chat: TelegramChat, task: TaskRecord, answer: Any, user: Any, reply_to: int) -> None:
        interrupt_id = str((task.interrupt or {}).get("interrupt_id") or "")
        try:
            await self.services().tasks.resume(
                chat.principal, task.id, answer, interrupt_id=interrupt_id, by=user_ref(user.id if user else None)
            )
        except Conflict:
            await self._note(chat, "That question was already answered; nothing was resumed.", reply_to)

    # --- buttons ------------------------------------------------------------------------------------

    async def on_callback(self, query: CallbackQuery) -> None:
        """Act on a button press; the press is always answered, with what happened."""
        reply: str | None = None
        alert = False
        try:
            reply, alert = await self._press(query)
        except Exception:
            reply = "Something went wrong; please press again."
            raise
        finally:
            try:
                await self.bot.answer_callback_query(query.id, text=reply, show_alert=alert)
            except TelegramError as exc:
                log.warning("answerCallbackQuery %s failed: %s", query.id, exc)

    async def _press(self, query: CallbackQuery) -> tuple[str | None, bool]:
        pressed = parse_callback(query.data)
        message = query.message
        if pressed is None or message is None:
            return "This button is not available any more.", False
        svc = self.services()
        located = await svc.store.task_of(pressed.token)
        if located is None:
            return "This button has expired.", False
        principal = chat_principal(message.chat.id)
        try:
            task = await svc.tasks.get_task(principal, located[1])
        except NotFound:
            return "This button is not available here.", False
        starter = (task.binding or {}).get("user")
        if message.chat.type != Chat.PRIVATE and starter is not None and starter != query.from_user.id:
            name = str((task.binding or {}).get("user_name") or "the person who started it")
            return f"Only {name} can answer or cancel this task.", True
        if pressed.action == "cancel":
            try:
                await svc.tasks.cancel(principal, task.id, reason=f"cancelled by {display_name(query.from_user)}")
            except Conflict:
                return "This task has already finished.", False
            return "Cancelling…", False
        pending = task.interrupt or {}
        options = pending.get("options") or []
        if (
            task.status != TaskStatus.WAITING_INPUT
            or interrupt_token(str(pending.get("interrupt_id") or "")) != pressed.interrupt
            or pressed.option >= len(options)
        ):
            return "This question was already answered; nothing was resumed.", False
        option = options[pressed.option]
        try:
            await svc.tasks.resume(
                principal, task.id, option.get("value"), interrupt_id=str(pending["interrupt_id"]),
                by=user_ref(query.from_user.id),
            )
        except Conflict:
            return "This question was already answered; nothing was resumed.", False
        return f"Answered: {option.get('label', option.get('value'))}"[:190], False

    # --- replies --------------------------------------------------------------------------------------

    async def _note(self, chat: TelegramChat, text_html: str, reply_to: int | None) -> None:
        """A short reply from the bot; failures are logged, never raised (the update is handled)."""
        for attempt in range(2):
            try:
                await self.bot.send_message(
                    chat.chat_id,
                    text_html,
                    parse_mode=ParseMode.HTML,
                    message_thread_id=chat.thread_id,
                    reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True) if reply_to else None,
                )
                return
            except RetryAfter as exc:
                wait = retry_after(exc)
                if attempt or wait > NOTE_RETRY_LIMIT:
                    log.warning("reply in chat %s dropped: flood limit (%.0fs)", chat.chat_id, wait)
                    return
                await asyncio.sleep(wait)
            except TelegramError as exc:
                log.warning("reply in chat %s failed: %s", chat.chat_id, exc)
                return


def _pick(interrupt: dict[str, Any], text: str) -> Any:
    """A typed answer: the value of the option whose label or value it names, else the text itself."""
    wanted = text.strip().casefold()
    for option in interrupt.get("options") or []:
        if wanted in (str(option.get("label", "")).casefold(), str(option.get("value", "")).casefold()):
            return option.get("value")
    return text
