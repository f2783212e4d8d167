"""A task's ``TaskView`` as Telegram messages (HTML parse mode), within Telegram's limits.

The messages of one task, in chat order:

* ``status``: one per task, a reply to the message that started it, edited as the graph progresses:
  state, step, the nodes done, a Cancel button while the task is active;
* ``draft:<run>``: in private chats, the text a run streams, shown with ``sendMessageDraft`` (an
  ephemeral, animated preview); elsewhere ``answer:<run>`` is posted and edited as the text grows;
* ``answer:<run>``, ``answer:<run>:1``, ...: the text of a finished run, or the final answer, split into
  messages of at most 4,096 characters of HTML (counted after escaping), numbered when there are several; the
  final answer's last message carries the 👍 / 👎 keys;
* ``question:<interrupt id>``: the graph's question and its details, with an inline keyboard of its options
  while it waits, then edited to say what was answered. A tool approval (LangChain's human-in-the-loop
  middleware) shows each tool call with its arguments and the keys Approve, Edit (one call whose arguments
  may be edited) and Reject. Every question of the current pause that waits has its own keys.

Bodies are plain dicts: ``text`` (HTML), ``keyboard`` (rows of ``{text, callback_data}``), ``reply`` (reply
to the message that started the task), ``draft_id`` (a draft, not a message).
"""

from __future__ import annotations

import json
import time
import zlib
from typing import Any

from graphgate.connectors import rendering
from graphgate.connectors.telegram import html
from graphgate.connectors.telegram.chats import (
    answer_data,
    cancel_data,
    edit_data,
    edit_offered,
    feedback_data,
    vote_data,
)
from graphgate.core.interrupts import TOOL_APPROVAL
from graphgate.core.platform import Binding, Message
from graphgate.core.taskview import Question, Status, TaskView

PREVIEW_CHARS = 3000  # Markdown characters of a growing answer shown (its tail)
BUTTON_TEXT_CHARS = 40
MAX_OPTIONS = 20
PART_MARK_RESERVE = 24  # room kept in each part for "(12/13)"
MIN_ARGS_CHARS = 120  # a tool call's arguments are never cut shorter than this to make a question fit

_STATUS = {
    Status.QUEUED: ("⏳", "is queued"),
    Status.RUNNING: ("⚙️", "is running"),
    Status.WAITING: ("🙋", "is waiting for an answer"),
    Status.COMPLETED: ("✅", "finished"),
    Status.FAILED: ("❌", "failed"),
    Status.CANCELLED: ("🚫", "was cancelled"),
}


PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})  # what sendPhoto shows as a photo
MEDIA_GROUP = 10  # files per sendMediaGroup


def render_task(view: TaskView, binding: Binding, drafts: bool = False) -> list[Message]:
    """Every message the task should have in its chat, in order (in an approvers' chat: its questions).
    ``drafts``: stream with drafts."""
    if rendering.for_approvers(binding):
        return approver_messages(view, binding)
    messages = [status_message(view)]
    final_run, runs = rendering.runs(view)
    for run in runs:
        text = view.answer(run)
        growing = view.status == Status.RUNNING and run == view.run
        if run == final_run:
            messages += final_messages(view, run) + files_messages(view, run)
        elif text and growing:
            messages.append(preview_message(view, run, text, draft=drafts and binding.get("chat_type") == "private"))
        elif text:
            messages += text_messages(f"answer:{run}", html.to_html(text), final=False)
        messages += [question_message(view, q, binding) for q in view.questions if q.run == run]
    return messages


def feedback_keys(view: TaskView) -> list[list[dict[str, str]]]:
    """👍 / 👎 on the final answer's last message (graphgate/core/feedback.py): keys, not one more message,
    as a private chat takes about one message a second."""
    return [
        [
            {"text": "👍", "callback_data": feedback_data(view.task_id, 1)},
            {"text": "👎", "callback_data": feedback_data(view.task_id, -1)},
        ]
    ]


# --- status -----------------------------------------------------------------------------------------------


