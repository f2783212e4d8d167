"""Ask graph: interrupts with a free-text question, then greets the user.

Interrupt payload: ``{"question": "What should I call you?"}``; resume with the
name (a string, or a dict with ``"name"``/``"text"``/``"value"``).
Output: ``{"answer": "Nice to meet you, <name>!"}``.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict

QUESTION = "What should I call you?"


class AskInput(TypedDict, total=False):
    """Accepted input fields (the triggering chat message, unused)."""

    text: str


class AskState(AskInput, total=False):
    """Full graph state."""

    name: str
    answer: str


def _as_name(reply: Any) -> str:
    """Extract a display name from a resume value; ``"friend"`` if empty."""
    if isinstance(reply, dict):
        reply = reply.get("name") or reply.get("text") or reply.get("value") or ""
    return str(reply or "").strip() or "friend"


def ask(state: AskState) -> AskState:
    """Interrupt with the question and store the reply as ``name``."""
    return {"name": _as_name(interrupt({"question": QUESTION}))}


def greet(state: AskState) -> AskState:
    """Answer with a greeting for ``name``."""
    return {"answer": f"Nice to meet you, {state.get('name', 'friend')}!"}


graph = StateGraph(AskState, input_schema=AskInput)
graph.add_node("ask", ask)
graph.add_node("greet", greet)
graph.add_edge(START, "ask")
graph.add_edge("ask", "greet")
graph.add_edge("greet", END)
