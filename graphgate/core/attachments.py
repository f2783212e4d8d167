"""Files people send with a message (a Telegram photo, a Slack upload, a widget attachment): stored once,
handed to the graph as LangChain content blocks on the user's message.

``AttachmentStore.put`` checks a file against the limits (``GRAPHGATE_ATTACHMENT_MAX_BYTES``, the MIME
allow-list ``GRAPHGATE_ATTACHMENT_TYPES``), writes its bytes under ``GRAPHGATE_ATTACHMENTS_DIR`` and its
description to Redis (``Keys.attachment``, expiring with sessions). A file refused is never written.

A graph gets a file as a content block (``blocks``): ``{"type": "image" | "audio" | "file", "url": …,
"mime_type": …, "extras": {"name", "size", "file_id"}}``. The URL is the gateway's
``/api/v1/files/<id>?sig=…``, signed with ``GRAPHGATE_SECRET_KEY`` (``signed_url``, ``check_signature``): a
model provider, a browser or a graph's own tool can fetch it without a bearer token, and no one can guess
another file's. Types a model must get inline (``GRAPHGATE_ATTACHMENTS_INLINE``: by default everything but
images, as OpenAI's Chat Completions takes PDFs and audio only as base64) get their bytes put into the block
by the worker when the run starts (``inline``). ``with_files`` puts the blocks where the graph takes them: on the last user message of a
``messages`` input (the text becomes a text block beside them), or in an ``attachments`` input field; a
graph that takes neither refuses files with a clear message.

The bytes live in one directory (``LocalBlobs``: for several hosts, a volume all of them mount), or in an S3
bucket (``S3Blobs``: AWS or any S3-compatible store) when ``GRAPHGATE_ATTACHMENTS_S3_BUCKET`` is set. Platform
tokens (the Slack bot token, the Telegram bot token in a file URL) are used by the connectors to download
and never written into a block, an event or a log line.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import redis.asyncio as aioredis

from graphgate.core.errors import InvalidInput, NotFound, PayloadTooLarge
from graphgate.core.keys import Keys
from graphgate.core.registry import GraphRegistry
from graphgate.core.settings import Settings
from graphgate.core.webhooks import AddressRefused, check_public

log = logging.getLogger(__name__)
# a file's bytes outlive its description (GRAPHGATE_SESSION_TTL_SECONDS) by this much before they are swept
SWEEP_MARGIN_SECONDS = 3600.0

FILE_ID_CHARS = 32
NAME_CHARS = 200
GRAPHGATE_FILE = "graphgate_file"  # in a block's extras: the stored file it stands for


@dataclass(frozen=True)
class Attachment:
    file_id: str
    name: str
    mime_type: str
    size: int
    sha256: str
    owner: str
    created_at: float

    @property
    def kind(self) -> str:
        """The content block type: image, audio, or file."""
        major = self.mime_type.split("/", 1)[0]
        return major if major in ("image", "audio") else "file"


def base_type(mime_type: str) -> str:
    """``image/png`` of ``image/png; charset=…``, lower case."""
    return mime_type.split(";", 1)[0].strip().lower()


def clean_name(name: str) -> str:
    """A file name safe to show and to put in a Content-Disposition header."""
    kept = "".join(c for c in name.replace("\\", "/").rsplit("/", 1)[-1] if c.isprintable() and c not in '"\r\n')
    return kept.strip()[:NAME_CHARS] or "file"


def signature(secret: str, file_id: str) -> str:
    return hmac.new(secret.encode(), f"file:{file_id}".encode(), hashlib.sha256).hexdigest()[:32]


def signed_url(settings: Settings, base_url: str, file_id: str) -> str:
    """The link anyone holding it may read the file by (no bearer token)."""
    sig = signature(settings.resolved_secret_key(), file_id)
    return f"{base_url.rstrip('/')}/api/v1/files/{file_id}?sig={sig}"


class AttachmentStore:
    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.keys = Keys.of(settings)

    # --- limits ---------------------------------------------------------------------------------------

    def refusal(self, mime_type: str, size: int) -> str | None:
        """Why a file of this type and size is refused (a sentence for the sender), or None."""
        return refusal(self.settings, mime_type, size)

    def check_count(self, count: int) -> None:
        if count > self.settings.attachments_per_message:
            raise InvalidInput(f"at most {self.settings.attachments_per_message} files per message")

    # --- storing and reading --------------------------------------------------------------------------

    async def put(self, owner: str, data: bytes, mime_type: str, name: str) -> Attachment:
        """Store a file of ``owner``; ``PayloadTooLarge`` / ``InvalidInput`` (nothing written) past the limits."""
        attachment = await asyncio.to_thread(write, self.settings, owner, data, mime_type, name)
        key, value, ttl = description(self.keys, self.settings, attachment)
        await self.redis.set(key, value, ex=ttl)
        return attachment

    async def describe(self, file_id: str) -> Attachment:
        """The file's description; ``NotFound`` for an unknown or expired one."""
        raw = await self.redis.get(self.keys.attachment(file_id)) if _valid_id(file_id) else None
        if raw is None:
            raise NotFound(f"file {file_id!r} not found")
        return Attachment(**json.loads(cast("str", raw)))

    async def owned(self, owner: str, file_ids: list[str]) -> list[Attachment]:
        """The files of ``owner`` named by ``file_ids``, in order; ``NotFound`` for one that is not theirs."""
        self.check_count(len(file_ids))
        found = [await self.describe(file_id) for file_id in file_ids]
        for attachment in found:
            if attachment.owner != owner:
                raise NotFound(f"file {attachment.file_id!r} not found")
        return found

    async def read(self, attachment: Attachment) -> bytes:
        data = await asyncio.to_thread(blobs(self.settings).get, attachment.file_id)
        if data is None:
            raise NotFound(f"file {attachment.file_id!r} not found")
        return data

    # --- handing files to a graph ---------------------------------------------------------------------

    def signed_url(self, base_url: str, file_id: str) -> str:
        return signed_url(self.settings, base_url, file_id)

    def check_signature(self, file_id: str, sig: str) -> bool:
        """Whether ``sig`` signs ``file_id`` (False for anything malformed: any text may come in a URL)."""
        if not _valid_id(file_id):
            return False
        expected = signature(self.settings.resolved_secret_key(), file_id)
        return hmac.compare_digest(expected.encode(), sig.encode("utf-8", "replace"))

    def blocks(self, attachments: list[Attachment], base_url: str) -> list[dict[str, Any]]:
        """LangChain content blocks of ``attachments``, each by its signed URL (the worker puts the bytes
        inline, base64, for the types ``GRAPHGATE_ATTACHMENTS_INLINE`` names: ``inline``)."""
        return [
            {
                "type": a.kind,
                "url": self.signed_url(base_url, a.file_id),
                "mime_type": a.mime_type,
                "extras": {"filename": a.name, "size": a.size, GRAPHGATE_FILE: a.file_id},
            }
            for a in attachments
        ]


