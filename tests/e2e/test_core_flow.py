"""Whole flows through real processes: uvicorn API, Celery worker (prefork), Redis, SQLite checkpoints."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import jsonschema
import pytest

from graphgate.testing.client import TERMINAL, Api, Received, terminal_of

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "event.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)

ORIGINAL_README_BODY = {
    "topic": "人工智能在医疗诊断中的应用",
    "mode": "interactive",
    "config": {"target_audience": "医疗专业人士", "depth_level": "deep", "target_length": 3000},
}


def assert_schema(events: list[Received]) -> None:
    for e in events:
        VALIDATOR.validate(e.envelope)


def test_echo_runs_to_completion(api: Api) -> None:
    created = api.create(graph="echo", input={"text": "hello"})
    assert created["status"] == "queued"
    assert created["events_url"].endswith(f"/api/v1/events/{created['session_id']}")
    events = api.events(created["session_id"], terminal_of(created["task_id"]))
    assert_schema(events)
    types = [e.type for e in events]
    assert types[0] == "task.queued" and types[1] == "task.started" and types[-1] == "task.completed"
    assert [e.data["node"] for e in events if e.type == "node.completed"] == ["receive", "transform", "respond"]
    assert events[-1].data["text"] == "hello"
    ids = [tuple(map(int, e.id.split("-"))) for e in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    task = api.get(created["task_id"])
    assert task["status"] == "completed" and task["output"]["answer"] == "hello"
    assert task["finished_at"] >= task["created_at"]


def test_original_readme_request_interrupt_resume_completed(api: Api) -> None:
    created = api.create(**ORIGINAL_README_BODY)
    assert created["graph"] == "writer"
    task_id, session = created["task_id"], created["session_id"]
    task = api.get(task_id)
    assert task["input"] == {"topic": ORIGINAL_README_BODY["topic"]}  # unknown top-level fields go to input
    assert task["mode"] == "interactive" and task["config"]["target_audience"] == "医疗专业人士"

    events = api.events(session, lambda e: e.type == "interrupt")
    question = events[-1].data
    assert question["question"] == "Approve this outline?"
    assert [o["value"] for o in question["options"]] == ["approve", "revise"]
    waiting = api.get(task_id)
    assert waiting["status"] == "waiting_input" and waiting["interrupt"]["interrupt_id"] == question["interrupt_id"]

    resp = api.resume(task_id, "approve", question["interrupt_id"])
    assert resp.status_code == 202, resp.text
    rest = api.events(session, terminal_of(task_id), last_event_id=events[-1].id)
    assert_schema(events + rest)
    assert rest[0].type == "task.resumed" and rest[0].data["answer"] == "approve"
    final = rest[-1]
    assert final.type == "task.completed"
    article = final.data["output"]["article"]
    assert article.startswith("# ") and "人工智能在医疗诊断中的应用" in article
    assert 2000 <= len(article.split()) <= 4000
    deltas = "".join(e.data["text"] for e in rest if e.type == "message.delta" and e.data["node"] == "write")
    for section in final.data["output"]["sections"]:
        body = section["text"] if isinstance(section, dict) else section
        assert body.strip()[:200] in deltas  # the article was streamed before it was final
    assert {e.data["node"] for e in rest if e.type == "node.completed"} >= {"review", "write", "finalize"}


def test_last_event_id_resumes_without_gap_or_duplicate(api: Api) -> None:
    created = api.create(graph="writer", topic="tides", config={"target_length": 300})
    everything = api.events(created["session_id"], terminal_of(created["task_id"]))
    assert len(everything) > 20
    for cut in (0, 5, len(everything) // 2, len(everything) - 2):
        rest = api.events(created["session_id"], terminal_of(created["task_id"]), last_event_id=everything[cut].id)
        assert [e.id for e in rest] == [e.id for e in everything[cut + 1 :]]
    # the query parameter works like the header (EventSource cannot set headers on its first request)
    resp = api.http.get(
        f"/api/v1/events/{created['session_id']}",
        params={"last_event_id": "not-an-id"},
    )
    assert resp.status_code == 422


def test_live_events_arrive_while_the_task_runs(api: Api) -> None:
    created = api.create(graph="echo", input={"text": "slow", "sleep": 1.0})
    seen: list[tuple[str, float]] = []
    api.events(
        created["session_id"],
        terminal_of(created["task_id"]),
        on_event=lambda e: seen.append((e.type, time.monotonic())),
    )
    started = next(t for kind, t in seen if kind == "task.started")
    completed = next(t for kind, t in seen if kind == "task.completed")
    assert completed - started >= 0.9  # the first events were delivered before the run finished


def test_double_resume_one_wins(api: Api) -> None:
    created = api.create(graph="ask")
    events = api.events(created["session_id"], lambda e: e.type == "interrupt")
    interrupt_id = events[-1].data["interrupt_id"]
    results: list[int] = []
    barrier = threading.Barrier(2)

    def answer(name: str) -> None:
        barrier.wait()
        results.append(api.resume(created["task_id"], name, interrupt_id).status_code)

    threads = [threading.Thread(target=answer, args=(n,)) for n in ("Ada", "Grace")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [202, 409]
    final = api.events(created["session_id"], terminal_of(created["task_id"]))[-1]
    assert final.type == "task.completed"
    assert final.data["text"] in ("Nice to meet you, Ada!", "Nice to meet you, Grace!")
    resumed = [
        e for e in api.events(created["session_id"], terminal_of(created["task_id"])) if e.type == "task.resumed"
    ]
    assert len(resumed) == 1
    # a stale interrupt id is refused too
    assert api.resume(created["task_id"], "again", interrupt_id).status_code == 409


def test_resume_with_wrong_interrupt_id_changes_nothing(api: Api) -> None:
    created = api.create(graph="ask")
    api.events(created["session_id"], lambda e: e.type == "interrupt")
    resp = api.resume(created["task_id"], "Ada", "not-the-pending-one")
    assert resp.status_code == 409
    assert api.get(created["task_id"])["status"] == "waiting_input"
    assert api.resume(created["task_id"], None).status_code == 422


def test_cancel_running_task_stops_promptly(api: Api) -> None:
    created = api.create(graph="echo", input={"text": "x", "sleep": 30})
    # the sentinel: the first node is done, so the run is in the middle node's 30 s sleep
    before = api.events(created["session_id"], lambda e: e.type == "node.completed" and e.data["node"] == "receive")
    t0 = time.monotonic()
    resp = api.cancel(created["task_id"])
    assert resp.status_code == 202
    events = api.events(created["session_id"], terminal_of(created["task_id"]), last_event_id=before[-1].id)
    assert events[-1].type == "task.cancelled"
    # the sleep is inside one node: the run is stopped mid-node, not after 30 s
    assert time.monotonic() - t0 < 3
    assert [e for e in events if e.type == "node.completed"] == []  # the sleeping node never finished
    assert api.get(created["task_id"])["status"] == "cancelled"
    assert api.cancel(created["task_id"]).status_code == 409


def test_cancel_waiting_task(api: Api) -> None:
    created = api.create(graph="ask")
    api.events(created["session_id"], lambda e: e.type == "interrupt")
    assert api.cancel(created["task_id"]).status_code == 202
    assert api.get(created["task_id"])["status"] == "cancelled"
    assert api.resume(created["task_id"], "late").status_code == 409


def test_multitask_enqueue_runs_in_order(api: Api) -> None:
    first = api.create(graph="echo", input={"text": "one", "sleep": 0.5})
    second = api.create(graph="echo", input={"text": "two"}, session_id=first["session_id"])
    assert second["status"] == "queued"
    events = api.events(first["session_id"], terminal_of(second["task_id"]))
    order = [(e.task_id, e.type) for e in events if e.type in TERMINAL | {"task.started"}]
    assert order == [
        (first["task_id"], "task.started"),
        (first["task_id"], "task.completed"),
        (second["task_id"], "task.started"),
        (second["task_id"], "task.completed"),
    ]
    queued_second = next(e for e in events if e.type == "task.queued" and e.task_id == second["task_id"])
    assert queued_second.data["position"] == 1
    listed = api.http.get("/api/v1/tasks", params={"session_id": first["session_id"]}).json()["tasks"]
    assert [t["task_id"] for t in listed] == [second["task_id"], first["task_id"]]


def test_multitask_reject_and_interrupt(api: Api) -> None:
    first = api.create(graph="ask")
    session = first["session_id"]
    api.events(session, lambda e: e.type == "interrupt")
    resp = api.http.post("/api/v1/tasks", json={"graph": "ask", "session_id": session, "multitask": "reject"})
    assert resp.status_code == 409
    assert api.get(first["task_id"])["status"] == "waiting_input"  # refused request changed nothing

    second = api.create(graph="ask", session_id=session, multitask="interrupt")
    assert api.get(first["task_id"])["status"] == "cancelled"
    api.events(session, lambda e: e.type == "interrupt" and e.task_id == second["task_id"])
    assert api.resume(second["task_id"], "Lin").status_code == 202
    final = api.events(session, terminal_of(second["task_id"]))[-1]
    assert final.data["text"] == "Nice to meet you, Lin!"


def test_multitask_interrupt_cancels_running_task(api: Api) -> None:
    first = api.create(graph="echo", input={"text": "long", "sleep": 3})
    api.wait_status(first["task_id"], {"running"})
    second = api.create(graph="echo", input={"text": "now"}, session_id=first["session_id"], multitask="interrupt")
    events = api.events(first["session_id"], terminal_of(second["task_id"]))
    terminal = {e.task_id: e.type for e in events if e.type in TERMINAL}
    assert terminal == {first["task_id"]: "task.cancelled", second["task_id"]: "task.completed"}


def test_failing_graph_reports_failure_after_retries(api: Api) -> None:
    created = api.create(graph="echo", input={"text": "x", "fail": True})
    events = api.events(created["session_id"], terminal_of(created["task_id"]), timeout=60)
    assert_schema(events)
    retries = [e for e in events if e.type == "task.retrying"]
    assert len(retries) == 2  # GRAPHGATE_TASK_MAX_RETRIES default
    final = events[-1]
    assert final.type == "task.failed"
    assert final.data["error"] == {"kind": "RuntimeError", "message": "echo asked to fail"}
    assert "Traceback" not in json.dumps(final.envelope)
    # nodes that finished before the failure were not repeated by the retries
    assert [e.data["node"] for e in events if e.type == "node.completed"] == ["receive"]


def test_follow_up_task_continues_the_session(api: Api) -> None:
    first = api.create(graph="echo", input={"text": "one"})
    api.events(first["session_id"], terminal_of(first["task_id"]))
    second = api.create(graph="echo", input={"text": "two"}, session_id=first["session_id"])
    assert second["session_id"] == first["session_id"]
    final = api.events(first["session_id"], terminal_of(second["task_id"]))[-1]
    assert final.data["output"]["answer"] == "two"
    other = api.http.post("/api/v1/tasks", json={"graph": "ask", "session_id": first["session_id"]})
    assert other.status_code == 409  # a session belongs to one graph


@pytest.mark.parametrize("answer", ["revise: focus on radiology", {"action": "revise", "note": "shorter"}])
def test_writer_revision_loop(api: Api, answer: object) -> None:
    created = api.create(graph="writer", topic="sleep science", mode="interactive", config={"target_length": 300})
    first = api.events(created["session_id"], lambda e: e.type == "interrupt")[-1]
    assert api.resume(created["task_id"], answer).status_code == 202
    second = api.events(
        created["session_id"], lambda e: e.type == "interrupt" and e.id != first.id, last_event_id=first.id
    )[-1]
    assert second.data["value"]["outline"] != first.data["value"]["outline"]
    assert api.resume(created["task_id"], "approve").status_code == 202
    final = api.events(created["session_id"], terminal_of(created["task_id"]), last_event_id=second.id)[-1]
    assert final.type == "task.completed"
    assert api.get(created["task_id"])["run"] == 3
