"""A graph that looks at the files on the user's message the way a model would: it fetches each content
block's URL (no credentials: the URL is signed) and answers with what it got, so a test sees that the file
that reached the graph is the file that was sent.

The answer names the text, then for each block: its type, MIME type, name, size fetched and sha256 prefix.
"""

from __future__ import annotations

import hashlib

import httpx
from langchain_core.messages import AIMessage
from langgraph.graph import END, START, MessagesState, StateGraph


def look(state: MessagesState) -> dict:
    content = state["messages"][-1].content
    parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
    seen = []
    for part in parts:
        if part.get("type") == "text":
            seen.append(f"text {part['text']!r}")
            continue
        data = httpx.get(part["url"], timeout=10).raise_for_status().content
        name = (part.get("extras") or {}).get("name", "")
        seen.append(
            f"{part['type']} {part['mime_type']} {name} {len(data)} bytes {hashlib.sha256(data).hexdigest()[:12]}"
        )
    return {"messages": [AIMessage("; ".join(seen))]}


graph = StateGraph(MessagesState)
graph.add_node("look", look)
graph.add_edge(START, "look")
graph.add_edge("look", END)
