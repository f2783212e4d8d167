"""Every Redis key graphgate writes, named in one place.

All keys of one session carry one hash tag, so that a session's task records, its event stream and its
bookkeeping sit in one Redis slot and can be changed together by one Lua script:

- with one Redis (or Sentinel), the tag is the session id: ``gg:{<session_id>}:events``;
- on a Redis Cluster (``GRAPHGATE_REDIS_CLUSTER``), the tag is the session's *slot group*, the same number as its
  delivery shard (``delivery_shard``): ``gg:{d3}:<session_id>:events``. A group's sessions, its delivery stream and
  the group's share of the sets a script writes beside a session (``published``, ``cancels``, ``approvals_due``,
  the feedback counts and indexes) are then in one slot, so every script stays on one slot, and the SSE hub reads
  all the streams of a group with one ``XREAD``. Readers of those sets walk ``groups()`` (one with one Redis).

The other global keys are each read and written alone (one key per command), which any Redis serves.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graphgate.core.settings import Settings

DELIVERY_GROUP = "dispatchers"  # the consumer group of the dispatchers on every delivery shard stream


def delivery_shard(session_id: str, shards: int) -> int:
    """The delivery shard of a session: stable across processes and machines (CRC-32, not hash())."""
    return zlib.crc32(session_id.encode()) % shards


@dataclass(frozen=True)
class Keys:
    prefix: str = "gg"
    # slot groups on a Redis Cluster (= delivery shards); 0: one Redis, the keys of a session tagged by its id
    cluster_groups: int = 0

    @classmethod
    def of(cls, settings: Settings) -> Keys:
        return cls(settings.key_prefix, settings.delivery_shards if settings.redis_cluster else 0)

    def group(self, session_id: str) -> int:
        """The slot group of a session (0 with one Redis, where the groups' sets are one global key)."""
        return delivery_shard(session_id, self.cluster_groups) if self.cluster_groups else 0

    def groups(self) -> range:
        """Every slot group: the ``published``, ``cancels``, ``approvals_due`` and feedback keys to read."""
        return range(self.cluster_groups or 1)

    def _tag(self, session_id: str) -> str:
        if self.cluster_groups:
            return f"{self._group_tag(self.group(session_id))}:{session_id}"
        return f"{{{session_id}}}"

    def _group_tag(self, group: int) -> str:
        return f"{{d{group}}}"

    def _grouped(self, name: str, group: int) -> str:
        """A set the scripts write beside a session: one per slot group on a cluster, one global key otherwise."""
        return f"{self.prefix}:{self._group_tag(group)}:{name}" if self.cluster_groups else f"{self.prefix}:{name}"

    # --- per session (one hash slot) ------------------------------------------------------------
    def session(self, session_id: str) -> str:
        """Hash: owner, graph (set by the first task), active task id, created_at, metadata (JSON, optional)."""
        return f"{self.prefix}:{self._tag(session_id)}:session"

    def events(self, session_id: str) -> str:
        """Stream: the session's events, in order; the entry id is the SSE id."""
        return f"{self.prefix}:{self._tag(session_id)}:events"

    def task(self, session_id: str, task_id: str) -> str:
        """Hash: one task's record (status, input, output, pending interrupt...)."""
        return f"{self.prefix}:{self._tag(session_id)}:task:{task_id}"

    def session_tasks(self, session_id: str) -> str:
        """List: the session's task ids, oldest first."""
        return f"{self.prefix}:{self._tag(session_id)}:tasks"

    def pending(self, session_id: str) -> str:
        """List: queued task ids waiting for the session's active task to finish (multitask=enqueue)."""
        return f"{self.prefix}:{self._tag(session_id)}:pending"

    def emitted(self, session_id: str, task_id: str) -> str:
        """Set: deterministic keys of progress events already written for a task (no repeats after a crash)."""
        return f"{self.prefix}:{self._tag(session_id)}:emitted:{task_id}"

    def lease(self, session_id: str, task_id: str) -> str:
        """String: the token of the worker currently running the task; expires unless renewed."""
        return f"{self.prefix}:{self._tag(session_id)}:lease:{task_id}"

    def delivered(self, session_id: str) -> str:
        """Hash: what the dispatcher delivered to chat for the session: the last event applied, each task's
        rendered view and the platform message ids of its messages."""
        return f"{self.prefix}:{self._tag(session_id)}:delivered"

    # --- global indexes -------------------------------------------------------------------------
    def task_index(self, task_id: str) -> str:
        """String: the session id of a task, so a task can be found by its id alone."""
        return f"{self.prefix}:taskidx:{task_id}"

    def principal_tasks(self, principal: str) -> str:
        """Sorted set: a principal's task ids scored by creation time."""
        return f"{self.prefix}:principal:{principal}:tasks"

    def principal_sessions(self, principal: str) -> str:
        """Sorted set: a principal's session ids (LangGraph threads) scored by the session's creation time."""
        return f"{self.prefix}:principal:{principal}:sessions"

    def delivery(self, shard: int) -> str:
        """Stream: events of chat-bound sessions whose hash falls in this shard, for the dispatcher."""
        if self.cluster_groups:
            return f"{self.prefix}:{self._group_tag(shard)}:delivery"
        return f"{self.prefix}:delivery:{shard}"

    def delivery_owner(self, shard: int) -> str:
        """String: the id of the dispatcher owning a delivery shard; expires unless renewed (a lease)."""
        return f"{self.prefix}:delivery:{shard}:owner"

    def dispatchers(self) -> str:
        """Sorted set: live dispatcher ids scored by the time their heartbeat runs out."""
        return f"{self.prefix}:dispatchers"

    def published(self, group: int = 0) -> str:
        """Sorted set: ``<session id> <task id>`` of runs published to the broker and not yet delivered to a worker,
        scored by when they are due; one overdue by ``GRAPHGATE_REPUBLISH_AFTER_SECONDS`` is published again (its
        message was lost: a Redis failover, a broker restart; graphgate/core/tasks.py ``republish``)."""
        return self._grouped("published", group)

    def feedback(self, session_id: str, task_id: str) -> str:
        """Hash: a completed task's feedback, by who gave it (``by`` -> JSON score, comment, where, when)."""
        return f"{self.prefix}:{self._tag(session_id)}:feedback:{task_id}"

    def feedback_counts(self, group: int = 0) -> str:
        """Hash: ``<graph>:1`` / ``<graph>:-1`` -> how many thumbs up / down its answers have (``/metrics``)."""
        return self._grouped("feedback:counts", group)

    def feedback_index(self, graph: str, group: int = 0) -> str:
        """Sorted set: ``<session id> <task id> <by>`` of a graph's feedback, scored by when it was given."""
        return self._grouped(f"feedback:graph:{graph}", group)

    def approvals_due(self, group: int = 0) -> str:
        """Sorted set: ``<session id> <task id> <interrupt id>`` of routed questions, scored by when their next
        reminder or deadline falls (a hint: the task record says what is due; graphgate/core/approvals.py)."""
        return self._grouped("approvals:due", group)

    def cancels(self, group: int = 0) -> str:
        """Sorted set: ``<session id> <task id>`` of running tasks whose cancel was requested, scored by when
        their run's lease could have lapsed (a run nobody holds is then ended: graphgate/core/tasks.py)."""
        return self._grouped("cancels", group)

    # --- schedules (one hash slot: a claim changes a schedule and the due set together) ----------------
    def schedule(self, schedule_id: str) -> str:
        """Hash: one schedule (cron, zone, graph, input, target, next tick, the tick being fired, recent runs)."""
        return f"{self.prefix}:{{schedules}}:schedule:{schedule_id}"

    def schedules_due(self) -> str:
        """Sorted set: ids of active schedules, scored by their next tick (graphgate/core/schedules.py)."""
        return f"{self.prefix}:{{schedules}}:due"

    def schedules_firing(self) -> str:
        """Sorted set: ids of schedules with a tick being started, scored by when that began."""
        return f"{self.prefix}:{{schedules}}:firing"

    def owner_schedules(self, owner: str) -> str:
        """Sorted set: a principal's schedule ids, scored by when each was created."""
        return f"{self.prefix}:{{schedules}}:owner:{owner}"

    def attachment(self, file_id: str) -> str:
        """String: a stored file's description (name, MIME type, size, owner; graphgate/core/attachments.py)."""
        return f"{self.prefix}:file:{file_id}"

    def inbound(self, platform: str, delivery_id: str) -> str:
        """String: a platform delivery already accepted (a Slack event_id), so a retry of it is dropped."""
        return f"{self.prefix}:inbound:{platform}:{delivery_id}"

    def telegram_chat(self, chat_key: str) -> str:
        """Hash: a Telegram chat's current session (``/new`` replaces it), the graph that session runs, and its
        open edit prompts (``edit:<message id>`` -> ``<task id> <interrupt id>``)."""
        return f"{self.prefix}:telegram:chat:{chat_key}"

    def telegram_button(self, token: str) -> str:
        """String: ``<session id> <task id>`` of a short token carried in a Telegram button's callback_data."""
        return f"{self.prefix}:telegram:button:{token}"

    def rate(self, principal: str, window: int) -> str:
        """Counter: requests of a principal in one rate-limit window."""
        return f"{self.prefix}:rate:{principal}:{window}"

    def run_metrics(self) -> str:
        """Hash: run-attempt duration histograms per graph and outcome, written by workers, read by /metrics."""
        return f"{self.prefix}:metrics:runs"

    def task_pattern(self) -> str:
        """``SCAN MATCH`` pattern of every task hash (glob characters in the prefix escaped)."""
        escaped = "".join("\\" + c if c in "*?[]\\" else c for c in self.prefix)
        return f"{escaped}:{{d*}}:*:task:*" if self.cluster_groups else f"{escaped}:{{*}}:task:*"
