"""Slack ingress: a Bolt app that turns slash commands, mentions, DMs, thread replies and button clicks into
task service calls. Rendering what the task does is the dispatcher's job (connectors/slack/delivery.py).

* ``/ask <text>`` (commands and their graphs from ``GRAPHGATE_SLACK_COMMANDS``): acked at once with an
  ephemeral note; a root message is posted in the channel and the task's thread hangs under it.
* A mention of the bot, or a DM: starts a task in a thread under that message; a reply in the thread
  continues the same session (the same LangGraph thread), or answers the pending question.
* A question's button: resumes the task once; a second click or someone else's click gets an ephemeral
  note and changes nothing. Each button names its interrupt, so a pause with several questions is answered
  one question at a time. The Cancel button cancels the task.
* A tool approval's Approve button answers ``approve``; Edit and Reject open a modal (connectors/slack/
  modals.py) whose submission answers with the edited arguments or the reason. A submission that is no
  valid answer is refused in the modal itself (``response_action: errors``) and changes nothing.
* A reply in the thread answers the first pending question the way graphgate/core/interrupts.py reads text
  (an option's label, ``approve``, ``reject: <reason>``, ``edit {json}``); an answer the graph would refuse
  gets an ephemeral note saying why.

Events API retries (``X-Slack-Retry-Num``) are recognised by ``event_id`` and never start a second task.
Bolt verifies every request's signature and its 5-minute timestamp window before any of this runs.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_flow import AsyncOAuthFlow
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from graphgate.connectors.inputs import text_input
from graphgate.connectors.slack import modals, mrkdwn
from graphgate.connectors.slack.installs import (
    SlackNotConfigured,
    api_url,
    oauth_enabled,
    stores,
)
from graphgate.connectors.slack.render import (
    ANSWER_ACTION,
    CANCEL_ACTION,
    EDIT_ACTION,
    REJECT_ACTION,
)
from graphgate.connectors.slack.threads import PLATFORM, SlackThread, principal
from graphgate.core import interrupts
from graphgate.core.errors import Conflict, GraphgateError, InvalidInput, NotFound
from graphgate.core.services import Services
from graphgate.core.settings import Settings
from graphgate.core.store import TaskRecord, TaskStatus
from graphgate.core.tasks import Principal

log = logging.getLogger("graphgate.slack")

INSTALL_PATH = "/slack/install"
REDIRECT_PATH = "/slack/oauth_redirect"
EVENTS_PATH = "/slack/events"
_MENTION_RE = re.compile(r"<@([A-Z0-9]+)(?:\|([^>]*))?>")
ROOT_TEXT_CHARS = 1000  # of the request, quoted in the thread's root message
NOT_YOURS = "Only the person who started this task can answer its questions."
ANSWERED = "This question was already answered."


@dataclass(frozen=True)
class CommandTarget:
    """What a slash command runs."""

    graph: str | None  # None: the registry's default graph
    mode: str
    config: dict[str, Any] = field(default_factory=dict)


def command_targets(settings: Settings) -> dict[str, CommandTarget]:
    """``GRAPHGATE_SLACK_COMMANDS``: ``{"/ask": "writer"}`` or ``{"/ask": {"graph", "mode", "config"}}``."""
    raw: dict[str, object] = dict(settings.slack_commands) or {"/ask": ""}
    targets: dict[str, CommandTarget] = {}
    for name, value in raw.items():
        command = name if name.startswith("/") else f"/{name}"
        if isinstance(value, dict):
            targets[command] = CommandTarget(
                graph=str(value.get("graph") or "") or None,
                mode=str(value.get("mode") or settings.slack_task_mode),
                config=dict(value.get("config") or {}),
            )
        else:
            targets[command] = CommandTarget(graph=str(value or "") or None, mode=settings.slack_task_mode)
    return targets


def from_slack_text(text: str, bot_user: str | None = None) -> str:
    """Text as the user typed it: mentions of the bot removed, other mentions as ``@name``, escapes undone."""

    def mention(m: re.Match[str]) -> str:
        return "" if m.group(1) == bot_user else f"@{m.group(2) or m.group(1)}"

    text = _MENTION_RE.sub(mention, text or "")
    return re.sub(r"\s{2,}", " ", text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")).strip()


class SlackConnector:
    def __init__(self, settings: Settings, services: Callable[[], Services]) -> None:
        self.settings = settings
        self.services = services
        self.commands = command_targets(settings)

    # --- the Bolt app -------------------------------------------------------------------------------

    def build(self) -> AsyncApp:
        """A Bolt app with every handler registered (signature verification on, ack before work)."""
        settings = self.settings
        base_url = api_url(settings)
        oauth_flow = None
        if settings.slack_bot_token:
            client = AsyncWebClient(token=settings.slack_bot_token, base_url=base_url)
        elif oauth_enabled(settings):
            client = AsyncWebClient(base_url=base_url)
            st = stores(settings)
            redirect = f"{settings.public_url.rstrip('/')}{REDIRECT_PATH}" if settings.public_url else None
            oauth_flow = AsyncOAuthFlow(
                client=AsyncWebClient(base_url=base_url),
                settings=AsyncOAuthSettings(
                    client_id=settings.slack_client_id,
                    client_secret=settings.slack_client_secret,
                    scopes=settings.slack_scopes,
                    installation_store=st.installations,
                    state_store=st.states,
                    install_path=INSTALL_PATH,
                    redirect_uri_path=REDIRECT_PATH,
                    redirect_uri=redirect,
                ),
            )
        else:
            raise SlackNotConfigured("set GRAPHGATE_SLACK_BOT_TOKEN, or GRAPHGATE_SLACK_CLIENT_ID and _CLIENT_SECRET")
        app = AsyncApp(
            signing_secret=settings.slack_signing_secret,
            client=client,
            oauth_flow=oauth_flow,
            process_before_response=False,  # ack within 3 s, then do the work
            request_verification_enabled=True,
        )
        for command in self.commands:
            app.command(command)(self.on_command)
        app.event("app_mention")(self.on_mention)
        app.event("message")(self.on_message)
        app.action(re.compile(rf"^{ANSWER_ACTION}(:\d+)?$"))(self.on_answer)
        app.action(EDIT_ACTION)(self.on_edit)
        app.action(REJECT_ACTION)(self.on_reject)
        app.action(CANCEL_ACTION)(self.on_cancel)
        app.view(modals.EDIT_CALLBACK)(self.on_edit_submitted)
        app.view(modals.REJECT_CALLBACK)(self.on_reject_submitted)

        @app.error
        async def on_error(error: Exception, body: dict[str, Any]) -> None:
            log.error("slack handler failed: %s", error, exc_info=error)

        return app

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
        if not text:
            await self._note(
                client, channel, user, thread_ts, "Tell me what to do, e.g. `@graphgate write a brief on tides`."
            )
            return
        if latest is not None and latest.status == TaskStatus.WAITING_INPUT and latest.interrupt:
            pending = latest.interrupt  # the first question still waiting
            try:
                answer = interrupts.answer_from_text(pending, text)
            except InvalidInput as exc:
                await self._note(client, channel, user, thread_ts, f"I could not take that answer: {exc.message}")
                return
            await self._resume(client, who, latest.id, answer, str(pending.get("interrupt_id")), channel, thread_ts)
            return
        graph = latest.graph if latest is not None else self._mention_graph(svc)
        await self._start(
            client, thread, user, text, graph, self.settings.slack_task_mode, {}, event_id=body.get("event_id")
        )

    def _mention_graph(self, svc: Services) -> str:
        if self.settings.slack_mention_graph:
            return self.settings.slack_mention_graph
        first = next(iter(self.commands.values()))
        return first.graph or svc.tasks.graphs.default

    # --- buttons ----------------------------------------------------------------------------------------

    async def on_answer(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        """An option's button (a tool approval's Approve is one): resume with that option's value."""
        await ack()
        channel, user, thread_ts = _where(body)
        who = principal(_team(body), user)
        found = await self._clicked(client, who, action, channel, user, thread_ts)
        if found is None:
            return
        task_id, pending, value = found
        options = pending.get("options") or []
        index = value.get("o")
        if not isinstance(index, int) or not 0 <= index < len(options):
            await self._note(client, channel, user, thread_ts, "That button is not one of mine.")
            return
        await self._resume(
            client, who, task_id, options[index].get("value"), pending["interrupt_id"], channel, thread_ts
        )

    async def on_edit(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        """A tool approval's Edit button: a modal with the call's arguments."""
        await ack()
        channel, user, thread_ts = _where(body)
        who = principal(_team(body), user)
        found = await self._clicked(client, who, action, channel, user, thread_ts)
        if found is None:
            return
        task_id, pending, _ = found
        actions = pending.get("actions") or []
        if len(actions) != 1 or "edit" not in (actions[0].get("allowed_decisions") or []):
            await self._note(
                client, channel, user, thread_ts, "This request cannot be edited here; approve or reject it."
            )
            return
        origin = modals.Origin(task_id, str(pending["interrupt_id"]), channel, thread_ts)
        await self._open(client, body, modals.edit_view(origin, actions[0]), user)

    async def on_reject(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        """A tool approval's Reject button: a modal asking for an optional reason."""
        await ack()
        channel, user, thread_ts = _where(body)
        who = principal(_team(body), user)
        found = await self._clicked(client, who, action, channel, user, thread_ts)
        if found is None:
            return
        task_id, pending, _ = found
        origin = modals.Origin(task_id, str(pending["interrupt_id"]), channel, thread_ts)
        await self._open(client, body, modals.reject_view(origin, pending.get("actions") or []), user)

    async def _clicked(
        self,
        client: AsyncWebClient,
        who: Principal,
        action: dict[str, Any],
        channel: str,
        user: str,
        thread_ts: str | None,
    ) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
        """(task id, its pending interrupt, the button's value) of a click on a question's button, or None
        after telling the user why the click changes nothing (not their task, already answered)."""
        try:
            value = json.loads(action.get("value") or "{}")
            task_id, interrupt_id = str(value["t"]), str(value["i"])
        except (ValueError, KeyError, TypeError):
            await self._note(client, channel, user, thread_ts, "That button is not one of mine.")
            return None
        try:
            task = await self.services().tasks.get_task(who, task_id)
        except NotFound:
            await self._note(client, channel, user, thread_ts, NOT_YOURS)
            return None
        pending = _pending(task, interrupt_id)
        if pending is None:
            await self._note(client, channel, user, thread_ts, ANSWERED)
            return None
        return task_id, pending, value

    async def _open(self, client: AsyncWebClient, body: dict[str, Any], view: dict[str, Any], user: str) -> None:
        """Open a modal for the click in ``body`` (its ``trigger_id`` is good for 3 seconds, once)."""
        try:
            await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=view)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else str(exc)
            log.warning("could not open a modal for %s: %s", user, error)
            channel, _, thread_ts = _where(body)
            await self._note(
                client,
                channel,
                user,
                thread_ts,
                f"I could not open the form ({error}). Reply in this thread instead, e.g. `reject: <reason>`.",
            )

    # --- modal submissions ------------------------------------------------------------------------------

    async def on_edit_submitted(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The Edit modal's submission: approve the call with the edited arguments."""

        def answer(pending: dict[str, Any]) -> Any:
            return interrupts.edit_decision(pending.get("actions") or [], modals.submitted_args(view))

        await self._submitted(ack, body, view, modals.ARGS_BLOCK, answer)

    async def on_reject_submitted(self, ack: Any, body: dict[str, Any], view: dict[str, Any]) -> None:
        """The Reject modal's submission: reject the call(s), with the reason when one was given."""

        def answer(pending: dict[str, Any]) -> Any:
            reason = modals.submitted_reason(view)
            return {"type": "reject", "message": reason} if reason else {"type": "reject"}

        await self._submitted(ack, body, view, modals.REASON_BLOCK, answer)

    async def _submitted(
        self,
        ack: Any,
        body: dict[str, Any],
        view: dict[str, Any],
        block: str,
        answer: Callable[[dict[str, Any]], Any],
    ) -> None:
        """Resume with the modal's answer, then close it; or keep it open with the reason under ``block``.

        Slack waits 3 seconds for this ack, and its ``errors`` are the only way to say what was wrong in
        the modal: the answer is checked and the task resumed before acking (both are quick Redis calls).
        """
        user = (body.get("user") or {}).get("id") or ""
        who = principal(_team(body), str(user))
        try:
            origin = modals.Origin.of_view(view)
            task = await self.services().tasks.get_task(who, origin.task_id)
            pending = _pending(task, origin.interrupt_id)
            if pending is None:
                raise Conflict(ANSWERED)
            value = answer(pending)
            await self.services().tasks.resume(who, origin.task_id, value, interrupt_id=origin.interrupt_id, by=who.id)
        except InvalidInput as exc:
            await ack(response_action="errors", errors=modals.field_errors(block, exc.message))
            return
        except Conflict:
            await ack(response_action="errors", errors=modals.field_errors(block, ANSWERED))
            return
        except NotFound:
            await ack(response_action="errors", errors=modals.field_errors(block, NOT_YOURS))
            return
        await ack()

    async def on_cancel(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        await ack()
        channel, user, thread_ts = _where(body)
        who = principal(_team(body), user)
        try:
            await self.services().tasks.cancel(who, str(action.get("value")), reason=f"cancelled by {who.id}")
        except NotFound:
            await self._note(client, channel, user, thread_ts, "Only the person who started this task can cancel it.")
        except Conflict:
            await self._note(client, channel, user, thread_ts, "This task has already finished.")

    # --- task service calls -----------------------------------------------------------------------------

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
    ) -> None:
        svc = self.services()
        try:
            await svc.tasks.create_task(
                principal(thread.team, user),
                input=text_input(svc.tasks.graphs, graph, text),
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
            await self._note(client, thread.channel, user, thread.thread_ts, message)
        except GraphgateError as exc:  # busy session (multitask=reject), input the graph refuses...
            await self._note(client, thread.channel, user, thread.thread_ts, f"I can't run that: {exc.message}")
        except Exception:
            if event_id:  # nothing was created: let Slack's retry of this event try again
                await svc.inbound.forget(PLATFORM, event_id)
            raise

    async def _resume(
        self,
        client: AsyncWebClient,
        who: Principal,
        task_id: str,
        answer: Any,
        interrupt_id: str,
        channel: str,
        thread_ts: str | None,
    ) -> None:
        user = who.id.rsplit(":", 1)[-1]
        try:
            await self.services().tasks.resume(who, task_id, answer, interrupt_id=interrupt_id, by=who.id)
        except InvalidInput as exc:
            await self._note(client, channel, user, thread_ts, f"I could not take that answer: {exc.message}")
        except Conflict:
            await self._note(client, channel, user, thread_ts, ANSWERED)
        except NotFound:
            await self._note(client, channel, user, thread_ts, NOT_YOURS)

    async def _note(self, client: AsyncWebClient, channel: str, user: str, thread_ts: str | None, text: str) -> None:
        """An ephemeral message only ``user`` sees (in the thread when there is one)."""
        try:
            await client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, text=text)
        except SlackApiError as exc:
            log.warning(
                "could not tell %s in %s: %s", user, channel, exc.response.get("error") if exc.response else exc
            )


def _pending(task: TaskRecord, interrupt_id: str) -> dict[str, Any] | None:
    """The interrupt ``interrupt_id`` of ``task`` while it still waits for its answer, else None."""
    if task.status != TaskStatus.WAITING_INPUT:
        return None
    return next((i for i in task.pending() if i.get("interrupt_id") == interrupt_id), None)


def _team(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("team_id") or (body.get("team") or {}).get("id") or "")


def _where(body: dict[str, Any]) -> tuple[str, str, str | None]:
    """(channel, user, thread ts) of a block action."""
    channel = str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")
    user = str((body.get("user") or {}).get("id") or "")
    message = body.get("message") or {}
    thread_ts = message.get("thread_ts") or (body.get("container") or {}).get("thread_ts") or message.get("ts")
    return channel, user, thread_ts


def _shorten(text: str, chars: int) -> str:
    return text if len(text) <= chars else text[: chars - 1].rsplit(" ", 1)[0] + "…"
