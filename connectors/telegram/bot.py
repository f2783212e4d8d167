"""The python-telegram-bot objects graphgate uses, built from settings.

``GRAPHGATE_TELEGRAM_API_URL`` is the Bot API's base URL (``https://api.telegram.org``, a local Bot API
server, or a test fake); calls go to ``<url>/bot<token>/<method>`` as python-telegram-bot appends the
token to the ``base_url`` it is given.
"""

from __future__ import annotations

import logging
import warnings
from datetime import timedelta
from typing import Any

from telegram import Bot
from telegram.error import RetryAfter
from telegram.ext import Application, ApplicationBuilder
from telegram.request import HTTPXRequest

from graphgate.core.settings import Settings

ALLOWED_UPDATES = ["message", "callback_query"]
CONNECTIONS = 32  # concurrent Bot API requests per process


class TelegramNotConfigured(RuntimeError):
    """A Telegram setting the requested mode needs is missing or invalid."""


def api_url(settings: Settings) -> str:
    return (settings.telegram_api_url or "https://api.telegram.org").strip().rstrip("/")


def bot_id(token: str) -> str:
    """The bot's numeric id: the part of its token before the colon."""
    return token.split(":", 1)[0]


def redacted(exc: BaseException, settings: Settings) -> str:
    """An error's text with the bot token (which some python-telegram-bot errors quote) blanked out."""
    text = str(exc)
    return text.replace(settings.telegram_bot_token, "<bot token>") if settings.telegram_bot_token else text


def retry_after(exc: RetryAfter) -> float:
    """Seconds a flood-limited call must wait (python-telegram-bot gives int or timedelta)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


def _request(read_timeout: float = 20.0) -> HTTPXRequest:
    # httpx logs every request URL at INFO, and Bot API URLs carry the bot token: keep those lines out
    logging.getLogger("httpx").setLevel(max(logging.WARNING, logging.getLogger("httpx").getEffectiveLevel()))
    return HTTPXRequest(
        connection_pool_size=CONNECTIONS,
        read_timeout=read_timeout,
        write_timeout=20.0,
        connect_timeout=10.0,
        pool_timeout=30.0,
    )


def build_bot(settings: Settings) -> Bot:
    """A Bot for sending (the dispatcher's, or the gateway's for replies)."""
    token = settings.telegram_bot_token
    if not token:
        raise TelegramNotConfigured("set GRAPHGATE_TELEGRAM_BOT_TOKEN (from BotFather)")
    base = api_url(settings)
    return Bot(token, base_url=f"{base}/bot", base_file_url=f"{base}/file/bot", request=_request())


def build_application(settings: Settings, **hooks: Any) -> Application:  # type: ignore[type-arg]
    """A python-telegram-bot Application talking to ``GRAPHGATE_TELEGRAM_API_URL`` (``hooks``: post_init...)."""
    token = settings.telegram_bot_token
    if not token:
        raise TelegramNotConfigured("set GRAPHGATE_TELEGRAM_BOT_TOKEN (from BotFather)")
    base = api_url(settings)
    builder = (
        ApplicationBuilder()
        .token(token)
        .base_url(f"{base}/bot")
        .base_file_url(f"{base}/file/bot")
        .request(_request())
        .get_updates_request(_request(read_timeout=40.0))  # long polls (timeout 30 s) plus slack
    )
    for name, hook in hooks.items():
        builder = getattr(builder, name)(hook)
    return builder.build()
