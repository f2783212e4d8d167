"""A graph that looks at the files on the user's message the way a model would: it reads each content
block's bytes (inline, or fetched from its URL with no credentials: the URL is signed) and answers with what
it got, so a test sees that the file that reached the graph is the file that was sent.

The answer names the text, then for each block: its type, MIME type, name, size, sha256 prefix, and how it
came (inline or by url).
"""

from __future__ import annotations

import base64
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
        if "base64" in part:  # put inline by the worker (GRAPHGATE_ATTACHMENTS_INLINE)
            data, how = base64.b64decode(part["base64"]), "inline"
        else:
            data, how = httpx.get(part["url"], timeout=10).raise_for_status().content, "by url"
        name = (part.get("extras") or {}).get("filename", "")
        digest = hashlib.sha256(data).hexdigest()[:12]
        seen.append(f"{part['type']} {part['mime_type']} {name} {len(data)} bytes {digest} {how}")
    return {"messages": [AIMessage("; ".join(seen))]}


graph = StateGraph(MessagesState)
graph.add_node("look", look)
graph.add_edge(START, "look")
graph.add_edge("look", END)
