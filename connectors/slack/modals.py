"""The modals of a tool approval, Edit (the call's arguments as JSON) and Reject (an optional reason), and the
comment that may follow a 👎 on a final answer.

A button cannot carry a text field, so Edit and Reject open a modal (``views.open`` with the click's
``trigger_id``). The modal remembers in ``private_metadata`` which task and interrupt it answers and where
the thread is; its submission (``view_submission``) is read back here. A submission that cannot be an
answer is refused inside the modal (``response_action: errors`` on the field), and nothing changes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any

from graphgate.connectors.slack import mrkdwn
from graphgate.core.errors import InvalidInput

EDIT_CALLBACK = "gg_edit"  # callback_id of the Edit modal
REJECT_CALLBACK = "gg_reject"  # callback_id of the Reject modal
ARGS_BLOCK, ARGS_INPUT = "gg_args", "args"  # block_id and action_id of the arguments field
REASON_BLOCK, REASON_INPUT = "gg_reason", "reason"  # block_id and action_id of the reason field
FEEDBACK_CALLBACK = "gg_feedback"  # callback_id of the comment modal that follows a 👎
COMMENT_BLOCK, COMMENT_INPUT = "gg_comment", "comment"  # block_id and action_id of its comment field
INPUT_CHARS = 3000  # plain_text_input: longest value and initial value
TITLE_CHARS = 24  # a modal's title, submit and close texts
ERROR_CHARS = 300  # an error shown under a field (kept short: it sits under the input)


@dataclass(frozen=True)
class Origin:
    """What a modal answers: the task and interrupt, and the thread the click came from."""

    task_id: str
    interrupt_id: str
    channel: str
    thread_ts: str | None

    def metadata(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def of_view(cls, view: dict[str, Any]) -> Origin:
        """The origin stored in a submitted view's ``private_metadata``; ``InvalidInput`` if it has none."""
        try:
            meta = json.loads(view.get("private_metadata") or "")
            return cls(
                str(meta["task_id"]),
                str(meta["interrupt_id"]),
                str(meta.get("channel") or ""),
                meta.get("thread_ts") or None,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise InvalidInput("this form does not belong to a question of mine") from exc


def _plain(text: str, limit: int) -> dict[str, Any]:
    return {"type": "plain_text", "text": text if len(text) <= limit else text[: limit - 1] + "…", "emoji": True}


def _modal(callback_id: str, origin: Origin, title: str, submit: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "private_metadata": origin.metadata(),
        "title": _plain(title, TITLE_CHARS),
        "submit": _plain(submit, TITLE_CHARS),
        "close": _plain("Cancel", TITLE_CHARS),
        "blocks": blocks,
    }


def _about(action: dict[str, Any]) -> dict[str, Any]:
    """A section naming the tool and, when it says more than the name, its description."""
    name = mrkdwn.escape(str(action.get("name") or "tool"))
    description = str(action.get("description") or "").strip()
    text = f"*`{name}`*"
    if description and description != action.get("name"):
        text += "\n" + mrkdwn.escape(description[:2000])
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[: mrkdwn.SECTION_TEXT_LIMIT]}}


def args_text(args: dict[str, Any]) -> str:
    """The arguments as the Edit field shows them: indented JSON, compact JSON if that is too long, else
    nothing (then only the arguments typed in change; the others keep their values)."""
    for indent in (2, None):
        text = json.dumps(args, ensure_ascii=False, indent=indent)
        if len(text) <= INPUT_CHARS:
            return text
    return ""


def edit_view(origin: Origin, action: dict[str, Any]) -> dict[str, Any]:
    """The Edit modal of a tool call: the tool, and its arguments in one multiline JSON field."""
    args = action.get("args") if isinstance(action.get("args"), dict) else {}
    initial = args_text(args)
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ARGS_INPUT,
        "multiline": True,
        "max_length": INPUT_CHARS,
    }
    if initial:
        element["initial_value"] = initial
    hint = "A JSON object. Arguments you leave out keep their current values."
    if not initial:
        hint = "The arguments are too long to show here: type only the ones to change, as a JSON object."
    return _modal(
        EDIT_CALLBACK,
        origin,
        "Edit the tool call",
        "Approve edited",
        [
            _about(action),
            {
                "type": "input",
                "block_id": ARGS_BLOCK,
                "label": _plain("Arguments", 2000),
                "element": element,
                "hint": _plain(hint, 2000),
            },
        ],
    )


def reject_view(origin: Origin, actions: list[dict[str, Any]]) -> dict[str, Any]:
    """The Reject modal: which calls are rejected, and an optional reason the model reads."""
    names = (
        ", ".join(dict.fromkeys(f"`{mrkdwn.escape(str(a.get('name') or 'tool'))}`" for a in actions)) or "the tool call"
    )
    calls = "this tool call" if len(actions) <= 1 else f"these {len(actions)} tool calls"
    return _modal(
        REJECT_CALLBACK,
        origin,
        "Reject the tool call",
        "Reject",
        [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"Reject {calls}: {names}"[: mrkdwn.SECTION_TEXT_LIMIT]},
            },
            {
                "type": "input",
                "block_id": REASON_BLOCK,
                "optional": True,
                "label": _plain("Reason", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": REASON_INPUT,
                    "multiline": True,
                    "max_length": INPUT_CHARS,
                    "placeholder": _plain("Why not? The model reads this and may try again.", 150),
                },
            },
        ],
    )


def comment_view(origin: Origin) -> dict[str, Any]:
    """After a 👎: what was wrong with the answer (optional; the 👎 is recorded already)."""
    return _modal(
        FEEDBACK_CALLBACK,
        origin,
        "What was wrong?",
        "Send",
        [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "Your 👎 is recorded. What was wrong with the answer?"},
            },
            {
                "type": "input",
                "block_id": COMMENT_BLOCK,
                "optional": True,
                "label": _plain("Comment", 2000),
                "element": {
                    "type": "plain_text_input",
                    "action_id": COMMENT_INPUT,
                    "multiline": True,
                    "max_length": 2000,
                },
            },
        ],
    )


def submitted_comment(view: dict[str, Any]) -> str:
    return _value(view, COMMENT_BLOCK, COMMENT_INPUT).strip()


def _value(view: dict[str, Any], block: str, action: str) -> str:
    values = ((view.get("state") or {}).get("values") or {}).get(block) or {}
    return str((values.get(action) or {}).get("value") or "")


def submitted_args(view: dict[str, Any]) -> dict[str, Any]:
    """The arguments typed into a submitted Edit modal, or ``InvalidInput`` saying what is wrong."""
    text = _value(view, ARGS_BLOCK, ARGS_INPUT).strip()
    if not text:
        raise InvalidInput('Type the arguments as a JSON object, such as {"to": "bob@example.com"}.')
    try:
        args = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(f"This is not valid JSON ({exc}). Type the arguments as a JSON object.") from exc
    if not isinstance(args, dict):
        raise InvalidInput('The arguments must be a JSON object, such as {"to": "bob@example.com"}.')
    return args


def submitted_reason(view: dict[str, Any]) -> str:
    """The reason typed into a submitted Reject modal (may be empty)."""
    return _value(view, REASON_BLOCK, REASON_INPUT).strip()


def field_errors(block: str, message: str) -> dict[str, str]:
    """The ``errors`` of a ``response_action: errors`` ack: ``message`` under the field ``block``."""
    return {block: message if len(message) <= ERROR_CHARS else message[: ERROR_CHARS - 1] + "…"}
