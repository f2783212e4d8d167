"""A graph that reports its progress with ``get_stream_writer()``: the one graph of these tests that writes
``custom`` stream chunks (none of the bundled examples does).

Input ``{"steps": n}``; writes ``{"step": i, "of": n}`` for each step, then answers ``{"done": n}``.
"""

from __future__ import annotations

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class Progress(TypedDict, total=False):
    steps: int
    done: int


def work(state: Progress) -> Progress:
    write = get_stream_writer()
    steps = int(state.get("steps") or 0)
    for step in range(1, steps + 1):
        write({"step": step, "of": steps})
    return {"done": steps}


graph = StateGraph(Progress)
graph.add_node("work", work)
graph.add_edge(START, "work")
graph.add_edge("work", END)
