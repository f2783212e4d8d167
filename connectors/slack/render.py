"""A task's ``TaskView`` as Slack messages (Block Kit), within Slack's limits.

The messages of one task, in thread order:

* ``status``: one per task, edited as the graph progresses: state, step, the nodes done, a Cancel button
  while the task is active;
* ``answer:<run>``: the text a run streamed, growing while it runs (``stream=True``: the platform appends
  with ``chat.appendStream`` or re-sends it with ``chat.update``); for the run that completes the task it
  becomes the final answer, converted to mrkdwn and split over ``answer:<run>``, ``answer:<run>:1``, ...;
* once the task completed, 👍 / 👎 buttons under the final answer, in its last message (a 👎 then asks what was
  wrong): no message, and no API call, of their own (``feedback``: a message of its own only when the task
  completed without an answer to show);
* ``question:<interrupt id>``: the graph's question, with a button per option while it waits, then edited
  to say who answered what. A tool approval (LangChain's human-in-the-loop middleware) shows each tool call
  with its arguments and Approve / Edit / Reject buttons (Edit and Reject open a modal, see app.py). Every
  unanswered question of a pause has its own buttons: a graph may wait on several at once.
"""

from __future__ import annotations

import json
import time
from typing import Any

from graphgate.connectors import rendering
from graphgate.connectors.slack import mrkdwn
from graphgate.connectors.slack.threads import mention, mentions_in
from graphgate.core.interrupts import TOOL_APPROVAL
from graphgate.core.platform import Binding, Message
from graphgate.core.taskview import Question, Status, TaskView

ANSWER_ACTION = "gg_answer"  # button action ids start with this; the value says task, interrupt and option
EDIT_ACTION = "gg_edit"  # a tool approval's Edit: opens a modal; value: task and interrupt
REJECT_ACTION = "gg_reject"  # a tool approval's Reject: opens a modal; value: task and interrupt
CANCEL_ACTION = "gg_cancel"
FEEDBACK_ACTION = "gg_feedback"  # 👍 / 👎 under a final answer: action ids gg_feedback:1 and gg_feedback:-1
BUTTON_TEXT_LIMIT = 75
ACTION_ELEMENTS_LIMIT = 25
PREVIEW_CHARS = 2800  # the tail of a streamed answer shown while it grows (one section block)
DETAIL_SECTIONS = 40  # sections of interrupt details in a question message (50 blocks in all)

_STATUS_LINES = {
    Status.QUEUED: (":hourglass_flowing_sand:", "is queued"),
    Status.RUNNING: (":gear:", "is running"),
    Status.WAITING: (":raising_hand:", "is waiting for an answer"),
    Status.COMPLETED: (":white_check_mark:", "finished"),
    Status.FAILED: (":x:", "failed"),
    Status.CANCELLED: (":no_entry_sign:", "was cancelled"),
}


def render_task(view: TaskView, binding: Binding) -> list[Message]:
    """Every message the task should have in its thread, in order (in an approvers' channel: its questions)."""
    if rendering.for_approvers(binding):
        return approver_messages(view, binding)
    messages = [status_message(view)]
    final_run, runs = rendering.runs(view)
    for run in runs:
        text = view.answer(run)
        if run == final_run:
            messages += final_messages(view, run) + rendering.files_messages(view, run)
        elif text:
            messages.append(preview_message(view, run, text))
        messages += [question_message(view, q, binding) for q in view.questions if q.run == run]
    if view.status == Status.COMPLETED:
        answers = [m for m in messages if m.final and "blocks" in m.body]
        if answers:  # the final answer's last message carries them: edited or posted anyway, no call of their own
            answers[-1].body["blocks"] = [*answers[-1].body["blocks"], feedback_block(view)]
        else:
            messages.append(Message("feedback", {"text": "Was this answer helpful?", "blocks": [feedback_block(view)]}))
    return messages


def feedback_block(view: TaskView) -> dict[str, Any]:
    """👍 / 👎 under the final answer (graphgate/core/feedback.py; a 👎 then asks what was wrong)."""
    buttons = [
        {**_button(f"{FEEDBACK_ACTION}:{score}", label, view.task_id)}
        for score, label in ((1, "👍 Helpful"), (-1, "👎 Not helpful"))
    ]
    return {"type": "actions", "block_id": "gg_feedback", "elements": buttons}


