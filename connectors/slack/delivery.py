"""Slack as a dispatcher platform: posting, editing, streaming and finding a task's messages in its thread.

Every message the dispatcher posts carries Slack message metadata
``{"event_type": "graphgate_delivery", "event_payload": {"task_id", "slot", "event_id"}}``; after a crash
between a post and its record, ``find`` reads the thread (``conversations.replies`` with
``include_all_metadata``) and recognises the message instead of posting it twice.

A growing answer is streamed with ``chat.startStream`` / ``chat.appendStream`` / ``chat.stopStream`` where
the workspace accepts them (``GRAPHGATE_SLACK_STREAMING``), else re-sent with throttled ``chat.update``.
Every response's ``ok`` is checked; errors are sorted into the dispatcher's kinds (rate limit, transient,
gone, permanent).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from graphgate.connectors.slack import mrkdwn
from graphgate.connectors.slack.installs import TokenSource, api_url, slack_enabled
from graphgate.connectors.slack.render import render_task
from graphgate.connectors.slack.threads import PLATFORM, user_of
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

log = logging.getLogger("graphgate.slack")

METADATA_TYPE = "graphgate_delivery"
STREAM_CHUNK = 12_000  # markdown_text limit of the chat.*Stream methods
FIND_PAGES = 20  # conversations.replies pages (200 messages each) searched for a lost post

# The binding can never be delivered to: surfaced as delivery.failed.
PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "invalid_auth",
        "not_authed",
        "no_permission",
        "missing_scope",
        "restricted_action",
        "team_access_not_granted",
        "ekm_access_denied",
        "org_login_required",
        "team_not_found",
        "no_installation",
        "channel_is_archived",
        "msg_too_long",
        "invalid_blocks",
        "invalid_metadata_format",
        "invalid_arguments",
        "no_text",
        "too_many_attachments",
    }
)
GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
TRANSIENT_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout", "timeout"})


def classify(status: int, error: str, retry_after: str | None) -> DeliveryError:
    """The dispatcher's kind of a failed Slack call."""
    if status == 429 or error == "ratelimited":
        try:
            wait = float(retry_after) if retry_after else 1.0
        except ValueError:
            wait = 1.0
        return RateLimited(wait, f"slack {error or 'HTTP 429'}")
    if error in GONE_ERRORS:
        return MessageGone(error)
    if error in PERMANENT_ERRORS:
        return PermanentError(error)
    if status >= 500 or error in TRANSIENT_ERRORS or not error:
        return TransientError(f"slack HTTP {status} {error}".strip())
    return PermanentError(error)


