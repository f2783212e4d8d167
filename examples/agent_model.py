"""The example agent's offline model: a rule-based stand-in for a tool-calling chat model (NOT a language
model), and the rules themselves.

:func:`plan_reply` reads OpenAI-format messages and decides the reply — a text, or tool calls — by fixed
rules, so the same conversation always gets the same answer; :class:`OfflineAgentModel` speaks those rules
as a LangChain chat model, and the tests' fake OpenAI server (graphgate/testing/fake_openai.py) speaks them
over HTTP. :func:`get_agent_model` picks a real model instead when ``GRAPHGATE_CHAT_MODEL`` is set.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ToolCall,
    convert_to_openai_messages,
)
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from examples.chat_model import get_chat_model

__all__ = ["OfflineAgentModel", "PlannedCall", "Reply", "get_agent_model", "plan_reply", "summarise_tool_results"]

OFFLINE_SPEAKER = "offline model"  # the label that opens every text reply of OfflineAgentModel


# --- the rules (pure functions on OpenAI-format messages) ---------------------------------------------


@dataclass(frozen=True)
class PlannedCall:
    """One tool call the rules decided on; ``id`` is derived from the conversation, never random."""

    id: str
    name: str
    args: dict[str, Any]


@dataclass(frozen=True)
class Reply:
    """What the rules answer: a text, or tool calls (then ``text`` is empty)."""

    text: str = ""
    tool_calls: tuple[PlannedCall, ...] = ()


_ADDRESS = r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"
_TOKEN_RE = re.compile(rf"(?P<address>{_ADDRESS})|(?P<word>[A-Za-z][A-Za-z'-]*)|(?P<sep>[,&])")
_EMAIL_INTENT_RE = re.compile(r"\b(?:e-?mail|mail|send)\b", re.IGNORECASE)
_RECIPIENT_TRIGGERS = frozenset({"email", "e-mail", "mail", "send", "to", "cc"})
_SEPARATORS = frozenset({",", "&", "and"})
_NOT_NAMES = frozenset(
    "a about address again all an and any anyone back everyone for from her him i it me my our please re "
    "regarding team that the their them these this those us with you your".split()
)
_SUBJECT_FILLERS = _NOT_NAMES | {"can", "could", "would", "kindly", "send", "email", "e-mail", "mail", "saying", "to"}
_ORDER_WORD_RE = re.compile(r"\borders?\b", re.IGNORECASE)
_ORDER_ID_RE = re.compile(r"\b([A-Za-z]-\d{3,6})\b")
_EXPRESSION_RE = re.compile(r"(?:(?<![\w)])-)?[\d(][\d.\s()+\-*/^]*[\d)]")
_OPERATOR_RE = re.compile(r"[\d)]\s*(?:\*\*|[-+*/^])\s*[-+]?[\d(.]")
_REJECTED_PREFIX = "User rejected the tool call"  # how HumanInTheLoopMiddleware words a rejection's result
_REASON_RE = re.compile(r"with reason:\s*(.*)\Z", re.DOTALL)
_QUEUED_RE = re.compile(r"Email to (?P<to>.+?) queued: (?P<subject>.*)\Z", re.DOTALL)
_EDIT_MARKER = "Executed instead:"  # in HumanInTheLoopMiddleware's note on a result of an edited call
_TOOL_RESPONSE_MARKER = "Tool response:"  # ... followed by what the edited call returned
MAX_CALLS_PER_TURN = 5
QUOTE_LIMIT = 200


def content_text(content: Any) -> str:
    """The text of an OpenAI-format message ``content``: a string, or the text parts of a list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text", "")) if isinstance(p, dict) else str(p) for p in content)
    return ""


