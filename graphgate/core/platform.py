"""The interface between the dispatcher and a chat platform (Slack, Telegram, ...).

The dispatcher (graphgate/workers/dispatcher.py) knows nothing about any platform. For each chat-bound task it
folds the task's events into a ``TaskView`` and asks the task's platform for the messages that view should
show (``Platform.render``): a list of ``Message``, each with a stable ``slot`` name. It then reconciles:

* a slot never posted is posted (``Platform.post``) and the returned message id is recorded at once;
* a slot whose content changed is edited (``Platform.edit``), which must be idempotent;
* a slot the renderer no longer returns is left as it is.

Before posting a slot the core records that it is about to; if it finds that mark without a message id
after a crash, it asks ``Platform.find`` whether the platform already has the message (Slack: message
metadata carries the ``Tag``), and posts only when it does not. Every call goes through the core, which
paces calls per ``Platform.channel_key``, waits out ``RateLimited``, retries ``TransientError``, re-posts on
``MessageGone`` and turns ``PermanentError`` into a ``delivery.failed`` event.

A platform lives in ``connectors/<name>/delivery.py`` and exposes ``platform(settings) -> Platform | None``
(None when the platform is not configured); a task's ``binding["platform"]`` names it, and the composition
root's table (graphgate/cli/compose.py ``PLATFORMS``) maps the name to the factory. Nothing in the core or
the dispatcher changes when a platform is added. docs/dispatcher.md walks through writing one.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphgate.core.settings import Settings
from graphgate.core.taskview import TaskView

Binding = dict[str, Any]  # a task's chat binding, as its connector stored it ({"platform": "slack", ...})


@dataclass(frozen=True)
class Message:
    """One message the renderer wants to exist in the chat, in the platform's own payload format."""

    slot: str  # stable name within the task: "status", "answer:2", "question:<interrupt id>", ...
    body: dict[str, Any]  # what the platform's post/edit calls send (Slack: text + blocks)
    stream: bool = False  # text still growing; the platform may append instead of re-sending everything
    final: bool = False  # carries (part of) the final answer

    @property
    def digest(self) -> str:
        raw = json.dumps([self.body, self.stream], sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(raw.encode()).hexdigest()[:32]


@dataclass
class Posted:
    """What the core records for a slot once the platform accepted it."""

    id: str  # the platform's message id (Slack ts, Telegram message_id); "" while a post is in flight
    # digest of the content the message shows. A platform returns "" (the core fills in the rendered
    # message's digest) or any other value when the call showed only part of it: the next pass edits again.
    digest: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # the platform's own bookkeeping (e.g. streaming)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "digest": self.digest, "extra": self.extra}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> Posted:
        return cls(id=str(raw.get("id") or ""), digest=str(raw.get("digest") or ""), extra=dict(raw.get("extra") or {}))


@dataclass(frozen=True)
class Tag:
    """Identifies a posted message for recovery: platforms that can, attach it to the message."""

    task_id: str
    slot: str
    event_id: str  # the session stream entry that caused the post


# --- errors a platform raises; the core decides what happens next -------------------------------------


class DeliveryError(Exception):
    """Base of the errors below."""


class RateLimited(DeliveryError):
    """The platform refused the call for now (HTTP 429, Slack ``ratelimited``); try again after this wait."""

    def __init__(self, retry_after: float, detail: str = "rate limited") -> None:
        super().__init__(f"{detail}; retry after {retry_after:g}s")
        self.retry_after = max(0.0, retry_after)


class TransientError(DeliveryError):
    """The call failed in a way a retry may fix (network, 5xx, platform internal error)."""


class MessageGone(DeliveryError):
    """The message to edit no longer exists (deleted in the chat); the core posts the slot anew."""


class PermanentError(DeliveryError):
    """The platform will never accept delivery for this binding (channel gone, bot removed, bad token)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code


class Platform(ABC):
    """A chat platform as the dispatcher sees it. One instance per dispatcher process, used concurrently."""

    name: str = ""

    @abstractmethod
    def channel_key(self, binding: Binding) -> str:
        """The unit calls are paced by (a Slack channel, a Telegram chat)."""

    @abstractmethod
    def render(self, view: TaskView, binding: Binding) -> list[Message]:
        """The messages ``view`` should show, in the order they should appear. Pure: no I/O."""

    @abstractmethod
    async def post(self, binding: Binding, message: Message, tag: Tag) -> Posted:
        """Create the message with one platform call; return its id. Raise a ``DeliveryError`` kind on failure.

        Return a ``Posted`` with a non-empty ``digest`` when the call showed only part of the message: the core
        then calls ``edit`` (paced) until it is complete.
        """

    @abstractmethod
    async def edit(self, binding: Binding, posted: Posted, message: Message, tag: Tag) -> Posted:
        """Bring the posted message closer to ``message`` with one platform call; safe to repeat.

        Return ``digest=""`` once it shows ``message``, any other digest for "call me again" (a stream that
        needs another append, a stop, then an update).
        """

    async def open_thread(self, place: Binding, title: str, owner: str) -> Binding:
        """Start a conversation in ``place`` (a channel or chat with no thread yet) with a message saying
        ``title``, for a task owned by ``owner``; return the binding of a task that runs in it. The scheduler
        calls it for a scheduled run posted into a channel. Raises a ``DeliveryError`` kind on failure."""
        raise PermanentError("unsupported", f"{self.name or 'this platform'} cannot start a conversation")

    async def find(self, binding: Binding, tag: Tag) -> Posted | None:
        """The message an interrupted ``post`` for ``tag`` created, if the platform can tell; else None."""
        return None

    async def close(self) -> None:  # noqa: B027  (optional: a platform without connections has nothing to do)
        """Release connections."""


PlatformFactory = Callable[[Settings], "Platform | None"]  # a platform for these settings, None if not configured


class PlatformRegistry:
    """The platforms the dispatcher may deliver to, by name, each built the first time a binding names it.

    The table of factories comes from the composition root (graphgate/cli/compose.py), so the dispatcher
    never imports a connector.
    """

    def __init__(self, settings: Settings, factories: Mapping[str, PlatformFactory] | None = None) -> None:
        self.settings = settings
        self.factories = dict(factories or {})
        self._loaded: dict[str, Platform | None] = {}

    def get(self, name: str) -> Platform | None:
        """The platform ``name``, or None when it is unknown or not configured in this process."""
        if name not in self._loaded:
            factory = self.factories.get(name)
            self._loaded[name] = factory(self.settings) if factory is not None else None
        return self._loaded[name]

    async def close(self) -> None:
        for platform in self._loaded.values():
            if platform is not None:
                await platform.close()
