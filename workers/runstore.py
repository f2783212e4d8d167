"""The worker's side of the task store: the synchronous Redis calls a run makes.

A run owns its task through a lease (a token in Redis that expires unless renewed). Every state change and
every event a run writes is checked against that lease inside the Lua script, so a run that lost its lease
(its worker stalled, another took over) can no longer write anything.
"""

from __future__ import annotations

import uuid
from typing import Any

import redis

from graphgate.core import scripts
from graphgate.core.approvals import NEVER, due_at
from graphgate.core.attachments import Attachment, description
from graphgate.core.events import Event
from graphgate.core.keys import Keys
from graphgate.core.settings import Settings
from graphgate.core.store import (
    Begun,
    EventSpec,
    ScriptCall,
    TaskRecord,
    TaskStatus,
    TransitionResult,
    begin_call,
    begun,
    publish_call,
    transition_call,
    transition_result,
)


class LeaseLost(RuntimeError):
    """This run no longer owns its task; it must stop without writing."""


class RunStore:
    def __init__(self, client: redis.Redis, settings: Settings) -> None:
        self.redis = client
        self.settings = settings
        self.keys = Keys.of(settings)
        self._begin = client.register_script(scripts.BEGIN)
        self._transition = client.register_script(scripts.TRANSITION)
        self._publish = client.register_script(scripts.PUBLISH)
        self._renew = client.register_script(scripts.RENEW_LEASE)
        self._release = client.register_script(scripts.RELEASE_LEASE)

    def keep_file(self, attachment: Attachment) -> None:
        """Record a file a graph answered with (its bytes are written already: graphgate/core/attachments.py)."""
        key, value, ttl = description(self.keys, self.settings, attachment)
        self.redis.set(key, value, ex=ttl)

    def _call(self, script: Any, call: ScriptCall) -> Any:
        return script(keys=call.keys, args=call.args)

    def load(self, session_id: str, task_id: str) -> TaskRecord | None:
        raw = self.redis.hgetall(self.keys.task(session_id, task_id))
        return TaskRecord.from_hash(raw) if raw else None

    def begin(self, session_id: str, task_id: str, token: str) -> Begun:
        """Take the task's lease with ``token`` and start its run, in one round trip (scripts.BEGIN)."""
        return begun(self._call(self._begin, begin_call(self.keys, self.settings, session_id, task_id, token)))

    def cancel_requested(self, session_id: str, task_id: str) -> str | None:
        """The cancel reason when someone asked the run to stop, else None."""
        flag, reason = self.redis.hmget(self.keys.task(session_id, task_id), "cancel_requested", "cancel_reason")
        return (reason or "cancelled by request") if flag == "1" else None

    def session_active(self, session_id: str) -> str | None:
        return self.redis.hget(self.keys.session(session_id), "active")

    # --- lease ----------------------------------------------------------------------------------------

    def acquire_lease(self, session_id: str, task_id: str) -> str | None:
        """A fresh lease token, or None while another run holds the task."""
        token = uuid.uuid4().hex
        ttl_ms = int(self.settings.task_lease_seconds * 1000)
        if self.redis.set(self.keys.lease(session_id, task_id), token, nx=True, px=ttl_ms):
            return token
        return None

    def lease_ttl(self, session_id: str, task_id: str) -> float:
        ms = self.redis.pttl(self.keys.lease(session_id, task_id))
        return max(ms, 0) / 1000.0

    def renew_lease(self, session_id: str, task_id: str, token: str) -> bool:
        ttl_ms = int(self.settings.task_lease_seconds * 1000)
        return bool(self._renew(keys=[self.keys.lease(session_id, task_id)], args=[token, ttl_ms]))

    def release_lease(self, session_id: str, task_id: str, token: str) -> None:
        self._release(keys=[self.keys.lease(session_id, task_id)], args=[token])

    # --- writes -----------------------------------------------------------------------------------------

    def transition(
        self,
        record: TaskRecord,
        from_states: set[TaskStatus],
        to_state: TaskStatus,
        event: EventSpec | list[EventSpec] | None,
        token: str,
        fields: dict[str, Any] | None = None,
        incr_field: str = "",
    ) -> TransitionResult:
        """Move the task (under the run's lease, ``token``) and write its event(s); ``LeaseLost`` when the run lost it."""
        call = transition_call(
            self.keys,
            self.settings,
            record,
            from_states=from_states,
            to_state=to_state,
            event=event,
            fields=fields,
            lease_token=token,
            incr_field=incr_field,
        )
        result = transition_result(self._call(self._transition, call))
        if not result.ok and result.previous == "lease":
            raise LeaseLost(record.id)
        return result

    def schedule_approvals(self, session_id: str, task_id: str, approvals: dict[str, Any]) -> None:
        """Put routed questions on the approval clock (before the pause that asks them is written: an entry
        whose question never got asked is dropped when it falls due)."""
        due = {f"{session_id} {task_id} {iid}": due_at(a) or NEVER for iid, a in approvals.items()}
        if due:
            self.redis.zadd(self.keys.approvals_due(self.keys.group(session_id)), due)

    def publish(self, event: Event, dedupe_key: str, token: str, bound: bool) -> str | None:
        """Write a progress event once per ``dedupe_key``; the entry id, or None when it was a repeat.

        ``bound``: the task has a chat binding, so the event also goes to its delivery shard.
        """
        call = publish_call(self.keys, self.settings, event, dedupe_key, token, bound)
        result = self._call(self._publish, call)
        if result == "lease":
            raise LeaseLost(event.task_id)
        return None if result == "dup" else result
