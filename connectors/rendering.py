"""What every chat platform's rendering of a ``TaskView`` shares: which runs get messages, the node trail,
durations, the tail of a growing answer and the details of an interrupt payload. Each platform's module
(connectors/slack/render.py, connectors/telegram/render.py) passes its own markup in."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from graphgate.core.approvals import APPROVERS, TIMEOUT_BY, describe, target_key
from graphgate.core.platform import Message
from graphgate.core.taskview import Question, Status, TaskView

NODES_SHOWN = 8  # nodes in the trail of a status message
QUESTION_KEYS = {"question", "message", "prompt", "options", "route", "free_text"}  # keys the question is made of


def runs(view: TaskView) -> tuple[int | None, list[int]]:
    """The run whose answer is the final one (None while the task is not completed) and, in order, every
    run that has messages: streamed text, a question, or the final answer."""
    final_run = view.run if view.status == Status.COMPLETED else None
    numbers = set(view.answer_runs) | {q.run for q in view.questions}
    if final_run is not None:
        numbers.add(final_run)
    return final_run, sorted(numbers)


def duration(start: float | None, end: float | None) -> str:
    """``12s`` or ``3m 04s``; empty when either end is unknown."""
    if start is None or end is None:
        return ""
    seconds = max(0, round(end - start))
    return f"{seconds // 60}m {seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def completed_note(view: TaskView) -> str:
    """What the status line of a completed task adds: `` in 12s (3 steps, used send_email)``."""
    took = duration(view.created_at, view.finished_at)
    note = f" in {took}" if took else ""
    used = f", used {', '.join(view.tool_names)}" if view.tool_names else ""
    return note + f" ({view.steps} step{'s' if view.steps != 1 else ''}{used})"


def node_trail(nodes: list[str], escape: Callable[[str], str]) -> str:
    """The last ``NODES_SHOWN`` nodes done, ``✓ a → ✓ b``, led by ``… →`` when earlier ones are left out."""
    shown = nodes[-NODES_SHOWN:]
    trail = " → ".join(f"✓ {escape(n)}" for n in shown)
    return ("… → " if len(nodes) > len(shown) else "") + trail


def tail(text: str, chars: int) -> str:
    """The last ``chars`` characters of ``text`` (from a line start when one is near), led by ``…`` if cut."""
    if len(text) <= chars:
        return text
    cut = text[-chars:]
    nl = cut.find("\n")
    if 0 <= nl < chars // 4:
        cut = cut[nl + 1 :]
    return "…" + cut


def payload_details(
    value: Any,
    escape: Callable[[str], str],
    inline: Callable[[str], str],
    bold: Callable[[str], str],
    pre: Callable[[str], str],
) -> list[str]:
    """The interrupt payload beyond its question (the writer's outline, say), one paragraph per entry.

    A list becomes a titled numbered list, a dict titled preformatted JSON, anything else a titled line;
    empty entries are left out. ``inline`` converts Markdown text, ``bold`` and ``pre`` wrap text already
    escaped.
    """
    if not isinstance(value, dict):
        return []
    out: list[str] = []
    for key, item in value.items():
        if key in QUESTION_KEYS or item in (None, "", [], {}):
            continue
        title = escape(str(key).replace("_", " ").capitalize())
        if isinstance(item, list):
            body = "\n".join(f"{i}. {inline(str(x))}" for i, x in enumerate(item, 1))
            out.append(f"{bold(title)}\n{body}")
        elif isinstance(item, dict):
            out.append(f"{bold(title)}\n{pre(escape(json.dumps(item, ensure_ascii=False, indent=1)))}")
        else:
            out.append(f"{bold(title + ':')} {inline(str(item))}")
    return out


ARGS_CHARS = 1500  # characters of one tool call's arguments (as indented JSON) shown in a chat message


def tool_call_details(
    actions: list[dict[str, Any]],
    escape: Callable[[str], str],
    bold: Callable[[str], str],
    pre: Callable[[str], str],
    args_chars: int = ARGS_CHARS,
) -> list[str]:
    """A tool approval's calls, one paragraph each: the tool's name, its description (when it says more
    than the name) and its arguments as indented JSON, cut at ``args_chars`` characters *before* escaping
    so that no entity or tag is ever cut in half. ``bold`` and ``pre`` wrap text already escaped."""
    out: list[str] = []
    for number, action in enumerate(actions, 1):
        name = str(action.get("name") or "tool")
        title = f"{number}. {name}" if len(actions) > 1 else name
        args = json.dumps(action.get("args") or {}, ensure_ascii=False, indent=1)
        if len(args) > args_chars:
            args = args[: args_chars - 1] + "…"
        parts = [bold(escape(title))]
        description = str(action.get("description") or "").strip()
        if description and description != name:
            parts.append(escape(description[:500]))
        parts.append(pre(escape(args)))
        out.append("\n".join(parts))
    return out


# --- approvals (graphgate/core/approvals.py) -----------------------------------------------------------------


def for_approvers(binding: dict[str, Any]) -> bool:
    """True for a place an approval policy posts questions to (not the chat the task was started in)."""
    return binding.get("audience") == APPROVERS


def place_questions(view: TaskView, binding: dict[str, Any]) -> list[Question]:
    """The questions of the task that were posted to the approvers' place ``binding``, in order."""
    key = target_key(binding)
    return [q for q in view.questions if key in q.places]


def asked_here(q: Question, binding: dict[str, Any]) -> bool:
    """True while ``q``'s current approval still asks in the place ``binding`` (not escalated elsewhere)."""
    targets = (q.approval or {}).get("targets") or []
    return target_key(binding) in {target_key(t) for t in targets}


def reminders_shown(view: TaskView, q: Question, binding: dict[str, Any]) -> range:
    """The reminders (1, 2, …) an approvers' place shows for ``q``: all of them while it waits there, none after
    (the messages posted stay as they are)."""
    waiting = q in view.pending_questions() and asked_here(q, binding)
    return range(1, int((q.approval or {}).get("reminders") or 0) + 1 if waiting else 1)


def waiting_for(q: Question) -> str:
    """ "@finance (1 of 2 approvals)": who a routed question waits for (plain text)."""
    return describe(q.approval or {})


def starter_answers(q: Question) -> bool:
    """Whether the starter's own chat gets the question's buttons (the policy posts it there)."""
    return q.approval is None or bool(q.approval.get("in_thread"))


def timed_out_by(by: str | None) -> bool:
    return by == TIMEOUT_BY


def left_text(seconds: float | None) -> str:
    """ "3h 20m left" / "45s left" (empty without a deadline)."""
    if seconds is None:
        return ""
    seconds = max(0, int(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m left"
    if seconds >= 60:
        return f"{seconds // 60}m {seconds % 60:02d}s left"
    return f"{seconds}s left"


def files_messages(view: TaskView, run: int) -> list[Message]:
    """The images and files of the final answer (``task.completed`` ``files``), posted as uploads after its
    text by the platform (``{"files": [{name, mime_type, url, file_id?}]}``): none when it has none."""
    if not view.final_files:
        return []
    names = ", ".join(str(f.get("name") or "file") for f in view.final_files)
    return [Message(f"files:{run}", {"files": view.final_files, "text": names}, final=True)]
