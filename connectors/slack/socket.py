"""Slack over Socket Mode (``graphgate slack --socket``): for installs without a public URL.

The process opens a WebSocket to Slack with the app-level token (``GRAPHGATE_SLACK_APP_TOKEN``, scope
``connections:write``) and handles the same commands, events and clicks as ``/slack/events`` does, with its
own task service. Several such processes may run; Slack spreads the deliveries over their connections.
"""

from __future__ import annotations

import asyncio
import logging
import signal

from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from graphgate.connectors.slack.app import SlackConnector
from graphgate.connectors.slack.installs import SlackNotConfigured
from graphgate.core.services import open_services
from graphgate.core.settings import Settings

log = logging.getLogger("graphgate.slack")


async def serve_socket_mode(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT."""
    if not settings.slack_app_token:
        raise SlackNotConfigured("Socket Mode needs GRAPHGATE_SLACK_APP_TOKEN (an xapp- token)")
    services = open_services(settings)
    app = SlackConnector(settings, lambda: services).build()
    handler = AsyncSocketModeHandler(app, settings.slack_app_token)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await handler.connect_async()
    log.info("slack socket mode connected")
    try:
        await stop.wait()
    finally:
        await handler.close_async()
        await services.close()


def main(settings: Settings) -> int:
    """``graphgate slack --socket``."""
    asyncio.run(serve_socket_mode(settings))
    return 0
