"""Long-form writer graph: plan an outline, optionally review it, write, assemble.

Input: ``{"topic": str}``.  Run configuration, read from ``config["configurable"]``:
``target_audience`` (default "general readers"), ``depth_level``
("overview" | "standard" | "deep", default "standard"), ``target_length``
(words, default 800) and ``mode`` ("interactive" | "auto", default "auto").

In interactive mode the ``review`` node interrupts with
``{"question", "outline", "options", "revisions_left"}``; resume with
``"approve"``, ``"revise"``, ``"revise: <note>"`` or
``{"action": "revise", "note": "..."}``.  Anything else approves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal, Required

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command, interrupt
from typing_extensions import TypedDict

from examples.chat_model import get_chat_model

MAX_REVISIONS = 3
DEPTHS = ("overview", "standard", "deep")
WORDS_PER_SECTION = {"overview": 260, "standard": 200, "deep": 160}
SYSTEM_PROMPT = "You are a careful long-form writer. Follow the requested format exactly."


class WriterInput(TypedDict):
    """Accepted input fields."""

    topic: Required[str]


class WriterState(TypedDict, total=False):
    """Full graph state."""

    topic: Required[str]
    outline: list[str]
    sections: list[str]
    article: str
    answer: str
    revisions: int
    note: str


@dataclass(frozen=True)
class Settings:
    """Validated run configuration (see module docstring for the keys)."""

    audience: str = "general readers"
    depth: str = "standard"
    length: int = 800
    interactive: bool = False

    @classmethod
    def from_config(cls, config: RunnableConfig | None) -> Settings:
        """Read ``config["configurable"]``; invalid or missing values fall back to defaults."""
        conf: dict[str, Any] = dict((config or {}).get("configurable") or {})
        depth = str(conf.get("depth_level") or cls.depth).strip().lower()
        try:
            length = max(100, min(20000, int(conf.get("target_length") or cls.length)))
        except (TypeError, ValueError):
            length = cls.length
        return cls(
            audience=str(conf.get("target_audience") or cls.audience).strip() or cls.audience,
            depth=depth if depth in DEPTHS else cls.depth,
            length=length,
            interactive=str(conf.get("mode") or "auto").strip().lower() == "interactive",
        )

    @property
    def section_count(self) -> int:
        """Number of outline sections: length / words-per-section for the depth, clamped to 3..8."""
        return max(3, min(8, round(self.length / WORDS_PER_SECTION[self.depth])))


_ITEM_RE = re.compile(r"^\s*(?:\d+\s*[.):]|[-*\u2022]|#{1,6})\s+(.+?)\s*$")


def parse_outline(text: str, limit: int) -> list[str]:
    """Parse section titles from numbered/bulleted/heading lines (plain lines as fallback).

    Markdown emphasis and quotes are removed; a ``**Bold**: description`` item keeps
    the bold part.  Returns at most ``limit`` non-empty, de-duplicated titles.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    items = [m.group(1) for line in lines if (m := _ITEM_RE.match(line))]
    if not items:
        items = [line for line in lines if not line.rstrip().endswith(":")]
    titles: list[str] = []
    for item in items:
        bold = re.match(r"\*\*(.+?)\*\*", item)
        title = (bold.group(1) if bold else item).strip(" *_`\"'#:").strip()
        if title and title not in titles:
            titles.append(title)
    return titles[:limit]


def _prompt(system: str, *lines: str) -> list[Any]:
    """Build the chat messages for one model call."""
    return [SystemMessage(system), HumanMessage("\n".join(lines))]


def plan(state: WriterState, config: RunnableConfig) -> WriterState:
    """Ask the model for an outline of ``section_count`` titles (revision note included if any)."""
    s = Settings.from_config(config)
    lines = [
        f"Write an outline for an article with exactly {s.section_count} sections.",
        "Reply with a numbered list of section titles only, one per line.",
        f"Topic: {state['topic']}",
        f"Audience: {s.audience}",
        f"Depth: {s.depth}",
        f"Sections: {s.section_count}",
    ]
    if state.get("outline") and state.get("revisions"):
        lines += ["Previous outline:", *(f"- {t}" for t in state["outline"]), ""]
        lines.append(f"Revision note: {state['note']}" if state.get("note") else "Propose a different outline.")
    reply = get_chat_model().invoke(_prompt(SYSTEM_PROMPT, *lines))
    outline = parse_outline(str(reply.text), s.section_count)
    if not outline:
        outline = [f"Introduction to {state['topic']}", "Key Ideas", "Conclusion"]
    return {"outline": outline}


