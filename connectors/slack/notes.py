"""The app's own notes to one person: ephemeral messages that say why a request or a click changed nothing.

Everything a task does is the dispatcher's to post (connectors/slack/delivery.py); a note is for the person
who asked, in the thread when there is one, and only they see it. A note that Slack refuses is logged and
dropped: the request was handled.
"""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

log = logging.getLogger("graphgate.slack")


async def note(client: AsyncWebClient, channel: str, user: str, thread_ts: str | None, text: str) -> None:
    """An ephemeral message only ``user`` sees (in the thread when there is one)."""
    try:
        await client.chat_postEphemeral(channel=channel, user=user, thread_ts=thread_ts, text=text)
    except SlackApiError as exc:
        log.warning("could not tell %s in %s: %s", user, channel, exc.response.get("error") if exc.response else exc)