class SlackPlatform(Platform):
    name = PLATFORM

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.base_url = api_url(settings)
        self.tokens = TokenSource(settings)
        self.streaming = settings.slack_streaming
        self._no_stream: set[str] = set()  # teams that refused chat.startStream
        self._session: aiohttp.ClientSession | None = None
        self._clients: dict[str, AsyncWebClient] = {}

    # --- the Platform interface ---------------------------------------------------------------------

    def channel_key(self, binding: Binding) -> str:
        return f"slack:{binding.get('team')}:{binding.get('channel')}"

    def render(self, view: TaskView, binding: Binding) -> list[Message]:
        return render_task(view, binding)

    async def post(self, binding: Binding, message: Message, tag: Tag) -> Posted:
        client = await self._client(binding)
        channel, thread_ts = binding["channel"], binding.get("thread_ts")
        if "files" in message.body:
            return await self._upload(client, channel, thread_ts, message.body["files"])
        markdown = message.body.get("markdown")
        team = str(binding.get("team"))
        if message.stream and markdown and self.streaming and team not in self._no_stream and thread_ts:
            first = markdown[:STREAM_CHUNK]
            try:
                data = await self._api(
                    lambda: client.chat_startStream(
                        channel=channel,
                        thread_ts=thread_ts,
                        markdown_text=first,
                        recipient_team_id=team,
                        recipient_user_id=binding.get("user"),
                    )
                )
            except PermanentError as exc:
                if exc.code in (
                    "channel_not_found",
                    "not_in_channel",
                    "is_archived",
                    "invalid_auth",
                    "token_revoked",
                    "account_inactive",
                    "no_installation",
                ):
                    raise
                log.info("team %s does not stream (%s); answers are edited in place instead", team, exc.code)
                self._no_stream.add(team)
            else:
                complete = len(first) == len(markdown)
                return Posted(
                    str(data["ts"]),
                    digest="" if complete else "streaming",
                    extra={"streaming": True, "sent": len(first)},
                )
        data = await self._api(
            lambda: client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text=message.body.get("text") or " ",
                blocks=message.body.get("blocks"),
                metadata=_metadata(tag),
                unfurl_links=False,
                unfurl_media=False,
            )
        )
        return Posted(str(data["ts"]))

    async def edit(self, binding: Binding, posted: Posted, message: Message, tag: Tag) -> Posted:
        if "files" in message.body:
            return Posted(posted.id)  # uploaded files stay as they are
        client = await self._client(binding)
        channel = binding["channel"]
        if posted.extra.get("streaming"):
            markdown = message.body.get("markdown")
            sent = int(posted.extra.get("sent", 0))
            if markdown is not None and len(markdown) > sent:
                chunk = markdown[sent : sent + STREAM_CHUNK]
                await self._api(lambda: client.chat_appendStream(channel=channel, ts=posted.id, markdown_text=chunk))
                sent += len(chunk)
                done = message.stream and sent >= len(markdown)
                return Posted(posted.id, digest="" if done else "streaming", extra={"streaming": True, "sent": sent})
            if message.stream:
                return Posted(posted.id, extra={"streaming": True, "sent": sent})
            await self._stop(client, channel, posted.id, tag)
            if markdown is not None:
                return Posted(posted.id, extra={"sent": sent})  # the streamed text is the whole message: done
            # the final answer replaces what was streamed (a stopped stream is an ordinary message)
            return Posted(posted.id, digest="stopped", extra={"stopped": True})
        await self._api(
            lambda: client.chat_update(
                channel=channel,
                ts=posted.id,
                text=message.body.get("text") or " ",
                blocks=message.body.get("blocks"),
                metadata=_metadata(tag),
            )
        )
        return Posted(posted.id)

    async def open_thread(self, place: Binding, title: str, owner: str) -> Binding:
        """Post ``title`` into the channel; the task runs in that message's thread. A Slack owner (the one
        who made the schedule in Slack) is the thread's starter: they answer its questions."""
        client = await self._client(place)
        channel = str(place["channel"])
        root = await self._api(
            lambda: client.chat_postMessage(
                channel=channel, text=mrkdwn.escape(title), unfurl_links=False, unfurl_media=False
            )
        )
        starter = user_of(owner) if owner.startswith(f"{PLATFORM}:{place.get('team')}:") else None
        return {
            "platform": PLATFORM,
            "team": str(place.get("team") or ""),
            "enterprise": place.get("enterprise"),
            "channel": channel,
            "thread_ts": str(root["ts"]),
            "user": starter,
        }

    async def find(self, binding: Binding, tag: Tag) -> Posted | None:
        client = await self._client(binding)
        cursor: str | None = None
        for _ in range(FIND_PAGES):
            try:
                if binding.get("thread_ts"):
                    data = await self._api(
                        lambda: client.conversations_replies(
                            channel=binding["channel"],
                            ts=binding["thread_ts"],
                            include_all_metadata=True,
                            limit=200,
                            cursor=cursor,
                        )
                    )
                else:  # an approvers' channel: the questions are top-level messages, the newest first
                    data = await self._api(
                        lambda: client.conversations_history(
                            channel=binding["channel"], include_all_metadata=True, limit=200, cursor=cursor
                        )
                    )
            except PermanentError as exc:
                if exc.code == "thread_not_found":
                    return None
                raise
            for msg in data.get("messages") or []:
                meta = msg.get("metadata") or {}
                payload = meta.get("event_payload") or {}
                if (
                    meta.get("event_type") == METADATA_TYPE
                    and payload.get("task_id") == tag.task_id
                    and payload.get("slot") == tag.slot
                ):
                    return Posted(str(msg["ts"]))
            cursor = (data.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return None
        return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- helpers --------------------------------------------------------------------------------------

    async def _client(self, binding: Binding) -> AsyncWebClient:
        token = await self.tokens.bot_token(binding.get("team"), binding.get("enterprise"))
        if not token:
            raise PermanentError("no_installation", f"no bot token for team {binding.get('team')}")
        if token not in self._clients:
            if self._session is None:
                self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20))
            self._clients[token] = AsyncWebClient(
                token=token, base_url=self.base_url, session=self._session, timeout=20
            )
        return self._clients[token]

    async def _upload(
        self, client: AsyncWebClient, channel: str, thread_ts: str | None, files: list[dict[str, Any]]
    ) -> Posted:
        """The answer's files into the thread with ``files.uploadV2``: upload URLs and uploads (invisible, safe
        to repeat), then one completion that shares them all; a file that cannot be had is named in its
        comment. (A crash between the completion and its record shares them again on recovery: Slack keeps no
        metadata on files to find them by.)"""
        uploads, missing = [], []
        for entry in files:
            try:
                data = await answer_file_bytes(entry, self.settings)
            except ValueError as exc:
                missing.append(str(exc))
                continue
            name = str(entry.get("name") or "file")
            uploads.append({"file": data, "filename": name, "title": name})
        comment = ("Could not attach: " + "; ".join(mrkdwn.escape(m) for m in missing)) if missing else None
        if not uploads:
            note = await self._api(lambda: client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=comment))
            return Posted(str(note.get("ts")))
        done = await self._api(
            lambda: client.files_upload_v2(
                file_uploads=uploads, channel=channel, thread_ts=thread_ts, initial_comment=comment
            )
        )
        return Posted(",".join(str(f.get("id")) for f in done.get("files") or [] if isinstance(f, dict)) or "none")

    async def _api(self, call: Callable[[], Awaitable[Any]]) -> dict[str, Any]:
        """Make a Web API call; its response data when ``ok``, else the matching ``DeliveryError``."""
        try:
            response = await call()
        except SlackApiError as exc:
            resp = exc.response
            data = resp.data if isinstance(getattr(resp, "data", None), dict) else {}
            headers = getattr(resp, "headers", None) or {}
            raise classify(
                int(getattr(resp, "status_code", 0) or 0),
                str(data.get("error") or ""),
                headers.get("Retry-After") or headers.get("retry-after"),
            ) from exc
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise TransientError(f"slack unreachable: {exc!r}") from exc
        data = response.data if isinstance(response.data, dict) else {}
        if not data.get("ok"):
            raise classify(int(response.status_code or 0), str(data.get("error") or ""), None)
        return data

    async def _stop(self, client: AsyncWebClient, channel: str, ts: str, tag: Tag) -> None:
        try:
            await self._api(lambda: client.chat_stopStream(channel=channel, ts=ts, metadata=_metadata(tag)))
        except PermanentError as exc:
            if exc.code in ("channel_not_found", "not_in_channel", "is_archived", "invalid_auth", "token_revoked"):
                raise
            log.info("chat.stopStream on %s: %s (stopped already?)", ts, exc.code)


def _metadata(tag: Tag) -> dict[str, Any]:
    return {
        "event_type": METADATA_TYPE,
        "event_payload": {"task_id": tag.task_id, "slot": tag.slot, "event_id": tag.event_id},
    }


def platform(settings: Settings) -> Platform | None:
    """The dispatcher's Slack platform, or None when Slack is not configured."""
    if not settings.slack_bot_token and not (settings.slack_client_id and settings.slack_client_secret):
        return None
    if not slack_enabled(settings):
        log.warning(
            "Slack delivery without GRAPHGATE_SLACK_SIGNING_SECRET: posting works, the gateway will not mount /slack"
        )
    return SlackPlatform(settings)
