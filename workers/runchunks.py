"""LangGraph stream chunks a LangGraph server API run asked for, written as ``stream.chunk`` events.

graphgate's own events (workers/runevents.py) carry what every channel needs. A run started through the
LangGraph server API may ask for more: ``values`` after every step, ``updates``, ``messages`` (every message
chunk, tool calls included), ``custom``, ``debug``, ``tasks``, ``checkpoints`` and ``events``, of the root
graph or, with ``subgraphs``, of its subgraphs too. Each chunk is written once, in the LangGraph server's
JSON form (graphgate/core/wirejson.py), as ``{"mode", "ns", "chunk"}``; the API turns them into SSE frames.

Every chunk has a dedupe key that a crashed run's replay computes again: the run (a resume is the next run of
the task), what the chunk follows in its namespace (the last task that started — LangGraph's task ids derive
from the checkpoint and step — or, before the first, the checkpoint the attempt starts from, which it reads
before it streams), the mode, what tells chunks of one step apart (node names, task ids), and a sequence
number.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler

from graphgate.core.events import EventType
from graphgate.core.wirejson import jsonable

Publish = Callable[[EventType, dict[str, Any], str], None]  # (event type, data, dedupe key)
PRIVATE_METADATA = ("graphgate_task_id", "graphgate_run")


class ChunkWriter:
    """Publishes the chunks of the requested ``modes``; called from the stream loop and from callbacks."""

    def __init__(self, publish: Publish, modes: tuple[str, ...], subgraphs: bool) -> None:
        self.publish, self.subgraphs = publish, subgraphs
        self.modes = {"messages" if m == "messages-tuple" else m for m in modes}  # both come from messages
        self._anchor: dict[tuple[str, ...], str] = {}
        self._run = 1
        self._seq: dict[str, int] = {}
        self._lock = threading.Lock()

    def stream_modes(self) -> list[str]:
        """The LangGraph stream modes the loop needs for these chunks (``events`` come from callbacks; the
        loop always streams ``tasks``, whose ids anchor the dedupe keys)."""
        return sorted(self.modes - {"events"})

    def anchor_at(self, run: int, checkpoint_id: str) -> None:
        """The task's run (1, then one more for each resume) and the root graph's checkpoint it starts from
        (its chunks until its first task starts follow it)."""
        self._run, self._anchor[()] = run, checkpoint_id

    def chunk(self, ns: tuple[str, ...], mode: str, chunk: Any) -> None:
        """One chunk of the stream loop (``tasks`` chunks always come, whether or not the run asked for them)."""
        if mode in self.modes:
            self._write(ns, mode, shape(mode, chunk), distinct(mode, chunk))
        if mode == "tasks" and "result" not in chunk:
            # a task starts: LangGraph's task ids come from the checkpoint and step, so the chunks that follow
            # get the same keys when a crashed run's step runs again
            self._anchor[ns] = f"task:{chunk.get('id')}"

    def message(self, ns: tuple[str, ...], message: Any, meta: dict[str, Any]) -> None:
        """A ``messages`` chunk: ``[message, metadata]``, keyed by its node and step."""
        shaped = [jsonable(message), public_metadata(meta)]
        self._write(ns, "messages", shaped, f"{meta.get('langgraph_step', '')}:{meta.get('langgraph_node', '')}")

    def event(self, event: dict[str, Any], meta: dict[str, Any]) -> None:
        """An ``events`` chunk (a callback event in ``astream_events`` v2 form, a subgraph's too, as the LangGraph
        server streams them), keyed by its namespace, step and node."""
        where = f"{meta.get('langgraph_checkpoint_ns', '')}:{meta.get('langgraph_step', '')}:{meta.get('langgraph_node', '')}"
        self._write((), "events", event, where)

    def _write(self, ns: tuple[str, ...], mode: str, chunk: Any, what: str) -> None:
        with self._lock:
            base = f"lg:{self._run}:{'|'.join(ns)}:{self._anchor.get(ns, '')}:{mode}:{what}"
            seq = self._seq.get(base, 0)
            self._seq[base] = seq + 1
        self.publish(EventType.STREAM_CHUNK, {"mode": mode, "ns": list(ns), "chunk": chunk}, f"{base}:{seq}")


def shape(mode: str, chunk: Any) -> Any:
    """A loop chunk as the LangGraph server sends it."""
    if mode == "debug" and isinstance(chunk, dict) and chunk.get("type") == "checkpoint":
        return {**jsonable(chunk), "payload": checkpoint_payload(chunk.get("payload") or {})}
    return jsonable(chunk)


def distinct(mode: str, chunk: Any) -> str:
    """What tells this chunk from others of its mode in one step (parallel nodes finish in any order)."""
    if mode == "updates" and isinstance(chunk, dict):
        return ",".join(sorted(map(str, chunk)))
    if mode == "tasks" and isinstance(chunk, dict):
        return f"{chunk.get('id')}:{'result' if 'result' in chunk else 'start'}"
    if mode == "debug" and isinstance(chunk, dict):
        payload = chunk.get("payload") or {}
        return f"{chunk.get('type')}:{payload.get('id', '') if isinstance(payload, dict) else ''}"
    return ""


def checkpoint_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """A debug checkpoint's payload with ``checkpoint``/``parent_checkpoint`` objects, as the LangGraph server
    adds them."""
    out = jsonable(payload)
    out["checkpoint"] = _checkpoint(out.get("config"))
    out["parent_checkpoint"] = _checkpoint(out.get("parent_config"))
    return out  # type: ignore[no-any-return]


def _checkpoint(config: Any) -> dict[str, Any] | None:
    conf = (config or {}).get("configurable") or {}
    if not conf.get("thread_id") or not conf.get("checkpoint_id"):
        return None
    out = {"checkpoint_id": conf["checkpoint_id"], "thread_id": conf["thread_id"]}
    if "checkpoint_ns" in conf:
        out["checkpoint_ns"] = conf["checkpoint_ns"] or ""
    if "checkpoint_map" in conf:
        out["checkpoint_map"] = conf["checkpoint_map"]
    return out


def public_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """A chunk's LangGraph metadata without graphgate's own bookkeeping keys, JSON-safe."""
    return jsonable({k: v for k, v in meta.items() if k not in PRIVATE_METADATA})  # type: ignore[no-any-return]


class StreamEvents(BaseCallbackHandler):
    """The ``events`` stream mode: LangChain callbacks as ``astream_events`` (v2) events.

    The worker runs graphs synchronously, so the events come from callbacks rather than from
    ``astream_events``: chain, chat model, LLM, tool and custom events with their run ids, parents, names,
    tags and metadata. ``on_chain_stream`` events (LangGraph's own stream, which the other modes carry) are
    not among them.
    """

    run_inline = True

    def __init__(self, writer: ChunkWriter) -> None:
        self.writer = writer
        self._runs: dict[UUID, tuple[str, list[str], dict[str, Any], list[str]]] = {}  # name, tags, meta, parents

    def _start(self, kind: str, run_id: UUID, parent: UUID | None, name: str, tags: Any, meta: Any, data: Any) -> None:
        parents = [*self._runs[parent][3], str(parent)] if parent in self._runs else []
        self._runs[run_id] = (name, list(tags or []), dict(meta or {}), parents)
        self._emit(f"on_{kind}_start", run_id, data)

    def _emit(self, event: str, run_id: UUID, data: dict[str, Any], end: bool = False) -> None:
        if run_id not in self._runs:
            return
        name, tags, meta, parents = self._runs.pop(run_id) if end else self._runs[run_id]
        body = {
            "event": event,
            "name": name,
            "run_id": str(run_id),
            "parent_ids": parents,
            "tags": tags,
            "metadata": public_metadata(meta),
            "data": jsonable(data),
        }
        self.writer.event(body, meta)

    def on_chain_start(self, serialized: Any, inputs: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                       tags: Any = None, metadata: Any = None, **kw: Any) -> None:  # fmt: skip
        name = kw.get("name") or (serialized or {}).get("name") or "chain"
        self._start("chain", run_id, parent_run_id, name, tags, metadata, {"input": inputs})

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kw: Any) -> None:
        self._emit("on_chain_end", run_id, {"output": outputs}, end=True)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kw: Any) -> None:
        self._runs.pop(run_id, None)  # an interrupt or a cancel unwinds chains: not an event of its own

    def on_chat_model_start(self, serialized: Any, messages: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                            tags: Any = None, metadata: Any = None, **kw: Any) -> None:  # fmt: skip
        name = kw.get("name") or (serialized or {}).get("name") or "chat_model"
        self._start("chat_model", run_id, parent_run_id, name, tags, metadata, {"input": {"messages": messages}})

    def on_llm_start(self, serialized: Any, prompts: Any, *, run_id: UUID, parent_run_id: UUID | None = None,
                     tags: Any = None, metadata: Any = None, **kw: Any) -> None:  # fmt: skip
        name = kw.get("name") or (serialized or {}).get("name") or "llm"
        self._start("llm", run_id, parent_run_id, name, tags, metadata, {"input": {"prompts": prompts}})

    def on_llm_new_token(self, token: str, *, chunk: Any = None, run_id: UUID, **kw: Any) -> None:
        message = getattr(chunk, "message", None)
        if message is not None:
            self._emit("on_chat_model_stream", run_id, {"chunk": message})
        else:
            self._emit("on_llm_stream", run_id, {"chunk": token})

    def on_llm_end(self, response: Any, *, run_id: UUID, **kw: Any) -> None:
        generations = getattr(response, "generations", None) or [[]]
        first = generations[0][0] if generations and generations[0] else None
        message = getattr(first, "message", None)
        if message is not None:
            self._emit("on_chat_model_end", run_id, {"output": message}, end=True)
        else:
            self._emit("on_llm_end", run_id, {"output": getattr(first, "text", None)}, end=True)

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kw: Any) -> None:
        self._runs.pop(run_id, None)

    def on_tool_start(self, serialized: Any, input_str: str, *, run_id: UUID, parent_run_id: UUID | None = None,
                      tags: Any = None, metadata: Any = None, inputs: Any = None, **kw: Any) -> None:  # fmt: skip
        name = kw.get("name") or (serialized or {}).get("name") or "tool"
        data = {"input": inputs if inputs is not None else input_str}
        self._start("tool", run_id, parent_run_id, name, tags, metadata, data)

    def on_tool_end(self, output: Any, *, run_id: UUID, **kw: Any) -> None:
        self._emit("on_tool_end", run_id, {"output": output}, end=True)

    def on_tool_error(self, error: BaseException, *, run_id: UUID, **kw: Any) -> None:
        self._emit("on_tool_error", run_id, {"error": f"{type(error).__name__}: {error}"}, end=True)

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, tags: Any = None, metadata: Any = None,
                        **kw: Any) -> None:  # fmt: skip
        body = {
            "event": "on_custom_event",
            "name": name,
            "run_id": str(run_id),
            "parent_ids": [],
            "tags": list(tags or []),
            "metadata": public_metadata(dict(metadata or {})),
            "data": jsonable(data),
        }
        self.writer.event(body, dict(metadata or {}))
