"""A graphgate task as a run of the LangGraph server API: its id, status and JSON shape.

The API's LangGraph routes answer runs in this shape (gateway/langgraph_api/shapes.py) and the workers post it
to a run's webhook (workers/webhooks.py), so both say the same about a run.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from graphgate.core.runoptions import RunOptions
from graphgate.core.store import TaskRecord, TaskStatus

NAMESPACE_GRAPH = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")  # the LangGraph server's, for the same ids
NAMESPACE_TRACE = uuid.UUID("0b6f3c8e-5a1d-4c7e-9a57-3f1f2d9c8e41")  # graphgate's own, for traced runs

RUN_STATUS = {
    TaskStatus.QUEUED: "pending",
    TaskStatus.RUNNING: "running",
    TaskStatus.WAITING_INPUT: "interrupted",  # stopped on interrupt(); a resume continues this same run
    TaskStatus.COMPLETED: "success",
    TaskStatus.FAILED: "error",
    TaskStatus.CANCELLED: "interrupted",  # cancelled on request, or replaced (multitask interrupt)
}


def iso(ts: float | None) -> str | None:
    return datetime.fromtimestamp(ts, tz=UTC).isoformat() if ts else None


def trace_run_id(record: TaskRecord) -> str:
    """The id of the root run a worker's attempt of ``record`` traces (LangSmith, any LangChain tracer): the
    same for the same task, run and attempt, so feedback on the task names the traced run that answered."""
    return str(uuid.uuid5(NAMESPACE_TRACE, f"{record.id}:{record.run}:{record.attempts}"))


def assistant_id(graph: str) -> str:
    return str(uuid.uuid5(NAMESPACE_GRAPH, graph))


def run_status(record: TaskRecord) -> str:
    if record.status == TaskStatus.FAILED and (record.error or {}).get("kind") == "timeout":
        return "timeout"
    return RUN_STATUS[record.status]


def run(record: TaskRecord) -> dict[str, Any]:
    out: dict[str, Any] = {
        "run_id": record.id,
        "thread_id": record.session_id,
        "assistant_id": assistant_id(record.graph),
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "status": run_status(record),
        "metadata": record.metadata or {},
        "multitask_strategy": record.multitask,
        "kwargs": kwargs(record),
    }
    if record.status == TaskStatus.CANCELLED:
        out["cancel_reason"] = "cancelled"
    return out


def kwargs(record: TaskRecord) -> dict[str, Any]:
    """What the run was started with, under the LangGraph server's names."""
    opts = RunOptions.from_dict(record.options)
    config: dict[str, Any] = {**opts.config, "configurable": {**record.config, "mode": record.mode}}
    out: dict[str, Any] = {"input": None if opts.from_checkpoint or opts.command else record.input, "config": config}
    if opts.command:
        out["command"] = {k: v for k, v in (("goto", opts.goto), ("update", opts.update)) if v is not None}
    named = {
        "stream_mode": list(opts.stream) or None,
        "subgraphs": opts.subgraphs or None,
        "interrupt_before": opts.interrupt_before,
        "interrupt_after": opts.interrupt_after,
        "context": opts.context,
        "durability": opts.durability,
        "checkpoint_id": opts.checkpoint_id,
        "webhook": opts.webhook,
    }
    return {**out, **{k: v for k, v in named.items() if v is not None}}