def status_message(view: TaskView) -> Message:
    emoji, phrase = _STATUS.get(view.status, ("❔", view.status))
    line = f"{emoji} <b>{html.escape(view.graph or 'task')}</b> {phrase}"
    routed = [q for q in view.pending_questions() if not rendering.starter_answers(q)]
    if routed:
        line += f" from {html.escape(rendering.waiting_for(routed[0]))}"
    if view.status == Status.QUEUED and view.position > 0:
        line += f" (behind {view.position} other task{'s' if view.position > 1 else ''})"
    if view.status == Status.QUEUED and view.retrying:
        error = view.retrying.get("error") or {}
        line += f": retrying after {html.escape(str(error.get('kind', 'an error')))}"
    if view.status == Status.RUNNING:
        if view.nodes:
            line += f": step {view.steps + 1}, after <code>{html.escape(view.nodes[-1])}</code>"
        else:
            line += ": starting"
    if view.status == Status.COMPLETED:
        line += rendering.completed_note(view)
    if view.status == Status.FAILED and view.error:
        kind = html.escape(str(view.error.get("kind", "error")))
        message = html.escape(str(view.error.get("message", ""))[:1500])
        line += f": {kind}: {message}" if message else f": {kind}"
    if view.status == Status.CANCELLED and view.cancel_reason:
        line += f" ({html.escape(view.cancel_reason[:300])})"
    lines = [line]
    if view.nodes:
        lines.append(rendering.node_trail(view.nodes, html.escape))
    if view.activity and view.active:
        lines.append(f"<i>{html.escape(view.activity)}</i>")
    body: dict[str, Any] = {"text": "\n".join(lines), "reply": True}
    if view.active:
        body["keyboard"] = [[{"text": "Cancel", "callback_data": cancel_data(view.task_id)}]]
    return Message("status", body)


# --- streamed and final answers ----------------------------------------------------------------------------


def draft_id(task_id: str, run: int) -> int:
    """A non-zero draft id, the same for every update of one run's draft (so they animate)."""
    return (zlib.crc32(f"{task_id}:{run}".encode()) & 0x7FFFFFFF) or 1


def preview_message(view: TaskView, run: int, text: str, draft: bool) -> Message:
    """The text a run is streaming: its tail, as a draft (private chats) or a message edited as it grows."""
    footer = "" if draft else "\n\n<i>✍️ writing…</i>"
    parts = html.split(html.to_html(rendering.tail(text, PREVIEW_CHARS)), html.MESSAGE_LIMIT - len(footer))
    shown = (parts[-1] if parts else "…") + footer
    if draft:
        return Message(f"draft:{run}", {"text": shown, "draft_id": draft_id(view.task_id, run)}, stream=True)
    return Message(f"answer:{run}", {"text": shown}, stream=True)


def text_messages(slot: str, text_html: str, final: bool) -> list[Message]:
    """HTML in as many messages as it needs: ``slot``, ``slot:1``, ...; numbered when more than one."""
    parts = html.split(text_html, html.MESSAGE_LIMIT - PART_MARK_RESERVE) or ["…"]
    messages = []
    for i, part in enumerate(parts):
        if len(parts) > 1:
            part += f"\n<i>({i + 1}/{len(parts)})</i>"
        messages.append(Message(slot if i == 0 else f"{slot}:{i}", {"text": part}, final=final))
    return messages


def final_messages(view: TaskView, run: int) -> list[Message]:
    """The final answer: the text as HTML, else the output as preformatted JSON."""
    if view.final_text is not None:
        text = html.to_html(view.final_text) or "<i>(empty answer)</i>"
    else:
        text = "<pre>" + html.escape(view.final_summary or "null") + "</pre>"
    messages = text_messages(f"answer:{run}", text, final=True)
    messages[-1].body["keyboard"] = feedback_keys(view)
    return messages


def files_messages(view: TaskView, run: int) -> list[Message]:
    """The answer's files (``task.completed`` ``files``), one Bot API call each: images as photos, the rest as
    documents, several of a kind as media groups of up to 10 (Telegram mixes neither)."""
    photos = [f for f in view.final_files if str(f.get("mime_type")) in PHOTO_TYPES]
    documents = [f for f in view.final_files if str(f.get("mime_type")) not in PHOTO_TYPES]
    messages = []
    for kind, group in (("photos", photos), ("documents", documents)):
        for n, start in enumerate(range(0, len(group), MEDIA_GROUP)):
            part = group[start : start + MEDIA_GROUP]
            messages.append(Message(f"files:{run}:{kind}:{n}", {"files": part, "kind": kind}, final=True))
    return messages


