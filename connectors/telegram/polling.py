"""``graphgate telegram``: long polling for hosts without a public URL, and the webhook helpers.

``graphgate telegram --polling`` runs a python-telegram-bot ``Application`` that fetches updates with
``getUpdates`` (removing any webhook first, as Telegram serves one or the other) and hands each to the same
connector the webhook route uses, with its own task service. Run one polling process per bot: Telegram
answers a second concurrent ``getUpdates`` with 409 Conflict.

``graphgate telegram set-webhook --url https://bot.example.com`` registers ``<url>/telegram/webhook`` with
the secret from ``GRAPHGATE_TELEGRAM_WEBHOOK_SECRET``; ``delete-webhook`` removes it again.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, ContextTypes, TypeHandler

from graphgate.connectors.telegram.bot import (
    ALLOWED_UPDATES,
    TelegramNotConfigured,
    build_application,
    build_bot,
    redacted,
)
from graphgate.connectors.telegram.inbound import TelegramConnector
from graphgate.connectors.telegram.services import TelegramServices
from graphgate.connectors.telegram.webhook import WEBHOOK_PATH
from graphgate.core.services import open_services
from graphgate.core.settings import Settings

log = logging.getLogger("graphgate.telegram")

_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def run_polling(settings: Settings) -> int:
    """Fetch and handle updates until SIGINT or SIGTERM."""
    state: dict[str, Any] = {}

    async def post_init(application: Application) -> None:  # type: ignore[type-arg]
        services = open_services(settings)
        telegram = TelegramServices.of(services)
        state["services"] = services
        state["connector"] = TelegramConnector(settings, application.bot, lambda: telegram)
        log.info("telegram polling as @%s", application.bot.username)

    async def post_shutdown(application: Application) -> None:  # type: ignore[type-arg]
        if "services" in state:
            await state["services"].close()

    async def on_update(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await state["connector"].handle(update)

    async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram update failed: %s", context.error, exc_info=context.error)

    application = build_application(settings, post_init=post_init, post_shutdown=post_shutdown)
    application.add_handler(TypeHandler(Update, on_update))
    application.add_error_handler(on_error)
    application.run_polling(allowed_updates=ALLOWED_UPDATES, drop_pending_updates=False, close_loop=False)
    return 0


def webhook_url(url: str) -> str:
    """The full webhook URL for a gateway base URL (or a full webhook URL, unchanged)."""
    url = url.strip().rstrip("/")
    return url if url.endswith(WEBHOOK_PATH) else url + WEBHOOK_PATH


async def set_webhook(settings: Settings, url: str, drop_pending: bool = False) -> str:
    """Register the webhook with Telegram; the URL registered."""
    secret = settings.telegram_webhook_secret
    if not secret or not _SECRET_RE.match(secret):
        raise TelegramNotConfigured("GRAPHGATE_TELEGRAM_WEBHOOK_SECRET must be 1-256 characters of A-Z a-z 0-9 _ -")
    full = webhook_url(url)
    async with build_bot(settings) as bot:
        await bot.set_webhook(
            full,
            secret_token=secret,
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=drop_pending,
            max_connections=40,
        )
    return full


async def delete_webhook(settings: Settings, drop_pending: bool = False) -> None:
    async with build_bot(settings) as bot:
        await bot.delete_webhook(drop_pending_updates=drop_pending)


def main(settings: Settings, action: str | None, polling: bool, url: str | None, drop_pending: bool) -> int:
    """``graphgate telegram [--polling | set-webhook --url URL | delete-webhook]``."""
    try:
        if action == "set-webhook":
            base = url or settings.public_url
            if not base:
                print("graphgate telegram set-webhook: give --url (or set GRAPHGATE_PUBLIC_URL)", file=sys.stderr)
                return 2
            full = asyncio.run(set_webhook(settings, base, drop_pending))
            print(f"graphgate: Telegram now sends updates to {full}")
            return 0
        if action == "delete-webhook":
            asyncio.run(delete_webhook(settings, drop_pending))
            print("graphgate: Telegram webhook removed")
            return 0
        if polling:
            return run_polling(settings)
    except TelegramNotConfigured as exc:
        print(f"graphgate telegram: {exc}", file=sys.stderr)
        return 2
    except TelegramError as exc:
        print(f"graphgate telegram: the Bot API refused: {redacted(exc, settings)}", file=sys.stderr)
        return 1
    print(
        "graphgate telegram: the webhook runs inside `graphgate api` at /telegram/webhook; use --polling to "
        "poll instead, or set-webhook --url to register it",
        file=sys.stderr,
    )
    return 2
