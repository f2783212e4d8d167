"""Feedback on final answers: 👍 or 👎 (``score`` 1 or -1) and an optional comment, from any channel.

One feedback per person per completed task: a second replaces the first, and the same one again (a double
click) changes nothing. Each is written with its ``feedback`` event in one script (scripts.FEEDBACK), counted
per graph for ``/metrics`` (``graphgate_feedback_total``) and listed per graph (``GET /api/v1/feedback``).
The ``feedback`` event goes to the session's stream only, never to its chat's delivery shard: the chat
already shows the answer, and the person who clicked is told in place (an ephemeral note, a key's answer).

Who may give it: the task's owner (an API caller, a Telegram chat, a Slack user) and, in a chat, anyone in the
chat where the task ran (a Slack channel's members, a Telegram group's): each counts as themselves.

With ``LANGSMITH_API_KEY`` set, each new or changed feedback is also sent to LangSmith (``forward``, in the
background: a LangSmith that is away costs the person nothing) as feedback ``user_score`` (1 for 👍, 0 for
👎, the comment) on the traced run that answered: workers give each attempt's root run a known id
(``lgrun.trace_run_id``). One person's feedback on one task is one LangSmith feedback, changed in place.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, cast

import redis.asyncio as aioredis

from graphgate.core import lgrun, scripts
from graphgate.core.approvals import Actor
from graphgate.core.errors import Conflict, InvalidInput, NotFound
from graphgate.core.events import Event, EventType, serialize_event
from graphgate.core.keys import Keys
from graphgate.core.settings import Settings
from graphgate.core.store import TaskRecord

SCORES = (1, -1)
MAX_COMMENT = 2000
LANGSMITH_KEY = "user_score"  # the LangSmith feedback key: 1 for 👍, 0 for 👎
NAMESPACE_FEEDBACK = uuid.UUID("5d0f4a6e-2c8b-4f1e-b7a3-9e6c1d2f8a05")

log = logging.getLogger("graphgate.feedback")


@dataclass(frozen=True)
class Feedback:
    task_id: str
    session_id: str
    graph: str
    by: str
    score: int
    comment: str
    name: str
    where: str
    at: float

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def may_rate(actor: Actor, record: TaskRecord) -> bool:
    """The task's owner, or someone in the chat the task ran in."""
    if actor.principal_id == record.owner:
        return True
    binding = record.binding or {}
    if binding.get("platform") == "slack" and actor.kind == "slack":
        return actor.where == f"slack:{binding.get('team')}:{binding.get('channel')}"
    if binding.get("platform") == "telegram" and actor.kind == "telegram":
        return actor.where == f"telegram:{binding.get('chat')}"
    return False


