"""Files on a Slack message (``files`` of a ``file_share`` message or of a mention) as stored attachments.

Each file is checked against the limits from Slack's own description (``size``, ``mimetype``) before anything
is downloaded; then it is fetched from ``url_private_download`` with the bot token in the Authorization
header (the token is never logged or stored). Slack answers a request it does not accept with its sign-in
page and status 200: an HTML answer is refused, with the scope to check (``files:read``).
"""

from __future__ import annotations

from typing import Any

import aiohttp
from slack_sdk.web.async_client import AsyncWebClient

from graphgate.core.attachments import Attachment, AttachmentStore
from graphgate.core.errors import InvalidInput

TIMEOUT = aiohttp.ClientTimeout(total=60)


async def fetch(
    client: AsyncWebClient, store: AttachmentStore, owner: str, files: list[dict[str, Any]]
) -> list[Attachment]:
    """Download and store ``files``; ``InvalidInput`` naming the file refused and why."""
    store.check_count(len(files))
    for item in files:
        why = store.refusal(_mime(item), int(item.get("size") or 1))
        if why is not None:
            raise InvalidInput(f"{item.get('name') or 'a file'}: {why}")
    stored = []
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        for item in files:
            name = str(item.get("name") or "file")
            url = item.get("url_private_download") or item.get("url_private")
            if not url:
                info = await client.files_info(file=str(item.get("id")))
                url = (info.get("file") or {}).get("url_private_download")
            if not url:
                raise InvalidInput(f"{name}: Slack gave no address to download it from")
            headers = {"Authorization": f"Bearer {client.token}"}
            async with session.get(str(url), headers=headers, allow_redirects=True) as response:
                if response.status != 200 or response.content_type == "text/html":
                    raise InvalidInput(
                        f"{name}: Slack did not hand the file over (HTTP {response.status}; "
                        "does the app have the files:read scope?)"
                    )
                data = await response.content.read(store.settings.attachment_max_bytes + 1)
            stored.append(await store.put(owner, data, _mime(item), name))
    return stored


def _mime(item: dict[str, Any]) -> str:
    return str(item.get("mimetype") or "application/octet-stream")