# --- pieces -----------------------------------------------------------------------------------------------


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[: mrkdwn.SECTION_TEXT_LIMIT]}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[: mrkdwn.SECTION_TEXT_LIMIT]}]}


def _plain(text: str, limit: int = BUTTON_TEXT_LIMIT) -> dict[str, Any]:
    text = text.strip() or "…"
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…", "emoji": True}


# --- status -----------------------------------------------------------------------------------------------


def status_message(view: TaskView) -> Message:
    emoji, phrase = _STATUS_LINES.get(view.status, (":grey_question:", view.status))
    graph = mrkdwn.escape(view.graph or "task")
    line = f"{emoji} *{graph}* {phrase}"
    routed = [q for q in view.pending_questions() if not rendering.starter_answers(q)]
    if routed:
        line += f" from {mrkdwn.escape(rendering.waiting_for(routed[0]))}"
    if view.status == Status.QUEUED and view.position > 0:
        line += f" (behind {view.position} other task{'s' if view.position > 1 else ''} in this thread)"
    if view.status == Status.QUEUED and view.retrying:
        error = view.retrying.get("error") or {}
        line += f": retrying after {mrkdwn.escape(str(error.get('kind', 'an error')))}"
    if view.status == Status.RUNNING and view.nodes:
        line += f": step {view.steps + 1}, after `{mrkdwn.escape(view.nodes[-1])}`"
    elif view.status == Status.RUNNING:
        line += ": starting"
    if view.status == Status.COMPLETED:
        line += rendering.completed_note(view)
    if view.status == Status.FAILED and view.error:
        kind = mrkdwn.escape(str(view.error.get("kind", "error")))
        message = mrkdwn.escape(str(view.error.get("message", "")))[:1500]
        line += f": {kind}: {message}" if message else f": {kind}"
    if view.status == Status.CANCELLED and view.cancel_reason:
        line += f" ({mentions_in(mrkdwn.escape(view.cancel_reason))})"
    blocks: list[dict[str, Any]] = [_section(line)]
    details = []
    if view.nodes:
        details.append(rendering.node_trail(view.nodes, mrkdwn.escape))
    if view.activity and view.active:
        details.append(mrkdwn.escape(view.activity))
    if details:
        blocks.append(_context("  ·  ".join(details)))
    if view.active:
        blocks.append(
            {
                "type": "actions",
                "block_id": "gg_task",
                "elements": [
                    {
                        "type": "button",
                        "action_id": CANCEL_ACTION,
                        "text": _plain("Cancel"),
                        "style": "danger",
                        "value": view.task_id,
                        "confirm": {
                            "title": _plain("Cancel this task?"),
                            "text": {"type": "mrkdwn", "text": f"The *{graph}* run stops at its next step."},
                            "confirm": _plain("Cancel it"),
                            "deny": _plain("Keep running"),
                        },
                    }
                ],
            }
        )
    fallback = f"{view.graph or 'task'} {phrase}"
    return Message("status", {"text": fallback, "blocks": blocks})


# --- streamed and final answers --------------------------------------------------------------------------


def preview_message(view: TaskView, run: int, text: str) -> Message:
    """The text run ``run`` streamed: growing while the run is on, complete (as far as fits) after."""
    growing = view.status == Status.RUNNING and run == view.run
    if growing:
        shown = mrkdwn.split(mrkdwn.to_mrkdwn(rendering.tail(text, PREVIEW_CHARS)))
        blocks = [_section(shown[-1] if shown else "…"), _context(":writing_hand: writing…")]
    else:
        groups = mrkdwn.pack(mrkdwn.split(mrkdwn.to_mrkdwn(text)), max_blocks=mrkdwn.MESSAGE_BLOCKS_LIMIT - 1)
        blocks = [_section(p) for p in (groups[0] if groups else ["…"])]
        if len(groups) > 1:
            blocks.append(_context("(continued text omitted)"))
    fallback = "\n\n".join(b["text"]["text"] for b in blocks if b["type"] == "section")
    body = {"text": fallback[: mrkdwn.MESSAGE_TEXT_LIMIT], "blocks": blocks, "markdown": text}
    return Message(f"answer:{run}", body, stream=growing)


