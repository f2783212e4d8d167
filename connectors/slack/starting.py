"""Starting tasks from Slack: slash commands, mentions of the bot, DMs and replies in a task's thread.

* ``/ask <text>`` (commands and their graphs from ``GRAPHGATE_SLACK_COMMANDS``): acked at once with an
  ephemeral note; a root message is posted in the channel and the task's thread hangs under it.
* A mention of the bot, or a DM: starts a task in a thread under that message; a reply in the thread
  continues the same session (the same LangGraph thread), or answers the question it waits on
  (connectors/slack/answers.py).

Events API retries (``X-Slack-Retry-Num``) are recognised by ``event_id`` and never start a second task;
when starting failed for a reason a retry could fix, the id is forgotten again so the retry gets its chance.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from graphgate.connectors.commands import CommandTarget, command_table
from graphgate.connectors.inputs import text_input
from graphgate.connectors.slack import mrkdwn
from graphgate.connectors.slack.answers import Answers
from graphgate.connectors.slack.files import fetch
from graphgate.connectors.slack.notes import note
from graphgate.connectors.slack.threads import PLATFORM, SlackThread, principal
from graphgate.core.attachments import public_base_url, with_files
from graphgate.core.errors import GraphgateError, NotFound
from graphgate.core.services import Services
from graphgate.core.settings import Settings
from graphgate.core.store import TaskStatus

log = logging.getLogger("graphgate.slack")

_MENTION_RE = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>")
ROOT_TEXT_CHARS = 1000  # of the request, quoted in the thread's root message


def command_name(name: str) -> str:
    """A ``GRAPHGATE_SLACK_COMMANDS`` key as Slack sends it: with its slash."""
    return name if name.startswith("/") else f"/{name}"


def command_targets(settings: Settings) -> dict[str, CommandTarget]:
    """``GRAPHGATE_SLACK_COMMANDS``: ``{"/ask": "writer"}`` or ``{"/ask": {"graph", "mode", "config"}}``."""
    return command_table(settings.slack_commands, default="/ask", mode=settings.slack_task_mode, spell=command_name)


def from_slack_text(text: str, bot_user: str | None = None) -> str:
    """Text as the user typed it: mentions of the bot removed, other mentions as ``@name``, escapes undone."""

    def mention(m: re.Match[str]) -> str:
        return "" if m.group(1) == bot_user else f"@{m.group(2) or m.group(1)}"

    text = _MENTION_RE.sub(mention, text or "")
    return re.sub(r"\s{2,}", " ", text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")).strip()


class Starts:
    """The handlers of slash commands and messages, with the ``services`` of the running process."""

    def __init__(self, settings: Settings, services: Callable[[], Services], answers: Answers) -> None:
        self.settings = settings
        self.services = services
        self.answers = answers
        self.commands = command_targets(settings)

    # --- slash commands -----------------------------------------------------------------------------

    async def on_command(self, ack: Any, body: dict[str, Any], client: AsyncWebClient, respond: Any) -> None:
        command = str(body.get("command") or "")
        target = self.commands.get(command) or next(iter(self.commands.values()))
        text = from_slack_text(str(body.get("text") or ""))
        if not text:
            await ack(f"Tell me what to do: `{command} <your request>`")
            return
        graphs = self.services().tasks.graphs
        graph = target.graph or graphs.default
        if graph not in graphs.names():
            await ack(
                f":warning: `{mrkdwn.escape(command)}` runs graph `{mrkdwn.escape(graph)}`, which is not registered."
            )
            return
        await ack(f":hourglass_flowing_sand: Starting *{mrkdwn.escape(graph)}*; I'll answer in a thread.")
        team, channel, user = str(body.get("team_id")), str(body.get("channel_id")), str(body.get("user_id"))
        try:
            root = await client.chat_postMessage(
                channel=channel,
                text=f"<@{user}> asked (`{mrkdwn.escape(command)}`): {_shorten(mrkdwn.escape(text), ROOT_TEXT_CHARS)}",
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            error = exc.response.get("error", "error") if exc.response is not None else "error"
            hint = " Invite me to the channel first (`/invite @graphgate`)." if error == "not_in_channel" else ""
            await respond(f":warning: I could not post here ({error}).{hint}", response_type="ephemeral")
            return
        thread = SlackThread(team, channel, str(root["ts"]), body.get("enterprise_id") or None)
        await self._start(client, thread, user, text, graph, target.mode, target.config)

    # --- messages: mentions, DMs, thread replies ----------------------------------------------------

    async def on_mention(
        self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        if not await self._first_delivery(body):
            return
        thread_ts = str(event.get("thread_ts") or event.get("ts"))
        await self._on_text(client, body, event, thread_ts, context.bot_user_id, only_existing=False)

    async def on_message(
        self, body: dict[str, Any], event: dict[str, Any], client: AsyncWebClient, context: Any
    ) -> None:
        if event.get("subtype") not in (None, "file_share", "thread_broadcast") or event.get("bot_id"):
            return
        text = str(event.get("text") or "")
        is_dm = event.get("channel_type") == "im"
        bot_user = context.bot_user_id
        if not is_dm and bot_user and f"<@{bot_user}" in text:
            return  # the app_mention event of the same message handles it
        if not is_dm and not event.get("thread_ts"):
            return  # channel chatter that is not addressed to us
        if not await self._first_delivery(body):
            return
        thread_ts = str(event.get("thread_ts") or event.get("ts"))
        await self._on_text(client, body, event, thread_ts, bot_user, only_existing=not is_dm)

    async def _first_delivery(self, body: dict[str, Any]) -> bool:
        """False for a retry of an Events API delivery already handled (same ``event_id``)."""
        event_id = str(body.get("event_id") or "")
        if not event_id:
            return True
        first = await self.services().inbound.first(PLATFORM, event_id)
        if not first:
            log.info("slack event %s delivered again; ignored", event_id)
        return first

    async def _on_text(
        self,
        client: AsyncWebClient,
        body: dict[str, Any],
        event: dict[str, Any],
        thread_ts: str,
        bot_user: str | None,
        only_existing: bool,
    ) -> None:
        team = str(event.get("team") or body.get("team_id"))
        channel, user = str(event.get("channel")), str(event.get("user"))
        thread = SlackThread(team, channel, thread_ts, body.get("enterprise_id") or None)
        who = principal(team, user)
        text = from_slack_text(str(event.get("text") or ""), bot_user)
        svc = self.services()
        try:
            tasks = await svc.tasks.list_tasks(who, thread.session_id, limit=1)
        except NotFound:
            if only_existing:
                return  # a thread we do not run, or someone else's conversation
            tasks = []
        latest = tasks[0] if tasks else None
        files = [f for f in event.get("files") or [] if isinstance(f, dict)]
        if not text and not files:
            await note(
                client, channel, user, thread_ts, "Tell me what to do, e.g. `@graphgate write a brief on tides`."
            )
            return
        if latest is not None and latest.status == TaskStatus.WAITING_INPUT and latest.interrupt:
            if files:
                words = "A question is waiting for an answer in words: reply with text (the file was not used)."
                await note(client, channel, user, thread_ts, words)
                return
            await self.answers.typed(client, who, latest, text, channel, thread_ts)
            return
        graph = latest.graph if latest is not None else self._mention_graph(svc)
        await self._start(
            client,
            thread,
            user,
            text,
            graph,
            self.settings.slack_task_mode,
            {},
            event_id=body.get("event_id"),
            files=files,
        )

    def _mention_graph(self, svc: Services) -> str:
        if self.settings.slack_mention_graph:
            return self.settings.slack_mention_graph
        first = next(iter(self.commands.values()))
        return first.graph or svc.tasks.graphs.default

    async def _start(
        self,
        client: AsyncWebClient,
        thread: SlackThread,
        user: str,
        text: str,
        graph: str,
        mode: str,
        config: dict[str, Any],
        event_id: str | None = None,
        files: list[dict[str, Any]] | None = None,
    ) -> None:
        svc = self.services()
        who = principal(thread.team, user)
        try:
            graph_input = text_input(svc.tasks.graphs, graph, text)
            if files:
                stored = await fetch(client, svc.attachments, who.id, files)
                blocks = svc.attachments.blocks(stored, public_base_url(self.settings))
                graph_input = with_files(svc.tasks.graphs, graph, graph_input, blocks)
            await svc.tasks.create_task(
                who,
                input=graph_input,
                graph=graph,
                session_id=thread.session_id,
                mode=mode,
                config=config,
                binding=thread.binding(user),
            )
        except NotFound as exc:
            message = (
                "This thread's conversation belongs to someone else; mention me in a new message to start your own."
                if "session" in exc.message
                else f"I can't run that: {exc.message}"
            )
            await note(client, thread.channel, user, thread.thread_ts, message)
        except GraphgateError as exc:  # busy session (multitask=reject), input the graph refuses...
            await note(client, thread.channel, user, thread.thread_ts, f"I can't run that: {exc.message}")
        except Exception:
            if event_id:  # nothing was created: let Slack's retry of this event try again
                await svc.inbound.forget(PLATFORM, event_id)
            raise


def _shorten(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1].rsplit(" ", 1)[0] + "…"
