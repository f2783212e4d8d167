"""Slack over Socket Mode (``graphgate slack --socket``): for installs without a public URL.

The process opens a WebSocket to Slack with the app-level token (``GRAPHGATE_SLACK_APP_TOKEN``, scope
``connections:write``) and handles the same commands, events and clicks as ``/slack/events`` does, with its
own task service. Several such processes may run; Slack spreads the deliveries over their connections.
"""

from __future__ import annotations

import asyncio
import logging
import signal

import redis.asyncio as aioredis
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

from connectors.slack.app import SlackConnector, SlackServices
from connectors.slack.installs import SlackNotConfigured
from gateway.inbound import InboundLog
from gateway.settings import Settings
from gateway.tasks import TaskService

log = logging.getLogger("graphgate.slack")


async def serve_socket_mode(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT."""
    if not settings.slack_app_token:
        raise SlackNotConfigured("Socket Mode needs GRAPHGATE_SLACK_APP_TOKEN (an xapp- token)")
    from workers.celery_app import enqueue_run
    from workers.registry import load_registry

    graphs = load_registry(settings.config, settings.default_graph)
    client = aioredis.Redis.from_url(settings.redis_url, decode_responses=True, health_check_interval=30)
    services = SlackServices(tasks=TaskService(client, settings, enqueue_run, graphs), inbound=InboundLog(client, settings))
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
        await client.aclose()


def main(settings: Settings) -> int:
    """``graphgate slack --socket``."""
    asyncio.run(serve_socket_mode(settings))
    return 0