def final_messages(view: TaskView, run: int) -> list[Message]:
    """The final answer: mrkdwn in section blocks, split over as many messages as Slack's limits need."""
    if view.final_text is not None:
        text = mrkdwn.to_mrkdwn(view.final_text) or "_(empty answer)_"
    else:
        summary = view.final_summary or "null"
        text = "```\n" + mrkdwn.escape(summary) + "\n```"
    reserve = 200  # the part counter
    groups = mrkdwn.pack(
        mrkdwn.split(text),
        max_blocks=mrkdwn.MESSAGE_BLOCKS_LIMIT - 2,  # room for the part counter and the feedback buttons
        max_chars=mrkdwn.MESSAGE_TEXT_LIMIT - reserve,
    )
    messages = []
    for i, group in enumerate(groups):
        blocks = [_section(piece) for piece in group]
        if len(groups) > 1:
            blocks.append(_context(f"part {i + 1} of {len(groups)}"))
        slot = f"answer:{run}" if i == 0 else f"answer:{run}:{i}"
        messages.append(Message(slot, {"text": "\n\n".join(group), "blocks": blocks}, final=True))
    return messages


# --- questions ---------------------------------------------------------------------------------------------


def _details(value: Any) -> list[str]:
    """The interrupt payload beyond its question (the writer's outline, say), as mrkdwn sections."""
    lines = rendering.payload_details(value, mrkdwn.escape, mrkdwn.inline, bold=_bold, pre=_pre)
    return mrkdwn.split("\n\n".join(lines)) if lines else []


def _bold(text: str) -> str:
    return f"*{text}*"


def _pre(text: str) -> str:
    return f"```\n{text}\n```"


def question_message(view: TaskView, q: Question, binding: Binding) -> Message:
    """A question, or a tool approval, with its buttons while it waits, then who answered what.

    Every unanswered question of the current pause has buttons of its own: each button's value names its
    interrupt, so the questions of a pause with several are answered one by one, in any order.
    """
    if q.kind == TOOL_APPROVAL:
        blocks = _approval_blocks(q)
    else:
        question = mrkdwn.inline(q.question) if q.question else "The task has a question."
        blocks = [_section(f":question: *{question}*")]
        blocks += [_section(piece) for piece in _details(q.value)[:DETAIL_SECTIONS]]
    who = f"{mention('slack:' + str(binding.get('team')) + ':' + str(binding.get('user')))}: "
    if q.answered:
        blocks.append(_context(_outcome(q)))
    elif q in view.pending_questions() and not rendering.starter_answers(q):
        waiting = mrkdwn.escape(rendering.waiting_for(q))
        blocks.append(_context(f":hourglass_flowing_sand: Waiting for approval by *{waiting}*."))
    elif q in view.pending_questions():
        if q.routed:
            blocks.append(_context(f":lock: Needs approval by *{mrkdwn.escape(rendering.waiting_for(q))}*."))
            who = ""
        if q.kind == TOOL_APPROVAL:
            blocks += _approval_buttons(view, q, who)
        elif q.options:
            blocks += _option_buttons(view, q, who)
        else:
            blocks.append(_context("Reply in this thread to answer."))
    else:
        blocks.append(_context("No longer waiting for an answer."))
    fallback = f"Question: {q.question}"[: mrkdwn.MESSAGE_TEXT_LIMIT]
    return Message(f"question:{q.interrupt_id}", {"text": fallback, "blocks": blocks})


def _outcome(q: Question) -> str:
    """Who answered what (or that the deadline did), as a context line."""
    label = mrkdwn.escape(q.answer_label())[:1500]
    if q.timed_out or rendering.timed_out_by(q.by):
        return f":alarm_clock: No answer before the deadline: *{label}*"
    return f":white_check_mark: {_who(q)} answered: *{label}*"


