"""JSON values as the LangGraph server serializes them: what its SSE frames and state responses hold.

The workers write LangGraph stream chunks (``stream.chunk`` events) in this form, and the API's LangGraph
routes (gateway/langgraph_api/) answer it, so a chunk is serialized once, where it is made.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from langgraph.types import Interrupt

from graphgate.core.events import to_jsonable


def jsonable(value: Any, _depth: int = 0) -> Any:
    """``value`` as the LangGraph server serializes it: messages and pydantic models by ``model_dump()``,
    interrupts as ``{"value", "id"}``, dataclasses as dicts, tuples and sets as lists."""
    if _depth > 64:
        return repr(value)
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, dict):
        return {str(k): jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, _depth + 1) for v in value]
    if isinstance(value, Interrupt):
        return interrupt(value)
    if hasattr(value, "model_dump"):
        try:
            return jsonable(value.model_dump(), _depth + 1)
        except Exception:  # a model that cannot dump itself falls back to graphgate's own reading
            return to_jsonable(value)
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name), _depth + 1) for f in fields(value)}
    return to_jsonable(value)


def interrupt(value: Interrupt) -> dict[str, Any]:
    out = {"value": jsonable(value.value), "id": value.id}
    if hasattr(value, "response_schema"):  # (a field of LangGraph's Interrupt since 1.1; null when not given)
        out["response_schema"] = jsonable(value.response_schema)
    return out
