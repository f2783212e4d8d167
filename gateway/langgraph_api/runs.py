"""``/threads/{thread_id}/runs`` and the stateless ``/runs``: runs are graphgate tasks, started, followed and
cancelled through the task service, run by the same workers, streamed from the same Redis stream as every
other task.

* ``input`` (or none: go on from the checkpoint, or ``command`` ``goto``/``update``) starts a task, with the
  run options the worker needs (graphgate/core/runoptions.py); ``multitask_strategy`` is the task's multitask
  (LangGraph's default, enqueue; ``rollback`` is interrupt plus a rollback the new run's worker does first);
* ``command={"resume": value}`` answers the thread's pending interrupt (``TaskService.resume``): the paused
  task continues under its own id, so the run id of a resumed run is the id of the run that paused;
  with several interrupts pending, ``{interrupt id: value}`` answers them;
* ``/stream`` translates the run's events and chunks into SSE frames (gateway/langgraph_api/wire.py), ``/wait``
  and ``/join`` answer the thread's values when the run stops (``{"__error__": …}`` when it failed);
* a stateless run gets a thread of its own, deleted when the run stops unless ``on_completion='keep'``.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Coroutine
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse
from sse_starlette import EventSourceResponse, ServerSentEvent

from graphgate.core.errors import Conflict, GraphgateError, InvalidInput, NotFound
from graphgate.core.runoptions import RunOptions
from graphgate.core.store import SessionRecord, TaskRecord, TaskStatus
from graphgate.core.tasks import Principal
from graphgate.gateway.api.deps import Gateway, GatewayDep
from graphgate.gateway.fanout import parse_id
from graphgate.gateway.langgraph_api import shapes
from graphgate.gateway.langgraph_api.deps import RATE_LIMITED, Caller, States
from graphgate.gateway.langgraph_api.follow import (
    Stop,
    Watch,
    run_events,
    run_start,
    stopped_now,
    until_stopped,
    wait_stop,
)
from graphgate.gateway.langgraph_api.requests import CancelMany, RunCreate
from graphgate.gateway.langgraph_api.state import StateReader, checkpoint_id_of
from graphgate.gateway.langgraph_api.threads import delete_thread
from graphgate.gateway.langgraph_api.wire import (
    DERIVED_MODES,
    RunView,
    chunk_modes,
    dumps,
    failure,
    stream_modes,
    with_interrupts,
)

router = APIRouter(tags=["langgraph: runs"])

MAX_BATCH = 100  # runs in one /runs/batch
CANCEL_MANY_LIMIT = 1000  # the caller's newest runs /runs/cancel looks at for a status
HEARTBEAT_SECONDS = 10.0  # a waiting /wait or /join sends a newline this often, so proxies keep it open
RUN_STATUSES = ("pending", "running", "error", "success", "timeout", "interrupted")
_BACKGROUND: set[asyncio.Future[Any]] = set()  # cancels started by closed streams, kept until they finish


# --- starting a run --------------------------------------------------------------------------------------


async def _start(
    gw: Gateway,
    who: Principal,
    thread_id: str,
    body: RunCreate,
    modes: tuple[str, ...] = (),
    states: StateReader | None = None,
) -> tuple[TaskRecord, str]:
    """Start (or resume) the run ``body`` asks for, its worker publishing the chunks of stream ``modes``;
    returns its task and the thread's stream id before it. A refused run changes nothing: not even the
    thread ``if_not_exists='create'`` made for it stays."""
    body.check()
    graph = shapes.resolve_assistant(gw.graphs, body.assistant_id)
    mode, configurable, extra = body.run_config()
    if body.input is not None:
        gw.graphs.validate_input(graph, body.input)
    made = False
    try:
        session = await gw.service.get_session(who, thread_id)
    except NotFound:
        if body.if_not_exists != "create":
            raise NotFound(f"thread {thread_id!r} not found (if_not_exists='create' makes it)") from None
        session = await gw.service.create_session(who, thread_id, if_exists="do_nothing")
        made = True
    try:
        after = await gw.service.last_event_id(thread_id)
        if body.resumes:
            assert body.command is not None
            return await _resume(gw, who, session, graph, body.command["resume"], modes, body.stream_subgraphs), after
        checkpoint_id = checkpoint_id_of(body.checkpoint or body.checkpoint_id, thread_id)
        if checkpoint_id and states is not None and not await states.exists(session, checkpoint_id):
            raise NotFound(f"checkpoint {checkpoint_id!r} not found in thread {thread_id!r}")
        options = body.options(modes, checkpoint_id, extra)
        return await _new_run(gw, who, session, graph, body, mode, configurable, options), after
    except GraphgateError:
        if made:
            await gw.service.delete_session(who, thread_id)
        raise


async def _new_run(
    gw: Gateway,
    who: Principal,
    session: SessionRecord,
    graph: str,
    body: RunCreate,
    mode: str,
    configurable: dict[str, Any],
    options: RunOptions,
) -> TaskRecord:
    waiting = session.latest if session.active and session.latest else None
    if waiting and waiting.status == TaskStatus.WAITING_INPUT and body.multitask_strategy in ("reject", "enqueue"):
        raise Conflict(
            f"thread {session.id!r} has run {waiting.id} waiting for input: answer it with "
            "command={'resume': ...}, cancel it, or start this run with multitask_strategy 'interrupt'"
        )
    multitask = body.multitask_strategy
    if multitask == "rollback":  # the thread's run is cancelled, and the new one starts from before it
        multitask = "interrupt"
        if session.active:
            options = replace(options, rollback=session.active)
    return await gw.service.create_task(
        who,
        input=body.input or {},
        graph=graph,
        session_id=session.id,
        mode=mode,
        config=configurable,
        multitask=multitask,
        metadata=body.run_metadata(),
        options=options.to_dict(),
    )


async def _resume(
    gw: Gateway,
    who: Principal,
    session: SessionRecord,
    graph: str,
    value: Any,
    modes: tuple[str, ...] = (),
    subgraphs: bool = False,
) -> TaskRecord:
    """Answer the thread's pending interrupt(s) with ``value`` (``command['resume']``); the run goes on
    publishing the chunks of the stream ``modes`` this request asks for too."""
    task = session.latest if session.active else None
    if task is None or task.status != TaskStatus.WAITING_INPUT:
        raise Conflict(f"thread {session.id!r} has no run waiting for input")
    if task.graph != graph:
        raise Conflict(f"thread {session.id!r} runs assistant {task.graph!r}, not {graph!r}")
    options = _with_modes(task, modes, subgraphs)
    pending = {i["interrupt_id"] for i in task.pending()}
    if isinstance(value, dict) and value and set(value) <= pending:  # {interrupt id: answer}
        if len(value) == 1:
            ((interrupt_id, answer),) = value.items()
            return await gw.service.resume(who, task.id, answer, interrupt_id, options=options)
        return await gw.service.resume(who, task.id, value, options=options)
    if value is None:
        raise InvalidInput("command.resume must not be null")
    return await gw.service.resume(who, task.id, value, options=options)


def _with_modes(task: TaskRecord, modes: tuple[str, ...], subgraphs: bool) -> dict[str, Any] | None:
    """The task's run options with ``modes`` added to its stream modes; None when they are there already."""
    current = RunOptions.from_dict(task.options)
    wanted = tuple(dict.fromkeys([*current.stream, *modes]))
    if wanted == current.stream and (current.subgraphs or not subgraphs):
        return None
    return replace(current, stream=wanted, subgraphs=current.subgraphs or (subgraphs and bool(wanted))).to_dict()