def plan_reply(messages: Sequence[Mapping[str, Any]], tools: Collection[str], speaker: str = OFFLINE_SPEAKER) -> Reply:
    """Decide the reply to an OpenAI-format conversation by fixed rules, calling only tools in ``tools``.

    After tool results: a text summing them up.  After a user message: ``send_email`` calls when it asks
    to e-mail someone (an address, else ``<name>@example.com``; one call per recipient), else
    ``lookup_order`` for an order id like A-1001, else ``calculator`` for an arithmetic expression, else a
    text that shows the conversation is remembered.  Texts open with ``[<speaker>]``.
    """
    turns = [m for m in messages if m.get("role") not in ("system", "developer")]
    if turns and turns[-1].get("role") == "tool":
        return Reply(text=f"[{speaker}] {summarise_tool_results(turns)}")
    if turns and turns[-1].get("role") == "user":
        calls = _planned_calls(content_text(turns[-1].get("content")), tools)
        if calls:
            seed = json.dumps(list(messages), sort_keys=True, default=str)
            return Reply(
                tool_calls=tuple(
                    PlannedCall(id=_call_id(seed, i), name=name, args=args) for i, (name, args) in enumerate(calls)
                )
            )
    return Reply(text=f"[{speaker}] {_conversation_note(turns)}")


def _call_id(seed: str, index: int) -> str:
    """A tool call id that is the same for the same conversation and position."""
    return "call_" + hashlib.sha256(f"{seed}\x1f{index}".encode()).hexdigest()[:24]


def _planned_calls(text: str, tools: Collection[str]) -> list[tuple[str, dict[str, Any]]]:
    """The tool calls a user message asks for, by the first rule that matches and whose tool is offered."""
    rules: tuple[tuple[str, Callable[[str], list[dict[str, Any]]]], ...] = (
        ("send_email", _email_requests),
        ("lookup_order", _order_requests),
        ("calculator", _calculation_requests),
    )
    for name, rule in rules:
        if name in tools and (found := rule(text)):
            return [(name, args) for args in found[:MAX_CALLS_PER_TURN]]
    return []


def _email_requests(text: str) -> list[dict[str, Any]]:
    """``send_email`` arguments, one per recipient, when ``text`` asks to e-mail someone."""
    if not _EMAIL_INTENT_RE.search(text):
        return []
    tokens = list(_TOKEN_RE.finditer(text))
    for i, token in enumerate(tokens):
        if (token.group("word") or "").lower() in _RECIPIENT_TRIGGERS:
            recipients, end = _recipient_run(tokens, i + 1)
            if recipients:
                subject = _subject(text[: token.start()] + " " + text[end:])
                return [{"to": to, "subject": subject, "body": _body(to, subject)} for to in recipients]
    return []


def _recipient(token: re.Match[str]) -> str | None:
    """The address a token names: itself if an address, ``<name>@example.com`` if a plausible name."""
    if token.group("address"):
        return token.group("address").lower()
    word = (token.group("word") or "").lower()
    if len(word) >= 2 and word.isalpha() and word not in _NOT_NAMES | _RECIPIENT_TRIGGERS:
        return f"{word}@example.com"
    return None


def _recipient_run(tokens: list[re.Match[str]], start: int) -> tuple[list[str], int]:
    """Recipients from ``tokens[start]`` on, joined by "and", "," or "&"; and where the run ends in the text."""

    def is_separator(token: re.Match[str]) -> bool:
        return (token.group("sep") or (token.group("word") or "").lower()) in _SEPARATORS

    found: list[str] = []
    end, i = 0, start
    while i < len(tokens) and (to := _recipient(tokens[i])):
        found.append(to)
        end = tokens[i].end()
        i += 1
        if i >= len(tokens) or not is_separator(tokens[i]):
            break
        while i < len(tokens) and is_separator(tokens[i]):
            i += 1
    return list(dict.fromkeys(found)), end


def _subject(rest: str) -> str:
    """A subject line from the request minus its recipients: leading filler words dropped, capitalised."""
    words = rest.split()
    while words and words[0].lower().strip(".,:;!?") in _SUBJECT_FILLERS:
        words.pop(0)
    subject = " ".join(words).strip(" .,:;!?")[:78]
    return subject[:1].upper() + subject[1:] if subject else "A note from graphgate"


