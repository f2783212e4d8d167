"""Agent graph: a LangChain 1.x ``create_agent`` with three tools and human approval of e-mails.

Why it exists: the other examples are hand-built ``StateGraph``s, but most people deploy the
model-and-tools loop ``create_agent`` builds.  This example makes the gateway, the connectors and the
tests meet what that loop really produces: AI messages with tool calls, ``ToolMessage`` results and the
batched interrupt of ``HumanInTheLoopMiddleware``.

Input: ``{"messages": [{"role": "user", "content": str}]}``.  Output: ``messages`` (the last AI message
is the answer).  Tools: ``lookup_order``, ``calculator`` and ``send_email``; only ``send_email`` waits for
a reviewer.  Its interrupt value (one per model turn, listing every e-mail of that turn)::

    {"action_requests": [{"name": "send_email", "args": {"to", "subject", "body"}, "description": str}],
     "review_configs": [{"action_name": "send_email", "allowed_decisions": ["approve", "edit", "reject"]}]}

Resume with ``Command(resume={"decisions": [...]})``, one decision per action request, in order:
``{"type": "approve"}``, ``{"type": "edit", "edited_action": {"name": "send_email", "args": {...}}}`` or
``{"type": "reject", "message": "why"}``.

The model: ``GRAPHGATE_CHAT_MODEL`` set -> the real model of :func:`examples.chat_model.get_chat_model`;
otherwise the rule-based stand-in of examples/agent_model.py (NOT a language model).
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from typing import Any

from langchain.agents import AgentState, create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    ToolCall,
)
from langchain_core.tools import BaseTool, tool
from langgraph.graph.state import CompiledStateGraph
from langgraph.runtime import Runtime
from langgraph.types import Checkpointer

from examples.agent_model import get_agent_model

__all__ = ["SYSTEM_PROMPT", "TOOLS", "build_agent", "calculator", "graph", "lookup_order", "send_email"]

SYSTEM_PROMPT = (
    "You are graphgate's example assistant. Use lookup_order for the status of an order, calculator for "
    "arithmetic and send_email to send an e-mail (a person approves every e-mail before it goes out). "
    "Answer briefly and say plainly when a tool call was rejected."
)


# --- the tools -----------------------------------------------------------------------------------------


ORDERS: dict[str, str] = {
    "A-1001": "shipped on 2 June with DHL (tracking DHL-558120), expected on 5 June",
    "A-1002": "being packed at the warehouse, ships tomorrow",
    "A-1003": "delivered on 28 May, signed for by J. Smith",
    "B-2001": "cancelled at the customer's request; the refund was issued on 30 May",
}
MAX_EXPRESSION_LENGTH = 200
MAX_MAGNITUDE = 10**100  # results beyond this are refused rather than printed digit by digit


class CalculatorError(ValueError):
    """The expression is not plain arithmetic, or its value cannot be computed."""


@tool
def lookup_order(order_id: str) -> str:
    """Look up the status of an order by its id (like A-1001)."""
    key = order_id.strip().upper()
    if key in ORDERS:
        return f"Order {key}: {ORDERS[key]}."
    return f"There is no order {order_id.strip()!r}. Order ids look like A-1001."


@tool
def calculator(expression: str) -> str:
    """Evaluate an arithmetic expression with + - * / ** and parentheses, like (12*7+1)/2."""
    try:
        return f"{expression.strip()} = {_format_number(evaluate(expression))}"
    except CalculatorError as exc:
        return f"Cannot calculate {expression.strip()!r}: {exc}."


@tool
def send_email(to: str, subject: str, body: str) -> str:
    """Send an e-mail to the address `to` with a subject and a body. A person approves it first."""
    return f"Email to {to.strip()} queued: {subject.strip()}"


TOOLS: tuple[BaseTool, ...] = (lookup_order, calculator, send_email)


def evaluate(expression: str) -> int | float:
    """The value of an arithmetic expression, or a :class:`CalculatorError` saying why there is none."""
    if len(expression) > MAX_EXPRESSION_LENGTH:
        raise CalculatorError("the expression is too long")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise CalculatorError("it is not a valid arithmetic expression") from exc
    try:
        value = _evaluate_node(tree.body)
    except ZeroDivisionError as exc:
        raise CalculatorError("division by zero") from exc
    except OverflowError as exc:
        raise CalculatorError("the result is too large") from exc
    if isinstance(value, complex) or abs(value) > MAX_MAGNITUDE:
        raise CalculatorError("the result is too large" if not isinstance(value, complex) else "the result is not real")
    return value


def _power(base: int | float, exponent: int | float) -> int | float:
    """``base ** exponent``, refused when the result would be absurdly large."""
    if abs(base) > 1 and abs(exponent) * math.log10(abs(base)) > 100:
        raise CalculatorError("the result is too large")
    return base**exponent


_BINARY: dict[type[ast.operator], Callable[[Any, Any], int | float]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.Pow: _power,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], int | float]] = {ast.UAdd: operator.pos, ast.USub: operator.neg}


def _evaluate_node(node: ast.AST) -> int | float:
    """Evaluate a node of the allowed kinds: numbers, + - * / **, unary + and -."""
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return node.value  # type: ignore[no-any-return]
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        value = _BINARY[type(node.op)](_evaluate_node(node.left), _evaluate_node(node.right))
    elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        value = _UNARY[type(node.op)](_evaluate_node(node.operand))
    else:
        raise CalculatorError(f"{ast.unparse(node)!r} is not a number or + - * / **")
    if not isinstance(value, complex) and abs(value) > MAX_MAGNITUDE:
        raise CalculatorError("the result is too large")
    return value


def _format_number(value: int | float) -> str:
    """An integer as is; a float without a trailing ``.0`` when whole, else to 12 significant digits."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value) if isinstance(value, int) else f"{value:.12g}"


# --- the graph -----------------------------------------------------------------------------------------


def describe_email(tool_call: ToolCall, state: AgentState[Any], runtime: Runtime[Any]) -> str:
    """The text a reviewer sees for a ``send_email`` call: recipient, subject and body."""
    args = tool_call["args"]
    return f"Send an email to {args.get('to', '?')}?\nSubject: {args.get('subject', '')}\n\n{args.get('body', '')}"


def approval_middleware() -> HumanInTheLoopMiddleware:
    """Human review of every ``send_email`` call (approve, edit or reject), one interrupt per model turn."""
    return HumanInTheLoopMiddleware(
        interrupt_on={
            "send_email": {"allowed_decisions": ["approve", "edit", "reject"], "description": describe_email},
        }
    )


def build_agent(
    model: BaseChatModel | None = None, *, checkpointer: Checkpointer = None
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """The agent graph with ``model`` (default :func:`get_agent_model`) and, for tests, a ``checkpointer``."""
    return create_agent(
        model or get_agent_model(),
        list(TOOLS),
        middleware=[approval_middleware()],
        system_prompt=SYSTEM_PROMPT,
        checkpointer=checkpointer,
    )


graph = build_agent()
