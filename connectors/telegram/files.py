"""Files in a Telegram message (a photo, a document, a voice note, an audio file) as stored attachments.

What a message carries is checked against the limits from Telegram's own description (size, MIME type) before
anything is downloaded; then each file is fetched with ``getFile`` and the file URL (which holds the bot token:
it is never logged or stored) and put into the attachment store (graphgate/core/attachments.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from telegram import Bot, Message
from telegram.error import TelegramError

from graphgate.core.attachments import Attachment, AttachmentStore
from graphgate.core.errors import InvalidInput


@dataclass(frozen=True)
class Incoming:
    file_id: str
    name: str
    mime_type: str
    size: int | None


def incoming(message: Message) -> list[Incoming]:
    """The files ``message`` carries (a photo as its largest size)."""
    found: list[Incoming] = []
    if message.photo:
        largest = max(message.photo, key=lambda p: (p.width * p.height, p.file_size or 0))
        found.append(Incoming(largest.file_id, "photo.jpg", "image/jpeg", largest.file_size))
    if message.document is not None:
        doc = message.document
        found.append(
            Incoming(
                doc.file_id, doc.file_name or "document", doc.mime_type or "application/octet-stream", doc.file_size
            )
        )
    if message.voice is not None:
        found.append(
            Incoming(
                message.voice.file_id, "voice.ogg", message.voice.mime_type or "audio/ogg", message.voice.file_size
            )
        )
    if message.audio is not None:
        audio = message.audio
        found.append(
            Incoming(audio.file_id, audio.file_name or "audio", audio.mime_type or "audio/mpeg", audio.file_size)
        )
    return found


async def fetch(bot: Bot, store: AttachmentStore, owner: str, files: list[Incoming]) -> list[Attachment]:
    """Download and store ``files``; ``InvalidInput`` saying which one was refused and why (nothing stored
    for a file refused from its description)."""
    store.check_count(len(files))
    for item in files:
        why = store.refusal(item.mime_type, item.size if item.size is not None else 1)
        if why is not None:
            raise InvalidInput(f"{item.name}: {why}")
    stored = []
    for item in files:
        try:
            data = bytes(await (await bot.get_file(item.file_id)).download_as_bytearray())
        except TelegramError as exc:
            raise InvalidInput(f"{item.name}: Telegram did not hand the file over ({exc.message})") from exc
        stored.append(await store.put(owner, data, item.mime_type, item.name))
    return stored
