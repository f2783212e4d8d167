"""FastAPI dependencies: the app's shared objects and the calling principal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request

from gateway.auth import Authenticator
from gateway.fanout import StreamHub
from gateway.settings import Settings
from gateway.tasks import Principal, TaskService


@dataclass
class Gateway:
    """What one API process holds: built in the app's lifespan, reached through ``request.app.state``."""

    settings: Settings
    service: TaskService
    auth: Authenticator
    hub: StreamHub
    graphs: Any  # workers.registry.GraphRegistry
    redis: Any


# async on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop per request for
# what is a few microseconds of CPU (token verification does no I/O)
async def gateway(request: Request) -> Gateway:
    return request.app.state.gateway


async def principal(
    gw: Annotated[Gateway, Depends(gateway)],
    authorization: Annotated[str | None, Header(description="Bearer <JWT>")] = None,
) -> Principal:
    return gw.auth.principal_from_bearer(authorization)


def public_base(request: Request, settings: Settings) -> str:
    """The URL clients use to reach this API (``GRAPHGATE_PUBLIC_URL``, else the request's own)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


GatewayDep = Annotated[Gateway, Depends(gateway)]
PrincipalDep = Annotated[Principal, Depends(principal)]
