"""A fake Telegram Bot API on loopback, for tests: real HTTP, the methods graphgate uses, Telegram's limits.

Served at ``<url>/bot<token>/<method>`` (what python-telegram-bot calls with ``base_url=<url>/bot``). It
records every call (method, arguments, HTTP status, response), keeps each chat's messages (text as sent,
text as shown, inline keyboard, edit history) and drafts, and refuses what Telegram refuses:

* HTML that Telegram could not parse (unknown tags, bad nesting, bare ``<`` or ``&``) and messages showing
  more than 4,096 characters (UTF-16 code units, after entity parsing);
* ``callback_data`` outside 1-64 bytes; a ``force_reply`` markup that is not ``true`` or whose
  ``input_field_placeholder`` is outside 1-64 characters, and any markup but an inline keyboard on an edit;
  edits of unknown messages; edits that change nothing ("message is not modified"); drafts outside private
  chats;
* flood: more than about one message per second in a chat (a bucket of 2, refilled once a second), more
  than 20 per minute in a group, more than 30 per second overall: HTTP 429 with ``retry_after``. The
  limits run on ``clock`` (real monotonic time unless a test gives a fake clock it moves itself).

Tests can make calls fail on demand (``fail``: 429 with ``retry_after``, or any error) and feed
``getUpdates`` from a queue (``enqueue``). ``message_update`` / ``callback_update`` build real ``Update``
JSON shapes (a reply's ``reply_to_message`` carries the replied message with its inline keyboard, as
Telegram sends it).

One module of more than 400 lines, on purpose: it has one job, to behave as Telegram does, and its
methods share one store of chats and messages; split, each part would reach into the others' state.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import html as _html
import itertools
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from graphgate.testing.fake_platform import FakePlatform, Fault, request_args

TEXT_LIMIT = 4096
CALLBACK_DATA_LIMIT = 64
CHAT_BUCKET, CHAT_RATE = 2, 1.0  # per chat: burst of 2, then one a second
GROUP_PER_MINUTE = 20
GLOBAL_PER_SECOND = 30
COUNTED = {
    "sendMessage",
    "editMessageText",
    "editMessageReplyMarkup",
    "sendMessageDraft",
    "deleteMessage",
    "sendPhoto",
    "sendDocument",
    "sendMediaGroup",
}
JSON_ARGS = {"reply_markup", "link_preview_options", "reply_parameters", "allowed_updates", "entities", "media"}
INT_ARGS = {"chat_id", "message_id", "draft_id", "message_thread_id", "offset", "limit", "timeout", "max_connections"}
BOOL_ARGS = {"show_alert", "drop_pending_updates", "disable_notification"}
ALLOWED_TAGS = {
    "b",
    "strong",
    "i",
    "em",
    "u",
    "ins",
    "s",
    "strike",
    "del",
    "a",
    "code",
    "pre",
    "blockquote",
    "tg-spoiler",
    "span",
    "tg-emoji",
}
_TOKEN_RE = re.compile(
    r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)((?:\s+[a-zA-Z-]+=\"[^\"]*\")*)\s*>|&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);|[<>&]"
)
NO_END_TAG = "Bad Request: can't parse entities: Can't find end tag corresponding to start tag"
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)


def multipart_args(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """A multipart/form-data call (a file upload): its plain fields, and its files by field name as
    (file name, bytes)."""
    parsed = email.message_from_bytes(
        f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body, policy=email.policy.HTTP
    )
    args: dict[str, Any] = {}
    files: dict[str, tuple[str, bytes]] = {}
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True) or b""
        filename = part.get_filename()
        if filename is not None:
            files[str(name)] = (filename, payload)
        elif name:
            args[str(name)] = payload.decode()
    return args, files


class ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters
        self.injected = False  # asked for by a test (``fail``)


def utf16(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse_html(text: str) -> str:
    """The text a Telegram HTML message shows; ``ApiError`` 400 where Telegram's parser would refuse."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    for m in _TOKEN_RE.finditer(text):
        out.append(text[pos : m.start()])
        pos = m.end()
        token = m.group(0)
        if token in ("<", ">", "&"):
            raise ApiError(400, f"Bad Request: can't parse entities: unexpected {token!r} at byte offset {m.start()}")
        if token.startswith("&"):
            out.append(_html.unescape(token))
            continue
        closing, name = m.group(1) == "/", m.group(2).lower()
        if name not in ALLOWED_TAGS:
            raise ApiError(400, f'Bad Request: can\'t parse entities: Unsupported start tag "{name}"')
        if closing:
            if not stack or stack[-1] != name:
                raise ApiError(400, f'{NO_END_TAG} "{stack[-1] if stack else name}"')
            stack.pop()
        else:
            if name == "a" and "href=" not in (m.group(3) or ""):
                raise ApiError(400, "Bad Request: can't parse entities: a tag without href")
            stack.append(name)
    out.append(text[pos:])
    if stack:
        raise ApiError(400, f'{NO_END_TAG} "{stack[-1]}"')
    return "".join(out)


