"""Telegram over HTTP: ``POST /telegram/webhook`` on the gateway's FastAPI app.

Telegram sends each update with the secret given to ``setWebhook`` in ``X-Telegram-Bot-Api-Secret-Token``;
a request without it, or with another value (compared in constant time), gets 403 and changes nothing.
The route answers 200 once the update was handled (or recognised as a re-sent one); when handling fails
it answers 503, so Telegram delivers the update again later.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from telegram import Update
from telegram.error import TelegramError

from graphgate.connectors.telegram.bot import build_bot, redacted
from graphgate.connectors.telegram.inbound import TelegramConnector
from graphgate.connectors.telegram.services import TelegramServices
from graphgate.core.errors import Forbidden
from graphgate.core.services import Services
from graphgate.core.settings import Settings

log = logging.getLogger("graphgate.telegram")

WEBHOOK_PATH = "/telegram/webhook"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def secret_matches(expected: str | None, given: str | None) -> bool:
    """True when a secret is configured and ``given`` equals it (constant-time comparison)."""
    if not expected or given is None:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())


def mount_telegram(app: FastAPI, settings: Settings, services: Callable[[], Services]) -> None:
    """Add ``POST /telegram/webhook`` to ``app``; the handler uses the ``services`` of the running app."""
    if not settings.telegram_webhook_secret:
        log.warning("GRAPHGATE_TELEGRAM_WEBHOOK_SECRET is not set: /telegram/webhook refuses every request")
    bot = build_bot(settings)
    built: list[tuple[Services, TelegramServices]] = []

    def current() -> TelegramServices:
        now = services()
        if not built or built[0][0] is not now:  # a new app lifespan opened new services
            built[:] = [(now, TelegramServices.of(now))]
        return built[0][1]

    connector = TelegramConnector(settings, bot, current)

    @asynccontextmanager
    async def lifespan(_app: Any) -> AsyncIterator[None]:
        try:
            await connector.ready()
        except TelegramError as exc:  # Telegram unreachable now: the first update tries again
            log.warning("telegram getMe failed at startup (%s); retrying on the first update", redacted(exc, settings))
        try:
            yield
        finally:
            try:
                await bot.shutdown()
            except TelegramError:
                pass

    router = APIRouter(tags=["telegram"], include_in_schema=False, lifespan=lifespan)

    @router.post(WEBHOOK_PATH)
    async def telegram_webhook(request: Request) -> Response:
        if not secret_matches(settings.telegram_webhook_secret, request.headers.get(SECRET_HEADER)):
            raise Forbidden(f"missing or wrong {SECRET_HEADER}")
        try:
            data = await request.json()
            if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
                raise ValueError("an update is a JSON object with an integer update_id")
            update = Update.de_json(data, bot)
        except Exception as exc:
            return JSONResponse({"error": {"code": "invalid_update", "message": str(exc)[:300]}}, status_code=400)
        try:
            await connector.handle(update)
        except Exception:
            log.exception("telegram update %s failed; Telegram will deliver it again", update.update_id)
            return JSONResponse({"error": {"code": "unavailable", "message": "try again later"}}, status_code=503)
        return JSONResponse({"ok": True})

    app.include_router(router)
