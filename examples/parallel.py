"""Parallel graph: two reviews interrupt in the same step, then one node joins their decisions.

Why it exists: a run can pause on several interrupts at once (here the ``legal`` and ``finance`` nodes
run side by side and both ask), and each must be answered by its own interrupt id.  This graph is the
smallest one that does that, for the gateway, the connectors and their tests.

Input: ``{"request": str}``.  Each review interrupts with
``{"question": str, "options": ["approve", "reject"], "reviewer": "legal" | "finance", "route": same}``:
``route`` names the approval policy that decides it when one of that name is configured (docs/approvals.md;
without one, the starter answers).
Resume with ``Command(resume={<interrupt id>: "approve" | "reject", ...})`` (a dict with ``"decision"``,
``"value"``, ``"type"`` or ``"text"`` works too; anything but approve rejects).  Answering one id leaves
the other review pending.  Output: ``{"answer": str}`` naming both decisions and the outcome (approved
only when both approve).
"""

from __future__ import annotations

from typing import Any, Literal, Required

from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict

Decision = Literal["approve", "reject"]
OPTIONS: list[str] = ["approve", "reject"]
REVIEWERS = ("legal", "finance")
_APPROVALS = frozenset({"approve", "approved", "yes", "y", "ok", "okay"})


class ParallelInput(TypedDict):
    """Accepted input fields: what is to be reviewed."""

    request: Required[str]


class ParallelState(TypedDict, total=False):
    """Full graph state: the request, each reviewer's decision and the answer."""

    request: Required[str]
    legal: Decision
    finance: Decision
    answer: str


def as_decision(reply: Any) -> Decision:
    """Read a resume value as a decision: "approve" (or yes/ok), anything else is "reject"."""
    if isinstance(reply, dict):
        reply = reply.get("decision") or reply.get("value") or reply.get("type") or reply.get("text") or ""
    return "approve" if str(reply or "").strip().lower() in _APPROVALS else "reject"


def question(reviewer: str, request: str) -> dict[str, Any]:
    """The interrupt value a reviewer answers."""
    return {
        "question": f"{reviewer.capitalize()} review: may we go ahead with {request.strip()!r}?",
        "options": list(OPTIONS),
        "reviewer": reviewer,
        "route": reviewer,  # the approval policy that decides it, if one of that name is configured
    }


def legal(state: ParallelState) -> ParallelState:
    """Ask legal; store its decision."""
    return {"legal": as_decision(interrupt(question("legal", state["request"])))}


def finance(state: ParallelState) -> ParallelState:
    """Ask finance; store its decision."""
    return {"finance": as_decision(interrupt(question("finance", state["request"])))}


def decide(state: ParallelState) -> ParallelState:
    """Join both reviews into the answer: approved only when both approve."""
    legal_said, finance_said = state.get("legal", "reject"), state.get("finance", "reject")
    outcome = "approved" if legal_said == finance_said == "approve" else "rejected"
    return {
        "answer": (
            f"Request {state['request'].strip()!r} is {outcome}: "
            f"legal chose {legal_said}, finance chose {finance_said}."
        )
    }


graph = StateGraph(ParallelState, input_schema=ParallelInput)
graph.add_node("legal", legal)
graph.add_node("finance", finance)
graph.add_node("decide", decide)
graph.add_edge(START, "legal")
graph.add_edge(START, "finance")
graph.add_edge(["legal", "finance"], "decide")
graph.add_edge("decide", END)
