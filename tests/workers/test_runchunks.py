"""LangGraph stream chunks as ``stream.chunk`` events (workers/runchunks.py), in-process: a crashed run's replay
writes each chunk under the key it had, so nothing repeats; a resume is a new run and repeats nothing either."""

from __future__ import annotations

from typing import Any

from graphgate.core.events import EventType
from graphgate.workers.runchunks import ChunkWriter


class Keys:
    """A publish that records what it was given."""

    def __init__(self) -> None:
        self.written: list[tuple[str, str, Any]] = []

    def __call__(self, etype: EventType, data: dict[str, Any], key: str) -> None:
        assert etype == EventType.STREAM_CHUNK
        self.written.append((key, data["mode"], data["chunk"]))


def step(writer: ChunkWriter, task: str, node: str, update: dict[str, Any], values: dict[str, Any]) -> None:
    """One LangGraph step as the stream loop sees it: the task starts, its update, its result, the values."""
    writer.chunk((), "tasks", {"id": task, "name": node, "input": {}})
    writer.chunk((), "updates", {node: update})
    writer.chunk((), "tasks", {"id": task, "name": node, "result": update})
    writer.chunk((), "values", values)


def test_a_replay_from_the_last_checkpoint_writes_the_same_keys() -> None:
    first = Keys()
    attempt = ChunkWriter(first, ("values", "updates"), subgraphs=False)
    attempt.anchor_at(1, "checkpoint-0")
    attempt.chunk((), "values", {"text": "hi"})  # the input, before any task
    step(attempt, "task-a", "receive", {"text": "hi"}, {"text": "hi"})
    step(attempt, "task-b", "transform", {"echo": "hi"}, {"text": "hi", "echo": "hi"})  # then the worker died

    again = Keys()
    replay = ChunkWriter(again, ("values", "updates"), subgraphs=False)
    replay.anchor_at(1, "checkpoint-1")  # step 1 was committed; step 2 (task-b) runs again
    step(replay, "task-b", "transform", {"echo": "hi"}, {"text": "hi", "echo": "hi"})
    step(replay, "task-c", "respond", {"answer": "hi"}, {"text": "hi", "echo": "hi", "answer": "hi"})

    before = {key for key, _, _ in first.written}
    repeated = [(mode, chunk) for key, mode, chunk in again.written if key in before]
    new = [(mode, chunk) for key, mode, chunk in again.written if key not in before]
    assert repeated == [("updates", {"transform": {"echo": "hi"}}), ("values", {"text": "hi", "echo": "hi"})]
    assert new == [("updates", {"respond": {"answer": "hi"}}), ("values", {"text": "hi", "echo": "hi", "answer": "hi"})]
    assert len({key for key, _, _ in first.written}) == len(first.written)  # every chunk of a run has its own key


def test_a_resume_is_a_new_run_whose_chunks_are_all_written() -> None:
    paused, resumed = Keys(), Keys()
    first = ChunkWriter(paused, ("values",), subgraphs=False)
    first.anchor_at(1, "checkpoint-3")
    first.chunk((), "values", {"__interrupt__": [{"value": "Name?", "id": "i"}]})
    second = ChunkWriter(resumed, ("values",), subgraphs=False)
    second.anchor_at(2, "checkpoint-3")  # the same checkpoint, the task's next run
    second.chunk((), "values", {})
    assert {k for k, _, _ in paused.written}.isdisjoint({k for k, _, _ in resumed.written})