def _locations(record: TaskRecord, modes: tuple[str, ...] | None = None, tail: str = "") -> dict[str, str]:
    """Where the run is (``Content-Location``, which the SDK reads the run id from) and where to reconnect."""
    run_path = f"/threads/{record.session_id}/runs/{record.id}"
    headers = {"Content-Location": run_path}
    if tail:
        query = f"?{urlencode([('stream_mode', m) for m in modes])}" if modes else ""
        headers["Location"] = f"{run_path}/{tail}{query}"
    return headers


@router.post("/threads/{thread_id}/runs", dependencies=RATE_LIMITED)
async def create(
    thread_id: str, body: RunCreate, response: Response, gw: GatewayDep, who: Caller, states: States
) -> dict[str, Any]:
    """Start a run in the background (or resume the thread's interrupted one) and answer it at once."""
    modes = stream_modes(body.stream_mode)  # what join_stream will show, published as the run goes
    record, _ = await _start(gw, who, thread_id, body, modes, states)
    response.headers.update(_locations(record))
    return shapes.run(record)


@router.post("/threads/{thread_id}/runs/stream", dependencies=RATE_LIMITED)
async def stream(thread_id: str, body: RunCreate, gw: GatewayDep, who: Caller, states: States) -> EventSourceResponse:
    """Start (or resume) a run and stream it in the requested modes until it stops."""
    modes = stream_modes(body.stream_mode)
    record, after = await _start(gw, who, thread_id, body, modes, states)
    view = _view(record, modes)
    cancel = body.on_disconnect == "cancel"
    headers = _locations(record, modes, "stream")
    return _sse(gw, who, states, record, view, after, cancel, headers, _still_paused(record))