def refusal(settings: Settings, mime_type: str, size: int) -> str | None:
    """Why a file of this type and size is refused (a sentence for the sender), or None."""
    limit = settings.attachment_max_bytes
    if size > limit:
        return f"the file is {_mb(size)}; files may be at most {_mb(limit)}"
    if size == 0:
        return "the file is empty"
    allowed = settings.attachment_types
    if not matches(mime_type, allowed):
        kind = base_type(mime_type)
        return f"files of type {kind or 'unknown'} are not accepted (accepted: {', '.join(allowed)})"
    return None


def write(settings: Settings, owner: str, data: bytes, mime_type: str, name: str) -> Attachment:
    """Check a file against the limits and write its bytes; its description (for the caller to keep)."""
    mime_type = base_type(mime_type)
    why = refusal(settings, mime_type, len(data))
    if why is not None:
        raise (PayloadTooLarge if len(data) > settings.attachment_max_bytes else InvalidInput)(why)
    attachment = Attachment(
        file_id=secrets.token_hex(FILE_ID_CHARS // 2),
        name=clean_name(name),
        mime_type=mime_type,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        owner=owner,
        created_at=time.time(),
    )
    blobs(settings).put(attachment.file_id, data, mime_type)
    return attachment


# --- where the bytes are kept ------------------------------------------------------------------------------


def description(keys: Keys, settings: Settings, attachment: Attachment) -> tuple[str, str, int]:
    """Where a file's description is kept in Redis, what it holds, and for how long (the session TTL): the API
    writes it for an upload, a worker for a file a graph answered with."""
    return keys.attachment(attachment.file_id), json.dumps(asdict(attachment)), settings.session_ttl_seconds


class LocalBlobs:
    """A directory (``GRAPHGATE_ATTACHMENTS_DIR``): for one host, or a volume every host mounts."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _path(self, file_id: str) -> Path:
        return self.folder / file_id[:2] / file_id

    def put(self, file_id: str, data: bytes, mime_type: str) -> None:
        path = self._path(file_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(path)

    def get(self, file_id: str) -> bytes | None:
        path = self._path(file_id)
        return path.read_bytes() if _valid_id(file_id) and path.is_file() else None

    def sweep(self, max_age: float, now: float | None = None) -> int:
        """Delete the files (and half-written ``.part`` files) written more than ``max_age`` seconds ago: their
        descriptions have expired, so nothing can reach them. How many were deleted."""
        cutoff = (time.time() if now is None else now) - max_age
        deleted = 0
        if not self.folder.is_dir():
            return 0
        for shard in self.folder.iterdir():
            if not shard.is_dir():
                continue
            for path in shard.iterdir():
                try:
                    if path.is_file() and path.stat().st_mtime < cutoff:
                        path.unlink()
                        deleted += 1
                except FileNotFoundError:
                    continue  # another host sharing the volume swept it first
        return deleted


class S3Blobs:
    """A bucket of S3 or an S3-compatible store (MinIO, Ceph, R2…): ``GRAPHGATE_ATTACHMENTS_S3_BUCKET``, with
    ``GRAPHGATE_ATTACHMENTS_S3_ENDPOINT`` for one that is not AWS; credentials as boto3 finds them (the
    ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` variables, a profile, an instance role)."""

    def __init__(self, settings: Settings) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = str(settings.attachments_s3_bucket)
        self.prefix = settings.attachments_s3_prefix
        config = Config(
            s3={"addressing_style": "path" if settings.attachments_s3_endpoint else "auto"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            retries={"max_attempts": 3, "mode": "standard"},
        )
        self.client = boto3.session.Session().client(  # a session of its own: credentials as they are now
            "s3",
            endpoint_url=settings.attachments_s3_endpoint,
            region_name=settings.attachments_s3_region,
            config=config,
        )

    def put(self, file_id: str, data: bytes, mime_type: str) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self.prefix + file_id, Body=data, ContentType=mime_type)

    def get(self, file_id: str) -> bytes | None:
        if not _valid_id(file_id):
            return None
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.prefix + file_id)
        except self.client.exceptions.NoSuchKey:
            return None
        return cast("bytes", answer["Body"].read())


_blobs: dict[tuple[Any, ...], LocalBlobs | S3Blobs] = {}


async def sweep_forever(settings: Settings, every: float = 3600.0) -> None:
    """Delete expired local files every ``every`` seconds (the API runs it; an S3 bucket expires its objects
    by a lifecycle rule instead: docs/files.md)."""
    store = blobs(settings)
    if not isinstance(store, LocalBlobs):
        return
    while True:
        try:
            deleted = await asyncio.to_thread(store.sweep, settings.session_ttl_seconds + SWEEP_MARGIN_SECONDS)
            if deleted:
                log.info("deleted %d expired files from %s", deleted, store.folder)
        except OSError:
            log.exception("could not sweep %s", store.folder)
        await asyncio.sleep(every)


def blobs(settings: Settings) -> LocalBlobs | S3Blobs:
    """Where this process keeps the bytes of files (one store per configuration, made on first use)."""
    key = (
        settings.attachments_s3_bucket,
        settings.attachments_s3_endpoint,
        settings.attachments_dir,
        settings.data_dir,
    )
    if key not in _blobs:
        if settings.attachments_s3_bucket:
            _blobs[key] = S3Blobs(settings)
        else:
            _blobs[key] = LocalBlobs(Path(settings.attachments_dir or settings.data_dir / "attachments"))
    return _blobs[key]


# --- files a graph answers with ------------------------------------------------------------------------

EXTENSIONS = {
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/gif": "gif",
    "image/webp": "webp",
    "application/pdf": "pdf",
}


def answer_blocks(output: Any) -> list[dict[str, Any]]:
    """The file blocks of a graph's final answer: image / file / audio blocks of its last AI message, and
    the blocks (or ``{"url" | "base64", "mime_type", "name"}``) of an ``artifacts`` list in its output."""
    if not isinstance(output, dict):
        return []
    found: list[dict[str, Any]] = []
    messages = output.get("messages")
    if isinstance(messages, list):
        ai = [m for m in messages if isinstance(m, dict) and m.get("type") in ("ai", "AIMessage", "AIMessageChunk")]
        content = ai[-1].get("content") if ai else None
        if isinstance(content, list):
            found += [b for b in content if isinstance(b, dict) and b.get("type") in ("image", "file", "audio")]
    artifacts = output.get("artifacts")
    if isinstance(artifacts, list):
        found += [b for b in artifacts if isinstance(b, dict) and ("url" in b or "base64" in b)]
    return found


def answer_files(
    output: Any, settings: Settings, keep: Callable[[Attachment], None], owner: str
) -> tuple[list[dict[str, Any]], list[str]]:
    """The files of a graph's answer as ``task.completed`` lists them (``name``, ``mime_type``, ``size``,
    ``url``, and ``file_id`` for those graphgate stores), and why any was left out. Inline (base64) files
    are stored (``keep(attachment)`` records their description); a URL is passed on as it is."""
    files: list[dict[str, Any]] = []
    refused: list[str] = []
    base = public_base_url(settings)
    for n, block in enumerate(answer_blocks(output), start=1):
        mime = base_type(str(block.get("mime_type") or "application/octet-stream"))
        raw_extras = block.get("extras")
        extras: dict[str, Any] = raw_extras if isinstance(raw_extras, dict) else {}
        default = f"{block.get('type') or 'file'}-{n}.{EXTENSIONS.get(mime, 'bin')}"
        name = clean_name(str(extras.get("filename") or block.get("name") or block.get("filename") or default))
        if "base64" in block:
            try:
                data = base64.b64decode(str(block["base64"]), validate=True)
                attachment = write(settings, owner, data, mime, name)
            except (ValueError, InvalidInput, PayloadTooLarge) as exc:
                refused.append(f"{name}: {getattr(exc, 'message', None) or exc}")
                continue
            keep(attachment)
            url = signed_url(settings, base, attachment.file_id)
            files.append(
                {"file_id": attachment.file_id, "name": name, "mime_type": mime, "size": len(data), "url": url}
            )
        elif isinstance(block.get("url"), str) and block["url"].startswith(("http://", "https://")):
            entry: dict[str, Any] = {"name": name, "mime_type": mime, "url": block["url"]}
            if extras.get(GRAPHGATE_FILE):
                entry["file_id"] = str(extras[GRAPHGATE_FILE])
            files.append(entry)
    return files, refused


async def answer_file_bytes(entry: dict[str, Any], settings: Settings) -> bytes:
    """The bytes of a file a graph answered with (an entry of ``task.completed`` ``files``), for a chat
    platform's upload: from the attachments directory for a file graphgate stores, else fetched from its URL,
    which must resolve to a public address (a model's answer could name an internal one); ``ValueError``
    when it cannot be had."""
    file_id = str(entry.get("file_id") or "")
    if _valid_id(file_id):
        data = await asyncio.to_thread(blobs(settings).get, file_id)
        if data is not None:
            return data
    url = str(entry.get("url") or "")
    if not _valid_id(file_id):
        try:
            await asyncio.to_thread(check_public, url)
        except (AddressRefused, OSError) as exc:
            raise ValueError(f"{entry.get('name') or url}: {exc}") from exc
    async with httpx.AsyncClient(timeout=60, follow_redirects=False) as client:
        response = await client.get(url)
    if response.status_code != 200 or len(response.content) > settings.attachment_max_bytes:
        raise ValueError(f"{entry.get('name') or url}: HTTP {response.status_code}, {len(response.content)} bytes")
    return response.content


def with_files(
    graphs: GraphRegistry, graph: str, input: dict[str, Any], blocks: list[dict[str, Any]]
) -> dict[str, Any]:
    """``input`` with ``blocks`` where ``graph`` takes them: on the last user message of ``messages``, or in
    an ``attachments`` field; ``InvalidInput`` when the graph takes neither."""
    if not blocks:
        return input
    messages = input.get("messages")
    if isinstance(messages, list) and messages and isinstance(messages[-1], dict):
        last = dict(messages[-1])
        content = last.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) and content else []
        if isinstance(content, list):
            parts = list(content)
        last["content"] = [*parts, *blocks]
        return {**input, "messages": [*messages[:-1], last]}
    spec = graphs.specs.get(graph)
    props = ((spec.input_schema if spec is not None else None) or {}).get("properties") or {}
    if "attachments" in props:
        return {**input, "attachments": [*(input.get("attachments") or []), *blocks]}
    raise InvalidInput(f"graph {graph!r} takes text only: it has no messages or attachments input for files")


def matches(mime_type: str, patterns: list[str]) -> bool:
    """Whether ``mime_type`` is one of ``patterns`` (``type/*`` matches a family, ``*/*`` everything)."""
    kind = base_type(mime_type)
    return any(p in (kind, "*/*") or (p.endswith("/*") and kind.startswith(p[:-1])) for p in patterns)


def inline(value: Any, settings: Settings) -> Any:
    """``value`` (a graph's input) with the stored files' blocks whose type ``GRAPHGATE_ATTACHMENTS_INLINE``
    names carrying their bytes (``base64``) instead of their URL: what models that cannot fetch a URL need
    (OpenAI's Chat Completions takes PDFs and audio only so). Run by the worker just before the graph starts,
    so events and task records keep the short URL. The bytes come from the attachments directory when this
    host has it, else from the signed URL."""
    if isinstance(value, list):
        return [inline(item, settings) for item in value]
    if not isinstance(value, dict):
        return value
    extras = value.get("extras")
    if (
        isinstance(extras, dict)
        and extras.get(GRAPHGATE_FILE)
        and "url" in value
        and matches(str(value.get("mime_type") or ""), settings.attachments_inline)
    ):
        data = _file_bytes(str(extras[GRAPHGATE_FILE]), str(value["url"]), settings)
        block = {k: v for k, v in value.items() if k != "url"}
        block["base64"] = base64.b64encode(data).decode()
        return block
    return {k: inline(v, settings) for k, v in value.items()}


def _file_bytes(file_id: str, url: str, settings: Settings) -> bytes:
    data = blobs(settings).get(file_id)
    if data is not None:
        return data
    response = httpx.get(url, timeout=30)
    response.raise_for_status()
    return response.content


def public_base_url(settings: Settings) -> str:
    """How clients reach the API, for the files' URLs made outside a request (the chat connectors): the
    public URL, else where this API process serves."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    scheme = "https" if settings.tls_certfile else "http"
    return f"{scheme}://{settings.host}:{settings.port}"


def _valid_id(file_id: str) -> bool:
    return len(file_id) == FILE_ID_CHARS and all(c in "0123456789abcdef" for c in file_id)


def _mb(size: int) -> str:
    return f"{size / 1_048_576:.1f} MB" if size >= 104_858 else f"{size} bytes"
