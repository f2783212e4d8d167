"""A fake Slack Web API on loopback, for tests: real HTTP, the methods graphgate uses, Slack's limits.

It records every call (method, arguments, token, HTTP status, response), keeps the messages of each
channel (threads, edits, streams, metadata), refuses what Slack refuses (3,000 characters per section
block, 50 blocks, 40,000 characters of text, button limits, unknown channels, channels the bot is not in,
edits of missing messages) and answers ``ratelimited`` / HTTP 429 with Retry-After, or any other error,
when a test asks for it (``fail``). ``response_url`` posts land in ``responses``. Modals: ``views.open``
takes a trigger id that ``trigger`` issued (good once, for 3 seconds, as Slack's are), checks the view
as Slack does (``check_view``) and records it in ``views``. Socket Mode:
``apps.connections.open`` hands out a WebSocket on the same server; ``socket_send`` pushes an envelope to the
connected app and ``socket_acks`` collects what it answered.

One module of more than 400 lines, on purpose: it has one job, to behave as Slack does, and its
methods share one store of chats and messages; split, each part would reach into the others' state.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from graphgate.testing.fake_platform import FakePlatform, Fault, request_args

SECTION_TEXT_LIMIT = 3000
BLOCKS_LIMIT = 50
TEXT_LIMIT = 40_000
STREAM_TEXT_LIMIT = 12_000
VIEW_BLOCKS_LIMIT = 100
VIEW_TITLE_LIMIT = 24  # title, submit and close texts of a modal
PRIVATE_METADATA_LIMIT = 3000
INPUT_VALUE_LIMIT = 3000  # a plain_text_input's max_length and initial_value
TRIGGER_SECONDS = 3.0  # a trigger_id is good for this long, once


@dataclass
class Call:
    at: float  # time.monotonic() when the call arrived
    method: str
    args: dict[str, Any]
    token: str | None
    status: int
    response: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))

    @property
    def slot(self) -> str | None:
        meta = self.args.get("metadata") or {}
        return (meta.get("event_payload") or {}).get("slot") if isinstance(meta, dict) else None


@dataclass
class Msg:
    channel: str
    ts: str
    text: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    thread_ts: str | None = None
    user: str | None = None
    bot_id: str | None = None
    metadata: dict[str, Any] | None = None
    streaming: bool = False
    edits: int = 0
    files: list[dict[str, Any]] = field(default_factory=list)  # files shared with the message (uploads)

    def as_api(self, with_metadata: bool) -> dict[str, Any]:
        out: dict[str, Any] = {"type": "message", "ts": self.ts, "text": self.text}
        if self.blocks:
            out["blocks"] = self.blocks
        if self.thread_ts:
            out["thread_ts"] = self.thread_ts
        if self.user:
            out["user"] = self.user
        if self.bot_id:
            out["bot_id"] = self.bot_id
        if with_metadata and self.metadata:
            out["metadata"] = self.metadata
        return out

    @property
    def slot(self) -> str | None:
        return ((self.metadata or {}).get("event_payload") or {}).get("slot")

    @property
    def task_id(self) -> str | None:
        return ((self.metadata or {}).get("event_payload") or {}).get("task_id")

    def section_text(self) -> str:
        return "\n\n".join(b["text"]["text"] for b in self.blocks if b.get("type") == "section")

    def actions(self) -> list[dict[str, Any]]:
        return [e for b in self.blocks if b.get("type") == "actions" for e in b.get("elements", [])]

    def contexts(self) -> str:
        return " ".join(
            e.get("text", "") for b in self.blocks if b.get("type") == "context" for e in b.get("elements", [])
        )


def check_blocks(text: str | None, blocks: Any) -> str | None:
    """Slack's error for a message payload, or None when Slack would accept it."""
    if blocks in (None, "", []) and not text:
        return "no_text"
    if text and len(text) > TEXT_LIMIT:
        return "msg_too_long"
    if blocks in (None, ""):
        return None
    if not isinstance(blocks, list) or len(blocks) > BLOCKS_LIMIT:
        return "invalid_blocks"
    block_ids: set[str] = set()
    for block in blocks:
        kind = block.get("type")
        bid = block.get("block_id")
        if bid is not None:
            if len(bid) > 255 or bid in block_ids:
                return "invalid_blocks"
            block_ids.add(bid)
        if kind == "section":
            t = (block.get("text") or {}).get("text") or ""
            if not 1 <= len(t) <= SECTION_TEXT_LIMIT:
                return "invalid_blocks"
        elif kind == "context":
            elements = block.get("elements") or []
            if not 1 <= len(elements) <= 10 or any(len(e.get("text", "")) > SECTION_TEXT_LIMIT for e in elements):
                return "invalid_blocks"
        elif kind == "actions":
            elements = block.get("elements") or []
            ids = [e.get("action_id") for e in elements]
            if not 1 <= len(elements) <= 25 or len(set(ids)) != len(ids):
                return "invalid_blocks"
            for e in elements:
                if len((e.get("text") or {}).get("text", "")) > 75 or len(e.get("value", "")) > 2000:
                    return "invalid_blocks"
                if len(e.get("action_id") or "") > 255:
                    return "invalid_blocks"
        elif kind not in ("header", "divider", "image", "rich_text", "markdown"):
            return "invalid_blocks"
    return None


