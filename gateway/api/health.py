"""Liveness and readiness."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from graphgate.core.checkpointer import check_checkpointer
from graphgate.core.durability import check_redis, unsupported
from graphgate.core.queue import app as run_queue
from graphgate.gateway.api.deps import GatewayDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process answers."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "A dependency is unreachable"}})
async def readyz(gw: GatewayDep) -> JSONResponse:
    """Redis, the broker and the checkpointer answer, and the graphs are loaded; ``warnings`` say when the Redis
    holding state has no persistence or may evict keys (still ready: the operator decides)."""
    checks: dict[str, Any] = {}
    try:
        await asyncio.wait_for(gw.redis.ping(), 2)
        problem = await unsupported(gw.redis)
        checks["redis"] = f"error: {problem}" if problem else "ok"
    except Exception as exc:
        checks["redis"] = f"error: {exc}"
    checks["broker"] = await asyncio.to_thread(_check_broker)
    checks["checkpointer"] = await asyncio.to_thread(_check_checkpointer, gw)
    checks["graphs"] = gw.graphs.names()
    ok = all(v == "ok" for k, v in checks.items() if k != "graphs")
    body: dict[str, Any] = {"status": "ok" if ok else "unavailable", "checks": checks}
    if checks["redis"] == "ok":
        # ready, but told: a Redis that may lose or evict state (graphgate/core/durability.py)
        body["warnings"] = await check_redis(gw.redis)
    return JSONResponse(body, status_code=200 if ok else 503)


def _check_broker() -> str:
    try:
        with run_queue.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return "ok"
    except Exception as exc:
        return f"error: {exc}"


def _check_checkpointer(gw: Any) -> str:
    try:
        check_checkpointer(gw.settings)
        return "ok"
    except Exception as exc:
        return f"error: {exc}"
