"""The unchanged ``langgraph_sdk`` sync client against a real graphgate stack (Redis, an API process, a Celery
worker): assistants, threads, runs in every supported stream mode, interrupts answered with
``command={"resume": ...}``, wait, join, cancel, multitask, isolation between principals, bad input, and a
thread continued through /api/v1 as the same session.

The stack runs the bundled graphs (echo, ask, agent, writer) and ``progress`` (tests/langgraph_api/progress.py),
the one graph here that writes ``custom`` chunks.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client, get_sync_client
from langgraph_sdk._sync.client import SyncLangGraphClient
from langgraph_sdk.errors import ConflictError, InternalServerError, NotFoundError, UnprocessableEntityError

from graphgate.testing.client import Api
from graphgate.testing.stack import Stack, token
from graphgate.testing.waiting import wait_for

pytestmark = pytest.mark.integration

NAMESPACE_GRAPH = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


def sdk(server: Stack, sub: str) -> SyncLangGraphClient:
    return get_sync_client(url=server.url, api_key=None, headers={"Authorization": f"Bearer {token(sub)}"})


@pytest.fixture(scope="module")
def alice(server: Stack) -> SyncLangGraphClient:
    return sdk(server, "alice")


@pytest.fixture(scope="module")
def bob(server: Stack) -> SyncLangGraphClient:
    return sdk(server, "bob")


def parts(stream: Iterator[Any]) -> list[tuple[str, Any]]:
    return [(p.event, p.data) for p in stream]


def new_thread(client: SyncLangGraphClient, **metadata: Any) -> str:
    return str(client.threads.create(metadata=metadata or None)["thread_id"])


# --- assistants ------------------------------------------------------------------------------------------


def test_assistants_are_the_registered_graphs(alice: SyncLangGraphClient) -> None:
    every = alice.assistants.search(limit=100)
    assert {a["graph_id"] for a in every} == {"echo", "ask", "agent", "writer", "parallel", "progress", "nested"}
    ask = alice.assistants.search(graph_id="ask")
    assert [(a["graph_id"], a["assistant_id"]) for a in ask] == [("ask", str(uuid.uuid5(NAMESPACE_GRAPH, "ask")))]
    first, second = alice.assistants.search(limit=2), alice.assistants.search(limit=2, offset=2)
    assert len(first) == len(second) == 2 and not {a["graph_id"] for a in first} & {a["graph_id"] for a in second}

    by_name, by_id = alice.assistants.get("echo"), alice.assistants.get(str(uuid.uuid5(NAMESPACE_GRAPH, "echo")))
    assert by_name == by_id and by_name["graph_id"] == "echo" and by_name["metadata"] == {"created_by": "system"}

    schemas = alice.assistants.get_schemas("echo")
    assert schemas["graph_id"] == "echo"
    assert set(schemas["input_schema"]["properties"]) == {"text", "message", "sleep", "fail"}
    assert {"echo", "answer"} <= set(schemas["state_schema"]["properties"])
    drawn = alice.assistants.get_graph("echo")
    assert [n["id"] for n in drawn["nodes"]] == ["__start__", "receive", "transform", "respond", "__end__"]
    assert {"source": "transform", "target": "respond"} in [
        {"source": e["source"], "target": e["target"]} for e in drawn["edges"]
    ]

    with pytest.raises(NotFoundError, match="assistant 'nope' not found"):
        alice.assistants.get("nope")
    with pytest.raises(InternalServerError, match="registered in langgraph.json") as refused:
        alice.assistants.create(graph_id="echo")
    assert refused.value.status_code == 501


# --- threads ---------------------------------------------------------------------------------------------


def test_threads_are_the_callers_own_sessions(alice: SyncLangGraphClient, bob: SyncLangGraphClient) -> None:
    thread_id = str(uuid.uuid4())
    made = alice.threads.create(thread_id=thread_id, metadata={"topic": "lg", "n": 1})
    assert made["thread_id"] == thread_id and made["status"] == "idle" and made["metadata"] == {"topic": "lg", "n": 1}
    with pytest.raises(ConflictError, match="already exists"):
        alice.threads.create(thread_id=thread_id)
    assert alice.threads.create(thread_id=thread_id, if_exists="do_nothing")["created_at"] == made["created_at"]
    assert alice.threads.get(thread_id)["metadata"] == {"topic": "lg", "n": 1}

    second = new_thread(alice, topic="lg")
    other = new_thread(alice, topic="other")
    found = [t["thread_id"] for t in alice.threads.search(metadata={"topic": "lg"}, limit=10)]
    assert found == [second, thread_id]  # newest first
    assert [t["thread_id"] for t in alice.threads.search(metadata={"topic": "lg"}, limit=1, offset=1)] == [thread_id]
    assert [t["thread_id"] for t in alice.threads.search(ids=[other, thread_id])] == [other, thread_id]

    with pytest.raises(NotFoundError):
        bob.threads.get(thread_id)
    with pytest.raises(NotFoundError):
        bob.threads.get_state(thread_id)
    with pytest.raises(NotFoundError):
        bob.threads.delete(thread_id)
    with pytest.raises(ConflictError):  # the id is taken, by someone else: bob cannot have it
        bob.threads.create(thread_id=thread_id, if_exists="do_nothing")
    assert thread_id not in [t["thread_id"] for t in bob.threads.search(limit=100)]

    alice.threads.delete(thread_id)
    with pytest.raises(NotFoundError):
        alice.threads.get(thread_id)
    assert thread_id not in [t["thread_id"] for t in alice.threads.search(limit=100)]
    with pytest.raises(UnprocessableEntityError, match="session_id must be"):
        alice.threads.create(thread_id="no spaces allowed")


# --- runs and their streams ------------------------------------------------------------------------------


def test_a_run_streams_the_values_and_updates_of_every_step(alice: SyncLangGraphClient) -> None:
    thread_id = new_thread(alice)
    created: list[Any] = []
    stream = alice.runs.stream(
        thread_id, "echo", input={"text": " hi "}, stream_mode=["updates", "values"], on_run_created=created.append
    )
    got = parts(stream)
    run_id = got[0][1]["run_id"]
    assert got[0][0] == "metadata" and created == [{"run_id": run_id, "thread_id": thread_id}]
    assert got[1:] == [
        ("values", {"text": " hi "}),
        ("updates", {"receive": {"text": "hi"}}),
        ("values", {"text": "hi"}),
        ("updates", {"transform": {"echo": "hi"}}),
        ("values", {"text": "hi", "echo": "hi"}),
        ("updates", {"respond": {"answer": "hi"}}),
        ("values", {"text": "hi", "echo": "hi", "answer": "hi"}),
    ]
    run = alice.runs.get(thread_id, run_id)
    assert run["status"] == "success" and run["assistant_id"] == str(uuid.uuid5(NAMESPACE_GRAPH, "echo"))
    state = alice.threads.get_state(thread_id)
    assert state["values"] == {"text": "hi", "echo": "hi", "answer": "hi"} and state["next"] == []
    assert state["checkpoint"]["thread_id"] == thread_id and state["metadata"]["graphgate_task_id"] == run_id
    history = alice.threads.get_history(thread_id, limit=2)
    assert [h["checkpoint"]["checkpoint_id"] for h in history][0] == state["checkpoint"]["checkpoint_id"]
    older = alice.threads.get_history(thread_id, limit=10, before=history[0]["checkpoint"]["checkpoint_id"])
    assert older[0]["checkpoint"]["checkpoint_id"] == history[1]["checkpoint"]["checkpoint_id"]
    thread = alice.threads.get(thread_id)
    assert thread["status"] == "idle" and thread["values"]["answer"] == "hi"
    assert thread["metadata"] == {"graph_id": "echo", "assistant_id": run["assistant_id"]}


def test_messages_tuple_streams_the_models_text(alice: SyncLangGraphClient) -> None:
    thread_id = new_thread(alice)
    got = parts(
        alice.runs.stream(
            thread_id,
            "agent",
            input={"messages": [{"role": "user", "content": "hello there"}]},
            stream_mode=["messages-tuple", "values"],
        )
    )
    names = [event for event, _ in got]
    assert names[0] == "metadata" and names[-1] == "values" and set(names[1:-1]) == {"messages", "values"}
    chunks = [data for event, data in got if event == "messages"]
    assert all(c[0]["type"] == "AIMessageChunk" and c[1]["langgraph_node"] == "model" for c in chunks)
    assert all(c[1]["langgraph_step"] == 1 and c[1]["run_id"] == got[0][1]["run_id"] for c in chunks)
    assert len({c[0]["id"] for c in chunks}) == 1 and len(chunks) > 1
    final = got[-1][1]["messages"][-1]
    assert final["type"] == "ai" and "".join(c[0]["content"] for c in chunks) == final["content"]
    assert final["content"].startswith('[offline model] This is message 1 of our conversation. You said: "hello there"')


def test_custom_chunks_stream_as_written(alice: SyncLangGraphClient) -> None:
    thread_id = new_thread(alice)
    got = parts(alice.runs.stream(thread_id, "progress", input={"steps": 3}, stream_mode="custom"))
    assert got[1:] == [("custom", {"step": n, "of": 3}) for n in (1, 2, 3)]


def test_an_interrupt_is_answered_with_a_resume_command(alice: SyncLangGraphClient) -> None:
    thread_id = new_thread(alice)
    paused = parts(alice.runs.stream(thread_id, "ask", input={}, stream_mode=["updates", "values"]))
    asked = {"question": "What should I call you?"}
    assert [e for e, _ in paused] == ["metadata", "updates", "values"]  # the pause, in both modes
    streamed = paused[1][1]["__interrupt__"]
    assert [i["value"] for i in streamed] == [asked] and paused[2][1] == {"__interrupt__": streamed}
    assert streamed[0]["response_schema"] is None  # streams carry it (null: the graph gave none); states do not
    pending = [{"value": i["value"], "id": i["id"]} for i in streamed]

    state = alice.threads.get_state(thread_id)
    assert state["next"] == ["ask"] and state["interrupts"] == pending
    assert state["tasks"][0]["name"] == "ask" and state["tasks"][0]["interrupts"] == pending
    thread = alice.threads.get(thread_id)
    assert thread["status"] == "interrupted" and list(thread["interrupts"].values()) == [pending]
    run_id = paused[0][1]["run_id"]
    assert alice.runs.get(thread_id, run_id)["status"] == "interrupted"

    resumed = parts(alice.runs.stream(thread_id, "ask", command={"resume": "Ada"}, stream_mode="values"))
    assert resumed == [
        ("metadata", {"run_id": run_id, "attempt": 1}),  # the paused run goes on, under its own id
        ("values", {}),  # where it resumes from
        ("values", {"name": "Ada"}),
        ("values", {"name": "Ada", "answer": "Nice to meet you, Ada!"}),
    ]
    assert alice.runs.get(thread_id, run_id)["status"] == "success"
    with pytest.raises(ConflictError, match="no run waiting for input"):
        alice.runs.create(thread_id, "ask", command={"resume": "again"})


def test_several_interrupts_are_answered_by_their_ids(alice: SyncLangGraphClient) -> None:
    thread_id = new_thread(alice)
    paused = alice.runs.wait(thread_id, "parallel", input={"request": "buy a boat"})
    asks = {i["value"]["reviewer"]: i["id"] for i in paused["__interrupt__"]}
    assert set(asks) == {"legal", "finance"}
    half = parts(alice.runs.stream(thread_id, "parallel", command={"resume": {asks["legal"]: "approve"}}))
    # still paused, on the other interrupt: the thread's values and the pause at once
    assert [e for e, _ in half] == ["metadata", "values", "values"]
    assert [i["id"] for i in half[2][1]["__interrupt__"]] == [asks["finance"]]
    assert alice.threads.get(thread_id)["status"] == "interrupted"
    done = alice.runs.wait(thread_id, "parallel", command={"resume": {asks["finance"]: "approve"}})
    assert "__interrupt__" not in done
    assert done["answer"] == "Request 'buy a boat' is approved: legal chose approve, finance chose approve."


def test_a_tool_approval_is_answered_with_the_middlewares_decisions(alice: SyncLangGraphClient) -> None:
    thread_id = new_thread(alice)
    ask = {"messages": [{"role": "user", "content": "email ann@example.com the Q3 report"}]}
    paused = alice.runs.wait(thread_id, "agent", input=ask)
    (request,) = paused["__interrupt__"]
    assert [a["name"] for a in request["value"]["action_requests"]] == ["send_email"]
    done = alice.runs.wait(
        thread_id, "agent", command={"resume": {request["id"]: {"decisions": [{"type": "approve"}]}}}
    )
    assert "__interrupt__" not in done
    tool_results = [m["content"] for m in done["messages"] if m["type"] == "tool"]
    assert tool_results == ["Email to ann@example.com queued: Q3 report"]


def test_wait_and_a_background_run_joined(alice: SyncLangGraphClient) -> None:
    thread_id = new_thread(alice)
    assert alice.runs.wait(thread_id, "echo", input={"text": "one"}) == {"text": "one", "echo": "one", "answer": "one"}
    run = alice.runs.create(thread_id, "echo", input={"text": "two"}, metadata={"source": "test"})
    assert run["status"] == "pending" and run["metadata"] == {"source": "test"} and run["thread_id"] == thread_id
    assert alice.runs.join(thread_id, run["run_id"]) == {"text": "two", "echo": "two", "answer": "two"}
    runs = alice.runs.list(thread_id)
    assert [r["run_id"] for r in runs][0] == run["run_id"] and len(runs) == 2
    assert {r["status"] for r in runs} == {"success"}
    failed = alice.runs.wait(thread_id, "echo", input={"text": "x", "fail": True}, raise_error=False)
    assert failed == {"__error__": {"error": "RuntimeError", "message": "echo asked to fail"}}


def test_cancel_and_multitask_reject(alice: SyncLangGraphClient) -> None:
    thread_id = new_thread(alice)
    run = alice.runs.create(thread_id, "echo", input={"text": "slow", "sleep": 30})
    wait_for(lambda: alice.runs.get(thread_id, run["run_id"])["status"] == "running", 30, what="the run to start")
    with pytest.raises(ConflictError, match="busy"):
        alice.runs.create(thread_id, "echo", input={"text": "second"}, multitask_strategy="reject")
    assert [r["run_id"] for r in alice.runs.list(thread_id)] == [run["run_id"]]  # refused: nothing was added
    queued = alice.runs.create(thread_id, "echo", input={"text": "queued"})  # the default strategy: enqueue
    assert alice.runs.get(thread_id, queued["run_id"])["status"] == "pending"
    alice.runs.cancel(thread_id, queued["run_id"], wait=True)
    alice.runs.cancel(thread_id, run["run_id"], wait=True)
    assert alice.runs.get(thread_id, run["run_id"])["status"] == "interrupted"
    assert alice.threads.get(thread_id)["status"] == "interrupted"  # as the LangGraph server leaves it
    # the thread goes on from its checkpoint, where the state still holds sleep: 30 (echo keeps its input)
    assert alice.runs.wait(thread_id, "echo", input={"text": "after", "sleep": 0})["answer"] == "after"


def test_a_thread_goes_on_through_api_v1_as_the_same_session(server: Stack, alice: SyncLangGraphClient) -> None:
    thread_id = new_thread(alice)
    assert alice.runs.wait(thread_id, "echo", input={"text": "via sdk"})["answer"] == "via sdk"
    api = Api(server.url, "alice")
    task = api.create(graph="echo", session_id=thread_id, input={"text": "via api"})
    assert task["session_id"] == thread_id
    api.wait_status(task["task_id"], {"completed"})
    assert alice.threads.get_state(thread_id)["values"]["answer"] == "via api"
    runs = alice.runs.list(thread_id)
    assert len(runs) == 2 and runs[0]["run_id"] == task["task_id"] and runs[0]["status"] == "success"
    seen = api.events(thread_id, until=lambda e: e.type == "task.completed" and e.task_id == task["task_id"])
    assert [e.task_id for e in seen if e.type == "task.completed"] == [runs[1]["run_id"], task["task_id"]]


def test_bad_requests_are_refused_and_change_nothing(server: Stack, alice: SyncLangGraphClient) -> None:
    thread_id = new_thread(alice)
    with pytest.raises(NotFoundError, match="assistant 'nope' not found"):
        alice.runs.create(thread_id, "nope", input={})
    with pytest.raises(UnprocessableEntityError, match="stream_mode 'tools' is not supported"):
        parts(alice.runs.stream(thread_id, "echo", input={"text": "x"}, stream_mode=["values", "tools"]))
    with pytest.raises(UnprocessableEntityError, match="give input .a new run. or command, not both"):
        alice.runs.create(thread_id, "echo", input={"text": "x"}, command={"resume": "x"})
    with pytest.raises(UnprocessableEntityError, match="after_seconds: not supported"):
        alice.runs.create(thread_id, "echo", input={"text": "x"}, after_seconds=5)
    with pytest.raises(UnprocessableEntityError, match="command: only resume, goto and update"):
        alice.runs.create(thread_id, "echo", command={"resume": "x", "graph": "PARENT"})
    with pytest.raises(UnprocessableEntityError, match="config: callbacks not supported"):
        alice.runs.create(thread_id, "echo", input={"text": "x"}, config={"callbacks": []})
    with pytest.raises(UnprocessableEntityError, match="recursion_limit must be a positive integer"):
        alice.runs.create(thread_id, "echo", input={"text": "x"}, config={"recursion_limit": 0})
    with pytest.raises(NotFoundError, match="checkpoint 'nope' not found"):
        alice.runs.create(thread_id, "echo", input={"text": "x"}, checkpoint_id="nope")
    with pytest.raises(UnprocessableEntityError, match="input does not match graph 'echo'"):
        alice.runs.create(thread_id, "echo", input={"text": 5})
    with pytest.raises(NotFoundError, match="not found"):
        alice.runs.create(str(uuid.uuid4()), "echo", input={"text": "x"})
    with pytest.raises(NotFoundError):
        alice.runs.create("bad id!", "echo", input={"text": "x"})
    assert alice.runs.list(thread_id) == [] and alice.threads.get(thread_id)["status"] == "idle"

    made = alice.runs.create(str(uuid.uuid4()), "echo", input={"text": "new"}, if_not_exists="create")
    assert alice.runs.join(made["thread_id"], made["run_id"])["answer"] == "new"
    unmade = str(uuid.uuid4())
    with pytest.raises(ConflictError, match="no run waiting for input"):  # refused: the thread is not kept
        alice.runs.create(unmade, "echo", command={"resume": "x"}, if_not_exists="create")
    with pytest.raises(NotFoundError):
        alice.threads.get(unmade)

    raw = httpx.post(f"{server.url}/threads/{thread_id}/runs", json={"assistant_id": "echo", "input": {}})
    assert raw.status_code == 401  # no credentials at all
    with pytest.raises(UnprocessableEntityError, match="body.bogus: Extra inputs are not permitted"):
        alice.http.post(f"/threads/{thread_id}/runs", json={"assistant_id": "echo", "input": {}, "bogus": 1})
    assert alice.runs.list(thread_id) == []


def test_a_stream_resumes_after_the_last_event_id_it_saw(alice: SyncLangGraphClient) -> None:
    thread_id = new_thread(alice)
    first = list(alice.runs.stream(thread_id, "echo", input={"text": "again"}, stream_mode="updates"))
    run_id, cut = first[0].data["run_id"], first[1].id
    assert cut and [p.event for p in first] == ["metadata", "updates", "updates", "updates"]  # its own modes
    rest = alice.runs.join_stream(thread_id, run_id, stream_mode="updates", last_event_id=cut)
    assert [(p.event, p.data) for p in rest] == [(p.event, p.data) for p in first[2:]]
    assert parts(alice.runs.join_stream(thread_id, run_id)) == []  # it has stopped: nothing more comes
    replayed = parts(alice.runs.join_stream(thread_id, run_id, stream_mode="updates", last_event_id="-1"))
    assert replayed == [(p.event, p.data) for p in first]  # -1 (the JS SDK's default) replays it from its start


def test_the_async_client_works_the_same(server: Stack) -> None:
    async def scenario() -> tuple[list[str], dict[str, Any]]:
        client = get_client(url=server.url, api_key=None, headers={"Authorization": f"Bearer {token('carol')}"})
        thread = await client.threads.create()
        events = [p.event async for p in client.runs.stream(thread["thread_id"], "echo", input={"text": "async"})]
        return events, await client.threads.get(thread["thread_id"])

    events, thread = asyncio.run(scenario())
    assert events == ["metadata", "values", "values", "values", "values"] and thread["values"]["answer"] == "async"


def test_a_stream_closed_early_cancels_its_run_when_asked(alice: SyncLangGraphClient) -> None:
    thread_id = new_thread(alice)
    stream = alice.runs.stream(thread_id, "echo", input={"text": "bye", "sleep": 30}, on_disconnect="cancel")
    run_id = next(stream).data["run_id"]
    stream.close()
    wait_for(lambda: alice.runs.get(thread_id, run_id)["status"] == "interrupted", 30, what="the run to be cancelled")
