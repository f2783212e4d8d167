"""Slack over HTTP: the Events API, interactivity and OAuth routes, mounted on the gateway's FastAPI app.

``/slack/events`` takes slash commands, events and button clicks (Request URL of all three in the app
config); ``/slack/install`` and ``/slack/oauth_redirect`` serve multi-workspace installs. Requests go
through Bolt's Starlette/FastAPI adapter, so Bolt verifies the signature and timestamp of each.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response
from slack_bolt.adapter.fastapi.async_handler import AsyncSlackRequestHandler

from graphgate.connectors.slack.app import (
    EVENTS_PATH,
    INSTALL_PATH,
    REDIRECT_PATH,
    SlackConnector,
)
from graphgate.core.services import Services
from graphgate.core.settings import Settings


def mount_slack(app: FastAPI, settings: Settings, services: Callable[[], Services]) -> None:
    """Add the Slack routes to ``app``; the handlers use the ``services`` of the running app."""
    bolt = SlackConnector(settings, services).build()
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
