"""The LangGraph Server API: a second door to the same house (docs/langgraph-api.md).

An unchanged ``langgraph_sdk`` client (``get_client(url=..., headers={"Authorization": "Bearer <jwt>"})``)
talks to graphgate: assistant = registered graph, thread = session, run = task, stream modes = views of the
run's events. No second execution path: every call goes through the task service, the same workers run the
graph with the same checkpointer, and the stream is read from the same Redis stream as /api/v1's SSE.
"""

from __future__ import annotations

from fastapi import APIRouter

from graphgate.gateway.langgraph_api import assistants, info, runs, threads, unsupported


def routers() -> list[APIRouter]:
    """The API's routers, in the order they are included (real routes before the 501 ones)."""
    return [info.router, assistants.router, threads.router, runs.router, unsupported.router()]