def _who(q: Question) -> str:
    """Who answered: a Slack mention, else the name their channel gave (an approver in Telegram, say)."""
    if (q.by or "").startswith("slack:") or not q.routed:
        return mention(q.by)
    vote = ((q.approval or {}).get("votes") or {}).get(str(q.by)) or {}
    return mrkdwn.escape(str(vote.get("name") or q.by or "someone"))


# --- approvers' channels ------------------------------------------------------------------------------------


def approver_messages(view: TaskView, binding: Binding) -> list[Message]:
    """In a channel (or DM) an approval policy posts to: each question of the task that went there, with its
    buttons while it waits for this channel's approvers, and a reminder message for each reminder."""
    messages = []
    for q in rendering.place_questions(view, binding):
        messages.append(approver_card(view, q, binding))
        left = rendering.left_text((q.approval or {}).get("left"))
        for n in rendering.reminders_shown(view, q, binding):
            text = (
                f":alarm_clock: Reminder {n}: *{mrkdwn.inline(q.question or 'a question')}* still waits for "
                f"*{mrkdwn.escape(rendering.waiting_for(q))}*{f' ({left})' if left else ''}. Answer it above."
            )
            messages.append(Message(f"reminder:{q.interrupt_id}:{n}", {"text": text, "blocks": [_section(text)]}))
    return messages


def _when(ts: float) -> str:
    """A time as Slack shows it in each reader's own time zone (with a UTC fallback)."""
    fallback = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(ts))
    return f"<!date^{int(ts)}^{{date_short_pretty}} {{time}}|{fallback}>"


def approver_card(view: TaskView, q: Question, binding: Binding) -> Message:
    """A routed question as its approvers see it: who asks, what, and how far the approval got."""
    approval = q.approval or {}
    asker = mention(str(approval.get("asked_by") or "")) if approval.get("asked_by") else "someone"
    graph = mrkdwn.escape(view.graph or "task")
    blocks = [_context(f":lock: *Approval needed* · *{graph}* · asked by {asker}")]
    if q.kind == TOOL_APPROVAL:
        blocks += _approval_blocks(q)
    else:
        question = mrkdwn.inline(q.question) if q.question else "The task has a question."
        blocks += [_section(f":question: *{question}*")]
        blocks += [_section(piece) for piece in _details(q.value)[:DETAIL_SECTIONS]]
    if q.answered:
        blocks.append(_context(_outcome(q)))
    elif q not in view.pending_questions():
        blocks.append(_context("No longer waiting for an answer."))
    elif not rendering.asked_here(q, binding):
        blocks.append(_context(f":arrow_up: Escalated to *{mrkdwn.escape(rendering.waiting_for(q))}*."))
    else:
        if q.kind == TOOL_APPROVAL:
            blocks += [b for b in _approval_buttons(view, q, "") if b["type"] == "actions"]
        elif q.options:
            blocks += [b for b in _option_buttons(view, q, "") if b["type"] == "actions"]
        votes = [v for v in (approval.get("votes") or {}) if (approval["votes"][v] or {}).get("approves")]
        given = f" Approved so far by {', '.join(mention(v) for v in votes)}." if votes else ""
        deadline = _when(float(approval["deadline"])) if approval.get("deadline") else ""
        blocks.append(
            _context(
                f"For *{mrkdwn.escape(rendering.waiting_for(q))}*: click to answer.{given}"
                + (f" Deadline: {deadline}." if deadline else "")
            )
        )
    fallback = f"Approval needed: {q.question}"[: mrkdwn.MESSAGE_TEXT_LIMIT]
    return Message(f"question:{q.interrupt_id}", {"text": fallback, "blocks": blocks})


def _option_buttons(view: TaskView, q: Question, who: str) -> list[dict[str, Any]]:
    """One button per option (at most 25), the first one primary, and how else to answer."""
    elements = []
    for index, option in enumerate(q.options[:ACTION_ELEMENTS_LIMIT]):
        button = _button(
            f"{ANSWER_ACTION}:{index}",
            str(option.get("label") or option.get("value") or "?"),
            option_value(view.task_id, q.interrupt_id, index),
        )
        if index == 0:
            button["style"] = "primary"
        elements.append(button)
    return [
        {"type": "actions", "block_id": f"gg_q:{q.interrupt_id}"[:255], "elements": elements},
        _context(f"{who}pick an option, or reply in this thread."),
    ]


