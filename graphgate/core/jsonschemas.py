"""Checking values against the JSON Schemas LangGraph produces, the way LangGraph itself would take them.

Pydantic writes a union of models as ``oneOf``, and models overlap (a message dict fits HumanMessage and
ChatMessage alike), so a strict ``oneOf`` refuses what the graph accepts. Here ``oneOf`` counts as any-of.
"""

from __future__ import annotations

from typing import Any

import jsonschema


def any_of(schema: Any) -> Any:
    """``schema`` with every ``oneOf`` read as ``anyOf``."""
    if isinstance(schema, dict):
        return {("anyOf" if k == "oneOf" else k): any_of(v) for k, v in schema.items()}
    if isinstance(schema, list):
        return [any_of(v) for v in schema]
    return schema


def first_error(schema: dict[str, Any], value: Any, what: str) -> str | None:
    """``"<where>: <message>"`` for the first place where ``value`` does not fit ``schema`` (``what`` names
    the top), or None when it fits."""
    errors = sorted(
        jsonschema.Draft202012Validator(any_of(schema)).iter_errors(value), key=lambda e: list(e.absolute_path)
    )
    if not errors:
        return None
    where = "/".join(str(p) for p in errors[0].absolute_path) or what
    return f"{where}: {errors[0].message}"
