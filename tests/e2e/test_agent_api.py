"""A LangChain agent (create_agent + tools + HumanInTheLoopMiddleware) through the HTTP API, in real processes:
OpenAI-style input, tool approvals answered every way the API allows, tool events, several pending interrupts
and a conversation that remembers. The bundled example agent is a plain ``create_agent`` graph: nothing in it
knows graphgate."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from graphgate.testing.client import Api, Received, terminal_of

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "event.schema.json").read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
OFFLINE = "[offline model] "  # the example agent's deterministic stand-in labels every reply
EMAIL_ANN = {"messages": [{"role": "user", "content": "email ann@example.com the Q3 report"}]}


def _until_interrupt(task_id: str):  # type: ignore[no-untyped-def]
    return lambda e: e.task_id == task_id and e.type in ("interrupt", "task.failed", "task.completed")


def _start_and_wait_for_approval(api: Api, **body: object) -> tuple[dict, list[Received]]:
    created = api.create(graph="agent", input=EMAIL_ANN, **body)
    events = api.events(created["session_id"], _until_interrupt(created["task_id"]))
    assert events[-1].type == "interrupt", [e.type for e in events]
    return created, events


def test_openai_style_input_approval_and_tool_events(api: Api) -> None:
    created, events = _start_and_wait_for_approval(api)
    approval = events[-1].data
    assert approval["kind"] == "tool_approval" and approval["mode"] == "batched"
    assert approval["question"] == "Approve the tool call `send_email`?"
    [action] = approval["actions"]
    assert action["name"] == "send_email" and action["args"]["to"] == "ann@example.com"
    assert action["allowed_decisions"] == ["approve", "edit", "reject"]
    assert "ann@example.com" in action["description"]
    assert [o["value"] for o in approval["options"]] == ["approve", "reject"]
    task = api.get(created["task_id"])
    assert task["status"] == "waiting_input"
    assert [i["interrupt_id"] for i in task["interrupts"]] == [approval["interrupt_id"]]
    assert not [e for e in events if e.type == "tool.started"]  # nothing ran before the approval

    assert api.resume(created["task_id"], "approve").status_code == 202
    rest = api.events(created["session_id"], terminal_of(created["task_id"]), last_event_id=events[-1].id)
    for e in events + rest:
        VALIDATOR.validate(e.envelope)
    assert rest[-1].type == "task.completed", rest[-1].data
    resumed = next(e for e in rest if e.type == "task.resumed")
    assert resumed.data["answer"] == {"decisions": [{"type": "approve"}]}
    started = [e.data for e in rest if e.type == "tool.started"]
    completed = [e.data for e in rest if e.type == "tool.completed"]
    assert [(d["tool"], d["args"]["to"]) for d in started] == [("send_email", "ann@example.com")]
    assert [(d["tool"], d["status"]) for d in completed] == [("send_email", "success")]
    assert completed[0]["result"].startswith("Email to ann@example.com queued")
    assert started[0]["call_id"] == completed[0]["call_id"]
    text = rest[-1].data["text"]
    assert text.startswith(OFFLINE + "The email to ann@example.com is queued")
    # the answer streamed token by token, and only the model's words did (no tool result, no echoed input)
    streamed = "".join(e.data["text"] for e in rest if e.type == "message.delta")
    assert streamed == text and len([e for e in rest if e.type == "message.delta"]) > 3
    output = api.get(created["task_id"])["output"]
    assert [m["type"] for m in output["messages"]] == ["human", "ai", "tool", "ai"]
    assert output["messages"][1]["tool_calls"][0]["name"] == "send_email"


def test_the_middlewares_own_edit_decision_passes_through(api: Api) -> None:
    created, events = _start_and_wait_for_approval(api)
    args = {**events[-1].data["actions"][0]["args"], "to": "bob@example.com"}
    answer = {"decisions": [{"type": "edit", "edited_action": {"name": "send_email", "args": args}}]}
    assert api.resume(created["task_id"], answer, events[-1].data["interrupt_id"]).status_code == 202
    rest = api.events(created["session_id"], terminal_of(created["task_id"]), last_event_id=events[-1].id)
    assert next(e for e in rest if e.type == "task.resumed").data["answer"] == answer  # unchanged
    assert [e.data["args"]["to"] for e in rest if e.type == "tool.started"] == ["bob@example.com"]
    assert rest[-1].data["text"].startswith(OFFLINE + "The email to bob@example.com is queued")


def test_reject_with_a_reason_reaches_the_model(api: Api) -> None:
    created, events = _start_and_wait_for_approval(api)
    assert api.resume(created["task_id"], "reject: wrong recipient").status_code == 202
    rest = api.events(created["session_id"], terminal_of(created["task_id"]), last_event_id=events[-1].id)
    assert not [e for e in rest if e.type == "tool.started"]  # the tool never ran
    assert rest[-1].data["text"] == OFFLINE + (
        'The email to ann@example.com was not sent: the reviewer rejected it, saying "wrong recipient".'
    )


def test_answers_the_agent_would_refuse_are_422_and_change_nothing(api: Api) -> None:
    created, events = _start_and_wait_for_approval(api)
    before = api.get(created["task_id"])
    for answer, message in [
        ({"type": "respond", "message": "hi"}, "'respond' is not allowed for 'send_email'"),
        ({"decisions": [{"type": "approve"}, {"type": "approve"}]}, "2 decision(s) given for 1 tool call(s)"),
        ({"decisions": [{"type": "edit", "edited_action": {"name": "rm_rf", "args": {}}}]}, "not the tool"),
        ("edit to bob", "JSON object"),
    ]:
        resp = api.resume(created["task_id"], answer)
        assert resp.status_code == 422, resp.text
        assert message in resp.json()["error"]["message"]
    after = api.get(created["task_id"])
    assert after == before  # same status, same interrupt, same updated_at: nothing was written
    assert api.resume(created["task_id"], "approve", interrupt_id="not-pending").status_code == 409
    assert api.resume(created["task_id"], "approve").status_code == 202


def test_two_parallel_interrupts_answered_one_by_one(api: Api) -> None:
    created = api.create(graph="parallel", input={"request": "ship v2"})
    task_id, session = created["task_id"], created["session_id"]
    seen: list[Received] = []
    events = api.events(session, lambda e: (seen.append(e) or True) and sum(x.type == "interrupt" for x in seen) == 2)
    questions = [e.data for e in events if e.type == "interrupt"]
    assert sorted(q["question"].split(" ")[0] for q in questions) == ["Finance", "Legal"]
    assert [(q["index"], q["count"]) for q in questions] == [(0, 2), (1, 2)]
    by_reviewer = {q["value"]["reviewer"]: q["interrupt_id"] for q in questions}
    assert {i["interrupt_id"] for i in api.get(task_id)["interrupts"]} == set(by_reviewer.values())

    resp = api.resume(task_id, "approve")
    assert resp.status_code == 422 and "2 interrupts are pending" in resp.json()["error"]["message"]
    assert api.resume(task_id, "approve", by_reviewer["finance"]).status_code == 202
    task = api.get(task_id)
    assert task["status"] == "waiting_input"
    assert [i["interrupt_id"] for i in task["interrupts"]] == [by_reviewer["legal"]]
    assert api.resume(task_id, "reject", by_reviewer["finance"]).status_code == 409  # answered already

    assert api.resume(task_id, "approve", by_reviewer["legal"]).status_code == 202
    rest = api.events(session, terminal_of(task_id), last_event_id=events[-1].id)
    kinds = [e.type for e in rest]
    assert kinds.index("interrupt.answered") < kinds.index("task.resumed") < kinds.index("task.completed")
    assert rest[-1].data["text"] == "Request 'ship v2' is approved: legal chose approve, finance chose approve."


def test_the_conversation_continues_in_its_session(api: Api) -> None:
    first = api.create(graph="agent", input={"messages": "my name is Ann"})  # a plain string: coerced
    api.events(first["session_id"], terminal_of(first["task_id"]))
    second = api.create(
        graph="agent",
        session_id=first["session_id"],
        input={"messages": [{"type": "human", "content": "what did I say?"}]},
    )
    events = api.events(first["session_id"], terminal_of(second["task_id"]))
    assert (
        events[-1].data["text"]
        == OFFLINE + 'This is message 2 of our conversation. Earlier you said: "my name is Ann".'
    )


def test_input_the_agent_cannot_take_is_422(api: Api) -> None:
    resp = api.http.post(
        "/api/v1/tasks", json={"graph": "agent", "input": {"messages": [{"role": "robot", "content": "x"}]}}
    )
    assert resp.status_code == 422 and "Unexpected message type: 'robot'" in resp.json()["error"]["message"]