# --- questions ---------------------------------------------------------------------------------------------


def _bold(text: str) -> str:
    return f"<b>{text}</b>"


def _pre(text: str) -> str:
    return f"<pre>{text}</pre>"


def _details(value: Any) -> list[str]:
    """The interrupt payload beyond its question (the writer's outline, say), as HTML paragraphs."""
    return rendering.payload_details(value, html.escape, html.inline, bold=_bold, pre=_pre)


def _tool_details(actions: list[dict[str, Any]], room: int) -> list[str]:
    """A tool approval's calls as HTML paragraphs; their arguments are cut (before escaping, so no entity
    or tag is ever cut in half) to fewer characters until the paragraphs fit ``room``."""
    chars = rendering.ARGS_CHARS
    while True:
        details = rendering.tool_call_details(actions, html.escape, _bold, _pre, args_chars=chars)
        if chars <= MIN_ARGS_CHARS or html.tg_len("\n\n".join(details)) <= room:
            return details
        chars //= 2


def _button_text(label: str) -> str:
    label = " ".join(label.split()) or "…"
    return label if len(label) <= BUTTON_TEXT_CHARS else label[: BUTTON_TEXT_CHARS - 1] + "…"


def _keyboard(view: TaskView, q: Question) -> list[list[dict[str, str]]]:
    """One key per option; a tool approval's options are its one-click decisions (Approve, Reject), with
    Edit after Approve when the call's arguments may be edited."""
    buttons = [
        {
            "text": _button_text(str(opt.get("label") or opt.get("value") or "?")),
            "callback_data": answer_data(view.task_id, q.interrupt_id, index),
        }
        for index, opt in enumerate(q.options[:MAX_OPTIONS])
    ]
    if edit_offered(q.data()):
        at = next((i + 1 for i, opt in enumerate(q.options) if opt.get("value") == "approve"), 0)
        buttons.insert(at, {"text": "Edit", "callback_data": edit_data(view.task_id, q.interrupt_id)})
    per_row = 3 if all(len(b["text"]) <= 12 for b in buttons) else 1
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def _approval_hint(q: Question) -> str:
    """What a reviewer may reply to a tool approval (HTML)."""
    words = ["<code>approve</code>", "<code>reject: why</code>"]
    if edit_offered(q.data()):
        key = next(iter(q.actions[0].get("args") or {}), "field")
        words.append(f"<code>edit {html.escape(json.dumps({key: '…'}, ensure_ascii=False))}</code>")
    return ", ".join(words[:-1]) + " or " + words[-1]


def _outcome(q: Question, who: str) -> str:
    """What was answered, and by whom (or that the deadline answered), as HTML."""
    label = html.escape(q.answer_label()[:1500])
    if q.timed_out or rendering.timed_out_by(q.by):
        return f"⏰ No answer before the deadline: <b>{label}</b>"
    if q.routed:
        vote = (q.approval or {}).get("votes", {}).get(str(q.by)) or {}
        who = html.escape(str(vote.get("name") or q.by or "someone")) + " "
    return f"✅ {who}answered: <b>{label}</b>"


def approver_messages(view: TaskView, binding: Binding) -> list[Message]:
    """In a chat an approval policy posts to: each question of the task that went there (keys while it waits
    for this chat's approvers), and a reminder for each reminder."""
    messages = []
    for q in rendering.place_questions(view, binding):
        messages.append(approver_card(view, q, binding))
        left = rendering.left_text((q.approval or {}).get("left"))
        for n in rendering.reminders_shown(view, q, binding):
            text = (
                f"⏰ Reminder {n}: <b>{html.inline(q.question or 'a question')}</b> still waits for "
                f"<b>{html.escape(rendering.waiting_for(q))}</b>{f' ({left})' if left else ''}."
            )
            messages.append(Message(f"reminder:{q.interrupt_id}:{n}", {"text": text}))
    return messages


