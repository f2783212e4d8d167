"""Graphs that misbehave on purpose, for the fault tests (registered in tests/reliability/langgraph.json).

- ``hang``: a node that never returns. It leaves a beacon (a file it touches every 50 ms) so a test can
  see whether the node really stopped; ``{"stubborn": true}`` makes it swallow every exception raised into
  it, so only the hard time limit ends it.
- ``flaky``: a node that raises ``RuntimeError`` on its first ``fail_times`` attempts (counted in a file),
  then succeeds.
"""

from __future__ import annotations

import time
from pathlib import Path

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict


class HangState(TypedDict, total=False):
    hang: bool
    beacon: str
    stubborn: bool
    done: bool


def hang_forever(state: HangState) -> HangState:
    if not state.get("hang", True):
        return {"done": True}
    beacon = Path(state["beacon"]) if state.get("beacon") else None
    while True:
        try:
            if beacon is not None:
                beacon.write_text(str(time.time()))
            time.sleep(0.05)
        except BaseException:
            if not state.get("stubborn"):
                raise


hang = StateGraph(HangState)
hang.add_node("hang_forever", hang_forever)
hang.add_edge(START, "hang_forever")
hang.add_edge("hang_forever", END)


class FlakyState(TypedDict, total=False):
    counter: str
    fail_times: int
    answer: str


def prepare(state: FlakyState) -> FlakyState:
    return {}


def attempt(state: FlakyState) -> FlakyState:
    counter = Path(state["counter"])
    tries = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(tries + 1))
    if tries < int(state.get("fail_times", 0)):
        raise RuntimeError(f"flaky failure {tries + 1}")
    return {"answer": f"ok after {tries + 1} attempts"}


flaky = StateGraph(FlakyState)
flaky.add_node("prepare", prepare)
flaky.add_node("attempt", attempt)
flaky.add_edge(START, "prepare")
flaky.add_edge("prepare", "attempt")
flaky.add_edge("attempt", END)
