"""Answering a task's questions from Slack: buttons, the modals of a tool approval, typed answers, Cancel.

* A question's button resumes the task once; a second click or someone else's click gets an ephemeral
  note and changes nothing. Each button names its task and interrupt, so a pause with several questions is
  answered one question at a time.
* A tool approval's Approve button answers ``approve``; Edit and Reject open a modal (connectors/slack/
  modals.py) whose submission answers with the edited arguments or the reason. A submission that is no
  valid answer is refused in the modal itself (``response_action: errors``) and changes nothing.
* A reply in the thread answers the first pending question the way graphgate/core/interrupts.py reads text
  (an option's label, ``approve``, ``reject: <reason>``, ``edit {json}``); an answer the graph would refuse
  gets an ephemeral note saying why.
* The Cancel button cancels the task.

Who may answer is the task service's decision (graphgate/core/tasks.py ``answer``): the person who started
the task, unless an approval policy routes the question (graphgate/core/approvals.py) to approvers, who may
click in the policy's channels, in their DMs or in the starter's thread. A click is answered as an ``Actor``:
the Slack user, the channel, and the policy's user groups the user belongs to (``usergroups.users.list``,
cached for a minute). ``Answers.waiting`` is where every answer meets that check, and ``refusal`` the one
place that says so to the person, in an ephemeral message.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from graphgate.connectors.slack import modals
from graphgate.connectors.slack.notes import note
from graphgate.connectors.slack.threads import principal
from graphgate.core import approvals, interrupts
from graphgate.core.approvals import Actor
from graphgate.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from graphgate.core.services import Services
from graphgate.core.store import TaskRecord
from graphgate.core.tasks import Principal

log = logging.getLogger("graphgate.slack")

NOT_YOURS = "Only the person who started this task can answer its questions."
ANSWERED = "This question was already answered."
NOT_MINE = "That button is not one of mine."


GROUP_CACHE_SECONDS = 60.0  # how long a user group's members are reused before asking Slack again


def refusal(exc: Conflict | NotFound | Forbidden) -> str:
    """What a person is told when their answer came too late, is not theirs to give, or was given already."""
    if isinstance(exc, NotFound):
        return NOT_YOURS
    if isinstance(exc, Forbidden):
        return f"{exc.message[0].upper()}{exc.message[1:]}. Your click changed nothing."
    return exc.message if isinstance(exc, approvals.AlreadyApproved) else ANSWERED


@dataclass(frozen=True)
class Click:
    """Where a block action happened and who clicked."""

    channel: str
    user: str
    thread_ts: str | None
    who: Principal

    name: str = ""

    @classmethod
    def of(cls, body: dict[str, Any]) -> Click:
        channel = str((body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id") or "")
        user = str((body.get("user") or {}).get("id") or "")
        message = body.get("message") or {}
        thread_ts = message.get("thread_ts") or (body.get("container") or {}).get("thread_ts") or message.get("ts")
        name = str((body.get("user") or {}).get("username") or (body.get("user") or {}).get("name") or "")
        return cls(channel, user, thread_ts, principal(team_of(body), user), name)

    def actor(self, groups: frozenset[str] = frozenset()) -> Actor:
        """The clicker as an answerer (``groups``: the policy's user groups they are in)."""
        team = self.who.id.split(":")[1]
        return Actor(
            self.who.id,
            "slack",
            self.user,
            self.who.id,
            name=self.name,
            where=f"slack:{team}:{self.channel}",
            team=team,
            groups=groups,
        )


def team_of(body: dict[str, Any]) -> str:
    """The team of the person behind a block action or a view submission."""
    return str((body.get("user") or {}).get("team_id") or (body.get("team") or {}).get("id") or "")


class Answers:
    """The handlers of answers and cancels, with the ``services`` of the running process."""

    def __init__(self, services: Callable[[], Services]) -> None:
        self.services = services
        self._groups: dict[str, tuple[float, frozenset[str]]] = {}  # user group -> (when read, its members)

    async def waiting(self, who: Actor, task_id: str, interrupt_id: str) -> dict[str, Any]:
        """The interrupt ``interrupt_id`` of task ``task_id`` while it waits for ``who``'s answer.

        ``NotFound`` when the task is not ``who``'s and no policy routes the question, ``Forbidden`` when
        the policy does not name ``who`` (recorded in the task's audit trail), ``Conflict`` when the question
        was answered already.
        """
        return await self.services().tasks.question_for(who, task_id, interrupt_id)

    async def actor(self, client: AsyncWebClient, click: Click, task_id: str, interrupt_id: str) -> Actor:
        """The clicker as an answerer of ``interrupt_id``, with the user groups of its policy they belong to."""
        try:
            task = await self.services().tasks.locate(task_id)
        except NotFound:
            return click.actor()
        approval = (task.approvals or {}).get(interrupt_id)
        groups = [g for g in approvals.slack_groups(approval) if click.user in await self._members(client, g)]
        return click.actor(frozenset(groups))

    async def _members(self, client: AsyncWebClient, group: str) -> frozenset[str]:
        """The members of a Slack user group (cached for ``GROUP_CACHE_SECONDS``; empty when Slack says no)."""
        cached = self._groups.get(group)
        if cached is not None and time.monotonic() - cached[0] < GROUP_CACHE_SECONDS:
            return cached[1]
        try:
            response = await client.usergroups_users_list(usergroup=group)
            members = frozenset(str(u) for u in response.get("users") or [])
        except SlackApiError as exc:
            log.warning(
                "usergroups.users.list %s failed: %s", group, exc.response.get("error") if exc.response else exc
            )
            members = frozenset()
        self._groups[group] = (time.monotonic(), members)
        return members

    # --- buttons ----------------------------------------------------------------------------------------

    async def on_answer(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        """An option's button (a tool approval's Approve is one): resume with that option's value."""
        await ack()
        click = Click.of(body)
        found = await self._clicked(client, click, action)
        if found is None:
            return
        task_id, pending, value, who = found
        options = pending.get("options") or []
        index = value.get("o")
        if not isinstance(index, int) or not 0 <= index < len(options):
            await note(client, click.channel, click.user, click.thread_ts, NOT_MINE)
            return
        await self.resume(
            client,
            who,
            task_id,
            options[index].get("value"),
            pending["interrupt_id"],
            click.channel,
            click.thread_ts,
        )

    async def on_edit(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        """A tool approval's Edit button: a modal with the call's arguments."""
        await ack()
        click = Click.of(body)
        found = await self._clicked(client, click, action)
        if found is None:
            return
        task_id, pending, _, _ = found
        actions = pending.get("actions") or []
        if len(actions) != 1 or "edit" not in (actions[0].get("allowed_decisions") or []):
            text = "This request cannot be edited here; approve or reject it."
            await note(client, click.channel, click.user, click.thread_ts, text)
            return
        origin = modals.Origin(task_id, str(pending["interrupt_id"]), click.channel, click.thread_ts)
        await self._open(client, body, modals.edit_view(origin, actions[0]), click)

    async def on_reject(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        """A tool approval's Reject button: a modal asking for an optional reason."""
        await ack()
        click = Click.of(body)
        found = await self._clicked(client, click, action)
        if found is None:
            return
        task_id, pending, _, _ = found
        origin = modals.Origin(task_id, str(pending["interrupt_id"]), click.channel, click.thread_ts)
        await self._open(client, body, modals.reject_view(origin, pending.get("actions") or []), click)

    async def on_feedback(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        """👍 / 👎 under a final answer: recorded for the clicker (once; a change replaces it); a 👎 then opens a
        modal asking what was wrong."""
        await ack()
        click = Click.of(body)
        score = 1 if str(action.get("action_id", "")).endswith(":1") else -1
        task_id = str(action.get("value") or "")
        text = await self._rate(click.actor(), task_id, score)
        if text is not None:
            await note(client, click.channel, click.user, click.thread_ts, text)
            return
        if score < 0:
            origin = modals.Origin(task_id, "", click.channel, click.thread_ts)
            await self._open(client, body, modals.comment_view(origin), click)
        else:
            await note(client, click.channel, click.user, click.thread_ts, "Thanks for the 👍.")

    async def on_feedback_submitted(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """The comment after a 👎: the 👎 again, with the comment."""
        await ack()
        origin = modals.Origin.of_view(view)
        user = str((body.get("user") or {}).get("id") or "")
        click = Click(origin.channel, user, origin.thread_ts, principal(team_of(body), user))
        await self._rate(click.actor(), origin.task_id, -1, modals.submitted_comment(view))

    async def _rate(self, who: Actor, task_id: str, score: int, comment: str = "") -> str | None:
        """Record the feedback; what to tell the person when it was not recorded (None: it was)."""
        svc = self.services()
        try:
            record = await svc.tasks.locate(task_id)
            given = await svc.feedback.give(who, record, score, comment)
        except NotFound:
            return "Only people in this channel can rate this answer."
        except (Conflict, InvalidInput) as exc:
            return exc.message
        return "You rated this answer so already." if given is None and not comment else None

    async def on_cancel(self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: AsyncWebClient) -> None:
        """The Cancel button of a task's status message."""
        await ack()
        click = Click.of(body)
        try:
            await self.services().tasks.cancel(
                click.who, str(action.get("value")), reason=f"cancelled by {click.who.id}"
            )
        except NotFound:
            text = "Only the person who started this task can cancel it."
            await note(client, click.channel, click.user, click.thread_ts, text)
        except Conflict:
            await note(client, click.channel, click.user, click.thread_ts, "This task has already finished.")

    async def _clicked(
        self, client: AsyncWebClient, click: Click, action: dict[str, Any]
    ) -> tuple[str, dict[str, Any], dict[str, Any], Actor] | None:
        """(task id, its pending interrupt, the button's value, the clicker) of a click on a question's button,
        or None after telling the user why the click changes nothing (not theirs to answer, answered already)."""
        try:
            value = json.loads(action.get("value") or "{}")
            task_id, interrupt_id = str(value["t"]), str(value["i"])
        except (ValueError, KeyError, TypeError):
            await note(client, click.channel, click.user, click.thread_ts, NOT_MINE)
            return None
        who = await self.actor(client, click, task_id, interrupt_id)
        try:
            pending = await self.waiting(who, task_id, interrupt_id)
        except (NotFound, Conflict, Forbidden) as exc:
            await note(client, click.channel, click.user, click.thread_ts, refusal(exc))
            return None
        return task_id, pending, value, who

    async def _open(self, client: AsyncWebClient, body: dict[str, Any], view: dict[str, Any], click: Click) -> None:
        """Open a modal for the click in ``body`` (its ``trigger_id`` is good for 3 seconds, once)."""
        try:
            await client.views_open(trigger_id=str(body.get("trigger_id") or ""), view=view)
        except SlackApiError as exc:
            error = exc.response.get("error") if exc.response is not None else str(exc)
            log.warning("could not open a modal for %s: %s", click.user, error)
            text = f"I could not open the form ({error}). Reply in this thread instead, e.g. `reject: <reason>`."
            await note(client, click.channel, click.user, click.thread_ts, text)

    # --- modal submissions ------------------------------------------------------------------------------

    async def on_edit_submitted(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """The Edit modal's submission: approve the call with the edited arguments."""

        def answer(pending: dict[str, Any]) -> Any:
            return interrupts.edit_decision(pending.get("actions") or [], modals.submitted_args(view))

        await self._submitted(ack, body, view, client, modals.ARGS_BLOCK, answer)

    async def on_reject_submitted(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: AsyncWebClient
    ) -> None:
        """The Reject modal's submission: reject the call(s), with the reason when one was given."""

        def answer(pending: dict[str, Any]) -> Any:
            reason = modals.submitted_reason(view)
            return {"type": "reject", "message": reason} if reason else {"type": "reject"}

        await self._submitted(ack, body, view, client, modals.REASON_BLOCK, answer)

    async def _submitted(
        self,
        ack: Any,
        body: dict[str, Any],
        view: dict[str, Any],
        client: AsyncWebClient,
        block: str,
        answer: Callable[[dict[str, Any]], Any],
    ) -> None:
        """Resume with the modal's answer, then close it; or keep it open with the reason under ``block``.

        Slack waits 3 seconds for this ack, and its ``errors`` are the only way to say what was wrong in
        the modal: the answer is checked and the task resumed before acking (both are quick Redis calls).
        """
        user = str((body.get("user") or {}).get("id") or "")
        try:
            origin = modals.Origin.of_view(view)
            click = Click(origin.channel, user, origin.thread_ts, principal(team_of(body), user))
            who = await self.actor(client, click, origin.task_id, origin.interrupt_id)
            pending = await self.waiting(who, origin.task_id, origin.interrupt_id)
            value = answer(pending)
            await self.services().tasks.answer(who, origin.task_id, value, interrupt_id=origin.interrupt_id)
        except InvalidInput as exc:
            await ack(response_action="errors", errors=modals.field_errors(block, exc.message))
            return
        except (Conflict, NotFound, Forbidden) as exc:
            await ack(response_action="errors", errors=modals.field_errors(block, refusal(exc)))
            return
        await ack()

    # --- typed answers, and resuming ----------------------------------------------------------------------

    async def typed(
        self, client: AsyncWebClient, who: Principal, task: TaskRecord, text: str, channel: str, thread_ts: str
    ) -> None:
        """A reply in the thread of ``task``, which waits for an answer: it answers the first pending question."""
        pending = task.interrupt or {}
        try:
            answer = interrupts.answer_from_text(pending, text)
        except InvalidInput as exc:
            await note(client, channel, user_id(who), thread_ts, f"I could not take that answer: {exc.message}")
            return
        click = Click(channel, user_id(who), thread_ts, who)
        interrupt_id = str(pending.get("interrupt_id"))
        actor = await self.actor(client, click, task.id, interrupt_id)
        await self.resume(client, actor, task.id, answer, interrupt_id, channel, thread_ts)

    async def resume(
        self,
        client: AsyncWebClient,
        who: Actor,
        task_id: str,
        answer: Any,
        interrupt_id: str,
        channel: str,
        thread_ts: str | None,
    ) -> None:
        """Answer ``interrupt_id`` of ``task_id`` as ``who``; an answer that changes nothing gets a note."""
        try:
            await self.services().tasks.answer(who, task_id, answer, interrupt_id=interrupt_id)
        except InvalidInput as exc:
            await note(client, channel, who.user, thread_ts, f"I could not take that answer: {exc.message}")
        except (Conflict, NotFound, Forbidden) as exc:
            await note(client, channel, who.user, thread_ts, refusal(exc))


def user_id(who: Principal) -> str:
    """The Slack user id of a ``slack:T:U`` principal."""
    return who.id.rsplit(":", 1)[-1]