def _review_answer(answer: Any) -> tuple[bool, str]:
    """Classify a resume value: ``(revise?, note)``."""
    if isinstance(answer, dict):
        action = str(answer.get("action") or answer.get("value") or "").strip().lower()
        return action == "revise", str(answer.get("note") or "").strip()
    text = str(answer or "").strip()
    if text.lower().startswith("revise"):
        return True, text[len("revise") :].lstrip(" :：-—,，").strip()
    return False, ""


def review(state: WriterState) -> Command[Literal["plan", "write"]]:
    """Interrupt for outline approval; on revise (max 3 times) go back to ``plan``."""
    revisions = state.get("revisions", 0)
    left = MAX_REVISIONS - revisions
    options: list[dict[str, Any]] = [{"label": "Approve", "value": "approve"}]
    if left > 0:
        options.append({"label": "Revise", "value": "revise", "note": True})  # a note may go with it
    question = "Approve this outline?"
    if left <= 0:  # say why Revise is gone rather than let it vanish
        question += f" (All {MAX_REVISIONS} revisions are used: approve it to go on.)"
    answer = interrupt(
        {
            "question": question,
            "outline": list(state.get("outline", [])),
            "options": options,
            "revisions_left": left,
            "free_text": False,  # any other text would approve: answers are the options (Revise with a note)
        }
    )
    wants_revision, note = _review_answer(answer)
    if wants_revision and left > 0:
        return Command(goto="plan", update={"revisions": revisions + 1, "note": note})
    return Command(goto="write")


def route_after_plan(state: WriterState, config: RunnableConfig) -> Literal["review", "write"]:
    """Interactive runs go through ``review``; auto runs go straight to ``write``."""
    return "review" if Settings.from_config(config).interactive else "write"


_HEADING_RE = re.compile(r"^\s*#{1,6}\s.*\n+")


def write(state: WriterState, config: RunnableConfig) -> WriterState:
    """Write every outline section with the model (tokens stream in "messages" mode).

    Each section asks for ``target_length / len(outline)`` words.  Every model call
    carries ``section_index`` and ``section_title`` metadata for stream consumers.
    """
    s = Settings.from_config(config)
    outline = state.get("outline") or []
    words = max(40, s.length // max(1, len(outline)))
    model = get_chat_model()
    sections: list[str] = []
    for index, title in enumerate(outline):
        messages = _prompt(
            SYSTEM_PROMPT,
            f"Write one section of an article in plain prose paragraphs (no heading), about {words} words.",
            f"Topic: {state['topic']}",
            f"Audience: {s.audience}",
            f"Depth: {s.depth}",
            f"Section: {title}",
            f"Words: {words}",
            "Full outline: " + " | ".join(outline),
        )
        reply = model.invoke(messages, config={"metadata": {"section_index": index, "section_title": title}})
        sections.append(_HEADING_RE.sub("", str(reply.text), count=1).strip())
    return {"sections": sections}


def finalize(state: WriterState) -> WriterState:
    """Assemble the Markdown article (``# topic``, ``## section`` + prose) into ``article`` and ``answer``."""
    parts = [f"# {state['topic']}"]
    for title, body in zip(state.get("outline", []), state.get("sections", [])):
        parts += [f"## {title}", body]
    article = "\n\n".join(parts) + "\n"
    return {"article": article, "answer": article}


graph = StateGraph(WriterState, input_schema=WriterInput)
graph.add_node("plan", plan)
graph.add_node("review", review)
graph.add_node("write", write)
graph.add_node("finalize", finalize)
graph.add_edge(START, "plan")
graph.add_conditional_edges("plan", route_after_plan, ["review", "write"])
graph.add_edge("write", "finalize")
graph.add_edge("finalize", END)