@dataclass
class Call:
    at: float  # the fake's clock (time.monotonic() unless given another) when the call arrived
    method: str
    args: dict[str, Any]
    status: int
    response: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status == 200 and bool(self.response.get("ok"))

    @property
    def chat(self) -> int | None:
        chat = self.args.get("chat_id")
        return chat if isinstance(chat, int) else None

    def summary(self) -> str:
        """One line: method and its key arguments (for reports)."""
        a = self.args
        bits = [self.method]
        for key in ("chat_id", "message_id", "draft_id", "callback_query_id", "url"):
            if key in a:
                bits.append(f"{key}={a[key]}")
        if "text" in a:
            shown = " ".join(str(a["text"]).split())
            bits.append(f"text={shown[:50]!r}{'…' if len(shown) > 50 else ''} ({utf16(str(a['text']))} chars)")
        if "parse_mode" in a:
            bits.append(f"parse_mode={a['parse_mode']}")
        kb = (a.get("reply_markup") or {}).get("inline_keyboard") if isinstance(a.get("reply_markup"), dict) else None
        if kb:
            bits.append("keyboard=" + ",".join(f"{b.get('text')}:{b.get('callback_data')}" for row in kb for b in row))
        if isinstance(a.get("reply_markup"), dict) and a["reply_markup"].get("force_reply"):
            bits.append(f"force_reply placeholder={a['reply_markup'].get('input_field_placeholder')!r}")
        if self.status != 200:
            bits.append(f"-> {self.status} {self.response.get('description', '')[:60]}")
        return " ".join(bits)


@dataclass
class Msg:
    chat_id: int
    message_id: int
    html: str  # as sent (the bot's) or as typed (a user's)
    text: str  # as shown
    from_bot: bool
    keyboard: list[list[dict[str, Any]]] = field(default_factory=list)
    reply_to: int | None = None
    history: list[str] = field(default_factory=list)  # earlier texts of an edited message
    force_reply: dict[str, Any] | None = None  # the ForceReply markup the bot sent the message with
    file: tuple[str, str, bytes] | None = None  # a photo or document the bot sent: (kind, file name, bytes)

    @property
    def callback_data(self) -> list[str]:
        return [b.get("callback_data", "") for row in self.keyboard for b in row]


