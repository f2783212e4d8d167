"""What a graph's ``interrupt()`` asks, and how a person's answer becomes the value that resumes it.

Two shapes are known and rendered natively by every channel; anything else is shown as is and takes free
text (or any JSON value through the API):

* ``question``: ``interrupt("Which city?")`` or ``interrupt({"question": …, "options": [...]})``;
* ``tool_approval``: LangChain's ``HumanInTheLoopMiddleware`` — in its default *batched* mode one interrupt
  per model turn, ``{"action_requests": [...], "review_configs": [...]}``, answered with
  ``{"decisions": [...]}`` (one decision per action, in order); in *per_call* mode one interrupt per tool
  call, ``{"type": "tool_approval", "name", "args", "description", "tool_call_id"}``, answered with one
  decision. A decision is ``{"type": "approve"}``, ``{"type": "reject", "message"?}``,
  ``{"type": "edit", "edited_action": {"name", "args"}}`` or ``{"type": "respond", "message"}``.

``interrupt_data`` turns an interrupt into the ``data`` of an ``interrupt`` event; ``resume_value`` turns an
answer (a chat click, a line of text, a JSON value from the API) into the resume value the graph expects, or
raises ``InvalidInput`` and nothing changes. An answer that already is the middleware's own format passes
through unchanged.
"""

from __future__ import annotations

import json
import re
from typing import Any

from graphgate.core.errors import InvalidInput
from graphgate.core.events import to_jsonable
from graphgate.core.jsonschemas import first_error

QUESTION = "question"
TOOL_APPROVAL = "tool_approval"

DECISIONS = ("approve", "edit", "reject", "respond")
DECISION_LABELS = {"approve": "Approve", "edit": "Edit", "reject": "Reject", "respond": "Respond"}
ONE_CLICK = ("approve", "reject")  # decisions a single button can give every action of a request

APPROVE_WORDS = frozenset({"approve", "approved", "yes", "y", "ok", "okay", "lgtm", "go", "go ahead", "👍"})
REJECT_WORDS = frozenset({"reject", "rejected", "no", "n", "deny", "denied", "👎"})
_PREFIXED = re.compile(r"^\s*(approve|reject|no|edit|respond)\b\s*[:,\-–]?\s*(.*)$", re.IGNORECASE | re.DOTALL)


# --- the interrupt event ---------------------------------------------------------------------------------


def interrupt_data(interrupt_id: str, value: Any, response_schema: Any = None) -> dict[str, Any]:
    """The ``data`` of an ``interrupt`` event for an ``interrupt(value)`` call in a graph.

    Always ``interrupt_id``, ``kind``, ``question``, ``options`` (``[{label, value}]``, may be empty: free
    text) and ``value`` (what the graph passed, JSON-safe); tool approvals add ``actions`` (each ``name``,
    ``args``, ``description``, ``allowed_decisions``) and ``mode`` (``batched`` or ``per_call``); a JSON
    ``response_schema`` the graph gave is passed on.
    """
    value = to_jsonable(value)
    actions, mode = _tool_actions(value, response_schema)
    if actions is not None:
        data: dict[str, Any] = {
            "interrupt_id": interrupt_id,
            "kind": TOOL_APPROVAL,
            "question": _approval_question(actions),
            "options": [
                {"label": DECISION_LABELS[d], "value": d}
                for d in ONE_CLICK
                if all(d in a["allowed_decisions"] for a in actions)
            ],
            "actions": actions,
            "mode": mode,
            "value": value,
        }
    else:
        data = {"interrupt_id": interrupt_id, "kind": QUESTION, **_question(value), "value": value}
    if isinstance(response_schema, dict):
        data["response_schema"] = to_jsonable(response_schema)
    return data


def _question(value: Any) -> dict[str, Any]:
    """``question`` and ``options`` of a plain interrupt: a string, or a dict with question and options."""
    options: list[dict[str, Any]] = []
    if not isinstance(value, dict):
        return {"question": "" if value is None else str(value), "options": options}
    for opt in value.get("options") or []:
        if isinstance(opt, dict):
            label = str(opt.get("label", opt.get("value", "")))
            option: dict[str, Any] = {"label": label, "value": str(opt.get("value", label))}
            if opt.get("note") is True:  # the option takes a note: answered as {"action": value, "note": text}
                option["note"] = True
            options.append(option)
        else:
            options.append({"label": str(opt), "value": str(opt)})
    question = str(value.get("question") or value.get("message") or value.get("prompt") or "")
    return {"question": question, "options": options}


