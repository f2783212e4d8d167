"""What a running graph streams, as graphgate events: the translation from LangGraph's stream to the task's
event stream.

``tasks`` chunks become ``node.completed``, ``messages`` chunks from the model become ``message.delta``,
``custom`` chunks become ``custom``, and LangChain tool callbacks become ``tool.started``/``tool.completed``.
Every event carries a deterministic key (LangGraph's task id; node, step and sequence; the model's tool call
id), so a run resumed after a crash does not repeat in the stream what it had already written.

The stream also carries the graph's values after every step, so a run that ends without an interrupt or a
breakpoint settles on them without reading its state back from the checkpointer.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler

from graphgate.core.events import (
    AI_MESSAGE_TYPES,
    Event,
    EventType,
    content_text,
    to_jsonable,
)
from graphgate.core.runoptions import RunOptions
from graphgate.workers.runchunks import ChunkWriter, StreamEvents
from graphgate.workers.runstore import RunStore

MAX_UPDATE_CHARS = 16_000  # node updates larger than this are announced without their content
MAX_TOOL_CHARS = 2_000  # a tool event's arguments and result are cut to this many characters
STREAM_MODES = ["tasks", "messages", "custom", "values"]
INTERRUPT_KEY = "__interrupt__"  # LangGraph's: a values chunk with it is a pause, not the graph's state
NO_VALUES = object()


class RunEvents:
    """Writes the progress events of one attempt, under its lease (a lost lease raises ``LeaseLost``)."""

    def __init__(
        self,
        store: RunStore,
        task_id: str,
        session_id: str,
        token: str,
        bound: bool,
        options: RunOptions | None = None,
    ) -> None:
        self.store, self.task_id, self.session_id = store, task_id, session_id
        self.token = token
        self.bound = bound  # the task has a chat binding: its events also go to a delivery shard
        self.options = options or RunOptions()
        self._delta_seq: dict[tuple[Any, ...], int] = {}
        self.chunks = ChunkWriter(self._publish_chunk, self.options.stream, self.options.subgraphs)
        self.values: Any = NO_VALUES  # the root graph's values after its last step, as the stream carried them
        self.paused = False  # the stream showed an interrupt: its values are not where the run stops
        self._open: set[str] = set()  # root tasks started and not finished (a subgraph's breakpoint stops one)

    def callbacks(self) -> list[BaseCallbackHandler]:
        """The callback handlers to run the graph with, for the events callbacks carry (tools)."""
        handlers: list[BaseCallbackHandler] = [ToolEvents(self.publish)]
        if "events" in self.options.stream:
            handlers.append(StreamEvents(self.chunks))
        return handlers

    def stream(self, graph: Any, graph_input: Any, config: dict[str, Any], **kwargs: Any) -> None:
        """Run ``graph`` to its next stop, writing what it streams (``kwargs``: LangGraph's run options)."""
        opts = self.options
        modes = list(dict.fromkeys([*STREAM_MODES, *(self.chunks.stream_modes() if opts.stream else [])]))
        lg_messages = "messages" in self.chunks.modes
        self.values, self.paused = NO_VALUES, False
        self._open.clear()
        for item in graph.stream(graph_input, config, stream_mode=modes, subgraphs=opts.subgraphs, **kwargs):
            ns, mode, chunk = item if opts.subgraphs else ((), *item)
            if mode == "messages" and lg_messages:
                self.chunks.message(tuple(ns), *chunk)
            elif mode != "messages":
                self.chunks.chunk(tuple(ns), mode, chunk)
            if ns:
                continue  # graphgate's own events are the root graph's, as LangGraph streams without subgraphs
            if mode == "tasks":
                if "result" not in chunk:
                    self._open.add(chunk["id"])
                    continue
                self._open.discard(chunk["id"])
                if chunk.get("interrupts"):
                    self.paused = True
                elif not chunk.get("error"):
                    self.node_completed(chunk)
            elif mode == "values":
                if isinstance(chunk, dict) and INTERRUPT_KEY in chunk:
                    self.paused = True
                else:
                    self.values = chunk
            elif mode == "messages":
                self.message_delta(*chunk)
            elif mode == "custom":
                self.publish(EventType.CUSTOM, {"payload": to_jsonable(chunk)}, "")

    def end_values(self) -> Any:
        """The root graph's values where the last ``stream`` ended, when it ended with every task it started
        finished and no interrupt; else ``NO_VALUES`` (read the state from the checkpointer then)."""
        return NO_VALUES if self.paused or self._open else self.values

    def node_completed(self, chunk: dict[str, Any]) -> None:
        """``node.completed`` for a finished task chunk (``name``, ``id``, ``result``)."""
        update = to_jsonable(chunk.get("result"))
        data: dict[str, Any] = {"node": chunk["name"], "step_id": chunk["id"]}
        if len(repr(update)) <= MAX_UPDATE_CHARS:
            data["update"] = update
        else:
            data["update_omitted"] = True
        # LangGraph's task id is derived from the checkpoint, step and node: the same step re-run after a
        # crash has the same id, so the publisher writes its event only once
        self.publish(EventType.NODE_COMPLETED, data, f"node:{chunk['id']}")

    def message_delta(self, message: Any, meta: dict[str, Any]) -> None:
        """``message.delta`` for a piece of the model's text (tool results and echoed inputs are skipped)."""
        if getattr(message, "type", None) not in AI_MESSAGE_TYPES:
            return
        text = content_text(getattr(message, "content", ""), summarise=False)
        if not text:
            return
        node = meta.get("langgraph_node", "")
        step = meta.get("langgraph_step", 0)
        ns = meta.get("langgraph_checkpoint_ns", "")
        key = (ns, step, node)
        seq = self._delta_seq.get(key, 0)
        self._delta_seq[key] = seq + 1
        data = {"node": node, "text": text, "message_id": getattr(message, "id", None), "seq": seq}
        self.publish(EventType.MESSAGE_DELTA, data, f"delta:{ns}:{step}:{node}:{seq}")

    def publish(self, etype: EventType, data: dict[str, Any], dedupe_key: str) -> None:
        self.store.publish(Event(etype, self.task_id, self.session_id, data), dedupe_key, self.token, self.bound)

    def _publish_chunk(self, etype: EventType, data: dict[str, Any], dedupe_key: str) -> None:
        """A LangGraph stream chunk: for the API's LangGraph streams only, never for a chat's delivery."""
        self.store.publish(Event(etype, self.task_id, self.session_id, data), dedupe_key, self.token, False)


class ToolEvents(BaseCallbackHandler):
    """Announces each tool an agent runs: ``tool.started`` when it begins, ``tool.completed`` when it returns
    or fails. Keyed by the model's tool call id, so a step replayed after a crash announces nothing twice."""

    run_inline = True

    def __init__(self, publish: Any) -> None:
        self.publish = publish  # publish(event type, data, dedupe key)
        self._calls: dict[Any, tuple[str, str]] = {}

    def on_tool_start(
        self,
        serialized: dict[str, Any],
        input_str: str,
        *,
        run_id: Any,
        inputs: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        name = str((serialized or {}).get("name") or kwargs.get("name") or "tool")
        call_id = str(kwargs.get("tool_call_id") or run_id)
        self._calls[run_id] = (name, call_id)
        data = {
            "tool": name,
            "call_id": call_id,
            "args": cut(to_jsonable(inputs if inputs is not None else input_str)),
            "node": (metadata or {}).get("langgraph_node", ""),
        }
        self.publish(EventType.TOOL_STARTED, data, f"tool:start:{call_id}")

    def on_tool_end(self, output: Any, *, run_id: Any, **kwargs: Any) -> None:
        self._done(run_id, getattr(output, "status", None) or "success", getattr(output, "content", output))

    def on_tool_error(self, error: BaseException, *, run_id: Any, **kwargs: Any) -> None:
        self._done(run_id, "error", f"{type(error).__name__}: {error}")

    def _done(self, run_id: Any, status: str, result: Any) -> None:
        if run_id not in self._calls:
            return
        name, call_id = self._calls.pop(run_id)
        text = content_text(to_jsonable(result))
        data = {
            "tool": name,
            "call_id": call_id,
            "status": status,
            "result": cut(text if text is not None else to_jsonable(result)),
        }
        self.publish(EventType.TOOL_COMPLETED, data, f"tool:end:{call_id}")


def cut(value: Any) -> Any:
    """``value`` as is when its JSON is short, else its JSON text cut to ``MAX_TOOL_CHARS`` characters."""
    if isinstance(value, str):
        return value if len(value) <= MAX_TOOL_CHARS else value[: MAX_TOOL_CHARS - 1] + "…"
    text = json.dumps(value, ensure_ascii=False, default=str)
    return value if len(text) <= MAX_TOOL_CHARS else text[: MAX_TOOL_CHARS - 1] + "…"
