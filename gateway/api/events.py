"""``/api/v1/events/{session_id}``: a session's events as Server-Sent Events, resumable with Last-Event-ID."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from redis.exceptions import RedisError
from sse_starlette import EventSourceResponse

from graphgate.core.errors import InvalidInput
from graphgate.core.events import DeserializationError
from graphgate.core.tasks import Principal
from graphgate.gateway.api.deps import KNOWN_QUERY, GatewayDep, PrincipalDep, public_base
from graphgate.gateway.api.schemas import ErrorResponse, StreamToken
from graphgate.gateway.fanout import StreamHub, SubscriberTooSlow, parse_id, sse_frame

log = logging.getLogger("graphgate.api")
router = APIRouter(prefix="/api/v1", tags=["events"], dependencies=KNOWN_QUERY)

RETRY_MS = 1000  # how long a browser waits before reconnecting


@router.get(
    "/events/{session_id}",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "id: stream id, event: type, data: JSON envelope"},
        401: {"model": ErrorResponse},
        403: {"model": ErrorResponse},
        404: {"model": ErrorResponse},
        422: {"model": ErrorResponse},
    },
)
async def stream_events(
    session_id: str,
    request: Request,
    gw: GatewayDep,
    authorization: Annotated[str | None, Header()] = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    last_event_id: Annotated[str | None, Query(max_length=64, description="Same as the Last-Event-ID header")] = None,
    token: Annotated[str | None, Query(max_length=4096, description="Session-scoped stream token")] = None,
) -> EventSourceResponse:
    """Follow a session: every event after Last-Event-ID (all of them without it), then live ones."""
    if token is not None and not authorization:
        who: Principal = gw.auth.principal_from_stream_token(token, session_id)
    else:
        who = gw.auth.principal_from_bearer(authorization)
    await gw.service.authorize_session(who, session_id)
    after = last_event_id_header or last_event_id or "0-0"
    try:
        parse_id(after)
    except ValueError:
        raise InvalidInput("Last-Event-ID must be a stream id like 1732560000000-0") from None
    key = gw.service.keys.events(session_id)
    return EventSourceResponse(
        sse_feed(gw.hub, key, after),
        ping=gw.settings.sse_ping_seconds,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def sse_feed(hub: StreamHub, key: str, after: str) -> AsyncIterator[bytes]:
    """A client's SSE frames: every event of stream ``key`` after ``after``, then live ones.

    The first frame also tells the browser how long to wait before reconnecting (``retry:``, once per
    connection); every later one is the frame the hub's entry encoded once for all the stream's clients.
    """
    first = True
    try:
        async for entry in hub.follow(key, after):
            try:
                if first:
                    frame = sse_frame(entry.id, entry.event().type.value, entry.raw, retry=RETRY_MS)
                    first = False
                else:
                    frame = entry.frame()
            except DeserializationError:
                continue
            yield frame
    except SubscriberTooSlow:
        return  # the client reconnects with its Last-Event-ID and replays what it missed
    except RedisError as exc:  # Redis away, a cluster's primary failing over: the client reconnects likewise
        log.warning("event stream %s ended: %s: %s", key, type(exc).__name__, exc)
        return


@router.post(
    "/events/{session_id}/token",
    response_model=StreamToken,
    responses={401: {"model": ErrorResponse}, 404: {"model": ErrorResponse}},
)
async def stream_token(session_id: str, request: Request, gw: GatewayDep, who: PrincipalDep) -> StreamToken:
    """A short-lived token for this one session's stream (``?token=``), for EventSource in browsers."""
    await gw.service.authorize_session(who, session_id)
    token, ttl = gw.auth.mint_stream_token(who, session_id)
    base = public_base(request, gw.settings)
    return StreamToken(token=token, expires_in=ttl, events_url=f"{base}/api/v1/events/{session_id}?token={token}")
