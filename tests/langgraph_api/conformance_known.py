"""The differences between graphgate and ``langgraph dev`` that test_conformance.py expects, by key.

Each says why in one line and names its item of docs/langgraph-api.md's "Differences from the LangGraph
server" list. ``NOT_YET`` would mark a feature graphgate does not offer yet (none today); an entry with no item
would be a mismatch nobody has decided on yet: a candidate for a fix, or for the docs' list.
"""

from __future__ import annotations

from tests.langgraph_api.conformance import Known

# reasons shared by several keys
RUN_METADATA = "the LangGraph server adds its run's metadata (ids, langgraph_api_*/host/plan, created_by, run_attempt) and the thread's metadata to the config metadata; graphgate's workers do not"
CONFIGURABLE = "the LangGraph server's configurable holds its run, assistant and auth fields; graphgate's holds thread and checkpoint ids and its run mode"
WORKER_METADATA = "graphgate's workers write graphgate_task_id, graphgate_run (and mode) into the checkpoint metadata"
RUN_RECORD = "graphgate's run record holds the request's own fields: no langsmith_session_name, no filled-in kwargs"
RUN_METADATA_MERGE = "the LangGraph server copies the thread's metadata, graph_id, assistant_id and created_by into a run's metadata; graphgate keeps the caller's"
NEW_THREAD = "a thread that never ran: graphgate answers error/interrupts and values {}, the LangGraph server leaves them out and values null"
BEFORE_SHAPES = "graphgate takes the id and Checkpoint forms the SDK's type names; the LangGraph server only a checkpoint config (422 for an id, 500 for a Checkpoint)"

