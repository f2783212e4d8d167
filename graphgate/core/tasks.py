"""The task service: the one place where tasks are created, read, resumed and cancelled, and sessions (LangGraph
threads) created, found and deleted.

The HTTP API and every connector (Slack, Telegram, web) call this service; none of them touches Redis keys or
Celery directly. The service writes the task record and its first event atomically, then hands the task to
the queue through the ``enqueue`` callable it was given. A session is made by its first task, or empty ahead of
any (``create_session``); either way it is listed among its owner's sessions.

One job, the records of tasks and sessions in Redis, so one module even past 400 lines: a session and its
tasks are written by the same scripts and read together.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

import redis.asyncio as aioredis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

from graphgate.core import approvals, connections, interrupts, lgrun, scripts
from graphgate.core.approvals import Actor
from graphgate.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from graphgate.core.events import AUDIT_EVENTS, STREAM_FIELD, Event, EventType, deserialize_event
from graphgate.core.keys import Keys
from graphgate.core.registry import GraphRegistry
from graphgate.core.runoptions import RunOptions
from graphgate.core.settings import Settings
from graphgate.core.store import (
    ACTIVE_STATUSES,
    EventSpec,
    ScriptCall,
    SessionRecord,
    TaskRecord,
    TaskStatus,
    TransitionResult,
    create_call,
    create_session_call,
    delete_session_call,
    transition_call,
    transition_result,
)

SESSION_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")
RESERVED_CONFIG_KEYS = frozenset({"thread_id", "checkpoint_id", "checkpoint_ns", "checkpoint_map"})
MULTITASK_STRATEGIES = ("enqueue", "reject", "interrupt")
ANSWER_RACE_RETRIES = 5  # answers to one pause that collide are applied one after the other
IF_EXISTS = ("raise", "do_nothing")
SEARCH_BATCH = 200  # sessions read per round trip while searching a principal's sessions

Enqueue = Callable[..., Awaitable[None]]  # await enqueue(task_id, session_id, graph=name): hand the task to a worker
Notify = Callable[[str, str, str], Awaitable[None]]  # await notify(task_id, session_id, stop): POST its webhook


@dataclass(frozen=True)
class Principal:
    """Who is asking: the JWT ``sub`` for API clients, ``slack:T123:U456`` style ids for chat users."""

    id: str


def new_session_id() -> str:
    return str(uuid.uuid4())


class TaskService:
    def __init__(
        self,
        redis: aioredis.Redis,
        settings: Settings,
        enqueue: Enqueue,
        graphs: GraphRegistry,
        notify: Notify | None = None,
    ) -> None:
        self.redis = redis
        self.settings = settings
        self.keys = Keys.of(settings)
        self.enqueue = enqueue
        self.graphs = graphs
        self.notify = notify  # a task that ends without a run (a cancel) calls its webhook through it
        self._create = redis.register_script(scripts.CREATE)
        self._transition = redis.register_script(scripts.TRANSITION)
        self._create_session = redis.register_script(scripts.CREATE_SESSION)
        self._delete_session = redis.register_script(scripts.DELETE_SESSION)

    async def _run(self, script: AsyncScript, call: ScriptCall) -> Any:
        return await script(keys=call.keys, args=call.args)

    # --- create -------------------------------------------------------------------------------------

    async def create_task(
        self,
        principal: Principal,
        *,
        input: dict[str, Any],
        graph: str | None = None,
        session_id: str | None = None,
        mode: str = "auto",
        config: dict[str, Any] | None = None,
        multitask: str = "enqueue",
        binding: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> TaskRecord:
        """Create a task and queue it; it runs now, or after the session's active task (multitask).

        Raises ``NotFound`` for an unknown graph or another principal's session, ``Conflict`` when the
        session is busy and ``multitask='reject'``, ``InvalidInput`` for input the graph refuses.
        """
        graph = graph or self.graphs.default
        if graph not in self.graphs.names():
            raise NotFound(f"graph {graph!r} is not registered")
        if multitask not in MULTITASK_STRATEGIES:
            raise InvalidInput(f"multitask must be one of {', '.join(MULTITASK_STRATEGIES)}")
        config = dict(config or {})
        reserved = RESERVED_CONFIG_KEYS & config.keys()
        if reserved:
            raise InvalidInput(f"config may not set {', '.join(sorted(reserved))}")
        if session_id is not None and not SESSION_ID_RE.match(session_id):
            raise InvalidInput("session_id must be 1-128 characters of letters, digits and . _ : -")
        self.graphs.validate_input(graph, input)
        default_hook = self.settings.graph_webhooks.get(graph)
        if default_hook and not (options or {}).get("webhook"):
            options = {**(options or {}), "webhook": default_hook, "webhook_body": "event"}

        now = time.time()
        record = TaskRecord(
            id=str(uuid.uuid4()),
            session_id=session_id or new_session_id(),
            owner=principal.id,
            graph=graph,
            status=TaskStatus.QUEUED,
            input=input,
            config=config,
            mode=mode,
            binding=binding,
            metadata=metadata,
            options=options or None,
            multitask=multitask,
            created_at=now,
            updated_at=now,
        )
        raw = await self._create_indexed(principal, record, create_call(self.keys, self.settings, record, multitask))
        verdict, detail = raw[0], raw[1]
        if verdict in ("forbidden", "graph", "busy"):
            await self._unindex(principal, record, session_too=verdict == "forbidden")
        if verdict == "forbidden":
            raise NotFound(f"session {record.session_id!r} not found")
        if verdict == "graph":
            raise Conflict(f"session {record.session_id!r} runs graph {detail!r}; start a new session for {graph!r}")
        if verdict == "busy":
            raise Conflict(f"session {record.session_id!r} is busy with task {detail}")
        if verdict == "run":
            await self.enqueue(record.id, record.session_id, graph=record.graph)
        return record

    async def _create_indexed(self, principal: Principal, record: TaskRecord, call: ScriptCall) -> list[Any]:
        """Run scripts.CREATE and write the principal's indexes of the task in the same round trip.

        The indexes (task -> session, the principal's tasks and sessions) live outside the session's hash slot,
        so the script cannot write them; one pipeline carries both. When the script refuses the task the
        caller takes the entries out again (``_unindex``); until then every reader skips them, as it skips
        entries of expired tasks: it reads the record, and there is none, or not the principal's.
        """
        if connections.is_cluster(self.redis):  # a cluster pipeline refuses scripts: both at once, in parallel
            async with self.redis.pipeline(transaction=False) as pipe:
                self._index(pipe, principal, record)
                raw, _ = await asyncio.gather(self._run(self._create, call), pipe.execute())
            return cast("list[Any]", raw)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.evalsha(self._create.sha, len(call.keys), *call.keys, *call.args)
            self._index(pipe, principal, record)
            results = await pipe.execute(raise_on_error=False)
        for failed in results[1:]:
            if isinstance(failed, Exception):
                raise failed
        if isinstance(results[0], NoScriptError):  # Redis forgot the script (restarted, flushed): load it, once
            return cast("list[Any]", await self._run(self._create, call))
        if isinstance(results[0], Exception):
            raise results[0]
        return cast("list[Any]", results[0])

    def _index(self, pipe: Any, principal: Principal, record: TaskRecord) -> None:
        """The principal's indexes of a new task: task -> session, their tasks and their sessions."""
        ttl = self.settings.session_ttl_seconds
        pipe.set(self.keys.task_index(record.id), record.session_id, ex=ttl)
        pipe.zadd(self.keys.principal_tasks(principal.id), {record.id: record.created_at})
        pipe.expire(self.keys.principal_tasks(principal.id), ttl)
        pipe.zadd(self.keys.principal_sessions(principal.id), {record.session_id: record.created_at}, nx=True)
        pipe.expire(self.keys.principal_sessions(principal.id), ttl)

    async def _unindex(self, principal: Principal, record: TaskRecord, session_too: bool) -> None:
        """Take a refused task out of the indexes ``_create_indexed`` put it in; ``session_too``: the session is
        not the principal's, so it leaves their sessions as well."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.delete(self.keys.task_index(record.id))
            pipe.zrem(self.keys.principal_tasks(principal.id), record.id)
            if session_too:
                pipe.zrem(self.keys.principal_sessions(principal.id), record.session_id)
            await pipe.execute()

    # --- read ---------------------------------------------------------------------------------------

    async def load(self, session_id: str, task_id: str) -> TaskRecord | None:
        """The task record as stored, whoever owns it (None when there is none): for callers that authorize."""
        return await self._load(session_id, task_id)

    async def load_many(self, pairs: list[tuple[str, str]]) -> list[TaskRecord | None]:
        """The records of (session id, task id) ``pairs`` as stored, in one round trip (None where there is none)."""
        if not pairs:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for session_id, task_id in pairs:
                pipe.hgetall(self.keys.task(session_id, task_id))
            raws = cast("list[dict[str, str]]", await pipe.execute())
        return [TaskRecord.from_hash(raw) if raw else None for raw in raws]

    async def _load(self, session_id: str, task_id: str) -> TaskRecord | None:
        raw = cast("dict[str, str]", await self.redis.hgetall(self.keys.task(session_id, task_id)))
        return TaskRecord.from_hash(raw) if raw else None

    async def get_task(self, principal: Principal, task_id: str) -> TaskRecord:
        """The task, if it exists and belongs to ``principal``; else ``NotFound`` (never 403: no probing)."""
        session_id = cast("str | None", await self.redis.get(self.keys.task_index(task_id)))
        record = await self._load(session_id, task_id) if session_id else None
        if record is None or record.owner != principal.id:
            raise NotFound(f"task {task_id!r} not found")
        return record

    async def authorize_session(self, principal: Principal, session_id: str) -> None:
        """Raise ``NotFound`` unless the session exists and belongs to ``principal``."""
        if not SESSION_ID_RE.match(session_id):
            raise NotFound(f"session {session_id!r} not found")
        owner = await self.redis.hget(self.keys.session(session_id), "owner")
        if owner != principal.id:
            raise NotFound(f"session {session_id!r} not found")

    async def list_tasks(
        self, principal: Principal, session_id: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[TaskRecord]:
        """The principal's tasks, newest first (after skipping ``offset``): those of one session, or all recent ones."""
        if session_id is not None:
            await self.authorize_session(principal, session_id)
            key = self.keys.session_tasks(session_id)
            ids = list(reversed(cast("list[str]", await self.redis.lrange(key, -(offset + limit), -(offset + 1)))))
            pairs = [(session_id, tid) for tid in ids]
        else:
            key = self.keys.principal_tasks(principal.id)
            ids = cast("list[str]", await self.redis.zrevrange(key, offset, offset + limit - 1))
            async with self.redis.pipeline(transaction=False) as pipe:  # a cluster spreads them over its nodes
                for t in ids:
                    pipe.get(self.keys.task_index(t))
                sessions = cast("list[str | None]", await pipe.execute())
            pairs = [(sid, tid) for sid, tid in zip(sessions, ids) if sid]
        return [rec for rec in await self.load_many(pairs) if rec is not None and rec.owner == principal.id]

    async def last_event_id(self, session_id: str) -> str:
        """The id of the session's newest event ("0-0" when it has none): follow it from here to miss nothing
        of what a call made next writes."""
        newest = cast("list[tuple[str, Any]]", await self.redis.xrevrange(self.keys.events(session_id), count=1))
        return newest[0][0] if newest else "0-0"

    # --- sessions (LangGraph threads) ------------------------------------------------------------------

    async def create_session(
        self,
        principal: Principal,
        session_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        if_exists: str = "raise",
        graph: str | None = None,
    ) -> SessionRecord:
        """An empty session of ``principal``, ready for tasks (its graph is set by the first one, unless given).

        A taken id raises ``Conflict``, unless ``if_exists='do_nothing'`` and the session is the caller's:
        then it is returned as it is.
        """
        if if_exists not in IF_EXISTS:
            raise InvalidInput(f"if_exists must be one of {', '.join(IF_EXISTS)}")
        if session_id is not None and not SESSION_ID_RE.match(session_id):
            raise InvalidInput("session_id must be 1-128 characters of letters, digits and . _ : -")
        session = SessionRecord(
            id=session_id or new_session_id(),
            owner=principal.id,
            created_at=time.time(),
            graph=graph,
            metadata=dict(metadata or {}),
        )
        verdict = await self._run(self._create_session, create_session_call(self.keys, self.settings, session))
        if verdict == "forbidden" or (verdict == "exists" and if_exists == "raise"):
            raise Conflict(f"session {session.id!r} already exists")
        if verdict == "exists":
            return await self.get_session(principal, session.id)
        key = self.keys.principal_sessions(principal.id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(key, {session.id: session.created_at}, nx=True)
            pipe.expire(key, self.settings.session_ttl_seconds)
            await pipe.execute()
        return session

    async def get_session(self, principal: Principal, session_id: str) -> SessionRecord:
        """The session with its latest task, if it exists and belongs to ``principal``; else ``NotFound``."""
        found = await self._load_sessions([session_id]) if SESSION_ID_RE.match(session_id) else [None]
        session = found[0]
        if session is None or session.owner != principal.id:
            raise NotFound(f"session {session_id!r} not found")
        return session

    async def search_sessions(
        self,
        principal: Principal,
        match: Callable[[SessionRecord], bool] | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> list[SessionRecord]:
        """The principal's sessions, newest first, that ``match`` accepts (all without it), after skipping
        ``offset`` of them. Sessions that expired or were deleted leave the index on the way."""
        key = self.keys.principal_sessions(principal.id)
        found: list[SessionRecord] = []
        skipped = 0
        # walk the index by score (creation time), newest first, from a cursor: sessions made or removed
        # meanwhile do not shift what is read next (an offset would repeat or skip entries)
        top: str = "+inf"
        seen_at_top: set[str] = set()  # ids already read with the cursor's score (scores may tie)
        while len(found) < limit:
            page = cast(
                "list[tuple[str, float]]",
                await self.redis.zrevrangebyscore(
                    key, top, "-inf", start=0, num=SEARCH_BATCH + len(seen_at_top), withscores=True
                ),
            )
            ids = [sid for sid, score in page if not (repr(score) == top and sid in seen_at_top)]
            if not ids:
                break
            last = page[-1][1]
            tied = {sid for sid, score in page if score == last}
            seen_at_top = tied | seen_at_top if repr(last) == top else tied
            top = repr(last)
            sessions = await self._load_sessions(ids)
            gone = [sid for sid, sess in zip(ids, sessions) if sess is None or sess.owner != principal.id]
            if gone:
                await self.redis.zrem(key, *gone)
            for session in sessions:
                if session is None or session.owner != principal.id or (match is not None and not match(session)):
                    continue
                if skipped < offset:
                    skipped += 1
                    continue
                found.append(session)
                if len(found) == limit:
                    break
        return found

    async def delete_session(self, principal: Principal, session_id: str) -> None:
        """Delete the session, its events and its task records; ``Conflict`` while a task of it is running
        (cancel it first), ``NotFound`` unless it is the principal's. Checkpoints are the checkpointer's."""
        if not SESSION_ID_RE.match(session_id):
            raise NotFound(f"session {session_id!r} not found")
        raw = await self._run(self._delete_session, delete_session_call(self.keys, session_id, principal.id))
        verdict, task_ids = raw[0], list(raw[1:])
        if verdict == "missing":
            raise NotFound(f"session {session_id!r} not found")
        if verdict == "busy":
            raise Conflict(f"session {session_id!r} is running task {task_ids[0]}; cancel it first")
        async with self.redis.pipeline(transaction=False) as pipe:
            for task_id in task_ids:
                pipe.delete(self.keys.task_index(task_id))
            if task_ids:
                pipe.zrem(self.keys.principal_tasks(principal.id), *task_ids)
            pipe.zrem(self.keys.principal_sessions(principal.id), session_id)
            await pipe.execute()

    async def update_session_metadata(
        self, principal: Principal, session_id: str, metadata: dict[str, Any]
    ) -> SessionRecord:
        """Merge ``metadata`` into the session's (a key set to null stays, as the LangGraph server keeps it)."""
        session = await self.get_session(principal, session_id)
        session.metadata = {**session.metadata, **metadata}
        key = self.keys.session(session_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hset(key, "metadata", json.dumps(session.metadata, ensure_ascii=False, default=str))
            pipe.expire(key, self.settings.session_ttl_seconds)
            await pipe.execute()
        return session

    async def delete_task(self, principal: Principal, task_id: str) -> None:
        """Delete a finished task's record (its events stay in the session's stream); ``Conflict`` while it is
        queued, running or waiting for input."""
        record = await self.get_task(principal, task_id)
        if not record.status.terminal:
            raise Conflict(f"task {task_id} is {record.status.value}; cancel it first")
        async with self.redis.pipeline(transaction=False) as pipe:  # the task index is in another slot
            pipe.lrem(self.keys.session_tasks(record.session_id), 0, task_id)
            pipe.delete(self.keys.task(record.session_id, task_id))
            pipe.delete(self.keys.task_index(task_id))
            pipe.zrem(self.keys.principal_tasks(principal.id), task_id)
            await pipe.execute()

    async def _load_sessions(self, session_ids: list[str]) -> list[SessionRecord | None]:
        """Each session (None where there is none) with its latest task: the active one, else the newest."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for sid in session_ids:
                pipe.hgetall(self.keys.session(sid))
                pipe.lindex(self.keys.session_tasks(sid), -1)
            raw = await pipe.execute()
        sessions: list[SessionRecord | None] = []
        for n, sid in enumerate(session_ids):
            fields, newest = raw[2 * n], raw[2 * n + 1]
            session = SessionRecord.from_hash(sid, fields) if fields else None
            sessions.append(session)
            if session is not None:
                session.active = session.active or newest  # the task to describe it by (loaded below)
        async with self.redis.pipeline(transaction=False) as pipe:
            for s in sessions:
                if s is not None and s.active:
                    pipe.hgetall(self.keys.task(s.id, s.active))
            tasks = iter(await pipe.execute())
        for s in sessions:
            if s is not None and s.active:
                task = next(tasks)
                s.latest = TaskRecord.from_hash(task) if task else None
                s.active = s.active if s.latest is not None and not s.latest.status.terminal else None
        return sessions

    # --- resume and cancel --------------------------------------------------------------------------

    async def resume(
        self,
        principal: Principal,
        task_id: str,
        answer: Any,
        interrupt_id: str | None = None,
        by: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> TaskRecord:
        """``answer`` for ``principal`` as an API caller without claims (``by``: who in its name)."""
        return await self.answer(Actor.api(principal.id, by=by), task_id, answer, interrupt_id, options)

    async def answer(
        self,
        actor: Actor,
        task_id: str,
        answer: Any,
        interrupt_id: str | None = None,
        options: dict[str, Any] | None = None,
    ) -> TaskRecord:
        """Answer one pending interrupt of the task (``interrupt_id``; may be left out while only one is
        pending), or several at once with ``{interrupt id: answer}``. When the last pending one is answered,
        the run that continues the graph is queued, with ``options`` as its run options when given (a LangGraph
        API resume that asks for other stream modes).

        Who may answer: the task's starter, for a question no approval policy routes (anyone else gets
        ``NotFound``, as if the task did not exist); for a routed question, those its policy allows
        (graphgate/core/approvals.py): anyone else gets ``Forbidden``, recorded as ``approval.refused``. An
        approving answer to a question that needs N approvals is a vote until N people gave one.

        Each answer is turned into the value its interrupt expects (graphgate/core/interrupts.py) and refused with
        ``InvalidInput`` when the graph would not take it. Exactly one of several concurrent answers to the
        same interrupt wins; the others get ``Conflict``.
        """
        for _ in range(ANSWER_RACE_RETRIES):
            record = await self.locate(task_id)
            if not record.approvals and actor.principal_id != record.owner:
                raise NotFound(f"task {task_id!r} not found")
            given = self._answers_given(record, answer, interrupt_id)
            routed = record.routed()
            for iid in given:
                await self._authorize(record, routed.get(iid), iid, actor)
            pending = {i["interrupt_id"]: i for i in record.pending()}
            values = {iid: interrupts.resume_value(pending[iid], raw) for iid, raw in given.items()}
            decided, votes, changed = self._votes(record, routed, values, actor)
            result = await self.commit_answers(
                record, decided, actor.ref, lead=votes, approvals_changed=changed, options=options
            )
            if result.ok:
                return await self._reload(record)
            if result.previous != "mismatch":
                raise Conflict(f"task {task_id} was already answered")
            # another answer of the same pause came first: look again (ours may still be wanted)
        raise Conflict(f"task {task_id} is being answered by others; try again")

    async def question_for(self, actor: Actor, task_id: str, interrupt_id: str) -> dict[str, Any]:
        """The pending interrupt ``interrupt_id`` of the task, if ``actor`` may answer it (a chat shows its
        edit form, say): ``NotFound``, ``Forbidden`` and ``Conflict`` as ``answer`` raises them."""
        record = await self.locate(task_id)
        approval = (record.approvals or {}).get(interrupt_id)
        if approval is None and actor.principal_id != record.owner:
            raise NotFound(f"task {task_id!r} not found")
        pending = next((i for i in record.pending() if i["interrupt_id"] == interrupt_id), None)
        if pending is None:
            raise Conflict("This question was already answered.")
        await self._authorize(record, approval, interrupt_id, actor)
        return pending

    async def _authorize(self, record: TaskRecord, approval: dict[str, Any] | None, iid: str, actor: Actor) -> None:
        """Let ``actor`` answer the pending ``iid`` (routed by ``approval``, or not routed), or raise: not
        routed, only the starter answers (``NotFound``); routed, only its approvers (``Forbidden``, recorded)."""
        if approval is None:
            if actor.principal_id != record.owner:
                raise NotFound(f"task {record.id!r} not found")
            return
        if not approvals.may_answer(approval, actor, actor.is_starter(record.owner, record.binding)):
            await self._refuse(record, iid, actor)
            raise Forbidden(f"only {approval.get('label') or approval.get('policy')} may answer this question")

    async def locate(self, task_id: str) -> TaskRecord:
        """The task, whoever owns it (``NotFound`` when there is none): for callers that authorize on their own."""
        session_id = cast("str | None", await self.redis.get(self.keys.task_index(task_id)))
        record = await self._load(session_id, task_id) if session_id else None
        if record is None:
            raise NotFound(f"task {task_id!r} not found")
        return record

    async def _reload(self, record: TaskRecord) -> TaskRecord:
        return await self._load(record.session_id, record.id) or record

    @staticmethod
    def _answers_given(record: TaskRecord, answer: Any, interrupt_id: str | None) -> dict[str, Any]:
        """``{interrupt id: answer as given}`` for an answer to ``record``'s pending interrupts."""
        if record.status != TaskStatus.WAITING_INPUT:
            raise Conflict(f"task {record.id} is {record.status.value}, not waiting for input")
        pending = {i["interrupt_id"]: i for i in record.pending()}
        if interrupt_id is not None:
            if interrupt_id in (record.answers or {}):
                raise Conflict(f"interrupt {interrupt_id!r} was already answered")
            if interrupt_id not in pending:
                raise Conflict(f"interrupt {interrupt_id!r} is not pending for task {record.id}")
            return {interrupt_id: answer}
        if len(pending) == 1:
            return {next(iter(pending)): answer}
        if isinstance(answer, dict) and answer and set(answer) <= set(pending):
            return dict(answer)
        raise InvalidInput(
            f"{len(pending)} interrupts are pending ({', '.join(pending)}): name one with interrupt_id, "
            "or answer several with {interrupt id: answer}"
        )

    @staticmethod
    def _votes(
        record: TaskRecord, routed: dict[str, Any], values: dict[str, Any], actor: Actor
    ) -> tuple[dict[str, Any], list[EventSpec], dict[str, Any]]:
        """Which ``values`` answer their question now, the ``approval.given`` events of the routed ones, and
        their approvals with the new votes. An approving vote decides once ``required`` people gave one."""
        pending = {i["interrupt_id"]: i for i in record.pending()}
        decided: dict[str, Any] = {}
        events: list[EventSpec] = []
        changed: dict[str, Any] = {}
        now = time.time()
        for iid, value in values.items():
            approval = routed.get(iid)
            if approval is None:
                decided[iid] = value
                continue
            votes = dict(approval.get("votes") or {})
            if (votes.get(actor.ref) or {}).get("approves"):
                raise approvals.AlreadyApproved("You already approved this question; it waits for the other approvers.")
            approves = approvals.is_approval(pending[iid], value)
            votes[actor.ref] = {
                "answer": value,
                "approves": approves,
                "name": actor.name,
                "where": actor.where,
                "at": now,
            }
            count = sum(1 for v in votes.values() if v.get("approves"))
            required = int(approval.get("required") or 1)
            decides = not approves or count >= required
            changed[iid] = {**approval, "votes": votes}
            events.append(
                (
                    EventType.APPROVAL_GIVEN,
                    {
                        "interrupt_id": iid,
                        "by": actor.ref,
                        "name": actor.name,
                        "where": actor.where,
                        "answer": value,
                        "approves": approves,
                        "votes": count,
                        "required": required,
                        "decides": decides,
                    },
                )
            )
            if decides:
                decided[iid] = value
        return decided, events, changed

    async def commit_answers(
        self,
        record: TaskRecord,
        decided: dict[str, Any],
        who: str,
        *,
        lead: list[EventSpec] | None = None,
        approvals_changed: dict[str, Any] | None = None,
        options: dict[str, Any] | None = None,
    ) -> TransitionResult:
        """Write ``decided`` answers (interrupt id -> resume value) to the task's pause, after the ``lead``
        events, compare-and-set against the pause's ``answer_rev``: the last pending answer queues the next run.

        An empty ``decided`` writes only the lead events and the changed approvals (a vote that decides
        nothing yet). ``previous == 'mismatch'`` in the result: another answer came first; read and retry.
        """
        answers = {**(record.answers or {}), **decided}
        remaining = [i for i in record.pending() if i["interrupt_id"] not in answers]
        events: list[EventSpec] = list(lead or [])
        fields: dict[str, Any] = {}
        if approvals_changed:
            fields["approvals"] = {**(record.approvals or {}), **approvals_changed}
        if remaining or not decided:
            events += [
                (
                    EventType.INTERRUPT_ANSWERED,
                    {
                        "interrupt_id": iid,
                        "answer": value,
                        "by": who,
                        "pending": [i["interrupt_id"] for i in remaining],
                    },
                )
                for iid, value in decided.items()
            ]
            if decided:
                fields["interrupt"] = remaining[0]
            to_state, incr = TaskStatus.WAITING_INPUT, ""
        else:
            last_id = list(decided)[-1]
            events.append(
                (
                    EventType.TASK_RESUMED,
                    {"interrupt_id": last_id, "answer": decided[last_id], "answers": answers, "by": who},
                )
            )
            fields.update({"resume": {"answers": answers}, "attempts": 0})
            if options is not None:
                fields["options"] = options
            to_state, incr = TaskStatus.QUEUED, "run"
        call = transition_call(
            self.keys,
            self.settings,
            record,
            from_states={TaskStatus.WAITING_INPUT},
            to_state=to_state,
            event=events,
            fields={**fields, "answers": answers, "answer_rev": uuid.uuid4().hex},
            incr_field=incr,
            expect=("answer_rev", record.answer_rev),
        )
        result = transition_result(await self._run(self._transition, call))
        if result.ok and to_state == TaskStatus.QUEUED:
            await self.enqueue(record.id, record.session_id, graph=record.graph)
        return result

    async def update_approvals(self, record: TaskRecord, events: list[EventSpec], changed: dict[str, Any]) -> bool:
        """Write ``events`` and the ``changed`` approvals of the task's pause (a reminder, an escalation),
        compare-and-set against its ``answer_rev``; False when the pause changed meanwhile."""
        fields = {"approvals": {**(record.approvals or {}), **changed}, "answer_rev": uuid.uuid4().hex}
        return await self._while_waiting(record, events, fields, expect=("answer_rev", record.answer_rev))

    async def _while_waiting(
        self,
        record: TaskRecord,
        events: EventSpec | list[EventSpec],
        fields: dict[str, Any] | None = None,
        expect: tuple[str, str] | None = None,
    ) -> bool:
        """Write ``events`` (and ``fields``) to a task that stays waiting for input; False when it is not."""
        call = transition_call(
            self.keys,
            self.settings,
            record,
            from_states={TaskStatus.WAITING_INPUT},
            to_state=TaskStatus.WAITING_INPUT,
            event=events,
            fields=fields,
            expect=expect,
        )
        return transition_result(await self._run(self._transition, call)).ok

    async def _refuse(self, record: TaskRecord, interrupt_id: str, actor: Actor) -> None:
        """Record that ``actor`` tried to answer a question their policy does not let them answer (the task
        itself does not change: no compare-and-set, no new ``answer_rev``)."""
        refused = {
            "interrupt_id": interrupt_id,
            "by": actor.ref,
            "name": actor.name,
            "where": actor.where,
            "reason": "not an approver of this question",
        }
        await self._while_waiting(record, (EventType.APPROVAL_REFUSED, refused))

    async def audit(self, actor: Actor, task_id: str) -> list[Event]:
        """The task's audit trail, oldest first: its life, its questions, every answer, vote, refusal,
        reminder, escalation and timeout (``AUDIT_EVENTS``). For its starter and the approvers of its questions."""
        record = await self.locate(task_id)
        starter = actor.is_starter(record.owner, record.binding)
        if actor.principal_id != record.owner and not any(
            approvals.may_answer(a, actor, starter) for a in (record.approvals or {}).values()
        ):
            raise NotFound(f"task {task_id!r} not found")
        entries = cast("list[tuple[str, dict[str, str]]]", await self.redis.xrange(self.keys.events(record.session_id)))
        trail = []
        for entry_id, fields in entries:
            if f'"task_id":"{task_id}"' not in fields.get(STREAM_FIELD, ""):
                continue  # another task of the session: skipped without parsing
            event = deserialize_event(entry_id, fields[STREAM_FIELD])
            if event.task_id == task_id and event.type in AUDIT_EVENTS:
                trail.append(event)
        return trail

    async def cancel(self, principal: Principal, task_id: str, reason: str = "cancelled by request") -> TaskRecord:
        """Cancel the task: at once when it is queued or waiting; at its next step when it is running; at once
        too when it is running but nobody holds its run's lease (its worker vanished), else as soon as the
        lease lapses without being renewed (``sweep_cancels``), never after the broker's visibility timeout."""
        record = await self.get_task(principal, task_id)
        if record.status.terminal:
            raise Conflict(f"task {task_id} already {record.status.value}")
        if record.status == TaskStatus.RUNNING:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hset(
                    self.keys.task(record.session_id, task_id),
                    mapping={"cancel_requested": "1", "cancel_reason": reason},
                )
                # looked at again once the run's lease could have lapsed: a run nobody holds is ended then
                pipe.zadd(
                    self.keys.cancels(self.keys.group(record.session_id)),
                    {f"{record.session_id} {task_id}": time.time() + self._lease_ttl()},
                )
                await pipe.execute()
            await self.end_orphaned(record.session_id, task_id)
            # the run may have ended meanwhile; re-read so the caller sees the truth
            return await self.get_task(principal, task_id)
        call = transition_call(
            self.keys,
            self.settings,
            record,
            from_states=ACTIVE_STATUSES - {TaskStatus.RUNNING},
            to_state=TaskStatus.CANCELLED,
            event=(EventType.TASK_CANCELLED, {"reason": reason}),
        )
        result = transition_result(await self._run(self._transition, call))
        if not result.ok:
            if result.previous == TaskStatus.RUNNING.value:  # started meanwhile: ask the run to stop
                return await self.cancel(principal, task_id, reason)
            raise Conflict(f"task {task_id} already {result.previous}")
        if result.next_task:
            await self.enqueue(result.next_task, record.session_id, graph=record.graph)
        await self._stopped(record.session_id, task_id)
        return await self.get_task(principal, task_id)

    async def _stopped(self, session_id: str, task_id: str) -> None:
        """A task ended without a run to say so (a cancel): call its webhook, if it has one."""
        record = await self._load(session_id, task_id)
        if self.notify is not None and record is not None and RunOptions.from_dict(record.options).webhook:
            await self.notify(task_id, session_id, lgrun.run_status(record))

    # --- runs whose worker vanished ---------------------------------------------------------------------

    def _lease_ttl(self) -> float:
        return max(1.0, self.settings.task_lease_seconds)

    async def end_orphaned(self, session_id: str, task_id: str) -> float | None:
        """End a running task whose cancel was requested and whose run nobody holds (no lease: its worker
        died) as ``cancelled``, at once. None when the task needs no more looking at (ended now, or not
        running, or not to be cancelled); else when to look again (a lease is still held).

        Atomic against a worker taking the run meanwhile: the transition is made only while no lease is held
        and the cancel is still requested (scripts.TRANSITION with the lease token ``-``); a worker that takes
        the lease first wins, and stops at its cancel check.
        """
        lease, task_key = self.keys.lease(session_id, task_id), self.keys.task(session_id, task_id)
        status, requested, reason = await self.redis.hmget(task_key, "status", "cancel_requested", "cancel_reason")
        if status != TaskStatus.RUNNING.value or requested != "1":
            return None
        left = await self.redis.pttl(lease)
        if left != -2:  # held (or without expiry): the run may still stop by itself
            return time.time() + (left / 1000 if left > 0 else self._lease_ttl()) + 0.05
        record = await self._load(session_id, task_id)
        if record is None:
            return None
        call = transition_call(
            self.keys,
            self.settings,
            record,
            from_states={TaskStatus.RUNNING},
            to_state=TaskStatus.CANCELLED,
            event=(EventType.TASK_CANCELLED, {"reason": reason or "cancelled by request", "orphaned": True}),
            lease_token="-",
            expect=("cancel_requested", "1"),
        )
        result = transition_result(await self._run(self._transition, call))
        if not result.ok:
            # 'lease': a worker took the run meanwhile (it stops at its cancel check): look again at once;
            # else the task ended, or its cancel was withdrawn: nothing more to do
            return time.time() if result.previous == "lease" else None
        if result.next_task:
            await self.enqueue(result.next_task, session_id, graph=record.graph)
        await self._stopped(session_id, task_id)
        return None

    async def sweep_cancels(self, now: float | None = None, limit: int = 100) -> int:
        """End the cancelled runs whose worker vanished, once their lease lapsed; how many it ended."""
        now = time.time() if now is None else now
        ended = 0
        for group in self.keys.groups():
            ended += await self._sweep_cancels(self.keys.cancels(group), now, limit)
        return ended

    async def _sweep_cancels(self, key: str, now: float, limit: int) -> int:
        due = cast("list[str]", await self.redis.zrangebyscore(key, "-inf", now, start=0, num=limit))
        ended = 0
        for member in due:
            session_id, task_id = member.split(" ", 1)
            before = await self.redis.hget(self.keys.task(session_id, task_id), "status")
            again = await self.end_orphaned(session_id, task_id)
            if again is None:
                await self.redis.zrem(key, member)
                after = await self.redis.hget(self.keys.task(session_id, task_id), "status")
                ended += before == TaskStatus.RUNNING.value and after == TaskStatus.CANCELLED.value
            else:
                await self.redis.zadd(key, {member: again})
        return ended

    # --- runs whose message was lost ---------------------------------------------------------------------

    async def republish(self, now: float | None = None, backlog: int = 0, limit: int = 100) -> int:
        """Publish again the runs that were published (``Keys.published``) more than
        ``GRAPHGATE_REPUBLISH_AFTER_SECONDS`` ago and still wait for a worker as their session's active task:
        their message was lost on the way (a Redis failover after the publish, a broker restart). ``backlog``:
        messages still waiting in the run queues (Redis broker); while there are any, the lost one may be
        among them, so nothing is republished yet. A republished run that was not lost after all is started
        once: a second delivery finds it running, or ended. How many runs it published again.
        """
        if backlog > 0:
            return 0
        now = time.time() if now is None else now
        again = 0
        for group in self.keys.groups():
            again += await self._republish(self.keys.published(group), now, limit)
        return again

    async def _republish(self, key: str, now: float, limit: int) -> int:
        due = cast(
            "list[str]",
            await self.redis.zrangebyscore(
                key, "-inf", now - self.settings.republish_after_seconds, start=0, num=limit
            ),
        )
        again = 0
        for member in due:
            session_id, task_id = member.split(" ", 1)
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.hmget(self.keys.task(session_id, task_id), "status", "graph")
                pipe.hget(self.keys.session(session_id), "active")
                (status, graph), active = await pipe.execute()
            if status == TaskStatus.QUEUED.value and active == task_id:
                await self.enqueue(task_id, session_id, graph=graph)  # noted again as published, with a new time
                again += 1
            else:
                await self.redis.zrem(key, member)
        return again
