"""The composition root: the one place where the HTTP app, the workers and the connectors meet.

The parts never import one another (tests/test_layers.py); this module hands each what it needs:

* ``create_app()``: the product's ASGI app, the HTTP app with the configured chat connectors' webhooks
  mounted (``uvicorn --factory graphgate.cli.compose:create_app``, or gunicorn's ``create_app()``);
* ``PLATFORMS``: the chat platforms the dispatcher delivers to, by the name a task's binding gives.
"""

from __future__ import annotations

from fastapi import FastAPI

from graphgate.connectors.slack import delivery as slack_delivery
from graphgate.connectors.slack.http import mount_slack
from graphgate.connectors.telegram import delivery as telegram_delivery
from graphgate.connectors.telegram.webhook import mount_telegram
from graphgate.core.platform import PlatformFactory
from graphgate.core.settings import Settings, get_settings
from graphgate.gateway import app as http_app

PLATFORMS: dict[str, PlatformFactory] = {
    "slack": slack_delivery.platform,
    "telegram": telegram_delivery.platform,
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API: tasks, events, the widget, metrics, and the webhooks of the chat platforms configured."""
    settings = settings or get_settings()
    mounts: list[http_app.Mount] = []
    if settings.slack_signing_secret:  # Slack's /slack/events (+ OAuth install routes): docs/slack.md
        mounts.append(mount_slack)
    if settings.telegram_bot_token:  # Telegram's POST /telegram/webhook: docs/telegram.md
        mounts.append(mount_telegram)
    return http_app.create_app(settings, mounts)