class FeedbackService:
    def __init__(self, redis: aioredis.Redis, settings: Settings) -> None:
        self.redis = redis
        self.settings = settings
        self.keys = Keys.of(settings)
        self._write = redis.register_script(scripts.FEEDBACK)
        self._forwarding: set[asyncio.Task[None]] = set()  # LangSmith posts under way (held until done)

    async def give(self, actor: Actor, record: TaskRecord, score: int, comment: str = "") -> Feedback | None:
        """Record ``actor``'s feedback on the completed task ``record``; None when it was given before as is.

        ``InvalidInput`` for a score other than 1 or -1 or a comment too long, ``NotFound`` when ``actor`` may
        not rate the task, ``Conflict`` when it has no final answer (not completed).
        """
        if isinstance(score, bool) or score not in SCORES:
            raise InvalidInput("score must be 1 (👍) or -1 (👎)")
        comment = (comment or "").strip()
        if len(comment) > MAX_COMMENT:
            raise InvalidInput(f"comment must be at most {MAX_COMMENT} characters")
        if not may_rate(actor, record):
            raise NotFound(f"task {record.id!r} not found")
        now = time.time()
        feedback = Feedback(
            record.id, record.session_id, record.graph, actor.ref, score, comment, actor.name, actor.where, now
        )
        value = json.dumps(
            {"score": score, "comment": comment, "name": actor.name, "where": actor.where, "owner": record.owner},
            sort_keys=True,
        )
        data = {
            "score": score,
            "comment": comment,
            "by": actor.ref,
            "name": actor.name,
            "where": actor.where,
            "replaced": False,
        }
        event = Event(EventType.FEEDBACK, record.id, record.session_id, data, ts=now)
        result = await self._write(
            keys=[
                self.keys.task(record.session_id, record.id),
                self.keys.feedback(record.session_id, record.id),
                self.keys.events(record.session_id),
                self.keys.feedback_counts(self.keys.group(record.session_id)),
                self.keys.feedback_index(record.graph, self.keys.group(record.session_id)),
            ],
            args=[
                actor.ref,
                value,
                str(score),
                record.graph,
                repr(now),
                f"{record.session_id} {record.id} {actor.ref}",
                serialize_event(event),
                str(self.settings.stream_maxlen),
                str(self.settings.session_ttl_seconds),
            ],
        )
        if result == "state":
            raise Conflict(f"task {record.id} has no final answer to rate (it is {record.status.value})")
        if result == "same":
            return None
        if langsmith_configured():
            forwarding = asyncio.create_task(asyncio.to_thread(forward, feedback, record))
            self._forwarding.add(forwarding)
            forwarding.add_done_callback(self._forwarding.discard)
        return feedback

    async def given(self, record: TaskRecord, by: str) -> Feedback | None:
        """The feedback ``by`` (an actor's ref) gave on ``record``'s answer, or None."""
        raw = await self.redis.hget(self.keys.feedback(record.session_id, record.id), by)
        if raw is None:
            return None
        index = self.keys.feedback_index(record.graph, self.keys.group(record.session_id))
        at = await self.redis.zscore(index, f"{record.session_id} {record.id} {by}")
        return self._feedback(record.session_id, record.id, record.graph, by, json.loads(raw), at)

    @staticmethod
    def _feedback(session_id: str, task_id: str, graph: str, by: str, value: dict[str, Any], at: Any) -> Feedback:
        return Feedback(
            task_id,
            session_id,
            graph,
            by,
            int(value["score"]),
            value.get("comment") or "",
            value.get("name") or "",
            value.get("where") or "",
            float(at or 0),
        )

    async def listed(self, graph: str, owner: str, limit: int = 100) -> list[Feedback]:
        """The feedback on ``graph``'s answers to ``owner``'s tasks, newest first."""
        members: list[tuple[str, float]] = []
        for group in self.keys.groups():  # one index per slot group on a Redis Cluster: merged by time
            index = self.keys.feedback_index(graph, group)
            members += cast(
                "list[tuple[str, float]]", await self.redis.zrevrange(index, 0, 10 * limit, withscores=True)
            )
        members.sort(key=lambda pair: pair[1], reverse=True)
        found: list[Feedback] = []
        for member, at in members:
            session_id, task_id, by = member.split(" ", 2)
            raw = await self.redis.hget(self.keys.feedback(session_id, task_id), by)
            if raw is None:
                continue  # expired with its session
            value = json.loads(raw)
            if value.get("owner") != owner:
                continue
            found.append(self._feedback(session_id, task_id, graph, by, value, at))
            if len(found) >= limit:
                break
        return found

    async def counts(self) -> dict[tuple[str, int], int]:
        """(graph, score) -> how many feedbacks with that score its answers have now."""
        out: dict[tuple[str, int], int] = {}
        for group in self.keys.groups():  # one hash per slot group on a Redis Cluster: added up
            raw = cast("dict[str, str]", await self.redis.hgetall(self.keys.feedback_counts(group)))
            for field, n in raw.items():
                graph, _, score = field.rpartition(":")
                out[(graph, int(score))] = out.get((graph, int(score)), 0) + int(n)
        return out


def langsmith_configured() -> bool:
    return bool(os.environ.get("LANGSMITH_API_KEY"))


@lru_cache(maxsize=1)
def _langsmith() -> Any:
    from langsmith import Client  # LANGSMITH_API_KEY and LANGSMITH_ENDPOINT come from the environment

    return Client()


def forward(feedback: Feedback, record: TaskRecord) -> None:
    """Send ``feedback`` to LangSmith for the traced run that answered ``record`` (new, or changed in place);
    failures are logged, never raised."""
    from langsmith.utils import LangSmithConflictError

    feedback_id = uuid.uuid5(NAMESPACE_FEEDBACK, f"{record.id}:{feedback.by}")
    score = 1 if feedback.score > 0 else 0
    comment = feedback.comment or None
    try:
        client = _langsmith()
        try:
            client.create_feedback(
                run_id=lgrun.trace_run_id(record),
                key=LANGSMITH_KEY,
                score=score,
                comment=comment,
                feedback_id=feedback_id,
                source_info={"by": feedback.by, "where": feedback.where, "graphgate_task_id": record.id},
                stop_after_attempt=3,
            )
        except LangSmithConflictError:  # this person rated this answer before: the same feedback, changed
            client.update_feedback(feedback_id, score=score, comment=comment)
    except Exception as exc:  # LangSmith away or refusing: the feedback stays recorded here
        log.warning("feedback on task %s not sent to LangSmith: %s", record.id, exc)