def _body(to: str, subject: str) -> str:
    """A short e-mail body greeting the recipient by the first part of their address."""
    name = re.split(r"[._+-]", to.split("@", 1)[0])[0].capitalize() or "there"
    return f"Hi {name},\n\n{subject}.\n\nBest regards"


def _order_requests(text: str) -> list[dict[str, Any]]:
    """``lookup_order`` arguments for each order id in a message that talks about an order."""
    if not _ORDER_WORD_RE.search(text):
        return []
    ids = dict.fromkeys(m.upper() for m in _ORDER_ID_RE.findall(text))
    return [{"order_id": order_id} for order_id in ids]


def _calculation_requests(text: str) -> list[dict[str, Any]]:
    """``calculator`` arguments for the longest arithmetic expression in ``text`` (``^`` read as ``**``)."""
    candidates = [_balanced(m.strip()) for m in _EXPRESSION_RE.findall(text)]
    candidates = [c for c in candidates if _OPERATOR_RE.search(c)]
    if not candidates:
        return []
    return [{"expression": max(candidates, key=len).replace("^", "**")}]


def _balanced(expression: str) -> str:
    """``expression`` without unmatched parentheses at its ends (they belong to the sentence)."""
    while expression.count(")") > expression.count("(") and expression.endswith(")"):
        expression = expression[:-1].rstrip()
    while expression.count("(") > expression.count(")") and expression.startswith("("):
        expression = expression[1:].lstrip()
    return expression


def summarise_tool_results(turns: Sequence[Mapping[str, Any]]) -> str:
    """One sentence per tool result after the last assistant message, in the order of its tool calls.

    (Results do not arrive in that order: the approval middleware adds rejections before the approved
    calls run.)
    """
    start = max((i for i, m in enumerate(turns) if m.get("role") == "assistant"), default=-1)
    calls = [c for c in (turns[start].get("tool_calls") or [])] if start >= 0 else []
    position = {c.get("id"): i for i, c in enumerate(calls)}
    results = [m for m in turns[start + 1 :] if m.get("role") == "tool"]
    results.sort(key=lambda m: position.get(m.get("tool_call_id"), len(calls)))
    sentences = []
    for message in results:
        index = position.get(message.get("tool_call_id"))
        function: Mapping[str, Any] = (calls[index].get("function") or {}) if index is not None else {}
        name = str(function.get("name") or message.get("name") or "the tool")
        sentences.append(_tool_sentence(name, _arguments(function), content_text(message.get("content"))))
    return " ".join(sentences) or "There were no tool results."


def _arguments(function: Mapping[str, Any]) -> dict[str, Any]:
    """A tool call's arguments, from the JSON string of the OpenAI format."""
    try:
        args = json.loads(function.get("arguments") or "{}")
    except ValueError:
        return {}
    return args if isinstance(args, dict) else {}


def _tool_sentence(name: str, args: Mapping[str, Any], result: str) -> str:
    """A sentence about one tool result: rejected, an e-mail queued (maybe edited), or the result itself."""
    if result.startswith(_REJECTED_PREFIX):
        what = f"The email to {args.get('to', 'the recipient')}" if name == "send_email" else f"The {name} call"
        reason = _REASON_RE.search(result)
        verb = "was not sent" if name == "send_email" else "was not run"
        if reason and reason.group(1).strip():
            return f'{what} {verb}: the reviewer rejected it, saying "{reason.group(1).strip()}".'
        return f"{what} {verb}: the reviewer rejected it."
    edited = _EDIT_MARKER in result
    if _TOOL_RESPONSE_MARKER in result:
        result = result.split(_TOOL_RESPONSE_MARKER, 1)[1].strip()
    queued = _QUEUED_RE.match(result) if name == "send_email" else None
    if queued:
        sentence = f'The email to {queued.group("to")} is queued (subject: "{queued.group("subject")}").'
        return sentence + (" A reviewer edited it before it went out." if edited else "")
    return result.strip()


