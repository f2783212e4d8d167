"""The approval clock: reminders, escalations and timeouts of routed questions, and the open questions an
approver may answer.

Every routed question is listed in a sorted set (``Keys.approvals_due``; one per slot group on a Redis Cluster),
scored by when its next reminder or its deadline falls (``+inf`` when it has neither). The set is only a hint: the task record holds the
truth (``TaskRecord.approvals``), and every change the clock makes is a compare-and-set on the pause's
``answer_rev``, like an answer. So any number of processes may run the clock at once (each dispatcher
does, every ``GRAPHGATE_APPROVAL_TICK_SECONDS``): for each due question exactly one of them writes the
reminder, the escalation or the timeout's answer, and the others find it no longer due.
"""

from __future__ import annotations

import logging
import time
from typing import Any, cast

from graphgate.core import approvals, interrupts
from graphgate.core.approvals import NEVER, TIMEOUT_BY, Actor
from graphgate.core.errors import InvalidInput
from graphgate.core.events import EventType
from graphgate.core.store import TaskRecord
from graphgate.core.tasks import ANSWER_RACE_RETRIES, TaskService

log = logging.getLogger("graphgate.approvals")
LOAD_BATCH = 200  # open questions' task records read per round trip (GET /api/v1/approvals)

BATCH = 100  # due questions taken per round


class ApprovalClock:
    def __init__(self, service: TaskService) -> None:
        self.service = service
        self.redis = service.redis
        self.keys = service.keys

    async def tick(self, now: float | None = None) -> int:
        """Send the reminders and apply the escalations and timeouts that are due; how many questions it acted on."""
        now = time.time() if now is None else now
        acted = 0
        for group in self.keys.groups():
            acted += await self._tick(self.keys.approvals_due(group), now)
        return acted

    async def _tick(self, key: str, now: float) -> int:
        members = cast("list[str]", await self.redis.zrangebyscore(key, "-inf", now, start=0, num=BATCH))
        acted = 0
        for member in members:
            session_id, task_id, interrupt_id = member.split(" ", 2)
            try:
                acted_here, due = await self._tend(session_id, task_id, interrupt_id, now)
            except Exception:  # one bad record never stops the clock for the others
                log.exception("approval clock: %s failed; trying again later", member)
                await self.redis.zadd(key, {member: now + 60})
                continue
            acted += acted_here
            if due is None:
                await self.redis.zrem(key, member)
            else:
                await self.redis.zadd(key, {member: due})
        return acted

    async def _tend(self, session_id: str, task_id: str, interrupt_id: str, now: float) -> tuple[int, float | None]:
        """(1 if something was written else 0, when the question is next due; None: not open any more)."""
        for _ in range(ANSWER_RACE_RETRIES):
            record = await self.service.load(session_id, task_id)
            approval = (record.routed() if record is not None else {}).get(interrupt_id)
            if record is None or approval is None:
                return 0, None
            deadline, reminder = approval.get("deadline"), approval.get("next_reminder")
            if deadline and now >= deadline:
                done = await self._deadline(record, interrupt_id, approval, now)
            elif reminder and now >= reminder:
                done = await self._remind(record, interrupt_id, approval, now)
            else:
                return 0, approvals.due_at(approval) or NEVER
            if done is not None:
                return 1, done
        return 0, now + 1.0  # others kept changing it: look again soon

    async def _remind(self, record: TaskRecord, iid: str, approval: dict[str, Any], now: float) -> float | None:
        every = float(approval.get("remind_every") or 0)
        count = int(approval.get("reminders") or 0) + 1
        following = float(approval["next_reminder"]) + every
        while following <= now:  # the clock was stopped for a while: one reminder now, the next on schedule
            following += every
        deadline = approval.get("deadline")
        updated = {
            **approval,
            "reminders": count,
            "next_reminder": following if not deadline or following < deadline else None,
        }
        event = (
            EventType.APPROVAL_REMINDED,
            {"interrupt_id": iid, "reminder": count, "left": round(deadline - now, 3) if deadline else None},
        )
        if not await self.service.update_approvals(record, [event], {iid: updated}):
            return None
        return approvals.due_at(updated) or NEVER

    async def _deadline(self, record: TaskRecord, iid: str, approval: dict[str, Any], now: float) -> float | None:
        policies = self.service.graphs.approvals.policies
        target = approvals.escalate_target(approval)
        if target is not None and target in policies and int(approval.get("level") or 0) < approvals.MAX_ESCALATIONS:
            level = int(approval.get("level") or 0) + 1
            new = approvals.resolve(policies[target], record.binding, str(approval.get("asked_by")), now, level)
            event = (
                EventType.APPROVAL_ESCALATED,
                {"interrupt_id": iid, "from": approval.get("policy"), "to": target, "approval": new},
            )
            if not await self.service.update_approvals(record, [event], {iid: new}):
                return None
            return approvals.due_at(new) or NEVER
        pending = next(i for i in record.pending() if i["interrupt_id"] == iid)
        outcome = approval.get("on_timeout") if target is None else "reject"
        try:
            value = interrupts.resume_value(pending, approvals.timeout_answer(pending, outcome))
        except InvalidInput as exc:  # the graph would not take the outcome (a tool call that may not be rejected)
            log.warning(
                "task %s: timeout outcome %r of %s refused (%s); the question stays open", record.id, outcome, iid, exc
            )
            return NEVER
        event = (
            EventType.APPROVAL_TIMED_OUT,
            {"interrupt_id": iid, "policy": approval.get("policy"), "outcome": outcome, "answer": value},
        )
        result = await self.service.commit_answers(record, {iid: value}, TIMEOUT_BY, lead=[event])
        return now if result.ok else None  # answered: the next tick drops it


async def open_questions(service: TaskService, actor: Actor, limit: int = 50) -> list[tuple[TaskRecord, str]]:
    """The routed questions ``actor`` may answer now, oldest first: (task, interrupt id)."""
    scored: list[tuple[str, float]] = []
    for group in service.keys.groups():
        scored += cast(
            "list[tuple[str, float]]",
            await service.redis.zrange(service.keys.approvals_due(group), 0, -1, withscores=True),
        )
    members = [member for member, _ in sorted(scored, key=lambda pair: pair[1])]
    found: list[tuple[TaskRecord, str]] = []
    for start in range(0, len(members), LOAD_BATCH):  # the records of a batch in one round trip
        batch = [member.split(" ", 2) for member in members[start : start + LOAD_BATCH]]
        records = await service.load_many([(session_id, task_id) for session_id, task_id, _ in batch])
        for (_, _, iid), record in zip(batch, records):
            approval = (record.routed() if record is not None else {}).get(iid)
            if record is None or approval is None:
                continue
            if approvals.may_answer(approval, actor, actor.is_starter(record.owner, record.binding)):
                found.append((record, iid))
        if len(found) >= limit:
            break
    found = found[:limit]
    found.sort(key=lambda pair: float((pair[0].approvals or {})[pair[1]].get("asked_at") or 0))
    return found
