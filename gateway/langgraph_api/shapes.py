"""graphgate's records in the LangGraph server's shapes: a registered graph as an assistant, a session as a
thread, a task as a run, a LangGraph state snapshot as a thread state.

One assistant per registered graph, with the id the LangGraph server gives a graph's default assistant:
``uuid5(NAMESPACE_GRAPH, graph name)``, so an id saved against a LangGraph server still names the same graph.
"""

from __future__ import annotations

from typing import Any

from langgraph.types import StateSnapshot

from graphgate.core.errors import NotFound
from graphgate.core.lgrun import NAMESPACE_GRAPH, RUN_STATUS, assistant_id, iso, run, run_status
from graphgate.core.registry import GraphRegistry
from graphgate.core.store import SessionRecord, TaskStatus
from graphgate.core.wirejson import interrupt, jsonable

__all__ = ["NAMESPACE_GRAPH", "RUN_STATUS", "assistant_id", "iso", "run", "run_status"]  # the run's shape is core's

THREAD_STATUS = {
    TaskStatus.QUEUED: "busy",
    TaskStatus.RUNNING: "busy",
    TaskStatus.WAITING_INPUT: "interrupted",
    TaskStatus.COMPLETED: "idle",
    TaskStatus.FAILED: "error",
    TaskStatus.CANCELLED: "interrupted",  # as the LangGraph server leaves a thread whose run was cancelled
}


# --- assistants -----------------------------------------------------------------------------------------


def resolve_assistant(graphs: GraphRegistry, ref: str) -> str:
    """The graph an assistant id or graph name names; ``NotFound`` for any other."""
    if ref in graphs.specs:
        return ref
    for name in graphs.specs:
        if assistant_id(name) == ref:
            return name
    raise NotFound(f"assistant {ref!r} not found: use a graph name ({', '.join(graphs.names())}) or its assistant id")


def assistant(graphs: GraphRegistry, name: str) -> dict[str, Any]:
    created = iso(registered_at(graphs))
    return {
        "assistant_id": assistant_id(name),
        "graph_id": name,
        "name": name,
        "description": None,
        "config": {},
        "context": {},
        "metadata": {"created_by": "system"},
        "version": 1,
        "created_at": created,
        "updated_at": created,
    }


def registered_at(graphs: GraphRegistry) -> float:
    """When the graphs were registered: the config file's modification time (the same on every replica)."""
    try:
        return graphs.config_path.stat().st_mtime if graphs.config_path else 0.0
    except OSError:
        return 0.0


# --- threads ---------------------------------------------------------------------------------------------


def thread_status(session: SessionRecord) -> str:
    """The thread's status is its latest run's; a run that stopped at a breakpoint leaves it ``interrupted``."""
    if session.latest is None:
        return "idle"
    if session.latest.status == TaskStatus.COMPLETED and session.latest.next:
        return "interrupted"
    return THREAD_STATUS[session.latest.status]


def thread_metadata(session: SessionRecord) -> dict[str, Any]:
    """The thread's metadata: the caller's, and (as the LangGraph server adds them) its graph and assistant."""
    extra = {"graph_id": session.graph, "assistant_id": assistant_id(session.graph)} if session.graph else {}
    return {**extra, **session.metadata}


def thread(session: SessionRecord, snapshot: StateSnapshot | None) -> dict[str, Any]:
    return {
        "thread_id": session.id,
        "created_at": iso(session.created_at),
        "updated_at": iso(session.updated_at),
        "state_updated_at": iso(session.updated_at),
        "metadata": thread_metadata(session),
        "status": thread_status(session),
        "config": {"configurable": {}} if session.latest else {},  # as the LangGraph server's, once it ran
        "values": jsonable(snapshot.values) if snapshot is not None else {},
        "interrupts": {t.id: [state_interrupt(i) for i in t.interrupts] for t in snapshot.tasks if t.interrupts}
        if snapshot is not None
        else {},
        "error": _error(session),
    }


def state_interrupt(value: Any) -> dict[str, Any]:
    """An interrupt in a thread or its state: ``value`` and ``id`` (``response_schema`` when the graph gave one),
    as the LangGraph server answers them there (its streams carry ``response_schema`` null too)."""
    out = interrupt(value)
    if out.get("response_schema") is None:
        out.pop("response_schema", None)
    return out


def _error(session: SessionRecord) -> dict[str, Any] | None:
    """The error of the thread's latest run when it failed, as the LangGraph server shows it."""
    latest = session.latest
    if latest is None or latest.status != TaskStatus.FAILED:
        return None
    error = latest.error or {}
    return {"error": str(error.get("kind") or "Error"), "message": str(error.get("message") or "")}


def contains(whole: Any, part: Any) -> bool:
    """JSON containment, as the LangGraph server filters metadata: every key of ``part`` is in ``whole`` with a
    value that contains the one asked for."""
    if isinstance(part, dict):
        return isinstance(whole, dict) and all(k in whole and contains(whole[k], v) for k, v in part.items())
    return bool(whole == part)


def select(item: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    """Only the ``fields`` asked for (all without a list)."""
    return {k: v for k, v in item.items() if k in fields} if fields else item


# --- runs ------------------------------------------------------------------------------------------------


# --- thread state ----------------------------------------------------------------------------------------


def checkpoint(config: Any) -> dict[str, Any] | None:
    """A checkpoint's address (``{"thread_id", "checkpoint_ns", "checkpoint_id"}``) from its config."""
    if not config:
        return None
    conf = config.get("configurable") or {}
    out = {
        "thread_id": conf.get("thread_id"),
        "checkpoint_ns": conf.get("checkpoint_ns", ""),
        "checkpoint_id": conf.get("checkpoint_id"),
    }
    if conf.get("checkpoint_map"):
        out["checkpoint_map"] = jsonable(conf["checkpoint_map"])
    return out


def thread_state(snapshot: StateSnapshot) -> dict[str, Any]:
    here, parent = checkpoint(snapshot.config), checkpoint(snapshot.parent_config)
    return {
        "values": jsonable(snapshot.values),
        "next": list(snapshot.next),
        "tasks": [
            {
                "id": task.id,
                "name": task.name,
                "path": jsonable(task.path),
                "error": None if task.error is None else repr(task.error),
                "interrupts": [state_interrupt(i) for i in task.interrupts],
                "checkpoint": checkpoint(task.state) if isinstance(task.state, dict) else None,
                "state": thread_state(task.state) if isinstance(task.state, StateSnapshot) else None,
                "result": jsonable(task.result),
            }
            for task in snapshot.tasks
        ],
        "metadata": jsonable(snapshot.metadata),
        "created_at": snapshot.created_at,
        "checkpoint": here,
        "parent_checkpoint": parent,
        "interrupts": [state_interrupt(i) for i in snapshot.interrupts],
        "checkpoint_id": here["checkpoint_id"] if here else None,
        "parent_checkpoint_id": parent["checkpoint_id"] if parent else None,
    }


def empty_state(thread_id: str) -> dict[str, Any]:
    """The state of a thread no run has written yet."""
    return thread_state(StateSnapshot({}, (), {"configurable": {"thread_id": thread_id}}, None, None, None, (), ()))