def _conversation_note(turns: Sequence[Mapping[str, Any]]) -> str:
    """A reply that proves the conversation is remembered: the user message count and the previous one."""
    said = [content_text(m.get("content")).strip() for m in turns if m.get("role") == "user"]
    if len(said) >= 2:
        return f'This is message {len(said)} of our conversation. Earlier you said: "{_quote(said[-2])}".'
    if said:
        return (
            f'This is message 1 of our conversation. You said: "{_quote(said[-1])}". I can look up an order '
            "(like A-1001), calculate something (like 12*7+1) or email someone (like ann@example.com)."
        )
    return "There is nothing to answer yet."


def _quote(text: str) -> str:
    """``text`` on one line, cut to ``QUOTE_LIMIT`` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= QUOTE_LIMIT else flat[: QUOTE_LIMIT - 1] + "…"


# --- the offline model ---------------------------------------------------------------------------------


class OfflineAgentModel(BaseChatModel):
    """Offline, deterministic stand-in for a tool-calling chat model. NOT a language model.

    It answers by the fixed rules of :func:`plan_reply`, calling only the tools bound with
    :meth:`bind_tools`.  The same conversation always gets the same reply and the same tool call ids.
    Streaming yields one chunk per word for a text (the chunks concatenate to the non-streamed text) and
    one chunk carrying every ``tool_call_chunk`` for tool calls.
    """

    delay_per_token: float = 0.0
    """Seconds to sleep per streamed chunk (per word when not streaming), to simulate latency."""

    @property
    def _llm_type(self) -> str:
        return "graphgate-offline-agent-rules-not-a-language-model"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"delay_per_token": self.delay_per_token}

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind ``tools`` (as OpenAI tool schemas) so the rules know what they may call.

        ``tool_choice`` is accepted and ignored: the rules call a tool only when a message asks for one.
        """
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _reply(self, messages: list[BaseMessage], tools: Any) -> Reply:
        """The rules' reply to ``messages`` given the bound OpenAI tool schemas ``tools``."""
        schemas = [t for t in tools or [] if isinstance(t, dict)]
        names = {str((t.get("function") or {}).get("name") or t.get("name")) for t in schemas}
        return plan_reply(convert_to_openai_messages(messages), names)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        reply = self._reply(messages, kwargs.get("tools"))
        if self.delay_per_token > 0:
            time.sleep(self.delay_per_token * max(1, len(reply.text.split())))
        calls = [ToolCall(name=c.name, args=c.args, id=c.id, type="tool_call") for c in reply.tool_calls]
        message = AIMessage(content=reply.text, tool_calls=calls)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._reply(messages, kwargs.get("tools"))
        for chunk in _reply_chunks(reply):
            if self.delay_per_token > 0:
                time.sleep(self.delay_per_token)
            generation = ChatGenerationChunk(message=chunk)
            if run_manager:
                run_manager.on_llm_new_token(str(chunk.content), chunk=generation)
            yield generation


def _reply_chunks(reply: Reply) -> list[AIMessageChunk]:
    """A reply as message chunks: one per word of a text, or one carrying all tool call chunks."""
    if reply.tool_calls:
        chunks = [
            {"name": c.name, "args": json.dumps(c.args), "id": c.id, "index": i, "type": "tool_call_chunk"}
            for i, c in enumerate(reply.tool_calls)
        ]
        return [AIMessageChunk(content="", tool_call_chunks=chunks, chunk_position="last")]
    words = re.findall(r"\s*\S+\s*", reply.text) or [reply.text]
    return [AIMessageChunk(content=w) for w in words]


def get_agent_model() -> BaseChatModel:
    """The agent's model: the real one when ``GRAPHGATE_CHAT_MODEL`` is set, else :class:`OfflineAgentModel`.

    The offline model sleeps ``GRAPHGATE_OFFLINE_MODEL_DELAY`` seconds per streamed chunk.
    """
    if os.environ.get("GRAPHGATE_CHAT_MODEL", "").strip():
        return get_chat_model()
    return OfflineAgentModel(delay_per_token=float(os.environ.get("GRAPHGATE_OFFLINE_MODEL_DELAY", "0") or 0))