def _view(record: TaskRecord, modes: tuple[str, ...]) -> RunView:
    chunked = frozenset(chunk_modes(RunOptions.from_dict(record.options).stream))
    return RunView(record.id, record.session_id, record.graph, shapes.assistant_id(record.graph), modes, chunked)


def _still_paused(record: TaskRecord) -> Stop | None:
    """After an answer to some of a pause's interrupts the run does not go on: it stops where it is, on the
    interrupts still pending."""
    return stopped_now(record) if record.status == TaskStatus.WAITING_INPUT else None


@router.post("/threads/{thread_id}/runs/wait", dependencies=RATE_LIMITED)
async def wait(thread_id: str, body: RunCreate, gw: GatewayDep, who: Caller, states: States) -> StreamingResponse:
    """Start (or resume) a run and answer the thread's values when it stops."""
    record, after = await _start(gw, who, thread_id, body, (), states)
    paused = _still_paused(record) is not None  # look at the record itself: the run is not going on
    return _outcome(gw, who, states, record, None if paused else after, _locations(record, None, "join"))


# --- stateless runs: a thread made for the run, deleted when it stops (on_completion='keep' keeps it) -----------


def _stateless(body: RunCreate) -> tuple[str, bool]:
    """The new thread of a stateless run, and whether it is deleted when the run stops."""
    if body.resumes:
        raise InvalidInput("a stateless run has no interrupted run to resume: resume on its thread")
    body.if_not_exists = "create"
    return str(uuid.uuid4()), body.on_completion != "keep"


async def _start_in_background(gw: Gateway, who: Principal, body: RunCreate, states: StateReader) -> TaskRecord:
    """Start a stateless run in the background; its thread is deleted when it stops (unless kept)."""
    thread_id, drop = _stateless(body)
    record, after = await _start(gw, who, thread_id, body, stream_modes(body.stream_mode), states)
    if drop:
        _in_background(_drop_thread(gw, who, record, after))
    return record


@router.post("/runs", dependencies=RATE_LIMITED)
async def create_stateless(body: RunCreate, response: Response, gw: GatewayDep, who: Caller, states: States) -> Any:
    """A stateless run in the background, on a thread of its own."""
    record = await _start_in_background(gw, who, body, states)
    response.headers.update(_locations(record))
    return shapes.run(record)


@router.post("/runs/batch", dependencies=RATE_LIMITED)
async def create_batch(bodies: list[RunCreate], gw: GatewayDep, who: Caller, states: States) -> list[dict[str, Any]]:
    """Several stateless background runs; all are checked before any starts."""
    if not 1 <= len(bodies) <= MAX_BATCH:
        raise InvalidInput(f"a batch holds 1 to {MAX_BATCH} runs")
    for body in bodies:
        body.check()
        stream_modes(body.stream_mode)
    return [shapes.run(await _start_in_background(gw, who, body, states)) for body in bodies]


