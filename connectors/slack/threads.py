"""Where a Slack conversation lives, and who is speaking: session ids, bindings and principals.

A graphgate session is one Slack thread: its id is derived from team, channel and the thread's root ``ts``,
so every message in the thread finds the same session (the same LangGraph thread) again. The binding
stored with each task tells the dispatcher where to post. A Slack user acts as the principal
``slack:<team>:<user>``: the session belongs to the user who started it, so only they can answer its
questions, cancel it or continue it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from graphgate.core.tasks import Principal

PLATFORM = "slack"
_PRINCIPAL_RE = re.compile(r"^slack:([A-Z0-9]+):([A-Z0-9]+)$")


@dataclass(frozen=True)
class SlackThread:
    team: str
    channel: str
    thread_ts: str
    enterprise: str | None = None

    @property
    def session_id(self) -> str:
        return f"slack:{self.team}:{self.channel}:{self.thread_ts}"

    def binding(self, user: str) -> dict[str, Any]:
        """The chat binding of a task started in this thread by ``user``."""
        return {
            "platform": PLATFORM,
            "team": self.team,
            "enterprise": self.enterprise,
            "channel": self.channel,
            "thread_ts": self.thread_ts,
            "user": user,
        }

    @classmethod
    def of_binding(cls, binding: dict[str, Any]) -> SlackThread:
        return cls(
            team=str(binding["team"]),
            channel=str(binding["channel"]),
            thread_ts=str(binding["thread_ts"]),
            enterprise=binding.get("enterprise"),
        )


def principal(team: str, user: str) -> Principal:
    return Principal(f"slack:{team}:{user}")


def user_of(principal_id: str | None) -> str | None:
    """The Slack user id inside a ``slack:T:U`` principal id, else None."""
    m = _PRINCIPAL_RE.match(principal_id or "")
    return m.group(2) if m else None


def mention(principal_id: str | None) -> str:
    """``<@U123>`` for a Slack principal, the id itself (escaped) for anyone else."""
    user = user_of(principal_id)
    if user:
        return f"<@{user}>"
    text = principal_id or "someone"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MENTIONED_RE = re.compile(r"slack:[A-Z0-9]+:([A-Z0-9]+)")


def mentions_in(text: str) -> str:
    """Replace every ``slack:T:U`` principal id in a text (e.g. a cancel reason) with a Slack mention."""
    return _MENTIONED_RE.sub(lambda m: f"<@{m.group(1)}>", text)