class FakeBotApi(FakePlatform[Call]):
    thread_name = "fake-bot-api"
    label = "fake Bot API"

    def __init__(
        self,
        token: str = "123456789:TEST-fake-bot-token-AAAA",
        username: str = "graphgate_test_bot",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self.clock = clock  # what the flood limits and the calls' ``at`` are measured on
        self.token = token
        self.bot_id = int(token.split(":")[0])
        self.username = username
        self.messages: dict[int, list[Msg]] = {}
        self.drafts: dict[int, dict[int, str]] = {}  # chat -> draft id -> last text shown
        self.chat_types: dict[int, str] = {}
        self.answered: dict[str, dict[str, Any]] = {}  # callback query id -> its answer
        self.webhook: dict[str, Any] = {}
        self.drafts_supported = True
        self.blocked: set[int] = set()  # chats whose user blocked the bot
        self.updates: deque[dict[str, Any]] = deque()
        self._ids: dict[int, itertools.count[int]] = {}
        self._update_ids = itertools.count(700_000_001)
        self._query_ids = itertools.count(1)
        self._chat_bucket: dict[int, tuple[float, float]] = {}  # chat -> (tokens, at)
        self._group_window: dict[int, deque[float]] = {}
        self._global_window: deque[float] = deque()
        self.files: dict[str, tuple[bytes, str]] = {}  # file_id -> (bytes, file_path), served under /file/bot<token>/
        self.downloads: list[str] = []  # file paths downloaded with the right token

    # --- life (``url`` is what GRAPHGATE_TELEGRAM_API_URL is set to) ---------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/bot{token}/{method}", self._endpoint, methods=["GET", "POST"]),
            Route("/file/bot{token}/{path:path}", self._download, methods=["GET"]),
        ]

    async def _download(self, request: Request) -> Response:
        """A file's bytes, as Telegram serves them at ``/file/bot<token>/<file_path>``."""
        path = request.path_params["path"]
        found = next((data for data, file_path in self.files.values() if file_path == path), None)
        if request.path_params["token"] != self.token or found is None:
            return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, status_code=404)
        with self.lock:
            self.downloads.append(path)
        return Response(found, media_type="application/octet-stream")

    # --- what tests arrange ----------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        when: Callable[[dict[str, Any]], bool] = lambda args: True,
        *,
        status: int = 429,
        description: str | None = None,
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` calls of ``method`` whose arguments match ``when`` with this error."""
        if description is None:
            description = f"Too Many Requests: retry after {retry_after}" if status == 429 else "Bad Request: error"
        self._add_fault(Fault(method, when, status, description, retry_after if status == 429 else None, times))

    def user(self, user_id: int, first_name: str = "Ada", username: str | None = "ada") -> dict[str, Any]:
        out: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": "en"}
        if username:
            out["username"] = username
        return out

    def chat(self, chat_id: int, kind: str = "private", title: str = "Team") -> dict[str, Any]:
        with self.lock:
            self.chat_types[chat_id] = kind
        if kind == "private":
            return {"id": chat_id, "type": "private", "first_name": "Ada", "username": "ada"}
        return {"id": chat_id, "type": kind, "title": title}

    def _next_id(self, chat_id: int) -> int:
        with self.lock:
            return next(self._ids.setdefault(chat_id, itertools.count(1)))

    def message_update(
        self,
        chat: dict[str, Any],
        user: dict[str, Any],
        text: str,
        *,
        reply_to: Msg | None = None,
        update_id: int | None = None,
    ) -> dict[str, Any]:
        """A ``message`` update as Telegram sends it (entities for commands and mentions included)."""
        message_id = self._next_id(chat["id"])
        message: dict[str, Any] = {
            "message_id": message_id,
            "from": user,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        entities = []
        for m in re.finditer(r"(?:(?<=^)/[A-Za-z0-9_]+(?:@[A-Za-z0-9_]+)?)|(?<![\w@])@[A-Za-z0-9_]{5,32}", text):
            offset = utf16(text[: m.start()])
            kind = "bot_command" if m.group(0).startswith("/") else "mention"
            entities.append({"offset": offset, "length": utf16(m.group(0)), "type": kind})
        if entities:
            message["entities"] = entities
        if reply_to is not None:
            message["reply_to_message"] = self.message_json(reply_to)
        with self.lock:
            self.messages.setdefault(chat["id"], []).append(
                Msg(
                    chat["id"],
                    message_id,
                    text,
                    text,
                    from_bot=False,
                    reply_to=reply_to.message_id if reply_to else None,
                )
            )
        return {"update_id": update_id or next(self._update_ids), "message": message}

    def add_file(self, data: bytes, file_path: str) -> dict[str, Any]:
        """Keep ``data`` as a file the bot may download; its ``file_id`` / ``file_unique_id`` / ``file_size``."""
        n = len(self.files) + 1
        file_id = f"AgACAgIAAxkBAAI{n:04d}{abs(hash(file_path)) % 10**8:08d}"
        with self.lock:
            self.files[file_id] = (data, file_path)
        return {"file_id": file_id, "file_unique_id": f"AQAD{n:04d}", "file_size": len(data)}

    def media_update(
        self,
        chat: dict[str, Any],
        user: dict[str, Any],
        caption: str = "",
        *,
        photo: bytes | None = None,
        document: tuple[bytes, str, str] | None = None,
        voice: bytes | None = None,
    ) -> dict[str, Any]:
        """A ``message`` update carrying a photo (two sizes, as Telegram sends), a document ``(bytes, name,
        MIME type)`` or a voice note, with ``caption`` (its commands as caption entities)."""
        update = self.message_update(chat, user, caption)
        message = update["message"]
        message.pop("text")
        if caption:
            message["caption"] = caption
        if "entities" in message:
            message["caption_entities"] = message.pop("entities")
        n = len(self.files)
        if photo is not None:
            small = self.add_file(photo[: max(1, len(photo) // 4)], f"photos/file_{n}_s.jpg")
            large = self.add_file(photo, f"photos/file_{n}.jpg")
            message["photo"] = [{**small, "width": 90, "height": 60}, {**large, "width": 1280, "height": 853}]
        if document is not None:
            data, name, mime = document
            message["document"] = {**self.add_file(data, f"documents/file_{n}"), "file_name": name, "mime_type": mime}
        if voice is not None:
            message["voice"] = {**self.add_file(voice, f"voice/file_{n}.oga"), "duration": 3, "mime_type": "audio/ogg"}
        return update

    def callback_update(
        self, chat: dict[str, Any], user: dict[str, Any], msg: Msg, data: str, update_id: int | None = None
    ) -> dict[str, Any]:
        """A ``callback_query`` update: ``user`` pressed the button carrying ``data`` under ``msg``."""
        return {
            "update_id": update_id or next(self._update_ids),
            "callback_query": {
                "id": f"{next(self._query_ids)}{abs(chat['id']) % 10_000:04d}77",
                "from": user,
                "message": self.message_json(msg, chat),
                "chat_instance": str(-abs(chat["id"]) * 7919),
                "data": data,
            },
        }

    def message_json(self, msg: Msg, chat: dict[str, Any] | None = None) -> dict[str, Any]:
        kind = self.chat_types.get(msg.chat_id, "private" if msg.chat_id > 0 else "supergroup")
        chat = chat or {"id": msg.chat_id, "type": kind}
        out: dict[str, Any] = {"message_id": msg.message_id, "chat": chat, "date": int(time.time()), "text": msg.text}
        out["from"] = self.bot_user() if msg.from_bot else self.user(msg.chat_id if msg.chat_id > 0 else 1)
        if msg.keyboard:
            out["reply_markup"] = {"inline_keyboard": msg.keyboard}
        return out

    def bot_user(self) -> dict[str, Any]:
        return {"id": self.bot_id, "is_bot": True, "first_name": "Graphgate", "username": self.username}

    def enqueue(self, update: dict[str, Any]) -> None:
        """Make ``update`` available to ``getUpdates``."""
        with self.lock:
            self.updates.append(update)

    # --- what tests inspect ----------------------------------------------------------------------------

    def calls_of(self, method: str | None = None, chat: int | None = None) -> list[Call]:
        with self.lock:
            return [
                c for c in self.calls if (method is None or c.method == method) and (chat is None or c.chat == chat)
            ]

    def bot_messages(self, chat: int) -> list[Msg]:
        with self.lock:
            return [m for m in self.messages.get(chat, []) if m.from_bot]

    def flood_refusals(self, chat: int | None = None) -> list[Call]:
        """429s the fake decided on by itself (not those a test asked for), in one chat or all."""
        with self.lock:
            return [
                c
                for c in self.calls
                if c.status == 429 and not c.response.get("injected") and (chat is None or c.chat == chat)
            ]

    # --- the HTTP side -----------------------------------------------------------------------------------

    async def _endpoint(self, request: Request) -> Response:
        method = request.path_params["method"]
        token = request.path_params["token"]
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            args, uploads = multipart_args(request.headers["content-type"], await request.body())
            args["_uploads"] = uploads
        else:
            args = await request_args(request)
        for key, value in list(args.items()):
            if not isinstance(value, str):
                continue
            if key in JSON_ARGS and value[:1] in "[{":
                args[key] = json.loads(value)
            elif key in INT_ARGS and re.fullmatch(r"-?\d+", value):
                args[key] = int(value)
            elif key in BOOL_ARGS:
                args[key] = value.lower() == "true"
        if method == "getUpdates":
            await self._wait_for_updates(args)
        with self.lock:
            try:
                result = self._handle(method, token, args)
                status, body = 200, {"ok": True, "result": result}
            except ApiError as exc:
                status = exc.status
                body = {"ok": False, "error_code": exc.status, "description": exc.description}
                if exc.parameters:
                    body["parameters"] = exc.parameters
                if exc.injected:
                    body["injected"] = True  # kept in the record, not sent
            self.calls.append(Call(self.clock(), method, args, status, body))
        return JSONResponse({k: v for k, v in body.items() if k != "injected"}, status_code=status)

    async def _wait_for_updates(self, args: dict[str, Any]) -> None:
        deadline = time.monotonic() + min(float(args.get("timeout") or 0), 5.0)
        offset = int(args.get("offset") or 0)
        while time.monotonic() < deadline:
            with self.lock:
                if any(u["update_id"] >= offset for u in self.updates):
                    return
            await asyncio.sleep(0.05)

    def _handle(self, method: str, token: str, args: dict[str, Any]) -> Any:
        if token != self.token:
            raise ApiError(401, "Unauthorized")
        if fault := self._take_fault(method, args):
            error = ApiError(
                fault.status, fault.error, {"retry_after": fault.retry_after} if fault.retry_after is not None else None
            )
            error.injected = True
            raise error
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise ApiError(404, "Not Found")
        if method in COUNTED:
            self._flood(int(args.get("chat_id") or 0))
        return handler(args)

    def _flood(self, chat: int) -> None:
        now = self.clock()
        tokens, at = self._chat_bucket.get(chat, (CHAT_BUCKET, now))
        tokens = min(CHAT_BUCKET, tokens + (now - at) * CHAT_RATE)
        if tokens < 1:
            wait = math.ceil((1 - tokens) / CHAT_RATE)
            raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        group = self._group_window.setdefault(chat, deque()) if chat < 0 else None
        if group is not None:
            while group and group[0] <= now - 60:
                group.popleft()
            if len(group) >= GROUP_PER_MINUTE:
                wait = math.ceil(group[0] + 60 - now)
                raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})
        while self._global_window and self._global_window[0] <= now - 1:
            self._global_window.popleft()
        if len(self._global_window) >= GLOBAL_PER_SECOND:
            raise ApiError(429, "Too Many Requests: retry after 1", {"retry_after": 1})
        self._chat_bucket[chat] = (tokens - 1, now)
        if group is not None:
            group.append(now)
        self._global_window.append(now)

    # --- checks -------------------------------------------------------------------------------------------

    def _shown(self, args: dict[str, Any], allow_empty: bool = False) -> str:
        text = str(args.get("text") or "")
        shown = parse_html(text) if str(args.get("parse_mode") or "").upper() == "HTML" else text
        if not shown.strip() and not allow_empty:
            raise ApiError(400, "Bad Request: message text is empty")
        if utf16(shown.strip()) > TEXT_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        return shown

    def _force_reply(self, args: dict[str, Any]) -> dict[str, Any] | None:
        """The ``ForceReply`` markup of a sendMessage, checked as Telegram checks it, or None."""
        markup = args.get("reply_markup")
        if not isinstance(markup, dict) or "force_reply" not in markup:
            return None
        if markup.get("force_reply") is not True or "inline_keyboard" in markup:
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        placeholder = markup.get("input_field_placeholder")
        if placeholder is not None and not 1 <= len(str(placeholder)) <= 64:
            raise ApiError(400, "Bad Request: REPLY_MARKUP_INVALID")
        return markup

    def _keyboard(self, args: dict[str, Any]) -> list[list[dict[str, Any]]]:
        markup = args.get("reply_markup")
        if markup is None:
            return []
        if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for row in markup["inline_keyboard"]:
            for button in row:
                if not str(button.get("text") or "").strip():
                    raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_LIMIT:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
        return markup["inline_keyboard"]

    def _chat_ok(self, chat: Any) -> int:
        if not isinstance(chat, int):
            raise ApiError(400, "Bad Request: chat not found")
        if chat in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat

    def _find(self, chat: int, message_id: Any) -> Msg:
        for msg in self.messages.get(chat, []):
            if msg.message_id == message_id and msg.from_bot:
                return msg
        raise ApiError(400, "Bad Request: message to edit not found")

    # --- methods --------------------------------------------------------------------------------------------

    def _m_getMe(self, args: dict[str, Any]) -> Any:
        return {
            **self.bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def _m_setWebhook(self, args: dict[str, Any]) -> Any:
        self.webhook = {
            "url": args.get("url"),
            "secret_token": args.get("secret_token"),
            "allowed_updates": args.get("allowed_updates"),
        }
        return True

    def _m_deleteWebhook(self, args: dict[str, Any]) -> Any:
        self.webhook = {}
        return True

    def _m_getWebhookInfo(self, args: dict[str, Any]) -> Any:
        return {"url": self.webhook.get("url") or "", "has_custom_certificate": False, "pending_update_count": 0}

    def _m_getUpdates(self, args: dict[str, Any]) -> Any:
        if self.webhook.get("url"):
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(args.get("offset") or 0)
        while self.updates and self.updates[0]["update_id"] < offset:
            self.updates.popleft()  # confirmed by the offset
        limit = int(args.get("limit") or 100)
        return list(itertools.islice(self.updates, 0, limit))

    def _m_getChat(self, args: dict[str, Any]) -> Any:
        chat = self._chat_ok(args.get("chat_id"))
        gifts = dict.fromkeys(
            ("unlimited_gifts", "limited_gifts", "unique_gifts", "premium_subscription", "gifts_from_channels"), False
        )
        return {
            "id": chat,
            "type": self.chat_types.get(chat, "private" if chat > 0 else "supergroup"),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": gifts,
        }

    def _sent_file(self, args: dict[str, Any], field_value: Any, kind: str) -> Msg:
        """A photo or document sent by the bot: an ``attach://`` name or the field itself carries the bytes."""
        chat = self._chat_ok(args.get("chat_id"))
        uploads = args.get("_uploads") or {}
        ref = str(field_value or "")
        filename, data = uploads.get(ref.removeprefix("attach://"), (None, None)) if ref else (None, None)
        if data is None:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        msg = Msg(chat, self._next_id(chat), "", "", from_bot=True, file=(kind, str(filename), data))
        self.messages.setdefault(chat, []).append(msg)
        return msg

    def _m_sendPhoto(self, args: dict[str, Any]) -> Any:
        uploads = args.get("_uploads") or {}
        msg = self._sent_file(args, "attach://photo" if "photo" in uploads else args.get("photo"), "photo")
        return {
            **self.message_json(msg),
            "photo": [{"file_id": f"p{msg.message_id}", "file_unique_id": "u", "width": 1, "height": 1}],
        }

    def _m_sendDocument(self, args: dict[str, Any]) -> Any:
        uploads = args.get("_uploads") or {}
        msg = self._sent_file(args, "attach://document" if "document" in uploads else args.get("document"), "document")
        assert msg.file is not None
        return {
            **self.message_json(msg),
            "document": {"file_id": f"d{msg.message_id}", "file_unique_id": "u", "file_name": msg.file[1]},
        }

    def _m_sendMediaGroup(self, args: dict[str, Any]) -> Any:
        media = args.get("media")
        if not isinstance(media, list) or not 2 <= len(media) <= 10:
            raise ApiError(400, "Bad Request: wrong number of media in the group")
        if len({item.get("type") for item in media}) != 1:
            raise ApiError(400, "Bad Request: documents can't be mixed with other media types")
        sent = []
        for item in media:
            msg = self._sent_file(args, item.get("media"), str(item.get("type")))
            sent.append(self.message_json(msg))
        return sent

    def _m_getFile(self, args: dict[str, Any]) -> Any:
        file_id = str(args.get("file_id") or "")
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        data, file_path = self.files[file_id]
        if len(data) > 20 * 1_048_576:
            raise ApiError(400, "Bad Request: file is too big")
        return {
            "file_id": file_id,
            "file_unique_id": f"AQAD{file_id[-6:]}",
            "file_size": len(data),
            "file_path": file_path,
        }

    def _m_setMyCommands(self, args: dict[str, Any]) -> Any:
        return True

    def _m_sendChatAction(self, args: dict[str, Any]) -> Any:
        return True

    def _m_sendMessage(self, args: dict[str, Any]) -> Any:
        chat = self._chat_ok(args.get("chat_id"))
        shown = self._shown(args)
        force_reply = self._force_reply(args)
        keyboard = [] if force_reply else self._keyboard(args)
        reply = args.get("reply_parameters") or {}
        msg = Msg(
            chat,
            self._next_id(chat),
            str(args["text"]),
            shown,
            from_bot=True,
            keyboard=keyboard,
            reply_to=reply.get("message_id"),
            force_reply=force_reply,
        )
        self.messages.setdefault(chat, []).append(msg)
        return self.message_json(msg)

    def _m_editMessageText(self, args: dict[str, Any]) -> Any:
        chat = self._chat_ok(args.get("chat_id"))
        msg = self._find(chat, args.get("message_id"))
        shown = self._shown(args)
        keyboard = self._keyboard(args)
        if str(args["text"]) == msg.html and keyboard == msg.keyboard:
            raise ApiError(400, NOT_MODIFIED)
        msg.history.append(msg.html)
        msg.html, msg.text, msg.keyboard = str(args["text"]), shown, keyboard
        return self.message_json(msg)

    def _m_sendMessageDraft(self, args: dict[str, Any]) -> Any:
        if not self.drafts_supported:
            raise ApiError(404, "Not Found")
        chat = self._chat_ok(args.get("chat_id"))
        if chat < 0 or self.chat_types.get(chat, "private") != "private":
            raise ApiError(400, "Bad Request: TEXTDRAFT_PEER_INVALID")
        draft_id = int(args.get("draft_id") or 0)
        if not draft_id:
            raise ApiError(400, "Bad Request: draft_id must be non-zero")
        self.drafts.setdefault(chat, {})[draft_id] = self._shown(args, allow_empty=True)
        return True

    def _m_answerCallbackQuery(self, args: dict[str, Any]) -> Any:
        query = str(args.get("callback_query_id") or "")
        if not query or query in self.answered:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        self.answered[query] = {"text": args.get("text"), "show_alert": bool(args.get("show_alert"))}
        return True