def _tool_actions(value: Any, response_schema: Any) -> tuple[list[dict[str, Any]] | None, str]:
    """The actions of a human-in-the-loop request (``None`` when ``value`` is not one), and its mode."""
    if not isinstance(value, dict):
        return None, ""
    if value.get("type") == TOOL_APPROVAL and isinstance(value.get("name"), str):  # per_call mode
        return [_action(value, _schema_decisions(response_schema))], "per_call"
    requests, configs = value.get("action_requests"), value.get("review_configs")
    if not isinstance(requests, list) or not isinstance(configs, list):
        return None, ""
    if not all(isinstance(r, dict) and isinstance(r.get("name"), str) for r in requests):
        return None, ""
    allowed_by_name = {
        c.get("action_name"): list(c.get("allowed_decisions") or []) for c in configs if isinstance(c, dict)
    }
    return [_action(r, allowed_by_name.get(r["name"], list(DECISIONS))) for r in requests], "batched"


def _schema_decisions(schema: Any) -> list[str]:
    """The decision types a per-call request's ``response_schema`` allows (every type when it names none):
    the keys of its discriminator, or the ``type`` constants of a single decision."""
    if not isinstance(schema, dict):
        return list(DECISIONS)
    mapping = (schema.get("discriminator") or {}).get("mapping")
    if isinstance(mapping, dict) and mapping:
        return [d for d in DECISIONS if d in mapping]
    const = ((schema.get("properties") or {}).get("type") or {}).get("const")
    return [const] if const in DECISIONS else list(DECISIONS)


def _action(request: dict[str, Any], allowed: list[Any]) -> dict[str, Any]:
    args = request.get("args")
    return {
        "name": request["name"],
        "args": args if isinstance(args, dict) else {},
        "description": str(request.get("description") or ""),
        "allowed_decisions": [d for d in allowed if d in DECISIONS],
    }


def _approval_question(actions: list[dict[str, Any]]) -> str:
    names = ", ".join(dict.fromkeys(f"`{a['name']}`" for a in actions))
    if len(actions) == 1:
        return f"Approve the tool call {names}?"
    return f"Approve {len(actions)} tool calls ({names})?"


# --- answers ---------------------------------------------------------------------------------------------


def resume_value(data: dict[str, Any], answer: Any) -> Any:
    """The value handed to LangGraph for ``answer`` to the interrupt described by ``data``.

    For a tool approval, a string (an option's value or a line of chat text, see ``answer_from_text``), one
    decision, a list of decisions or ``{"decisions": [...]}`` become the middleware's own format; for a
    question, the answer is passed on as is (checked against the interrupt's ``response_schema``, if any).
    Raises ``InvalidInput`` for an answer the graph would refuse.
    """
    if data.get("kind") == TOOL_APPROVAL:
        actions: list[dict[str, Any]] = data.get("actions") or []
        decisions = _decisions(actions, answer)
        for index, (action, decision) in enumerate(zip(actions, decisions)):
            _check_decision(action, decision, index)
        if data.get("mode") == "per_call":
            value = answer if isinstance(answer, dict) and "type" in answer else decisions[0]
        elif isinstance(answer, dict) and "decisions" in answer:
            value = answer  # the middleware's own format: unchanged
        else:
            value = {"decisions": decisions}
    else:
        value = answer
    schema = data.get("response_schema")
    error = first_error(schema, value, "answer") if isinstance(schema, dict) else None
    if error:
        raise InvalidInput(f"the answer does not match the interrupt's response schema: {error}")
    return value


def _decisions(actions: list[dict[str, Any]], answer: Any) -> list[Any]:
    """One decision per action, from any accepted form of an answer (not yet checked)."""
    if isinstance(answer, str):
        answer = answer_from_text_for_actions(actions, answer)
    if isinstance(answer, dict) and "decisions" in answer:
        answer = answer["decisions"]
    if isinstance(answer, dict):
        if len(actions) > 1 and answer.get("type") not in ONE_CLICK:
            raise InvalidInput(f"this request has {len(actions)} tool calls: send one decision per call in 'decisions'")
        return [answer] * len(actions)
    if not isinstance(answer, list):
        raise InvalidInput(
            'a tool approval takes a decision ({"type": "approve"}, …), a list of them, '
            "{\"decisions\": [...]} or a word such as 'approve' or 'reject'"
        )
    if len(answer) != len(actions):
        raise InvalidInput(f"{len(answer)} decision(s) given for {len(actions)} tool call(s); give one per call")
    return answer


def _check_decision(action: dict[str, Any], decision: Any, index: int) -> None:
    where = f"decisions/{index}"
    if not isinstance(decision, dict) or decision.get("type") not in DECISIONS:
        raise InvalidInput(f"{where}: a decision is an object whose type is one of {', '.join(DECISIONS)}")
    kind = decision["type"]
    allowed = action.get("allowed_decisions") or []
    if kind not in allowed:
        raise InvalidInput(
            f"{where}: {kind!r} is not allowed for {action.get('name')!r} (allowed: {', '.join(allowed)})"
        )
    if kind == "edit":
        edited = decision.get("edited_action")
        if (
            not isinstance(edited, dict)
            or not isinstance(edited.get("name"), str)
            or not isinstance(edited.get("args"), dict)
        ):
            raise InvalidInput(f"{where}: an edit needs edited_action with a name and an args object")
        if edited["name"] != action.get("name"):
            raise InvalidInput(f"{where}: an edit may change the arguments of {action.get('name')!r}, not the tool")
    message = decision.get("message")
    if kind == "respond" and not (isinstance(message, str) and message.strip()):
        raise InvalidInput(f"{where}: a respond decision needs a message")
    if kind == "reject" and message is not None and not isinstance(message, str):
        raise InvalidInput(f"{where}: a reject decision's message must be text")