KNOWN: dict[str, Known] = {
    # assistants
    "assistants.get[graph name]: outcome": Known(
        "graphgate also takes a graph name (docs: Endpoints); the LangGraph server wants a UUID (422)", 16
    ),
    "assistants.get_schemas: keys only in graphgate at .config_schema": Known(
        "for a graph without a config schema the LangGraph server answers {}; graphgate an empty LangGraphConfig object",
        17,
    ),
    "assistants.get_graph: keys only in graphgate at .nodes[].data": Known(
        "graphgate's node data keeps LangChain's serialisation 'id' path; the LangGraph server drops it", 17
    ),
    "assistants.get_graph[xray]: keys only in graphgate at .nodes[].data": Known(
        "graphgate's node data keeps LangChain's serialisation 'id' path; the LangGraph server drops it", 17
    ),
    # threads
    "threads.create: keys only in graphgate at .": Known(NEW_THREAD, 17),
    "threads.create: type at .values": Known(NEW_THREAD, 17),
    "threads.get: keys only in graphgate at .": Known(NEW_THREAD, 17),
    "threads.get: type at .values": Known(NEW_THREAD, 17),
    "threads.search[sort_by=updated_at]: outcome": Known("thread search sorts newest-created first only", 10),
    "threads.get_state: keys only in graphgate at .metadata": Known(WORKER_METADATA, 18),
    "threads.get_state: keys only in langgraph at .metadata": Known(RUN_METADATA, 18),
    "threads.get_history[before=checkpoint_id]: outcome": Known(BEFORE_SHAPES, 16),
    "threads.get_history[before=checkpoint]: outcome": Known(BEFORE_SHAPES, 16),
    "threads.get_state[checkpoint_id]: keys only in graphgate at .checkpoint": Known(
        "at a checkpoint_id the LangGraph server's checkpoint object has no checkpoint_ns; graphgate's has ''", 17
    ),
    "threads.copy: keys only in graphgate at .": Known(
        "the LangGraph server answers the copy without values, error, interrupts; graphgate with them", 17
    ),
    # stream modes
    "runs.stream[messages-tuple]: keys only in langgraph at messages[]": Known(RUN_METADATA, 18),
    "runs.stream[messages]: keys only in langgraph at messages/metadata.lc_run--<id>.metadata": Known(RUN_METADATA, 18),
    "runs.stream[events]: frame names": Known("events come from callbacks: no on_chain_stream", 5),
    "runs.stream[events]: keys only in langgraph at events.metadata": Known(RUN_METADATA, 18),
    "runs.stream[debug]: keys only in graphgate at debug.payload.config.configurable": Known(CONFIGURABLE, 18),
    "runs.stream[debug]: keys only in langgraph at debug.payload.config.configurable": Known(CONFIGURABLE, 18),
    "runs.stream[debug]: keys only in graphgate at debug.payload.parent_config.configurable": Known(CONFIGURABLE, 18),
    "runs.stream[debug]: keys only in langgraph at debug.payload.parent_config.configurable": Known(CONFIGURABLE, 18),
    "runs.stream[debug]: keys only in graphgate at debug.payload.metadata": Known(WORKER_METADATA, 18),
    "runs.stream[debug]: keys only in langgraph at debug.payload.metadata": Known(RUN_METADATA, 18),
    "runs.stream[tasks]: keys only in graphgate at tasks.metadata": Known(WORKER_METADATA, 18),
    "runs.stream[tasks]: keys only in langgraph at tasks.metadata": Known(RUN_METADATA, 18),
    "runs.stream[checkpoints]: keys only in graphgate at checkpoints.config.configurable": Known(CONFIGURABLE, 18),
    "runs.stream[checkpoints]: keys only in langgraph at checkpoints.config.configurable": Known(CONFIGURABLE, 18),
    "runs.stream[checkpoints]: keys only in graphgate at checkpoints.parent_config.configurable": Known(
        CONFIGURABLE, 18
    ),
    "runs.stream[checkpoints]: keys only in langgraph at checkpoints.parent_config.configurable": Known(
        CONFIGURABLE, 18
    ),
    # the wire
    "runs.stream[wire]: status and headers: value at .location": Known(
        "graphgate's Location names the stream modes (docs: The stream); the LangGraph server's is the bare stream path",
        16,
    ),
    "runs.stream[wire]: frames with an id: value at .others[]": Known(
        "every graphgate frame but metadata carries its event id, so any stream resumes (docs: The stream)", 16
    ),
    # interrupts
    "interrupt: runs.get: value at .status": Known("a paused run is interrupted until answered", 2),
    "interrupt: the resume's run id is the paused run's: value at .": Known(
        "a resumed run keeps the paused run's id", 2
    ),
    "interrupt: runs.list: length at .": Known("a resumed run is one run, not two", 2),
    "interrupt: resume again: outcome": Known(
        "a resume with nothing waiting answers 409 (docs: Runs); the LangGraph server runs it", 16
    ),
    # runs
    "runs.create: keys only in langgraph at .": Known(RUN_RECORD, 18),
    "runs.create: keys only in langgraph at .metadata": Known(RUN_METADATA_MERGE, 18),
    "runs.create: keys only in langgraph at .kwargs": Known(RUN_RECORD, 18),
    "runs.create: keys only in langgraph at .kwargs.config": Known(RUN_RECORD, 18),
    "runs.create: keys only in graphgate at .kwargs.config.configurable": Known(CONFIGURABLE, 18),
    "runs.create: keys only in langgraph at .kwargs.config.configurable": Known(CONFIGURABLE, 18),
    "runs.get: keys only in langgraph at .metadata": Known(RUN_METADATA_MERGE, 18),
    "runs.cancel[wait]: type at .": Known(
        "cancel with wait=1 answers an empty body on graphgate, {} on the LangGraph server", 17
    ),
    "multitask[rollback]: runs.create: value at .multitask_strategy": Known(
        "the run replacing a rolled-back one reads interrupt", 6
    ),
    "multitask[rollback]: first run: outcome": Known("a run replaced by rollback stays listed as cancelled", 6),
    "multitask[rollback]: runs.list: length at .": Known("a run replaced by rollback stays listed as cancelled", 6),
    "busy: new input while interrupted: outcome": Known("a thread waiting for input is busy (409)", 4),
    "busy: another graph's run: outcome": Known("a thread runs one graph (409)", 3),
    "busy: threads.delete while running: outcome": Known("deleting a thread with a running run answers 409", 9),
    "errors: unknown assistant: value at .body keys[]": Known("graphgate's error envelope", 12),
    "errors: unknown thread: value at .body keys[]": Known("graphgate's error envelope", 12),
}
