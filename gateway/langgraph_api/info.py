"""``GET /info``: what this server is, as the LangGraph server answers it (clients read its flags)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import APIRouter

router = APIRouter(tags=["langgraph: info"])


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None


@router.get("/info")
async def info() -> dict[str, Any]:
    return {
        "version": _version("graphgate"),
        "langgraph_py_version": _version("langgraph"),
        "flags": {"assistants": True, "crons": False, "langsmith": False, "langsmith_tracing_replicas": False},
        "host": {"kind": "graphgate", "project_id": None, "revision_id": None, "tenant_id": None},
    }