def approver_card(view: TaskView, q: Question, binding: Binding) -> Message:
    """A routed question as its approvers see it: who asks, what, and how far the approval got."""
    approval = q.approval or {}
    asker = html.escape(str(approval.get("asked_by") or "someone"))
    head = f"🔐 <b>Approval needed</b> · {html.escape(view.graph or 'task')} · asked by {asker}"
    title = html.inline(q.question) if q.question else "The task has a question."
    keyboard = None
    if q.answered:
        footer = _outcome(q, "")
    elif q not in view.pending_questions():
        footer = "<i>No longer waiting for an answer.</i>"
    elif not rendering.asked_here(q, binding):
        footer = f"⬆️ <i>Escalated to <b>{html.escape(rendering.waiting_for(q))}</b>.</i>"
    else:
        keyboard = _vote_keyboard(view, q)
        deadline = approval.get("deadline")
        when = time.strftime(" Deadline: %Y-%m-%d %H:%M UTC.", time.gmtime(float(deadline))) if deadline else ""
        footer = f"<i>For <b>{html.escape(rendering.waiting_for(q))}</b>: tap a key to answer.{when}</i>"
    room = html.MESSAGE_LIMIT - html.tg_len(footer) - html.tg_len(head) - 8
    details = _tool_details(q.actions, room - html.tg_len(title) - 2) if q.kind == TOOL_APPROVAL else _details(q.value)
    text = "\n\n".join([f"❓ <b>{title}</b>", *details])
    if html.tg_len(text) > room:
        text = html.split(text, room - 2)[0] + "\n…"
    body: dict[str, Any] = {"text": f"{head}\n\n{text}\n\n{footer}"}
    if keyboard:
        body["keyboard"] = keyboard
    return Message(f"question:{q.interrupt_id}", body)


def _vote_keyboard(view: TaskView, q: Question) -> list[list[dict[str, str]]]:
    """One key per option (a tool approval: Approve and Reject); edits are made in the widget or the API."""
    buttons = [
        {
            "text": _button_text(str(opt.get("label") or opt.get("value") or "?")),
            "callback_data": vote_data(view.task_id, q.interrupt_id, index),
        }
        for index, opt in enumerate(q.options[:MAX_OPTIONS])
    ]
    per_row = 3 if all(len(b["text"]) <= 12 for b in buttons) else 1
    return [buttons[i : i + per_row] for i in range(0, len(buttons), per_row)]


def question_message(view: TaskView, q: Question, binding: Binding) -> Message:
    """A question, or a tool approval (its calls and arguments, keys Approve / Edit / Reject), with keys
    while it waits; every question of the current pause waiting at once has its own."""
    group = binding.get("chat_type") != "private"
    who = html.escape(str(binding.get("user_name") or "")) if group else ""
    approval = q.kind == TOOL_APPROVAL
    title = html.inline(q.question) if q.question else "The task has a question."
    head = f"🔐 <b>{title}</b>" if approval else f"❓ <b>{title}</b>"
    waiting = q in view.pending_questions()
    keyboard = None
    lead = f"{who}: " if who else ""
    if q.answered:
        footer = _outcome(q, f"{who} " if who else "")
    elif waiting and not rendering.starter_answers(q):
        footer = f"⏳ <i>Waiting for approval by <b>{html.escape(rendering.waiting_for(q))}</b>.</i>"
    elif waiting and approval:
        keyboard = _keyboard(view, q) if q.options or edit_offered(q.data()) else None
        footer = f"<i>{lead}tap a key, or reply to this message: {_approval_hint(q)}.</i>"
    elif waiting and q.options:
        keyboard = _keyboard(view, q)
        footer = f"<i>{lead}tap an option, or reply to this message with your answer.</i>"
    elif waiting:
        footer = f"<i>{lead}reply to this message with your answer.</i>"
    else:
        footer = "<i>No longer waiting for an answer.</i>"
    room = html.MESSAGE_LIMIT - html.tg_len(footer) - 4
    details = _tool_details(q.actions, room - html.tg_len(head) - 2) if approval else _details(q.value)
    text = "\n\n".join([head, *details])
    if html.tg_len(text) > room:
        text = html.split(text, room - 2)[0] + "\n…"
    body: dict[str, Any] = {"text": f"{text}\n\n{footer}"}
    if keyboard:
        body["keyboard"] = keyboard
    return Message(f"question:{q.interrupt_id}", body)