@router.post("/runs/stream", dependencies=RATE_LIMITED)
async def stream_stateless(body: RunCreate, gw: GatewayDep, who: Caller, states: States) -> EventSourceResponse:
    """A stateless run, streamed until it stops."""
    thread_id, drop = _stateless(body)
    modes = stream_modes(body.stream_mode)
    record, after = await _start(gw, who, thread_id, body, modes, states)
    cancel = body.on_disconnect == "cancel"
    headers = _locations(record, modes, "stream")
    return _sse(gw, who, states, record, _view(record, modes), after, cancel, headers, drop_thread=drop)


@router.post("/runs/wait", dependencies=RATE_LIMITED)
async def wait_stateless(body: RunCreate, gw: GatewayDep, who: Caller, states: States) -> StreamingResponse:
    """A stateless run; its thread's values when it stops."""
    thread_id, drop = _stateless(body)
    record, after = await _start(gw, who, thread_id, body, (), states)
    return _outcome(gw, who, states, record, after, _locations(record, None, "join"), drop_thread=drop)


@router.get("/threads/{thread_id}/runs")
async def list_runs(
    thread_id: str,
    gw: GatewayDep,
    who: Caller,
    limit: Annotated[int, Query(ge=1, le=1000)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
    status: Annotated[str | None, Query()] = None,
    select: Annotated[list[str] | None, Query()] = None,
) -> list[dict[str, Any]]:
    """The thread's runs, newest first."""
    if status is not None and status not in RUN_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(RUN_STATUSES)}")
    if status is None:
        records = await gw.service.list_tasks(who, thread_id, limit, offset)
    else:
        every = await gw.service.list_tasks(who, thread_id, 1000)
        records = [r for r in every if shapes.run_status(r) == status][offset : offset + limit]
    return [shapes.select(shapes.run(r), select) for r in records]


async def _run_of(gw: Gateway, who: Principal, thread_id: str, run_id: str) -> TaskRecord:
    record = await gw.service.get_task(who, run_id)
    if record.session_id != thread_id:
        raise NotFound(f"run {run_id!r} not found in thread {thread_id!r}")
    return record


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get(thread_id: str, run_id: str, gw: GatewayDep, who: Caller) -> dict[str, Any]:
    return shapes.run(await _run_of(gw, who, thread_id, run_id))


@router.delete("/threads/{thread_id}/runs/{run_id}", status_code=204)
async def delete(thread_id: str, run_id: str, gw: GatewayDep, who: Caller) -> Response:
    """Delete a finished run's record (409 while it is going on: cancel it first)."""
    await _run_of(gw, who, thread_id, run_id)
    await gw.service.delete_task(who, run_id)
    return Response(status_code=204)


@router.get("/threads/{thread_id}/runs/{run_id}/join")
async def join(thread_id: str, run_id: str, gw: GatewayDep, who: Caller, states: States) -> StreamingResponse:
    """Wait for the run to stop; the thread's values then (at once if it has stopped already)."""
    record = await _run_of(gw, who, thread_id, run_id)
    return _outcome(gw, who, states, record, None, _locations(record))


