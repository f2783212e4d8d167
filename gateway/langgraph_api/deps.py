"""What every route of the LangGraph API stands on: the caller, its rate limit, and where states are read.

The LangGraph SDK sends an API key as ``x-api-key``; graphgate takes the same bearer JWT there too
(``get_client(url, api_key=<jwt>)``), so an SDK client needs no custom header. ``Authorization`` wins when both
are sent.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header

from graphgate.core.tasks import Principal
from graphgate.gateway.api.deps import GatewayDep
from graphgate.gateway.langgraph_api.state import StateReader
from graphgate.gateway.ratelimit import RateLimiter


async def principal(
    gw: GatewayDep,
    authorization: Annotated[str | None, Header(description="Bearer <JWT>")] = None,
    x_api_key: Annotated[str | None, Header(description="The same JWT, as the LangGraph SDK's api_key")] = None,
) -> Principal:
    if not authorization and x_api_key:
        return gw.auth.principal_from_token(x_api_key.strip())
    return gw.auth.principal_from_bearer(authorization)


Caller = Annotated[Principal, Depends(principal)]


async def rate_limit(gw: GatewayDep, who: Caller) -> None:
    """Runs started, resumed and cancelled count against the caller's limit, as on /api/v1."""
    await RateLimiter(gw.redis, gw.service.keys, gw.settings.rate_limit_per_minute).hit(who)


RATE_LIMITED = [Depends(rate_limit)]


async def states(gw: GatewayDep) -> StateReader:
    return StateReader(gw.services)


States = Annotated[StateReader, Depends(states)]
