"""Telegram as a dispatcher platform: posting, editing and streaming a task's messages in its chat.

Messages are sent in HTML parse mode (connectors/telegram/render.py builds them) with link previews off;
the status message replies to the message that started the task. Edits that change nothing ("message is
not modified") count as done. In private chats a growing answer is streamed with ``sendMessageDraft``
(``GRAPHGATE_TELEGRAM_DRAFTS``); when the Bot API refuses drafts, answers are edited in place instead.

Flood limits: the dispatcher paces calls to about one per second per chat; ``FloodControl`` adds the
20-per-minute group limit and the global 30 per second; a 429 is ``RateLimited`` for its ``retry_after``.

What remains of the duplicate window: Telegram messages carry no metadata to search, so ``find`` cannot
recognise a message whose ``sendMessage`` succeeded just before the dispatcher died and before its id was
recorded; that one message is posted again after the restart (docs/telegram.md).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaDocument,
    InputMediaPhoto,
    LinkPreviewOptions,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from graphgate.connectors.telegram import html
from graphgate.connectors.telegram.bot import build_bot, retry_after
from graphgate.connectors.telegram.chats import PLATFORM
from graphgate.connectors.telegram.flood import FloodControl
from graphgate.connectors.telegram.render import render_task
from graphgate.core.attachments import answer_file_bytes
from graphgate.core.platform import (
    Binding,
    DeliveryError,
    Message,
    MessageGone,
    PermanentError,
    Platform,
    Posted,
    RateLimited,
    Tag,
    TransientError,
)
from graphgate.core.settings import Settings
from graphgate.core.taskview import TaskView

log = logging.getLogger("graphgate.telegram")

T = TypeVar("T")
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)
NOTHING = "none"  # the id of a slot that shows nothing (a draft the Bot API refused)

_GONE = ("message to edit not found", "message can't be edited", "message_id_invalid", "message not found")
_PERMANENT = (
    "chat not found",
    "bot was kicked",
    "bot is not a member",
    "have no rights",
    "not enough rights",
    "need administrator rights",
    "group chat was deactivated",
    "peer_id_invalid",
    "user is deactivated",
    "chat_write_forbidden",
    "message thread not found",
    "topic_closed",
    "topic_deleted",
)


class NotModified(Exception):
    """The edit asked for what the message already shows."""


class CannotParse(Exception):
    """Telegram refused the HTML (a bug on our side): the text is sent again without formatting."""


def classify(exc: TelegramError) -> Exception:
    """The dispatcher's kind of a failed Bot API call (or ``NotModified`` / ``CannotParse``)."""
    if isinstance(exc, RetryAfter):
        return RateLimited(retry_after(exc), "telegram flood control")
    if isinstance(exc, BadRequest):
        text = exc.message.lower()
        if "message is not modified" in text:
            return NotModified()
        if "can't parse entities" in text or "unsupported start tag" in text or "can't find end tag" in text:
            return CannotParse(exc.message)
        if any(s in text for s in _GONE):
            return MessageGone(exc.message)
        if "too many requests" in text:
            return RateLimited(1.0, exc.message)
        if any(s in text for s in _PERMANENT):
            return PermanentError("chat_unavailable", exc.message)
        if "message is too long" in text:
            return PermanentError("message_too_long", exc.message)
        return PermanentError("bad_request", exc.message)
    if isinstance(exc, TimedOut):
        return TransientError(f"telegram timed out: {exc.message}")
    if isinstance(exc, NetworkError):
        return TransientError(f"telegram unreachable: {exc.message}")
    if isinstance(exc, Forbidden):
        return PermanentError("forbidden", exc.message)
    if isinstance(exc, InvalidToken):
        return PermanentError("invalid_token", exc.message)
    if isinstance(exc, Conflict):
        return PermanentError("conflict", exc.message)
    return PermanentError("telegram_error", exc.message)


