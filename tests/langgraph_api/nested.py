"""A graph with a subgraph and a runtime context: the one graph of these tests for ``stream_subgraphs``,
``context``, breakpoints between nodes and ``update_state`` with ``as_node``.

Input ``{"topic": str}``. ``plan`` writes an outline, the ``draft`` subgraph (one node, ``write``, which also
writes a ``custom`` chunk) drafts from it, and ``review`` signs it with the context's ``signature``.
"""

from __future__ import annotations

from dataclasses import dataclass

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from typing_extensions import TypedDict


class Doc(TypedDict, total=False):
    topic: str
    outline: str
    draft: str
    final: str


@dataclass
class Signing:
    signature: str = "graphgate"


def plan(state: Doc) -> Doc:
    return {"outline": f"outline of {state.get('topic', '')}"}


def write(state: Doc) -> Doc:
    get_stream_writer()({"writing": state.get("outline", "")})
    return {"draft": f"draft from {state.get('outline', '')}"}


def review(state: Doc, runtime: Runtime[Signing]) -> Doc:
    signature = runtime.context.signature if runtime.context else "graphgate"
    return {"final": f"{state.get('draft', '')}, signed {signature}"}


drafting = StateGraph(Doc)
drafting.add_node("write", write)
drafting.add_edge(START, "write")
drafting.add_edge("write", END)

graph = StateGraph(Doc, context_schema=Signing)
graph.add_node("plan", plan)
graph.add_node("draft", drafting.compile())
graph.add_node("review", review)
graph.add_edge(START, "plan")
graph.add_edge("plan", "draft")
graph.add_edge("draft", "review")
graph.add_edge("review", END)
