"""``/api/v1/files``: upload a file to send with a task's message, and read one back
(graphgate/core/attachments.py, docs/files.md)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel

from graphgate.core.attachments import Attachment, AttachmentStore, clean_name
from graphgate.core.errors import InvalidInput, NotFound
from graphgate.gateway.api.deps import KNOWN_QUERY, GatewayDep, PrincipalDep, public_base
from graphgate.gateway.api.schemas import ErrorResponse
from graphgate.gateway.api.tasks import ERRORS, LIMITED, RATE_LIMITED

router = APIRouter(prefix="/api/v1", tags=["files"], dependencies=KNOWN_QUERY)
UPLOAD_PATH = "/api/v1/files"  # its body may be as large as GRAPHGATE_ATTACHMENT_MAX_BYTES (gateway/app.py)


class FileOut(BaseModel):
    file_id: str
    name: str
    mime_type: str
    size: int
    url: str  # signed: fetchable without a bearer token (by a model provider, a browser)

    @classmethod
    def of(cls, store: AttachmentStore, attachment: Attachment, base: str) -> FileOut:
        return cls(
            file_id=attachment.file_id,
            name=attachment.name,
            mime_type=attachment.mime_type,
            size=attachment.size,
            url=store.signed_url(base, attachment.file_id),
        )


@router.post(
    "/files",
    status_code=201,
    response_model=FileOut,
    responses={**LIMITED, 413: {"model": ErrorResponse, "description": "File too large"}},
    dependencies=RATE_LIMITED,
    openapi_extra={"requestBody": {"content": {"application/octet-stream": {"schema": {"type": "string"}}}}},
)
async def upload_file(
    request: Request,
    gw: GatewayDep,
    who: PrincipalDep,
    name: Annotated[str, Query(max_length=255, description="The file's name")] = "file",
) -> FileOut:
    """Store a file (the raw bytes as the body, its MIME type as Content-Type) to send with a task:
    ``POST /api/v1/tasks {"files": [file_id], …}``. Refused (nothing stored): past
    ``GRAPHGATE_ATTACHMENT_MAX_BYTES`` (413), a type not accepted or an empty file (422)."""
    mime_type = request.headers.get("content-type") or ""
    if not mime_type:
        raise InvalidInput("give the file's type as Content-Type, e.g. image/png")
    data = await request.body()
    store = gw.services.attachments
    attachment = await store.put(who.id, data, mime_type, clean_name(name))
    return FileOut.of(store, attachment, public_base(request, gw.settings))


@router.get(
    "/files/{file_id}",
    responses={200: {"content": {"application/octet-stream": {}}}, 404: ERRORS[404]},
    response_class=Response,
)
async def read_file(
    file_id: str, request: Request, gw: GatewayDep, sig: Annotated[str | None, Query(max_length=64)] = None
) -> Response:
    """A stored file: with its signed URL's ``sig``, or as its owner (bearer token). Images are shown inline,
    other files download."""
    store = gw.services.attachments
    if sig is not None:
        if not store.check_signature(file_id, sig):
            raise NotFound(f"file {file_id!r} not found")
        attachment = await store.describe(file_id)
    else:
        who = gw.auth.principal_from_bearer(request.headers.get("authorization"))
        attachment = (await store.owned(who.id, [file_id]))[0]
    disposition = "inline" if attachment.kind == "image" else "attachment"
    return Response(
        await store.read(attachment),
        media_type=attachment.mime_type,
        headers={
            "content-disposition": f"{disposition}; filename*=UTF-8''{quote(attachment.name)}",
            "cache-control": "private, max-age=3600",
            "content-security-policy": "default-src 'none'; sandbox",
        },
    )
