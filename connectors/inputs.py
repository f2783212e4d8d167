"""A chat message as a graph's input: which input field the text goes to.

Chat users type text; graphs declare an input schema. The text goes to, in this order: the schema's only
required string field (the writer's ``topic``); else ``messages`` as one user message (``MessagesState``
graphs and LangChain agents: the session's thread keeps the conversation, so each message adds a turn);
else the first of ``TEXT_FIELDS`` the schema has; else ``text``.
"""

from __future__ import annotations

from typing import Any

TEXT_FIELDS = ("text", "message", "question", "query", "prompt", "topic", "input")


def text_input(graphs: Any, graph: str, text: str) -> dict[str, Any]:
    """The input of ``graph`` (in the registry ``graphs``) for a chat message ``text``."""
    spec = getattr(graphs, "specs", {}).get(graph)
    schema = (spec.input_schema if spec is not None else None) or {}
    props: dict[str, Any] = schema.get("properties") or {}
    required = [name for name in schema.get("required") or [] if (props.get(name) or {}).get("type") == "string"]
    if len(required) == 1:
        return {required[0]: text}
    if "messages" in props:
        return {"messages": [{"role": "user", "content": text}]}
    for name in TEXT_FIELDS:
        if name in props:
            return {name: text}
    return {"text": text}