def _plain_text(obj: Any, limit: int, required: bool = True) -> bool:
    """A plain_text object whose text is 1..limit characters (or absent, when not ``required``)."""
    if obj is None:
        return not required
    return isinstance(obj, dict) and obj.get("type") == "plain_text" and 1 <= len(obj.get("text") or "") <= limit


def _check_input(block: dict[str, Any]) -> str | None:
    element = block.get("element") or {}
    if not _plain_text(block.get("label"), 2000) or not _plain_text(block.get("hint"), 2000, required=False):
        return "invalid_arguments"
    if element.get("type") != "plain_text_input" or not 1 <= len(element.get("action_id") or "") <= 255:
        return "invalid_arguments"
    max_length = int(element.get("max_length") or INPUT_VALUE_LIMIT)
    if not 1 <= max_length <= INPUT_VALUE_LIMIT or len(element.get("initial_value") or "") > max_length:
        return "invalid_arguments"
    if not _plain_text(element.get("placeholder"), 150, required=False):
        return "invalid_arguments"
    return None


def check_view(view: Any) -> str | None:
    """Slack's error for a modal's view, or None when Slack would open it."""
    if not isinstance(view, dict) or view.get("type") != "modal":
        return "invalid_arguments"
    if not _plain_text(view.get("title"), VIEW_TITLE_LIMIT):
        return "invalid_arguments"
    blocks = view.get("blocks")
    if not isinstance(blocks, list) or not 1 <= len(blocks) <= VIEW_BLOCKS_LIMIT:
        return "invalid_arguments"
    has_input = any(b.get("type") == "input" for b in blocks)
    if not _plain_text(view.get("submit"), VIEW_TITLE_LIMIT, required=has_input):
        return "invalid_arguments"  # a modal with inputs needs a submit button
    if not _plain_text(view.get("close"), VIEW_TITLE_LIMIT, required=False):
        return "invalid_arguments"
    if len(view.get("callback_id") or "") > 255 or len(view.get("private_metadata") or "") > PRIVATE_METADATA_LIMIT:
        return "invalid_arguments"
    block_ids = [b["block_id"] for b in blocks if b.get("block_id") is not None]
    if len(block_ids) != len(set(block_ids)):
        return "invalid_arguments"
    for block in blocks:
        error = _check_input(block) if block.get("type") == "input" else check_blocks(None, [block])
        if error:
            return "invalid_arguments"
    return None


def check_metadata(metadata: Any) -> str | None:
    if metadata in (None, ""):
        return None
    if not isinstance(metadata, dict) or not isinstance(metadata.get("event_type"), str):
        return "invalid_metadata_format"
    if not isinstance(metadata.get("event_payload"), dict):
        return "invalid_metadata_format"
    return None