@router.get("/threads/{thread_id}/runs/{run_id}/stream")
async def join_stream(
    thread_id: str,
    run_id: str,
    gw: GatewayDep,
    who: Caller,
    states: States,
    stream_mode: Annotated[list[str] | None, Query()] = None,
    cancel_on_disconnect: bool = False,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    """Follow a run until it stops: after ``Last-Event-ID`` (a reconnect; ``-1`` replays the run from its
    start, with its metadata frame, as the JS SDK's joinStream asks), else from now on."""
    record = await _run_of(gw, who, thread_id, run_id)
    # without stream_mode: the run's own modes, else all that graphgate's events show (the SDK sends None as "")
    own = RunOptions.from_dict(record.options).stream
    modes = stream_modes([m for m in stream_mode or [] if m], own or DERIVED_MODES)
    view = _view(record, modes)
    replay = last_event_id == "-1"
    if replay:
        after: str | None = await run_start(gw, thread_id, run_id)
    elif last_event_id:
        try:
            parse_id(last_event_id)
        except ValueError:
            raise InvalidInput("Last-Event-ID must be an id this stream sent (like 1732560000000-0), or -1") from None
        after = last_event_id
    else:
        after = await gw.service.last_event_id(thread_id)
        record = await _run_of(gw, who, thread_id, run_id)
        if stopped_now(record) is not None:
            after = None  # nothing more will come: the stream ends after its metadata
    # no metadata frame: a joined stream carries what the run publishes from now on, as the LangGraph server's
    headers = _locations(record)
    return _sse(gw, who, states, record, view, after, cancel_on_disconnect, headers, metadata=replay)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel", dependencies=RATE_LIMITED)
async def cancel(
    thread_id: str,
    run_id: str,
    gw: GatewayDep,
    who: Caller,
    states: States,
    wait: bool = False,
    action: str = "interrupt",
) -> Response:
    """Cancel the run (queued or waiting: at once; running: at its next step); ``wait=1`` until it stopped.
    ``action=rollback`` also undoes what the run wrote to the thread and deletes the run, once it stopped."""
    _check_action(action)
    record = await _run_of(gw, who, thread_id, run_id)
    stopped = await _cancel_run(gw, who, states, record, action, wait)
    return Response(status_code=204 if stopped else 202)


@router.post("/runs/cancel", dependencies=RATE_LIMITED)
async def cancel_many(
    body: CancelMany, gw: GatewayDep, who: Caller, states: States, action: str = "interrupt"
) -> Response:
    """Cancel several runs: ``run_ids`` of ``thread_id``, or every run of the caller's with ``status`` (``pending``,
    ``running`` or ``all``, that is both)."""
    _check_action(action)
    if (body.run_ids is None) == (body.status is None) or (body.run_ids is not None and not body.thread_id):
        raise InvalidInput("give thread_id with run_ids, or a status (pending, running or all)")
    if body.run_ids is not None:
        assert body.thread_id is not None
        records = [await _run_of(gw, who, body.thread_id, run_id) for run_id in body.run_ids]
    else:
        wanted = {"pending": {TaskStatus.QUEUED}, "running": {TaskStatus.RUNNING}}.get(
            body.status or "", {TaskStatus.QUEUED, TaskStatus.RUNNING}
        )
        records = [r for r in await gw.service.list_tasks(who, None, CANCEL_MANY_LIMIT) if r.status in wanted]
    for record in records:
        if not record.status.terminal:
            await _cancel_run(gw, who, states, record, action, wait=False)
    return Response(status_code=204)


def _check_action(action: str) -> None:
    if action not in ("interrupt", "rollback"):
        raise InvalidInput(f"action {action!r} is not supported; use 'interrupt' or 'rollback'")


async def _cancel_run(
    gw: Gateway, who: Principal, states: StateReader, record: TaskRecord, action: str, wait: bool
) -> bool:
    """Cancel one run; whether it has stopped when this returns (always, for a rollback)."""
    thread_id = record.session_id
    after = await gw.service.last_event_id(thread_id)
    record = await gw.service.cancel(who, record.id)  # a run stopped here calls its webhook from the service
    if action == "rollback" or wait:
        if stopped_now(record) is None:
            await until_stopped(gw, thread_id, record.id, after)
        if action == "rollback":
            await states.roll_back(await gw.service.get_session(who, thread_id), record.id)
            await gw.service.delete_task(who, record.id)
        return True
    return False


# --- answering a run -----------------------------------------------------------------------------------------


async def _values_at(states: StateReader, gw: Gateway, who: Principal, thread_id: str) -> dict[str, Any]:
    return await states.values(await gw.service.get_session(who, thread_id))


async def _result(
    gw: Gateway, who: Principal, states: StateReader, stop: Stop | None, thread_id: str
) -> dict[str, Any]:
    """What /wait and /join answer: the thread's values (with ``__interrupt__`` when the run paused), or
    ``{"__error__": {"error", "message"}}`` when it failed."""
    if stop is not None and stop.failed:
        return {"__error__": failure(stop.event)}
    values = await _values_at(states, gw, who, thread_id)
    return with_interrupts(values, stop.interrupts if stop is not None else [])


def _outcome(
    gw: Gateway,
    who: Principal,
    states: StateReader,
    record: TaskRecord,
    after: str | None,
    headers: dict[str, str],
    drop_thread: bool = False,
) -> StreamingResponse:
    """The run's result as JSON once it stops; newlines before it keep a long wait's connection alive (JSON
    allows leading whitespace, and the SDK reads the body whole). ``drop_thread``: a stateless run's thread
    is deleted once the result is read."""

    async def body() -> AsyncIterator[bytes]:
        waiting = asyncio.ensure_future(wait_stop(gw, who, record, after))
        answered = False
        try:
            while True:
                done, _ = await asyncio.wait({waiting}, timeout=HEARTBEAT_SECONDS)
                if done:
                    break
                yield b"\n"
            result = await _result(gw, who, states, waiting.result(), record.session_id)
            answered = True
        finally:
            waiting.cancel()
            if drop_thread:
                _in_background(_drop_thread(gw, who, record, None if answered else after))
        yield dumps(result).encode()

    return StreamingResponse(body(), media_type="application/json", headers=headers)


def _sse(
    gw: Gateway,
    who: Principal,
    states: StateReader,
    record: TaskRecord,
    view: RunView,
    after: str | None,
    cancel_on_disconnect: bool,
    headers: dict[str, str],
    stopped_at: Stop | None = None,
    drop_thread: bool = False,
    metadata: bool = True,
) -> EventSourceResponse:
    """The run's frames from ``after`` until it stops; the frames of ``stopped_at`` at once when the run is
    there already; the metadata frame only when ``after`` is None. ``drop_thread``: a stateless run's thread
    is deleted once the run stopped."""

    async def feed() -> AsyncIterator[ServerSentEvent]:
        if metadata:
            yield view.metadata().sse()
        if stopped_at is not None:
            values = (
                await _values_at(states, gw, who, record.session_id) if view.needs_values(stopped_at.event) else None
            )
            for frame in view.stop(stopped_at.event, stopped_at.interrupts, values):
                yield frame.sse()
            return
        if after is None:
            return
        stopped = False
        watch = Watch()
        try:
            async for event in run_events(gw, record.session_id, record.id, after):
                for frame in view.progress(event):
                    yield frame.sse()
                stop = watch.see(event)
                if stop is not None:
                    stopped = True
                    values = await _values_at(states, gw, who, record.session_id) if view.needs_values(event) else None
                    for frame in view.stop(event, stop.interrupts, values):
                        yield frame.sse()
                    return
        finally:
            if not stopped and cancel_on_disconnect:  # no await here: a closed stream's task is being cancelled
                _in_background(_cancel_quietly(gw, who, record.id))
            if drop_thread:
                _in_background(_drop_thread(gw, who, record, None if stopped else after))

    return EventSourceResponse(
        feed(),
        ping=gw.settings.sse_ping_seconds,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **headers},
    )


async def _drop_thread(gw: Gateway, who: Principal, record: TaskRecord, after: str | None) -> None:
    """Delete a stateless run's thread (session, records, checkpoints) once the run has stopped (``after``:
    where to wait for its stop from; None when it has)."""
    try:
        if after is not None:
            await wait_stop(gw, who, record, after)
        await delete_thread(gw, who, record.session_id)
    except GraphgateError:
        pass  # deleted meanwhile; a thread left behind expires with its session


async def _cancel_quietly(gw: Gateway, who: Principal, task_id: str) -> None:
    try:
        await gw.service.cancel(who, task_id, "cancelled: its stream was closed")
    except GraphgateError:
        pass  # it stopped meanwhile


def _in_background(work: Coroutine[Any, Any, None]) -> None:
    task = asyncio.ensure_future(work)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)
