"""The FastAPI application: routes, error mapping, limits and the process-wide objects behind them."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphgate.core import attachments
from graphgate.core.errors import GraphgateError
from graphgate.core.services import Services, open_services
from graphgate.core.settings import Settings, get_settings
from graphgate.gateway import metrics
from graphgate.gateway.api import approvals as approvals_api
from graphgate.gateway.api import events as events_api
from graphgate.gateway.api import feedback as feedback_api
from graphgate.gateway.api import files as files_api
from graphgate.gateway.api import health as health_api
from graphgate.gateway.api import schedules as schedules_api
from graphgate.gateway.api import sessions as sessions_api
from graphgate.gateway.api import tasks as tasks_api
from graphgate.gateway.api import web as web_api
from graphgate.gateway.api.deps import Gateway
from graphgate.gateway.auth import Authenticator
from graphgate.gateway.fanout import StreamHub
from graphgate.gateway.langgraph_api import routers as langgraph_routers

log = logging.getLogger("graphgate.api")

# Python's cyclic GC runs a young collection every 700 net allocations by default. With a thousand SSE clients
# that promotes short-lived per-event objects into the old generation, and full collections over ~500k live
# objects then stall the event loop for 100-500 ms every few seconds (bench: p99 delivery lag 400-600 ms).
# A larger young generation lets them die young: no full collections in the bench, p99 lag under 50 ms.
GC_GEN0_THRESHOLD = 50_000


Mount = Callable[[FastAPI, Settings, Callable[[], Services]], None]  # adds a connector's routes to the app


def create_app(settings: Settings | None = None, mounts: Sequence[Mount] = ()) -> FastAPI:
    """The HTTP app, with the routes each of ``mounts`` adds. The product's ASGI app, with the configured chat
    connectors mounted, is ``graphgate.cli.compose:create_app``."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gc.set_threshold(GC_GEN0_THRESHOLD, *gc.get_threshold()[1:])
        # a burst of SSE clients replaying at once waits for a free connection instead of failing
        services = open_services(settings, max_connections=settings.redis_max_connections)
        hub = StreamHub(settings, services.redis)
        await hub.start()
        app.state.gateway = Gateway(services=services, auth=Authenticator(settings), hub=hub)
        sweeper = asyncio.create_task(attachments.sweep_forever(settings), name="sweep files")
        try:
            yield
        finally:
            sweeper.cancel()
            await hub.stop()
            await services.close()

    app = FastAPI(
        title="graphgate",
        version="0.1.0",
        summary="Run LangGraph graphs behind an HTTPS API, chat platforms and a web widget.",
        lifespan=lifespan,
    )
    app.include_router(tasks_api.router)
    app.include_router(approvals_api.router)
    app.include_router(feedback_api.router)
    app.include_router(schedules_api.router)
    app.include_router(sessions_api.router)
    app.include_router(files_api.router)
    app.include_router(events_api.router)
    app.include_router(health_api.router)
    # the LangGraph Server API at the root, where the SDK looks (docs/langgraph-api.md); its contract is the
    # LangGraph server's, documented there, so it stays out of graphgate's own OpenAPI document
    for router in langgraph_routers():
        app.include_router(router, include_in_schema=False)
    for mount in mounts:  # the chat connectors' webhooks, handed in by the composition root (graphgate/cli)
        mount(app, settings, lambda: app.state.gateway.services)
    app.include_router(metrics.router)
    app.include_router(web_api.router(settings))
    _install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            # the LangGraph SDK in a browser: threads.delete/update, its x-api-key, and the headers it reads
            # (Content-Location names a new run; the pagination headers page searches)
            allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID", "X-Api-Key"],
            expose_headers=["Content-Location", "Location", "X-Pagination-Next", "X-Pagination-Total"],
        )
    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        paths={files_api.UPLOAD_PATH: max(settings.attachment_max_bytes, settings.max_body_bytes)},
    )
    app.add_middleware(SecurityHeaders)  # outermost: on every response, the body limit's 413 included
    return app


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message, **extra}}, status_code=status, headers=headers)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GraphgateError)
    async def graphgate_error(request: Request, exc: GraphgateError) -> JSONResponse:
        return _error(exc.status_code, exc.code, exc.message, exc.headers)

    @app.exception_handler(RedisError)
    async def redis_error(request: Request, exc: RedisError) -> JSONResponse:
        # Redis restarting or failing over: a short outage the client can wait out, not a server bug
        log.warning("redis unavailable for %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return _error(503, "unavailable", "the task store is unavailable; try again shortly", {"Retry-After": "2"})

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # the framework's own errors (unknown route, wrong method, unparsable body) in the same envelope
        if exc.status_code == 400 and isinstance(exc.__cause__, (UnicodeDecodeError, RecursionError, ValueError)):
            return _error(
                422, "invalid_request", "body: not valid JSON (bad UTF-8, nested too deep or a number too long)"
            )
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, not just those of the first route that matched it
            headers["Allow"] = ", ".join(_allowed_methods(request))
        return _error(exc.status_code, code, str(exc.detail), headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            problems.append(f"{where}: {err.get('msg', 'invalid')}")
        return _error(422, "invalid_request", "; ".join(problems) or "invalid request")


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at the request's path (routers included into the app are walked)."""
    path, methods = request.url.path, set()

    def walk(routes: Any) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                walk(inner.routes)
            elif (
                getattr(route, "methods", None) and getattr(route, "path_regex", None) and route.path_regex.match(path)
            ):
                methods.update(route.methods)

    walk(request.app.router.routes)
    return sorted(methods)


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` (``paths``: a larger limit for a path, the file upload) with
    413, whether or not Content-Length is sent.

    The body is read (up to the limit) before the app sees the request, then handed on unchanged.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, paths: dict[str, int] | None = None) -> None:
        self.app, self.max_bytes = app, max_bytes
        self.paths = dict(paths or {})  # a path with a limit of its own (file uploads)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        limit = self.paths.get(scope.get("path", ""), self.max_bytes)
        too_large = _error(413, "payload_too_large", f"body exceeds {limit} bytes")
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                return await too_large(scope, receive, send)
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                return await too_large(scope, receive, send)
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


class SecurityHeaders:
    """Headers every response carries (nginx adds HSTS in front of TLS)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k, v) for k, v in SECURITY_HEADERS if k not in present
                ]
            await send(message)

        await self.app(scope, receive, with_headers)