class FakeSlack(FakePlatform[Call]):
    thread_name = "fake-slack"
    label = "fake slack"

    def __init__(self, bot_token: str = "xoxb-test-token", team: str = "T0001") -> None:
        super().__init__()
        self.team = team
        self.bot_user = "UBOTGG"
        self.bot_id = "BBOTGG"
        self.tokens: dict[str, str] = {bot_token: team}
        self.bot_token = bot_token
        self.messages: dict[str, list[Msg]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.usergroups: dict[str, list[str]] = {}  # user group id -> member user ids (usergroups.users.list)
        self.responses: list[dict[str, Any]] = []
        self.missing_channels: set[str] = set()
        self.outside_channels: set[str] = set()  # channels the bot is not a member of
        self.streaming = True
        self.oauth_codes: dict[str, str] = {}  # code -> team it installs into
        self.app_token = "xapp-test-app-token"
        self.sockets: list[tuple[WebSocket, asyncio.AbstractEventLoop]] = []
        self.socket_acks: list[dict[str, Any]] = []
        self.views: list[dict[str, Any]] = []  # modals opened: the view as Slack answered it (with its id)
        self.triggers: dict[str, float] = {}  # trigger_id -> time.monotonic() when issued; removed once used
        self._ts = itertools.count(1)
        self._ids = itertools.count(1)
        self._base = int(time.time())
        self.files: dict[str, tuple[bytes, str]] = {}  # file id -> (bytes, name), served at url_private_download
        self.downloads: list[tuple[str, bool]] = []  # (file id, whether the bot token came with the request)
        self.uploads: dict[str, dict[str, Any]] = {}  # file id -> {filename, length, data} of files.uploadV2

    # --- life -----------------------------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/"

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/{method}", self._endpoint, methods=["GET", "POST"]),
            Route("/respond/{rid}", self._respond, methods=["POST"]),
            Route("/files-pri/{team_file}/download/{name}", self._download, methods=["GET"]),
            Route("/upload/v1/{file_id}", self._upload, methods=["POST"]),
            WebSocketRoute("/socket", self._socket),
        ]

    def add_file(self, data: bytes, name: str, mimetype: str) -> dict[str, Any]:
        """A file uploaded by a user: the ``files`` entry of its message event, as Slack sends it."""
        file_id = f"F{next(self._ids):09d}"
        with self.lock:
            self.files[file_id] = (data, name)
        private = f"{self.url}/files-pri/{self.team}-{file_id}/download/{quote(name)}"
        return {
            "id": file_id,
            "created": int(time.time()),
            "name": name,
            "title": name,
            "mimetype": mimetype,
            "filetype": name.rsplit(".", 1)[-1] if "." in name else "binary",
            "size": len(data),
            "mode": "hosted",
            "is_external": False,
            "url_private": private.replace("/download/", "/"),
            "url_private_download": private,
        }

    async def _upload(self, request: Request) -> Response:
        """Step 2 of ``files.uploadV2``: the bytes, POSTed to the URL ``files.getUploadURLExternal`` gave."""
        file_id = request.path_params["file_id"]
        data = await request.body()
        with self.lock:
            pending = self.uploads.get(file_id)
            if pending is None or pending.get("data") is not None:
                return Response("invalid upload", status_code=404)
            if len(data) != pending["length"]:
                return Response(f"expected {pending['length']} bytes, got {len(data)}", status_code=400)
            pending["data"] = data
        return Response(f"OK - {len(data)}")

    def _m_files_getUploadURLExternal(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        filename, length = args.get("filename"), str(args.get("length") or "")
        if not filename or not length.isdigit():
            return {"ok": False, "error": "invalid_arguments"}
        file_id = f"F{next(self._ids):09d}"
        self.uploads[file_id] = {"filename": filename, "length": int(length), "data": None}
        return {"ok": True, "upload_url": f"{self.url}/upload/v1/{file_id}", "file_id": file_id}

    def _m_files_completeUploadExternal(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        raw = args.get("files")
        files = json.loads(raw) if isinstance(raw, str) else raw
        channel = args.get("channel_id")
        error = self._channel_error(channel) if channel else None
        if error:
            return {"ok": False, "error": error}
        shared = []
        for item in files or []:
            pending = self.uploads.get(str(item.get("id")))
            if pending is None or pending.get("data") is None:
                return {"ok": False, "error": "file_not_found"}
            shared.append(
                {
                    "id": item["id"],
                    "name": pending["filename"],
                    "title": item.get("title") or pending["filename"],
                    "size": pending["length"],
                }
            )
        if channel:
            msg = Msg(
                channel,
                self.next_ts(),
                thread_ts=args.get("thread_ts"),
                bot_id=self.bot_id,
                user=self.bot_user,
                files=shared,
            )
            self.messages.setdefault(channel, []).append(msg)
        return {"ok": True, "files": shared}

    def uploaded(self, file_id: str) -> bytes | None:
        """The bytes of a file uploaded with ``files.uploadV2``."""
        return (self.uploads.get(file_id) or {}).get("data")

    async def _download(self, request: Request) -> Response:
        """A file's bytes for a request with a bot token; without one, Slack's sign-in page (status 200)."""
        file_id = request.path_params["team_file"].split("-", 1)[-1]
        authorized = request.headers.get("authorization", "").removeprefix("Bearer ") in self.tokens
        with self.lock:
            self.downloads.append((file_id, authorized))
        if file_id not in self.files:
            return Response("Not Found", status_code=404)
        if not authorized:
            return Response("<!DOCTYPE html><html><body>Sign in to Slack</body></html>", media_type="text/html")
        return Response(self.files[file_id][0], media_type="application/octet-stream")

    # --- what tests arrange ----------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        when: Callable[[dict[str, Any]], bool] = lambda args: True,
        *,
        status: int = 429,
        error: str = "ratelimited",
        retry_after: float | None = 1.0,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` whose arguments match ``when`` with this error."""
        self._add_fault(Fault(method, when, status, error, retry_after, times))

    def next_ts(self) -> str:
        return f"{self._base + next(self._ts)}.{next(self._ts):06d}"

    def trigger(self) -> str:
        """A new trigger id, as Slack puts in an interaction payload (good for one modal, 3 seconds)."""
        with self.lock:
            trigger = f"{next(self._ids)}.{self._base}.{uuid.uuid4().hex[:16]}"
            self.triggers[trigger] = time.monotonic()
            return trigger

    def user_message(self, channel: str, user: str, text: str, thread_ts: str | None = None) -> Msg:
        """A message a human wrote (what an event would announce)."""
        with self.lock:
            msg = Msg(channel, self.next_ts(), text=text, thread_ts=thread_ts, user=user)
            self.messages.setdefault(channel, []).append(msg)
            return msg

    # --- what tests inspect ----------------------------------------------------------------------------

    def calls_of(self, method: str | None = None, channel: str | None = None) -> list[Call]:
        with self.lock:
            return [
                c
                for c in self.calls
                if (method is None or c.method == method) and (channel is None or c.args.get("channel") == channel)
            ]

    def thread(self, channel: str, thread_ts: str) -> list[Msg]:
        with self.lock:
            return sorted(
                (m for m in self.messages.get(channel, []) if m.thread_ts == thread_ts or m.ts == thread_ts),
                key=lambda m: m.ts,
            )

    def bot_messages(self, channel: str) -> list[Msg]:
        with self.lock:
            return [m for m in self.messages.get(channel, []) if m.bot_id]

    def by_slot(self, channel: str, slot: str) -> list[Msg]:
        return [m for m in self.bot_messages(channel) if m.slot == slot]

    def socket_send(self, envelope: dict[str, Any]) -> None:
        """Push a Socket Mode envelope to the (last) connected app."""
        ws, loop = self.sockets[-1]
        asyncio.run_coroutine_threadsafe(ws.send_json(envelope), loop).result(5)

    # --- the HTTP side -----------------------------------------------------------------------------------

    async def _socket(self, ws: WebSocket) -> None:
        await ws.accept()
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "connection_info": {"app_id": "AGRAPHGATE"},
                "debug_info": {"host": "fake", "approximate_connection_time": 3600},
            }
        )
        entry = (ws, asyncio.get_running_loop())
        with self.lock:
            self.sockets.append(entry)
        try:
            while True:
                message = await ws.receive_json()
                with self.lock:
                    self.socket_acks.append(message)
        except (WebSocketDisconnect, RuntimeError):
            pass
        finally:
            with self.lock:
                if entry in self.sockets:
                    self.sockets.remove(entry)

    async def _respond(self, request: Request) -> Response:
        body = json.loads(await request.body() or b"{}")
        with self.lock:
            self.responses.append({"rid": request.path_params["rid"], **body})
        return Response("ok")

    async def _endpoint(self, request: Request) -> Response:
        method = request.path_params["method"]
        args = await request_args(request)
        for name in ("blocks", "metadata", "chunks", "view"):
            if isinstance(args.get(name), str) and args[name][:1] in "[{":
                args[name] = json.loads(args[name])
        auth = request.headers.get("authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else args.pop("token", None)
        args.pop("token", None)
        with self.lock:
            status, body, headers = self._handle(method, args, token)
            self.calls.append(Call(time.monotonic(), method, args, token, status, body))
        return JSONResponse(body, status_code=status, headers=headers)

    def _handle(
        self, method: str, args: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        if fault := self._take_fault(method, args):
            headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
            return fault.status, {"ok": False, "error": fault.error}, headers
        if method == "oauth.v2.access":
            return 200, self._oauth(args), {}
        if method == "apps.connections.open":
            if token != self.app_token:
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            return 200, {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}, {}
        if token not in self.tokens:
            return 200, {"ok": False, "error": "invalid_auth"}, {}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        return 200, handler(args, self.tokens[token]), {}

    # --- methods ----------------------------------------------------------------------------------------

    def _channel_error(self, channel: str | None) -> str | None:
        if not channel or channel in self.missing_channels:
            return "channel_not_found"
        if channel in self.outside_channels:
            return "not_in_channel"
        return None

    def _find(self, channel: str, ts: str) -> Msg | None:
        for m in self.messages.get(channel, []):
            if m.ts == ts:
                return m
        return None

    def _m_auth_test(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{team.lower()}.slack.com/",
            "team": f"Team {team}",
            "user": "graphgate",
            "team_id": team,
            "user_id": self.bot_user,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _m_chat_postMessage(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        channel = args.get("channel")
        error = self._channel_error(channel) or check_blocks(args.get("text"), args.get("blocks"))
        error = error or check_metadata(args.get("metadata"))
        if error:
            return {"ok": False, "error": error}
        msg = Msg(
            channel,
            self.next_ts(),
            text=args.get("text") or "",
            blocks=args.get("blocks") or [],
            thread_ts=args.get("thread_ts"),
            bot_id=self.bot_id,
            user=self.bot_user,
            metadata=args.get("metadata"),
        )
        self.messages.setdefault(channel, []).append(msg)
        return {"ok": True, "channel": channel, "ts": msg.ts, "message": msg.as_api(True)}

    def _m_chat_update(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        channel = args.get("channel")
        error = self._channel_error(channel) or check_blocks(args.get("text"), args.get("blocks"))
        error = error or check_metadata(args.get("metadata"))
        if error:
            return {"ok": False, "error": error}
        msg = self._find(channel, str(args.get("ts")))
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        if msg.bot_id != self.bot_id or msg.streaming:
            return {"ok": False, "error": "cant_update_message"}
        msg.text = args.get("text") or ""
        msg.blocks = args.get("blocks") or []
        if args.get("metadata"):
            msg.metadata = args["metadata"]
        msg.edits += 1
        return {"ok": True, "channel": channel, "ts": msg.ts, "text": msg.text}

    def _m_chat_postEphemeral(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        error = self._channel_error(args.get("channel")) or check_blocks(args.get("text"), args.get("blocks"))
        if error:
            return {"ok": False, "error": error}
        self.ephemerals.append(dict(args))
        return {"ok": True, "message_ts": self.next_ts()}

    def _m_chat_startStream(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        if not self.streaming:
            return {"ok": False, "error": "unknown_method"}
        channel = args.get("channel")
        error = self._channel_error(channel)
        if error:
            return {"ok": False, "error": error}
        if not args.get("thread_ts"):
            return {"ok": False, "error": "invalid_arguments"}
        if not str(channel).startswith("D") and not (args.get("recipient_team_id") and args.get("recipient_user_id")):
            return {"ok": False, "error": "invalid_arguments"}
        text = args.get("markdown_text") or ""
        if len(text) > STREAM_TEXT_LIMIT:
            return {"ok": False, "error": "msg_too_long"}
        msg = Msg(
            channel,
            self.next_ts(),
            text=text,
            thread_ts=args["thread_ts"],
            bot_id=self.bot_id,
            user=self.bot_user,
            streaming=True,
        )
        self.messages.setdefault(channel, []).append(msg)
        return {"ok": True, "channel": channel, "ts": msg.ts}

    def _m_chat_appendStream(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        channel = args.get("channel")
        msg = self._find(str(channel), str(args.get("ts")))
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        if not msg.streaming:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        text = args.get("markdown_text") or ""
        if not text or len(text) > STREAM_TEXT_LIMIT:
            return {"ok": False, "error": "invalid_arguments" if not text else "msg_too_long"}
        msg.text += text
        return {"ok": True, "channel": channel, "ts": msg.ts}

    def _m_chat_stopStream(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        channel = args.get("channel")
        msg = self._find(str(channel), str(args.get("ts")))
        if msg is None:
            return {"ok": False, "error": "message_not_found"}
        if not msg.streaming:
            return {"ok": False, "error": "message_not_in_streaming_state"}
        error = check_metadata(args.get("metadata"))
        if error:
            return {"ok": False, "error": error}
        msg.text += args.get("markdown_text") or ""
        msg.streaming = False
        msg.metadata = args.get("metadata") or msg.metadata
        return {"ok": True, "channel": channel, "ts": msg.ts}

    def _m_views_open(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        trigger = args.get("trigger_id")
        if not trigger:
            return {"ok": False, "error": "invalid_arguments"}
        issued = self.triggers.pop(str(trigger), None)
        if issued is None:
            return {"ok": False, "error": "invalid_trigger_id"}  # unknown, or already used
        if time.monotonic() - issued > TRIGGER_SECONDS:
            return {"ok": False, "error": "expired_trigger_id"}
        view = args.get("view")
        error = check_view(view)
        if error:
            return {"ok": False, "error": error}
        opened = {
            **view,
            "id": f"V{next(self._ids):08d}",
            "team_id": team,
            "state": {"values": {}},
            "hash": uuid.uuid4().hex[:20],
            "app_id": "AGRAPHGATE",
            "bot_id": self.bot_id,
            "private_metadata": view.get("private_metadata") or "",
            "callback_id": view.get("callback_id") or "",
        }
        self.views.append(opened)
        return {"ok": True, "view": opened}

    def _m_conversations_replies(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        channel = str(args.get("channel"))
        error = self._channel_error(channel)
        if error:
            return {"ok": False, "error": error}
        ts = str(args.get("ts"))
        if self._find(channel, ts) is None:
            return {"ok": False, "error": "thread_not_found"}
        return _page(self.thread(channel, ts), args)

    def _m_conversations_history(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        channel = str(args.get("channel"))
        error = self._channel_error(channel)
        if error:
            return {"ok": False, "error": error}
        return _page([m for m in reversed(self.messages.get(channel, [])) if m.thread_ts in (None, m.ts)], args)

    def _m_usergroups_users_list(self, args: dict[str, Any], team: str) -> dict[str, Any]:
        group = str(args.get("usergroup"))
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def _oauth(self, args: dict[str, Any]) -> dict[str, Any]:
        team = self.oauth_codes.pop(str(args.get("code")), None)
        if team is None:
            return {"ok": False, "error": "invalid_code"}
        token = f"xoxb-{team}-installed"
        self.tokens[token] = team
        return {
            "ok": True,
            "app_id": "AGRAPHGATE",
            "authed_user": {"id": "UINSTALLER"},
            "scope": "commands,chat:write,app_mentions:read",
            "token_type": "bot",
            "access_token": token,
            "bot_user_id": self.bot_user,
            "team": {"id": team, "name": f"Team {team}"},
            "enterprise": None,
            "is_enterprise_install": False,
        }


def _page(found: list[Msg], args: dict[str, Any]) -> dict[str, Any]:
    """One page of ``found`` as conversations.replies and .history answer (cursor = an offset here)."""
    with_meta = str(args.get("include_all_metadata", "")).lower() in ("1", "true")
    limit = int(args.get("limit") or 100)
    start = int(args.get("cursor") or 0)
    more = start + limit < len(found)
    return {
        "ok": True,
        "messages": [m.as_api(with_meta) for m in found[start : start + limit]],
        "has_more": more,
        "response_metadata": {"next_cursor": str(start + limit) if more else ""},
    }
