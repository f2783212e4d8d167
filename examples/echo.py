"""Echo graph: a trivial, model-free three-node graph for tests and benchmarks.

Input: ``{"text": str}`` (or ``"message"``), optional ``"sleep"`` (seconds,
spent in the middle node in 50 ms slices) and ``"fail"`` (raise in the middle
node).  Output: ``"answer"`` is the input text, stripped.
"""

from __future__ import annotations

import time

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

SLEEP_SLICE = 0.05


class EchoInput(TypedDict, total=False):
    """Accepted input fields."""

    text: str
    message: str
    sleep: float
    fail: bool


class EchoState(EchoInput, total=False):
    """Full graph state (input fields plus intermediate and output fields)."""

    echo: str
    answer: str


def receive(state: EchoState) -> EchoState:
    """Normalise the input: ``text`` becomes the stripped ``text`` or ``message``."""
    return {"text": str(state.get("text") or state.get("message") or "").strip()}


def transform(state: EchoState) -> EchoState:
    """Sleep ``sleep`` seconds in small slices, fail if asked, then copy the text."""
    deadline = time.monotonic() + max(0.0, float(state.get("sleep") or 0))
    while (remaining := deadline - time.monotonic()) > 0:
        time.sleep(min(SLEEP_SLICE, remaining))
    if state.get("fail"):
        raise RuntimeError("echo asked to fail")
    return {"echo": state.get("text", "")}


def respond(state: EchoState) -> EchoState:
    """Publish the echoed text as ``answer``."""
    return {"answer": state.get("echo", "")}


graph = StateGraph(EchoState, input_schema=EchoInput)
graph.add_node("receive", receive)
graph.add_node("transform", transform)
graph.add_node("respond", respond)
graph.add_edge(START, "receive")
graph.add_edge("receive", "transform")
graph.add_edge("transform", "respond")
graph.add_edge("respond", END)
