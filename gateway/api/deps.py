"""FastAPI dependencies: the app's shared objects and the calling principal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import redis.asyncio as aioredis
from fastapi import Depends, Header, Request

from graphgate.core.approvals import Actor
from graphgate.core.errors import InvalidInput
from graphgate.core.registry import GraphRegistry
from graphgate.core.services import Services
from graphgate.core.settings import Settings
from graphgate.core.tasks import Principal, TaskService
from graphgate.gateway.auth import Authenticator
from graphgate.gateway.fanout import StreamHub


@dataclass
class Gateway:
    """What one API process holds: built in the app's lifespan, reached through ``request.app.state``."""

    services: Services
    auth: Authenticator
    hub: StreamHub

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def service(self) -> TaskService:
        return self.services.tasks

    @property
    def graphs(self) -> GraphRegistry:
        return self.services.graphs

    @property
    def redis(self) -> aioredis.Redis:
        return self.services.redis


# async on purpose: FastAPI runs a plain ``def`` dependency in its thread pool, a thread hop per request for
# what is a few microseconds of CPU (token verification does no I/O)
async def gateway(request: Request) -> Gateway:
    return request.app.state.gateway


async def principal(
    gw: Annotated[Gateway, Depends(gateway)],
    authorization: Annotated[str | None, Header(description="Bearer <JWT>")] = None,
) -> Principal:
    return gw.auth.principal_from_bearer(authorization)


async def actor(
    gw: Annotated[Gateway, Depends(gateway)],
    authorization: Annotated[str | None, Header(description="Bearer <JWT>")] = None,
) -> Actor:
    return gw.auth.actor_from_bearer(authorization)


async def known_query(request: Request) -> None:
    """Refuse query parameters the route does not take (422, nothing done): a misspelt ``limt=5`` is a
    mistake to report, not a request to serve with the defaults."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None or not request.query_params:
        return
    unknown = sorted(set(request.query_params) - _query_names(dependant))
    if unknown:
        raise InvalidInput(f"unknown query parameter(s): {', '.join(unknown)}")


def _query_names(dependant: Any) -> set[str]:
    """The query parameters a route (``fastapi`` ``Dependant``) takes, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


KNOWN_QUERY = [Depends(known_query)]  # the /api/v1 routers' own check of their query strings


def public_base(request: Request, settings: Settings) -> str:
    """The URL clients use to reach this API (``GRAPHGATE_PUBLIC_URL``, else the request's own)."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    return str(request.base_url).rstrip("/")


GatewayDep = Annotated[Gateway, Depends(gateway)]
PrincipalDep = Annotated[Principal, Depends(principal)]
ActorDep = Annotated[Actor, Depends(actor)]  # the caller with its token's claims: who answers routed questions