def answer_from_text(data: dict[str, Any], text: str) -> Any:
    """The answer a line of chat text gives to the interrupt ``data``.

    A question: the value of the option whose label or value the text names (case-insensitive), else the
    text itself. A tool approval: see ``answer_from_text_for_actions``.
    """
    if data.get("kind") == TOOL_APPROVAL:
        return answer_from_text_for_actions(data.get("actions") or [], text)
    wanted = text.strip().casefold()
    for option in data.get("options") or []:
        if wanted in (str(option.get("label", "")).casefold(), str(option.get("value", "")).casefold()):
            return option.get("value")
    return text.strip()


def answer_from_text_for_actions(actions: list[dict[str, Any]], text: str) -> list[dict[str, Any]]:
    """Decisions for every action from a line of text, or ``InvalidInput`` saying how to answer.

    ``approve`` (yes, ok, 👍…) and ``reject`` (no, 👎…) apply to every action; ``reject: <reason>`` rejects
    with a reason; ``edit {"to": "…"}`` edits the arguments of a single action (the JSON object is merged
    over the current arguments); ``respond: <text>`` answers in the tool's place. Any other text rejects
    with that text as the reason, where rejecting is allowed: the model reads it and can try again.
    """
    stripped = text.strip()
    word = stripped.casefold().rstrip(".!")
    if word in APPROVE_WORDS:
        return [{"type": "approve"} for _ in actions]
    if word in REJECT_WORDS:
        return [{"type": "reject"} for _ in actions]
    match = _PREFIXED.match(stripped)
    verb, rest = (match.group(1).casefold(), match.group(2).strip()) if match else ("", stripped)
    if verb == "approve":  # "approve", "approve: looks good": what follows is a comment
        return [{"type": "approve"} for _ in actions]
    if verb == "edit":
        return [edit_decision(actions, _parse_args(rest))]
    if verb == "respond" and rest:
        return [{"type": "respond", "message": rest} for _ in actions]
    reason = rest if verb in ("reject", "no") else stripped
    if all("reject" in a.get("allowed_decisions", []) for a in actions) and reason:
        return [{"type": "reject", "message": reason} for _ in actions]
    allowed = sorted({d for a in actions for d in a.get("allowed_decisions", [])})
    raise InvalidInput(f"answer with one of: {', '.join(allowed)} (for example 'approve', or 'edit {{\"to\": …}}')")


def edit_decision(actions: list[dict[str, Any]], args: dict[str, Any], index: int = 0) -> dict[str, Any]:
    """An edit of action ``index`` whose arguments are its current ones updated with ``args``."""
    if len(actions) != 1:
        raise InvalidInput(f"this request has {len(actions)} tool calls; edit them one by one in the widget or API")
    action = actions[index]
    return {"type": "edit", "edited_action": {"name": action["name"], "args": {**action.get("args", {}), **args}}}


def _parse_args(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise InvalidInput(
            f'the new arguments must be a JSON object, such as {{"to": "bob@example.com"}}: {exc}'
        ) from exc
    if not isinstance(value, dict):
        raise InvalidInput('the new arguments must be a JSON object, such as {"to": "bob@example.com"}')
    return value


def describe_answer(data: dict[str, Any], answer: Any) -> str:
    """A short human reading of an answer: an option's label, 'Approved', 'Rejected: reason', …"""
    if data.get("kind") == TOOL_APPROVAL:
        decisions = answer.get("decisions") if isinstance(answer, dict) and "decisions" in answer else answer
        if isinstance(decisions, dict):
            decisions = [decisions]
        if isinstance(decisions, list) and decisions and all(isinstance(d, dict) for d in decisions):
            return "; ".join(dict.fromkeys(_describe_decision(d) for d in decisions))
    for option in data.get("options") or []:
        if option.get("value") == answer:
            return str(option.get("label", answer))
    return answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)


def _describe_decision(decision: dict[str, Any]) -> str:
    kind = decision.get("type")
    message = decision.get("message")
    if kind == "approve":
        return "Approved"
    if kind == "reject":
        return f"Rejected: {message}" if message else "Rejected"
    if kind == "edit":
        edited = decision.get("edited_action") or {}
        args = json.dumps(edited.get("args"), ensure_ascii=False, separators=(", ", ": "))
        return f"Edited and approved: {edited.get('name')}({args[1:-1]})"
    if kind == "respond":
        return f"Answered in the tool's place: {message}"
    return json.dumps(decision, ensure_ascii=False)
