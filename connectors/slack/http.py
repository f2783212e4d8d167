"""Slack over HTTP: the Events API, interactivity and OAuth routes, mounted on the gateway's FastAPI app.

``/slack/events`` takes slash commands, events and button clicks (Request URL of all three in the app
config); ``/slack/install`` and ``/slack/oauth_redirect`` serve multi-workspace installs. Requests go
through Bolt's Starlette/FastAPI adapter, so Bolt verifies the signature and timestamp of each.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler

from connectors.slack.app import EVENTS_PATH, INSTALL_PATH, REDIRECT_PATH, SlackConnector, SlackServices
from gateway.inbound import InboundLog
from gateway.settings import Settings


def mount_slack(app: FastAPI, settings: Settings) -> None:
    """Add the Slack routes to ``app``; the handlers use the task service of ``app.state.gateway``."""
    services: list[SlackServices] = []

    def current() -> SlackServices:
        gw = app.state.gateway
        if not services or services[0].tasks is not gw.service:
            services[:] = [SlackServices(tasks=gw.service, inbound=InboundLog(gw.redis, settings))]
        return services[0]

    bolt = SlackConnector(settings, current).build()
    handler = AsyncSlackRequestHandler(bolt)
    router = APIRouter(tags=["slack"], include_in_schema=False)

    @router.post(EVENTS_PATH)
    async def slack_events(request: Request) -> Response:
        return await handler.handle(request)

    if bolt.oauth_flow is not None:

        @router.get(INSTALL_PATH)
        async def slack_install(request: Request) -> Response:
            return await handler.handle(request)

        @router.get(REDIRECT_PATH)
        async def slack_oauth_redirect(request: Request) -> Response:
            return await handler.handle(request)

    app.include_router(router)
