"""The web chat widget: its files (``/widget.js``, ``/web/...``), the demo page at ``/`` and a development login.

The widget is plain JavaScript modules in the repository's ``web/`` folder, served as they are (no build
step). HTML pages carry a strict Content-Security-Policy: scripts, styles and connections from this origin
only, no inline code, and Trusted Types so that no string can ever become markup.

``POST /api/v1/dev/token`` mints a bearer token for any name. It exists only when ``GRAPHGATE_DEV_LOGIN`` is
true (``graphgate up`` turns it on when it binds to a loopback address); never enable it on a shared server.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict, Field

from graphgate.core.errors import Conflict, NotFound
from graphgate.core.settings import Settings
from graphgate.gateway.api.deps import GatewayDep
from graphgate.gateway.api.schemas import ErrorResponse
from graphgate.gateway.auth import mint_dev_token

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
DEMO_PAGE = "index.html"
DEV_TOKEN_TTL_SECONDS = 12 * 3600
# ``/widget.js`` re-exports web/widget.js so that the modules it imports resolve under /web/
WIDGET_ENTRY = 'export * from "./web/widget.js";\n'
# the widget's code loads on any page (a module script needs CORS): it is public and sent without
# credentials, and its API requests still obey GRAPHGATE_CORS_ORIGINS, so a page whose origin is not allowed
# gets a widget that says so instead of a script the browser silently blocks
PUBLIC_CODE = {"Access-Control-Allow-Origin": "*"}

CONTENT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
_SAFE_PATH = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*(/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*$")

PAGE_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
)


class DevLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sub: str = Field(..., min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$", description="Who to sign in as.")


class DevToken(BaseModel):
    token: str
    token_type: str = "bearer"
    expires_in: int
    sub: str


def web_file(name: str) -> Path:
    """The file ``web/<name>``, or ``NotFound`` for anything outside web/ or of a type not served."""
    if not _SAFE_PATH.match(name) or ".." in name.split("/"):
        raise NotFound("no such file")
    path = (WEB_DIR / name).resolve()
    if path.suffix not in CONTENT_TYPES or not path.is_file() or not path.is_relative_to(WEB_DIR.resolve()):
        raise NotFound("no such file")
    return path


def _serve(request: Request, name: str) -> Response:
    """A file of web/ with revalidation (``ETag``), and the page CSP when it is HTML."""
    path = web_file(name)
    stat = path.stat()
    etag = f'"{stat.st_mtime_ns:x}-{stat.st_size:x}"'
    headers = {"Cache-Control": "no-cache", "ETag": etag}
    if path.suffix == ".html":
        headers["Content-Security-Policy"] = PAGE_CSP
    else:
        headers.update(PUBLIC_CODE)
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return FileResponse(path, media_type=CONTENT_TYPES[path.suffix], headers=headers)


def router(settings: Settings) -> APIRouter:
    """The widget's routes; the development login only when ``settings.dev_login`` is true."""
    r = APIRouter()

    @r.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def demo_page(request: Request) -> Response:
        return _serve(request, DEMO_PAGE)

    @r.api_route("/widget.js", methods=["GET", "HEAD"], include_in_schema=False)
    async def widget() -> Response:
        return Response(
            WIDGET_ENTRY, media_type=CONTENT_TYPES[".js"], headers={"Cache-Control": "no-cache", **PUBLIC_CODE}
        )

    @r.api_route("/web/{name:path}", methods=["GET", "HEAD"], include_in_schema=False)
    async def web_asset(name: str, request: Request) -> Response:
        return _serve(request, name)

    if settings.dev_login:

        @r.post(
            "/api/v1/dev/token",
            response_model=DevToken,
            tags=["development"],
            responses={409: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
        )
        async def dev_token(body: DevLogin, gw: GatewayDep) -> DevToken:
            """A bearer token for ``sub``, no questions asked (``GRAPHGATE_DEV_LOGIN=true`` only)."""
            try:
                token = mint_dev_token(gw.settings, body.sub, DEV_TOKEN_TTL_SECONDS)
            except ValueError as exc:
                raise Conflict(str(exc)) from exc
            return DevToken(token=token, expires_in=DEV_TOKEN_TTL_SECONDS, sub=body.sub)

    return r
