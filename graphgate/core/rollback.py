"""Rolling a thread back to where it stood before a run: the LangGraph API's ``rollback`` (a cancel's action,
and a multitask strategy).

The checkpoints a run wrote carry its task id in their metadata (the workers put it there). Rolling back makes
the thread's newest checkpoint a copy of the one before the run's first (LangGraph's ``__copy__`` update), so
the next run starts from there; the rolled-back checkpoints stay in the history, on a branch nothing follows.
"""

from __future__ import annotations

from typing import Any


def roll_back(graph: Any, thread_id: str, task_id: str) -> bool:
    """Put ``thread_id`` back where it stood before task ``task_id`` ran (``graph``: the thread's graph, compiled
    with the checkpointer); False when the task wrote no checkpoint (nothing to undo)."""
    config = {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}
    theirs = list(graph.get_state_history(config, filter={"graphgate_task_id": task_id}))
    if not theirs:
        return False
    before = theirs[-1].parent_config  # the newest checkpoint before the run's first
    if before is None:  # the run began the thread: nothing stood before it
        graph.checkpointer.delete_thread(thread_id)
    else:
        graph.update_state(before, None, as_node="__copy__")
    return True