def _button(action_id: str, text: str, value: str) -> dict[str, Any]:
    return {"type": "button", "action_id": action_id, "text": _plain(text), "value": value}


def option_value(task_id: str, interrupt_id: str, index: int) -> str:
    """The value of an option's button: task, interrupt and the option's index (``{"t", "i", "o"}``)."""
    return json.dumps({"t": task_id, "i": interrupt_id, "o": index}, separators=(",", ":"))


def interrupt_value(task_id: str, interrupt_id: str) -> str:
    """The value of an Edit or Reject button: task and interrupt (``{"t", "i"}``)."""
    return json.dumps({"t": task_id, "i": interrupt_id}, separators=(",", ":"))


# --- tool approvals ----------------------------------------------------------------------------------------


def _approval_blocks(q: Question) -> list[dict[str, Any]]:
    """The header and, one paragraph per tool call, its name, description and arguments."""
    question = mrkdwn.inline(q.question) if q.question else "Approve the tool call?"
    blocks = [_section(f":lock: *{question}*")]
    details = rendering.tool_call_details(q.actions, mrkdwn.escape, _bold, _pre)
    pieces = mrkdwn.split("\n\n".join(details)) if details else []
    blocks += [_section(piece) for piece in pieces[:DETAIL_SECTIONS]]
    if len(pieces) > DETAIL_SECTIONS:
        blocks.append(_context("(the rest of the tool calls is not shown here; ask for them in the API)"))
    return blocks


def _approval_decisions(q: Question) -> list[str]:
    """The buttons a tool approval gets, in order: approve and reject when every call allows them (the
    interrupt's one-click options), edit when there is one call and it may be edited (in a modal)."""
    one_click = {str(o.get("value")) for o in q.options}
    editable = len(q.actions) == 1 and "edit" in (q.actions[0].get("allowed_decisions") or [])
    return [d for d in ("approve", "edit", "reject") if d in one_click or (d == "edit" and editable)]


def _approval_buttons(view: TaskView, q: Question, who: str) -> list[dict[str, Any]]:
    """Approve (primary), Edit (opens a modal with the arguments) and Reject (opens a modal for a reason)."""
    elements: list[dict[str, Any]] = []
    for decision in _approval_decisions(q):
        if decision == "approve":  # one of the interrupt's options: answered like any option
            index = next(i for i, o in enumerate(q.options) if o.get("value") == "approve")
            button = _button(f"{ANSWER_ACTION}:{index}", "Approve", option_value(view.task_id, q.interrupt_id, index))
            elements.append({**button, "style": "primary"})
        elif decision == "edit":
            elements.append(_button(EDIT_ACTION, "Edit", interrupt_value(view.task_id, q.interrupt_id)))
        else:
            button = _button(REJECT_ACTION, "Reject", interrupt_value(view.task_id, q.interrupt_id))
            elements.append({**button, "style": "danger"})
    blocks: list[dict[str, Any]] = []
    if elements:
        blocks.append({"type": "actions", "block_id": f"gg_q:{q.interrupt_id}"[:255], "elements": elements})
    blocks.append(_context(f"{who}{'click a button, ' if elements else ''}or reply in this thread: {_reply_words(q)}."))
    return blocks


def _reply_words(q: Question) -> str:
    """The replies a tool approval takes as text (graphgate/core/interrupts.py ``answer_from_text``), as mrkdwn."""
    allowed = {d for a in q.actions for d in a.get("allowed_decisions") or []}
    words = []
    if "approve" in allowed:
        words.append("`approve`")
    if "reject" in allowed:
        words.append("`reject: <reason>`")
    if "edit" in allowed and len(q.actions) == 1:
        arg = next(iter(q.actions[0].get("args") or {}), "arg")
        words.append(f'`edit {{"{arg}": …}}`')
    if "respond" in allowed:
        words.append("`respond: <answer>`")
    return mrkdwn.escape(", ".join(words) or "your answer")