def keyboard(rows: list[list[dict[str, str]]]) -> InlineKeyboardMarkup:
    """An inline keyboard of ``callback_data`` buttons."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(b["text"], callback_data=b["callback_data"]) for b in row] for row in rows]
    )


CAPTION_CHARS = 1024  # Telegram's caption limit


class TelegramPlatform(Platform):
    name = PLATFORM

    def __init__(self, settings: Settings, bot: Bot | None = None, flood: FloodControl | None = None) -> None:
        self.settings = settings
        self.bot = bot or build_bot(settings)
        self.drafts = settings.telegram_drafts  # False once the Bot API refused sendMessageDraft
        self.flood = flood or FloodControl()
        self._migrated: dict[int, int] = {}  # group id -> supergroup id it became

    # --- the Platform interface ---------------------------------------------------------------------

    def channel_key(self, binding: Binding) -> str:
        return f"{PLATFORM}:{self._chat(binding)}"

    def render(self, view: TaskView, binding: Binding) -> list[Message]:
        return render_task(view, binding, drafts=self.drafts)

    async def post(self, binding: Binding, message: Message, tag: Tag) -> Posted:
        body = message.body
        if "files" in body:
            return await self._send_files(binding, body)
        if "draft_id" in body:
            return await self._draft(binding, body)
        reply = None
        if body.get("reply") and binding.get("reply_to"):
            reply = ReplyParameters(int(binding["reply_to"]), allow_sending_without_reply=True)
        markup = keyboard(body.get("keyboard")) if body.get("keyboard") else None

        async def send(text: str, parse_mode: str | None) -> Any:
            return await self.bot.send_message(
                self._chat(binding),
                text,
                parse_mode=parse_mode,
                reply_markup=markup,
                message_thread_id=binding.get("thread"),
                link_preview_options=NO_PREVIEW,
                reply_parameters=reply,
            )

        sent = await self._formatted(binding, body["text"], send)
        return Posted(str(sent.message_id))

    async def edit(self, binding: Binding, posted: Posted, message: Message, tag: Tag) -> Posted:
        body = message.body
        if "files" in body:
            return Posted(posted.id)  # sent files stay as they are
        if posted.id == NOTHING:
            return Posted(NOTHING)
        if posted.extra.get("draft"):
            return await self._draft(binding, body)
        markup = keyboard(body.get("keyboard")) if body.get("keyboard") else None  # none: the edit removes it

        async def change(text: str, parse_mode: str | None) -> Any:
            return await self.bot.edit_message_text(
                text,
                chat_id=self._chat(binding),
                message_id=int(posted.id),
                parse_mode=parse_mode,
                reply_markup=markup,
                link_preview_options=NO_PREVIEW,
            )

        try:
            await self._formatted(binding, body["text"], change)
        except NotModified:
            pass  # it already shows this: the edit is done
        return Posted(posted.id, extra=dict(posted.extra))

    async def open_thread(self, place: Binding, title: str, owner: str) -> Binding:
        """Send ``title`` into the chat; the task's messages reply to it."""
        chat = int(place["chat"])
        info = await self._api({"chat": chat}, lambda: self.bot.get_chat(chat))
        binding: Binding = {
            "platform": PLATFORM,
            "chat": chat,
            "chat_type": str(info.type),
            "thread": None,
            "user": None,
            "user_name": "",
            "reply_to": None,
        }
        sent = await self._api(binding, lambda: self.bot.send_message(chat, title, link_preview_options=NO_PREVIEW))
        binding["reply_to"] = int(sent.message_id)
        return binding

    async def close(self) -> None:
        try:
            await self.bot.shutdown()
        except TelegramError:
            pass

    # --- helpers --------------------------------------------------------------------------------------

    async def _send_files(self, binding: Binding, body: dict[str, Any]) -> Posted:
        """One call for one group of the answer's files (connectors/telegram/render.py ``files_messages``): a
        photo or a document, or a media group of them. A file that cannot be had is named in the caption."""
        got: list[tuple[bytes, str]] = []
        missing: list[str] = []
        for entry in body["files"]:
            try:
                got.append((await answer_file_bytes(entry, self.settings), str(entry.get("name") or "file")))
            except ValueError as exc:
                missing.append(str(exc))
        caption = ("Could not attach: " + "; ".join(missing))[:CAPTION_CHARS] if missing else None
        chat, thread = self._chat(binding), binding.get("thread")
        photos = body.get("kind") == "photos"
        if not got:
            sent = await self._api(
                binding, lambda: self.bot.send_message(chat, caption or "", message_thread_id=thread)
            )
            return Posted(str(sent.message_id))
        if len(got) == 1:
            (data, name), send = got[0], self.bot.send_photo if photos else self.bot.send_document
            sent = await self._api(
                binding, lambda: send(chat, data, filename=name, caption=caption, message_thread_id=thread)
            )
            return Posted(str(sent.message_id))
        media = InputMediaPhoto if photos else InputMediaDocument
        items = [
            media(media=data, filename=name, caption=caption if i == 0 else None) for i, (data, name) in enumerate(got)
        ]
        group = await self._api(binding, lambda: self.bot.send_media_group(chat, items, message_thread_id=thread))
        return Posted(",".join(str(m.message_id) for m in group))

    def _chat(self, binding: Binding) -> int:
        chat = int(binding["chat"])
        return self._migrated.get(chat, chat)

    async def _draft(self, binding: Binding, body: dict[str, Any]) -> Posted:
        """Show (or update) a streamed draft; a Bot API without drafts turns them off for this process."""
        if not self.drafts:
            return Posted(NOTHING)
        draft_id = int(body["draft_id"])

        async def send(text: str, parse_mode: str | None) -> Any:
            return await self.bot.send_message_draft(
                self._chat(binding), draft_id, text, message_thread_id=binding.get("thread"), parse_mode=parse_mode
            )

        try:
            await self._formatted(binding, body["text"], send)
        except NotModified:
            pass
        except PermanentError as exc:
            if exc.code in ("chat_unavailable", "forbidden"):
                raise
            # an older or local Bot API server without the method answers 404 or 400
            log.warning("sendMessageDraft refused (%s); streaming by editing messages instead", exc)
            self.drafts = False
            return Posted(NOTHING)
        return Posted(f"draft:{draft_id}", extra={"draft": True})

    async def _formatted(self, binding: Binding, text: str, call: Callable[[str, str | None], Awaitable[T]]) -> T:
        """Make ``call`` with the HTML; if Telegram cannot parse it, once more as plain text."""
        try:
            return await self._api(binding, lambda: call(text, ParseMode.HTML))
        except CannotParse as exc:
            log.error("telegram could not parse our HTML (%s); sending it as plain text", exc)
            return await self._api(binding, lambda: call(html.visible(text), None))

    async def _api(self, binding: Binding, call: Callable[[], Awaitable[T]]) -> T:
        """One counted Bot API call into the binding's chat; failures become ``DeliveryError`` kinds."""
        chat = self._chat(binding)
        await self.flood.admit(chat, group=binding.get("chat_type") != "private")
        try:
            return await call()
        except ChatMigrated as exc:
            self._migrated[int(binding["chat"])] = int(exc.new_chat_id)
            log.info("telegram group %s became supergroup %s", binding["chat"], exc.new_chat_id)
            raise TransientError("group migrated to a supergroup; sending there") from exc
        except TelegramError as exc:
            kind = classify(exc)
            if isinstance(kind, (DeliveryError, NotModified, CannotParse)):
                raise kind from exc
            raise


def platform(settings: Settings) -> Platform | None:
    """The dispatcher's Telegram platform, or None when Telegram is not configured."""
    if not settings.telegram_bot_token:
        return None
    return TelegramPlatform(settings)
