"""Telegram ingress: turns updates (messages, commands, button presses) into task service calls.

Rendering what a task does is the dispatcher's job (connectors/telegram/delivery.py); this module only
starts, continues, answers and cancels tasks, and answers the user directly where the dispatcher has
nothing to say (``/help``, a refused request, a button press).

* In a private chat every text message is for the bot. In a group the bot acts only when addressed:
  a command (``/ask`` or ``/ask@bot``), a mention of the bot, or a reply to one of its messages.
* A message in a chat whose current session waits for an answer answers it (``answer_from_text`` in
  graphgate/core/interrupts.py: text naming an option picks it; to a tool approval ``approve``, ``reject: why``,
  ``edit {json}``, any other text rejects with that text as the reason); a reply to one of several
  questions waiting at once answers that one. Otherwise the message starts a task in the chat's session
  (continuing its graph's conversation). ``/ask <text>`` (``GRAPHGATE_TELEGRAM_COMMANDS``) does the same
  with the command's graph, ``/new`` starts a fresh session, ``/cancel`` cancels the session's active task,
  ``/help`` explains.
* A question's button answers its own interrupt once (Approve and Reject are a tool approval's options);
  every press is answered (``answerCallbackQuery``), and a second press says that nothing was resumed.
  A tool approval's Edit key asks, in a force-reply message, for the call's new arguments as JSON; the
  reply to that message edits the call (keys left out keep their value) and resumes the task.

Every update is acted on once per ``update_id`` (Telegram re-sends webhook updates it saw no answer
for): the first delivery is recorded in Redis with a TTL before anything happens, and forgotten again if
handling failed before it changed anything, so the re-sent update can try again.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from telegram import (
    Bot,
    CallbackQuery,
    Chat,
    ForceReply,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import RetryAfter, TelegramError

from graphgate.connectors.inputs import text_input
from graphgate.connectors.telegram import html
from graphgate.connectors.telegram.bot import (
    CommandTarget,
    bot_id,
    command_targets,
    retry_after,
)
from graphgate.connectors.telegram.chats import (
    PLATFORM,
    TelegramChat,
    chat_principal,
    edit_offered,
    interrupt_token,
    parse_callback,
    question_of_buttons,
    task_token,
    user_ref,
)
from graphgate.connectors.telegram.store import TelegramStore
from graphgate.core.errors import Conflict, InvalidInput, NotFound
from graphgate.core.inbound import InboundLog
from graphgate.core.interrupts import (
    TOOL_APPROVAL,
    answer_from_text,
    describe_answer,
    edit_decision,
    resume_value,
)
from graphgate.core.services import Services
from graphgate.core.settings import Settings
from graphgate.core.store import TaskRecord, TaskStatus
from graphgate.core.tasks import TaskService

log = logging.getLogger("graphgate.telegram")

NOTE_RETRY_LIMIT = 5.0  # seconds a reply waits out a flood limit before it is given up
EXAMPLE_CHARS = 600  # characters of a tool call's current arguments quoted in an edit prompt
PLACEHOLDER_CHARS = 64  # Telegram's limit for a force reply's input_field_placeholder
ALREADY_ANSWERED = "This question was already answered; nothing was resumed."


@dataclass
class TelegramServices:
    """What the handlers need from the process they run in."""

    tasks: TaskService
    inbound: InboundLog
    store: TelegramStore

    @classmethod
    def of(cls, services: Services) -> TelegramServices:
        return cls(
            tasks=services.tasks, inbound=services.inbound, store=TelegramStore(services.redis, services.settings)
        )


@dataclass(frozen=True)
class PressReply:
    """What a button press is answered with, and what to do once the press is answered."""

    text: str | None
    alert: bool = False
    then: Callable[[], Awaitable[None]] | None = None


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
            "To a tool call waiting for approval, tap Approve, Edit or Reject, or reply <code>reject: why</code>.",
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
        if target is None and not fresh and (edit := await self._edit_prompt_of(chat, message)) is not None:
            await self._edit_reply(chat, message, edit, text)
            return
        session = await svc.store.current(chat)
        latest = None if fresh else await self._latest(chat, session.session_id)
        if latest is not None and latest.status == TaskStatus.WAITING_INPUT and latest.interrupt:
            if target is not None:
                await self._note(
                    chat,
                    "A question is waiting for an answer: reply to it, /cancel the task, or /new to start over.",
                    message.message_id,
                )
                return
            if not await self._may_act(chat, latest, user.id if user else None, message.message_id):
                return
            interrupt = _replied_interrupt(latest, message) or latest.interrupt
            try:
                answer = answer_from_text(interrupt, text)
            except InvalidInput as exc:
                await self._refused(chat, exc, message.message_id)
                return
            await self._answer(chat, latest, interrupt, answer, user, message.message_id)
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

    async def _answer(
        self, chat: TelegramChat, task: TaskRecord, interrupt: dict[str, Any], answer: Any, user: Any, reply_to: int
    ) -> bool:
        """Answer ``interrupt`` of ``task``; a refused or late answer gets a note. True when it was taken."""
        try:
            await self.services().tasks.resume(
                chat.principal,
                task.id,
                answer,
                interrupt_id=str(interrupt.get("interrupt_id") or ""),
                by=user_ref(user.id if user else None),
            )
        except Conflict:
            await self._note(chat, "That question was already answered; nothing was resumed.", reply_to)
            return False
        except InvalidInput as exc:
            await self._refused(chat, exc, reply_to)
            return False
        return True

    async def _refused(self, chat: TelegramChat, exc: InvalidInput, reply_to: int) -> None:
        await self._note(chat, f"I can't use that answer: {html.escape(exc.message)}. Nothing was changed.", reply_to)

    # --- editing a tool call's arguments --------------------------------------------------------------

    async def _edit_prompt_of(self, chat: TelegramChat, message: Message) -> tuple[str, str] | None:
        """(task id, interrupt id) when ``message`` replies to one of the bot's edit prompts."""
        replied = message.reply_to_message
        if replied is None or replied.from_user is None or replied.from_user.id != self.bot_id:
            return None
        return await self.services().store.edit_of(chat, replied.message_id)

    async def _send_edit_prompt(
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
        sent = await self._note(chat, text, question_message, markup=markup)
        if sent is not None:
            await self.services().store.edit_prompted(chat, sent.message_id, task_id, str(interrupt["interrupt_id"]))

    async def _edit_reply(self, chat: TelegramChat, message: Message, edit: tuple[str, str], text: str) -> None:
        """A reply to an edit prompt: the tool call's new arguments (a JSON object) resume the task."""
        svc = self.services()
        user = message.from_user
        prompt = message.reply_to_message.message_id if message.reply_to_message else 0
        task_id, interrupt_id = edit
        try:
            task = await svc.tasks.get_task(chat.principal, task_id)
        except NotFound:
            task = None
        interrupt = _pending(task, lambda i: i["interrupt_id"] == interrupt_id) if task is not None else None
        if task is None or interrupt is None:
            await svc.store.edit_closed(chat, prompt)
            await self._note(chat, ALREADY_ANSWERED, message.message_id)
            return
        if not await self._may_act(chat, task, user.id if user else None, message.message_id):
            return
        try:
            answer = edit_decision(interrupt.get("actions") or [], json_object(text))
        except InvalidInput as exc:
            await self._note(
                chat,
                f"That is not a JSON object: {html.escape(exc.message)}; nothing was changed. "
                "Reply to my message again with the new arguments.",
                message.message_id,
            )
            return
        if await self._answer(chat, task, interrupt, answer, user, message.message_id):
            await svc.store.edit_closed(chat, prompt)

    # --- buttons ------------------------------------------------------------------------------------

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
            return PressReply("This button is not available any more.")
        svc = self.services()
        located = await svc.store.task_of(pressed.token)
        if located is None:
            return PressReply("This button has expired.")
        principal = chat_principal(message.chat.id)
        try:
            task = await svc.tasks.get_task(principal, located[1])
        except NotFound:
            return PressReply("This button is not available here.")
        starter = (task.binding or {}).get("user")
        if message.chat.type != Chat.PRIVATE and starter is not None and starter != query.from_user.id:
            name = str((task.binding or {}).get("user_name") or "the person who started it")
            return PressReply(f"Only {name} can answer or cancel this task.", alert=True)
        if pressed.action == "cancel":
            try:
                await svc.tasks.cancel(principal, task.id, reason=f"cancelled by {display_name(query.from_user)}")
            except Conflict:
                return PressReply("This task has already finished.")
            return PressReply("Cancelling…")
        interrupt = _pending(task, lambda i: interrupt_token(str(i.get("interrupt_id") or "")) == pressed.interrupt)
        if interrupt is None:
            return PressReply(ALREADY_ANSWERED)
        if pressed.action == "edit":
            return self._edit_pressed(query, task, interrupt)
        options = interrupt.get("options") or []
        if pressed.option >= len(options):
            return PressReply("This button is not available any more.")
        value = options[pressed.option].get("value")
        try:
            await svc.tasks.resume(
                principal, task.id, value, interrupt_id=str(interrupt["interrupt_id"]), by=user_ref(query.from_user.id)
            )
        except Conflict:
            return PressReply(ALREADY_ANSWERED)
        except InvalidInput as exc:
            return PressReply(f"Not accepted: {exc.message}"[:190], alert=True)
        return PressReply(_answered(interrupt, options[pressed.option])[:190])

    def _edit_pressed(self, query: CallbackQuery, task: TaskRecord, interrupt: dict[str, Any]) -> PressReply:
        """The Edit key of a tool approval: once the press is answered, ask for the new arguments."""
        if not edit_offered(interrupt):
            return PressReply("This button is not available any more.")
        message = query.message
        assert message is not None  # checked by _press
        topic = getattr(message, "message_thread_id", None) if getattr(message, "is_topic_message", False) else None
        chat = TelegramChat(message.chat.id, message.chat.type, topic)

        async def prompt() -> None:
            await self._send_edit_prompt(chat, task.id, interrupt, message.message_id)

        return PressReply("Reply with the new arguments", then=prompt)

    # --- replies --------------------------------------------------------------------------------------

    async def _note(
        self, chat: TelegramChat, text_html: str, reply_to: int | None, markup: ForceReply | None = None
    ) -> Message | None:
        """A short reply from the bot (the message sent, or None); failures are logged, never raised (the
        update is handled)."""
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


def _pending(task: TaskRecord, match: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    """The unanswered interrupt of the task's current pause that ``match`` picks, or None."""
    if task.status != TaskStatus.WAITING_INPUT:
        return None
    return next((i for i in task.pending() if match(i)), None)


def _replied_interrupt(task: TaskRecord, message: Message) -> dict[str, Any] | None:
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
    token = found[1]
    return _pending(task, lambda i: interrupt_token(str(i.get("interrupt_id") or "")) == token)


def _answered(interrupt: dict[str, Any], option: dict[str, Any]) -> str:
    """The answer to a press of ``option``: "Approved" for a tool approval, else "Answered: <label>"."""
    if interrupt.get("kind") == TOOL_APPROVAL:
        return describe_answer(interrupt, resume_value(interrupt, option.get("value")))
    return f"Answered: {option.get('label', option.get('value'))}"


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
