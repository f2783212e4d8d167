"""What a message meant for the bot does: the commands, their help text, and starting or answering tasks.

``/ask <text>`` (any command of ``GRAPHGATE_TELEGRAM_COMMANDS``) starts that command's graph with the
text; a command for another graph than the conversation's starts a new conversation. ``/new`` starts a
fresh session (with text, a task in it), ``/cancel`` cancels the session's active task, ``/help`` and
``/start`` list the commands. Any other text answers the question the chat's current task waits on
(connectors/telegram/answers.py), else starts a task in the chat's session, continuing its graph's
conversation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from telegram import Message

from graphgate.connectors import schedulecmd
from graphgate.connectors.commands import CommandTarget, command_table
from graphgate.connectors.inputs import text_input
from graphgate.connectors.telegram import html
from graphgate.connectors.telegram.addressing import Addressed, display_name
from graphgate.connectors.telegram.answers import Answers
from graphgate.connectors.telegram.bot import TelegramNotConfigured
from graphgate.connectors.telegram.chats import TelegramChat
from graphgate.connectors.telegram.files import fetch, incoming
from graphgate.connectors.telegram.replies import Replies
from graphgate.connectors.telegram.services import TelegramServices
from graphgate.core.attachments import public_base_url, with_files
from graphgate.core.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge
from graphgate.core.settings import Settings
from graphgate.core.store import TaskRecord, TaskStatus

log = logging.getLogger("graphgate.telegram")

RESERVED_COMMANDS = ("start", "help", "new", "cancel", "schedule")  # handled by the router itself


def command_name(name: str) -> str:
    """A ``GRAPHGATE_TELEGRAM_COMMANDS`` key as the router knows it: no slash, lower case, not reserved."""
    command = name.lstrip("/").lower()
    if not command or command in RESERVED_COMMANDS:
        raise TelegramNotConfigured(f"GRAPHGATE_TELEGRAM_COMMANDS may not define /{command}")
    return command


def command_targets(settings: Settings) -> dict[str, CommandTarget]:
    """``GRAPHGATE_TELEGRAM_COMMANDS``: ``{"ask": "writer"}`` or ``{"ask": {"graph", "mode", "config",
    "description"}}``; names without the slash, lower case. Default: ``/ask`` runs the default graph."""
    return command_table(
        settings.telegram_commands, default="ask", mode=settings.telegram_task_mode, spell=command_name
    )


def help_text(commands: dict[str, CommandTarget]) -> str:
    """The answer to ``/help`` and ``/start`` (HTML)."""
    lines = ["<b>What I can do</b>"]
    for name, target in commands.items():
        what = target.description or f"runs {target.graph or 'the default graph'}"
        lines.append(f"/{html.escape(name)} <i>request</i> — {html.escape(what)}")
    lines += [
        "/new — start a fresh conversation",
        "/cancel — cancel the running task",
        "/schedule — runs on a schedule, posted here (<code>/schedule help</code>)",
        "/help — this help",
        "",
        "In a private chat just write to me. In a group, use a command, mention me or reply to me.",
        "When I ask a question, tap an answer or reply with your own.",
        "To a tool call waiting for approval, tap Approve, Edit or Reject, or reply <code>reject: why</code>.",
    ]
    return "\n".join(lines)


class Router:
    """Acts on messages meant for the bot."""

    def __init__(
        self,
        settings: Settings,
        services: Callable[[], TelegramServices],
        answers: Answers,
        replies: Replies,
    ) -> None:
        self.settings = settings
        self.services = services
        self.answers = answers
        self.replies = replies
        self.commands = command_targets(settings)

    async def on_addressed(self, chat: TelegramChat, message: Message, asked: Addressed, username: str | None) -> None:
        """Act on ``message``, which asks ``asked`` of the bot ``@username`` in ``chat``."""
        command = asked.command
        if command in ("start", "help"):
            await self.replies.note(chat, help_text(self.commands), message.message_id)
        elif command == "new":
            await self.services().store.start_new(chat)
            if asked.text:
                await self._text(chat, message, asked.text, self._default_target(), fresh=True)
            else:
                await self.replies.note(chat, "Started a new conversation. Send me your request.", message.message_id)
        elif command == "cancel":
            await self._cancel_current(chat, message)
        elif command == "schedule":
            await self._schedule(chat, message, asked.text)
        elif command is not None and command not in self.commands:
            if chat.private or f"@{username}".lower() in (message.text or "").lower():
                note = f"I don't know /{html.escape(command)}. /help lists what I can do."
                await self.replies.note(chat, note, message.message_id)
        elif command is not None and not asked.text and not incoming(message):
            note = f"Tell me what to do: <code>/{html.escape(command)} your request</code>"
            await self.replies.note(chat, note, message.message_id)
        elif asked.text or incoming(message):
            target = self.commands[command] if command else None
            await self._text(chat, message, asked.text, target)

    async def _schedule(self, chat: TelegramChat, message: Message, text: str) -> None:
        """``/schedule …`` (connectors/schedulecmd.py): the chat owns its schedules, as it owns its tasks."""
        svc = self.services()
        graphs = svc.tasks.graphs
        reply = await schedulecmd.run(
            svc.schedules,
            owner=chat.principal.id,
            target={"telegram": {"chat_id": chat.chat_id}},
            text=text,
            default_graph=self._default_target().graph or graphs.default,
            input_of=lambda graph, words: text_input(graphs, graph, words),
        )
        await self.replies.note(chat, html.escape(reply), message.message_id)

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
        if target is None and not fresh and (edit := await self.answers.edit_prompt_of(chat, message)) is not None:
            await self.answers.edit_reply(chat, message, edit, text)
            return
        session = await svc.store.current(chat)
        latest = None if fresh else await self._latest(chat, session.session_id)
        if latest is not None and latest.status == TaskStatus.WAITING_INPUT and latest.interrupt:
            if target is not None:
                await self.replies.note(
                    chat,
                    "A question is waiting for an answer: reply to it, /cancel the task, or /new to start over.",
                    message.message_id,
                )
                return
            if incoming(message):
                note = "A question is waiting for an answer in words: reply with text (the file was not used)."
                await self.replies.note(chat, note, message.message_id)
                return
            await self.answers.typed(chat, message, latest, text)
            return
        if target is None:
            target = self._target_for(session.graph) if session.graph else self._default_target()
        graph = target.graph or svc.tasks.graphs.default
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
            graph_input = text_input(svc.tasks.graphs, graph, text)
            files = incoming(message)
            if files:
                stored = await fetch(self.replies.bot, svc.attachments, chat.principal.id, files)
                blocks = svc.attachments.blocks(stored, public_base_url(self.settings))
                graph_input = with_files(svc.tasks.graphs, graph, graph_input, blocks)
            record = await svc.tasks.create_task(
                chat.principal,
                input=graph_input,
                graph=graph,
                session_id=session_id,
                mode=target.mode,
                config=target.config,
                multitask="enqueue",
                binding=chat.binding(user.id if user else None, display_name(user), message.message_id),
            )
        except (NotFound, Conflict, InvalidInput, PayloadTooLarge) as exc:
            await self.replies.note(chat, f"I can't run that: {html.escape(exc.message)}", message.message_id)
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
            await self.replies.note(chat, "Nothing to cancel.", message.message_id)
            return
        user = message.from_user
        if not await self.answers.may_act(chat, active, user.id if user else None, message.message_id):
            return
        try:
            await svc.tasks.cancel(chat.principal, active.id, reason=f"cancelled by {display_name(user)}")
        except Conflict:
            await self.replies.note(chat, "That task has already finished.", message.message_id)
