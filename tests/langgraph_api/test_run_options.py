"""The LangGraph server API's run options against a real graphgate stack, with the unchanged ``langgraph_sdk``
and ``RemoteGraph``: the stream modes the workers publish as LangGraph chunks (values per step, debug, tasks,
checkpoints, events, full messages, subgraphs), breakpoints, context, forks, commands, ``update_state``,
stateless runs, webhooks, rollback, and the thread and run calls that go with them.

``nested`` (tests/langgraph_api/nested.py) is the graph with a subgraph and a runtime context.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from langgraph.pregel.remote import RemoteGraph
from langgraph_sdk import get_sync_client
from langgraph_sdk._sync.client import SyncLangGraphClient
from langgraph_sdk.errors import ConflictError, NotFoundError, UnprocessableEntityError

from graphgate.core import webhooks
from graphgate.testing.stack import Stack, token
from graphgate.testing.waiting import wait_for
from graphgate.testing.webhooks import Receiver
from tests.langgraph_api.conftest import WEBHOOK_SECRET

pytestmark = pytest.mark.integration

TOPIC = {"topic": "owls"}
FINAL = "draft from outline of owls, signed graphgate"


@pytest.fixture(scope="module")
def client(server: Stack) -> SyncLangGraphClient:
    return get_sync_client(url=server.url, api_key=None, headers={"Authorization": f"Bearer {token('dora')}"})


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.server.shutdown()


def parts(stream: Iterator[Any]) -> list[tuple[str, Any]]:
    return [(p.event, p.data) for p in stream]


def thread(client: SyncLangGraphClient) -> str:
    return str(client.threads.create()["thread_id"])


def lineage(client: SyncLangGraphClient, thread_id: str) -> list[dict[str, Any]]:
    """The thread's states from the newest back along its parents (the branch it is on), newest first."""
    by_id = {h["checkpoint"]["checkpoint_id"]: h for h in client.threads.get_history(thread_id, limit=200)}
    state: dict[str, Any] | None = client.threads.get_history(thread_id, limit=1)[0]
    out = []
    while state is not None:
        out.append(state)
        parent = state["parent_checkpoint"]
        state = by_id.get(parent["checkpoint_id"]) if parent else None
    return out


# --- stream modes the workers publish -------------------------------------------------------------------


def test_values_updates_and_custom_stream_step_by_step_with_subgraphs(client: SyncLangGraphClient) -> None:
    got = parts(
        client.runs.stream(
            thread(client), "nested", input=TOPIC, stream_mode=["values", "updates", "custom"], stream_subgraphs=True
        )
    )
    names = [e for e, _ in got]
    inner = [n for n in names if "|" in n]
    assert inner and all(n.split("|")[1].startswith("draft:") for n in inner)  # the subgraph's namespace
    assert {n.split("|")[0] for n in inner} == {"values", "updates", "custom"}
    root = [(e, d) for e, d in got if "|" not in e and e != "metadata"]
    assert [d for e, d in root if e == "updates"] == [
        {"plan": {"outline": "outline of owls"}},
        {"draft": {"topic": "owls", "outline": "outline of owls", "draft": "draft from outline of owls"}},
        {"review": {"final": FINAL}},
    ]
    values = [d for e, d in root if e == "values"]
    assert values[0] == TOPIC and values[-1]["final"] == FINAL and len(values) == 4  # input, then each step
    (custom,) = [d for e, d in got if e.startswith("custom|")]
    assert custom == {"writing": "outline of owls"}


def test_debug_tasks_and_checkpoints_modes(client: SyncLangGraphClient) -> None:
    thread_id = thread(client)
    got = parts(
        client.runs.stream(thread_id, "echo", input={"text": "hi"}, stream_mode=["debug", "tasks", "checkpoints"])
    )
    debug = [d for e, d in got if e == "debug"]
    assert {d["type"] for d in debug} == {"checkpoint", "task", "task_result"}
    assert all(d["payload"]["checkpoint"]["thread_id"] == thread_id for d in debug if d["type"] == "checkpoint")
    tasks = [d for e, d in got if e == "tasks"]
    assert [t["name"] for t in tasks if "result" in t] == ["receive", "transform", "respond"]
    checkpoints = [d for e, d in got if e == "checkpoints"]
    assert [c["metadata"]["step"] for c in checkpoints] == [-1, 0, 1, 2, 3]
    assert checkpoints[-1]["values"]["answer"] == "hi"
    newest = client.threads.get_state(thread_id)["checkpoint"]["checkpoint_id"]
    assert checkpoints[-1]["config"]["configurable"]["checkpoint_id"] == newest


def test_events_mode_streams_callback_events(client: SyncLangGraphClient) -> None:
    got = parts(
        client.runs.stream(
            thread(client), "agent", input={"messages": [{"role": "user", "content": "hi"}]}, stream_mode="events"
        )
    )
    kinds = [d["event"] for e, d in got if e == "events"]
    assert "on_chain_start" in kinds and "on_chain_end" in kinds and "on_chat_model_stream" in kinds
    model = next(d for e, d in got if e == "events" and d["event"] == "on_chat_model_end")
    assert model["data"]["output"]["content"].startswith("[offline model]") and model["parent_ids"]


def test_messages_mode_sends_metadata_partial_and_complete(client: SyncLangGraphClient) -> None:
    ask = {"messages": [{"role": "user", "content": "what is 12*7+1?"}]}
    got = parts(client.runs.stream(thread(client), "agent", input=ask, stream_mode="messages"))
    names = {e for e, _ in got}
    assert {"messages/metadata", "messages/partial", "messages/complete"} <= names
    tool = [d[0] for e, d in got if e == "messages/complete" and d[0]["type"] == "tool"]
    assert tool and tool[0]["content"] == "12*7+1 = 85"  # the calculator's result, as a whole message
    partial = [d[0] for e, d in got if e == "messages/partial"]
    assert partial[-1]["content"].startswith("[offline model]")  # the model's text so far, added up


def test_a_resume_streams_the_modes_it_asks_for(client: SyncLangGraphClient) -> None:
    thread_id = thread(client)
    paused = parts(client.runs.stream(thread_id, "ask", input={}, stream_mode="updates"))
    assert paused[-1][0] == "updates" and "__interrupt__" in paused[-1][1]
    resumed = parts(client.runs.stream(thread_id, "ask", command={"resume": "Ada"}, stream_mode=["values", "debug"]))
    names = [e for e, _ in resumed]
    assert {"values", "debug"} <= set(names) and "updates" not in names
    assert [d for e, d in resumed if e == "values"][-1] == {"name": "Ada", "answer": "Nice to meet you, Ada!"}
    assert len([e for e in names if e == "values"]) == 3  # where it resumes from, then each step


def test_remote_graph_streams_and_invokes(server: Stack) -> None:
    remote = RemoteGraph("echo", url=server.url, headers={"Authorization": f"Bearer {token('dora')}"})
    config = {"configurable": {"thread_id": str(uuid.uuid4())}}
    chunks = list(remote.stream({"text": "remote"}, config, stream_mode="updates"))  # (it makes the thread)
    assert chunks[-1] == {"respond": {"answer": "remote"}}
    assert remote.invoke({"text": "again"}, config)["answer"] == "again"
    assert remote.get_state(config).values["answer"] == "again"


# --- breakpoints, context, forks, commands, state -----------------------------------------------------------


def test_a_breakpoint_stops_the_run_and_a_run_without_input_goes_on(client: SyncLangGraphClient) -> None:
    thread_id = thread(client)
    stopped = client.runs.wait(thread_id, "nested", input=TOPIC, interrupt_before=["review"])
    assert "final" not in stopped and stopped["draft"] == "draft from outline of owls"
    assert client.threads.get_state(thread_id)["next"] == ["review"]
    assert client.threads.get(thread_id)["status"] == "interrupted"
    done = client.runs.wait(thread_id, "nested", input=None, context={"signature": "Ann"})
    assert done["final"] == "draft from outline of owls, signed Ann"  # the runtime context reached the node
    assert client.threads.get(thread_id)["status"] == "idle"


def test_update_state_as_a_node_then_go_on(client: SyncLangGraphClient) -> None:
    thread_id = thread(client)
    client.runs.wait(thread_id, "nested", input=TOPIC, interrupt_after=["plan"])
    written = client.threads.update_state(thread_id, {"outline": "a better outline"}, as_node="plan")
    state = client.threads.get_state(thread_id)
    assert state["checkpoint"]["checkpoint_id"] == written["checkpoint"]["checkpoint_id"]
    assert state["values"]["outline"] == "a better outline" and state["next"] == ["draft"]
    done = client.runs.wait(thread_id, "nested", input=None)
    assert done["final"] == "draft from a better outline, signed graphgate"
    with pytest.raises(UnprocessableEntityError, match="the update was refused"):
        client.threads.update_state(thread_id, {"outline": "x"}, as_node="no-such-node")
    with pytest.raises(ConflictError, match="no graph yet"):
        client.threads.update_state(thread(client), {"outline": "x"})


def test_a_run_forks_from_an_earlier_checkpoint(client: SyncLangGraphClient) -> None:
    thread_id = thread(client)
    client.runs.wait(thread_id, "echo", input={"text": "first"})
    client.runs.wait(thread_id, "echo", input={"text": "second"})
    history = client.threads.get_history(thread_id, limit=20)
    first_done = next(h for h in history if h["values"].get("answer") == "first" and not h["next"])
    forked = client.runs.wait(
        thread_id, "echo", input={"text": "fork"}, checkpoint_id=first_done["checkpoint"]["checkpoint_id"]
    )
    assert forked["answer"] == "fork"
    branch = [h["checkpoint"]["checkpoint_id"] for h in lineage(client, thread_id)]
    assert first_done["checkpoint"]["checkpoint_id"] in branch  # the new branch grows from the fork point
    assert "second" not in [h["values"].get("text") for h in lineage(client, thread_id)]


def test_a_command_with_goto_and_update(client: SyncLangGraphClient) -> None:
    thread_id = thread(client)
    client.runs.wait(thread_id, "nested", input=TOPIC)
    done = client.runs.wait(thread_id, "nested", command={"update": {"draft": "a new draft"}, "goto": "review"})
    assert done["final"] == "a new draft, signed graphgate"


def test_config_and_metadata_reach_the_graph(client: SyncLangGraphClient) -> None:
    thread_id = thread(client)
    run = client.runs.create(
        thread_id, "echo", input={"text": "x"}, metadata={"ticket": "T-1"}, config={"tags": ["t"], "recursion_limit": 9}
    )
    client.runs.join(thread_id, run["run_id"])
    state = client.threads.get_state(thread_id)
    assert state["metadata"]["ticket"] == "T-1"  # run metadata is in the checkpoints' metadata
    assert client.threads.get_history(thread_id, metadata={"ticket": "T-1"}, limit=1)
    assert client.runs.get(thread_id, run["run_id"])["kwargs"]["config"]["recursion_limit"] == 9
    limited = client.runs.wait(thread_id, "echo", input={"text": "x"}, config={"recursion_limit": 1}, raise_error=False)
    assert limited["__error__"]["error"] == "GraphRecursionError"


# --- threads and runs ----------------------------------------------------------------------------------------


def test_thread_metadata_copy_and_run_delete(client: SyncLangGraphClient) -> None:
    thread_id = str(client.threads.create(metadata={"a": 1})["thread_id"])
    assert client.threads.update(thread_id, metadata={"b": 2})["metadata"] == {"a": 1, "b": 2}
    run = client.runs.create(thread_id, "echo", input={"text": "copied"})
    client.runs.join(thread_id, run["run_id"])
    copy = client.threads.copy(thread_id)
    assert copy["thread_id"] != thread_id and copy["metadata"]["a"] == 1 and copy["values"]["answer"] == "copied"
    assert len(client.threads.get_history(copy["thread_id"], limit=50)) == len(
        client.threads.get_history(thread_id, limit=50)
    )
    assert client.runs.wait(copy["thread_id"], "echo", input={"text": "on the copy"})["answer"] == "on the copy"
    client.runs.delete(thread_id, run["run_id"])
    assert client.runs.list(thread_id) == []
    with pytest.raises(NotFoundError):
        client.runs.get(thread_id, run["run_id"])


def test_stateless_runs_use_a_thread_of_their_own(client: SyncLangGraphClient) -> None:
    assert client.runs.wait(None, "echo", input={"text": "no thread"})["answer"] == "no thread"
    got = parts(client.runs.stream(None, "echo", input={"text": "streamed"}, stream_mode="updates"))
    assert got[-1] == ("updates", {"respond": {"answer": "streamed"}})
    kept = client.runs.wait(None, "echo", input={"text": "kept"}, on_completion="keep")
    assert kept["answer"] == "kept"
    threads = client.threads.search(limit=100)
    assert [
        t["values"]["answer"] for t in threads if t["values"].get("answer") in ("no thread", "streamed", "kept")
    ] == ["kept"]  # the others were deleted when their runs stopped
    batch = client.runs.create_batch([{"assistant_id": "echo", "input": {"text": f"b{n}"}} for n in range(3)])
    assert len({r["thread_id"] for r in batch}) == 3


# --- multitask rollback, cancel rollback, webhooks ---------------------------------------------------------


def test_interrupt_and_enqueue_strategies(client: SyncLangGraphClient) -> None:
    thread_id = thread(client)
    slow = client.runs.create(thread_id, "echo", input={"text": "slow", "sleep": 30})
    wait_for(lambda: client.runs.get(thread_id, slow["run_id"])["status"] == "running", 20)
    queued = client.runs.create(thread_id, "echo", input={"text": "queued", "sleep": 0}, multitask_strategy="enqueue")
    assert client.runs.get(thread_id, queued["run_id"])["status"] == "pending"
    # (echo keeps its input in the state: each run says sleep 0, or it would sleep the slow run's 30 s)
    now = client.runs.wait(thread_id, "echo", input={"text": "now", "sleep": 0}, multitask_strategy="interrupt")
    assert now["answer"] == "now"  # the running run was cancelled; the new one ran before the queued one
    assert client.runs.get(thread_id, slow["run_id"])["status"] == "interrupted"
    assert client.runs.join(thread_id, queued["run_id"])["answer"] == "queued"


def test_rollback_undoes_what_the_replaced_run_wrote(client: SyncLangGraphClient) -> None:
    thread_id = thread(client)
    client.runs.wait(thread_id, "echo", input={"text": "kept"})
    slow = client.runs.create(thread_id, "echo", input={"text": "undone", "sleep": 30})
    wait_for(lambda: client.runs.get(thread_id, slow["run_id"])["status"] == "running", 20)
    wait_for(lambda: client.threads.get_state(thread_id)["values"].get("text") == "undone", 20)
    after = client.runs.wait(thread_id, "echo", input={"text": "new"}, multitask_strategy="rollback")
    assert after["answer"] == "new"
    texts = [h["values"].get("text") for h in lineage(client, thread_id)]
    assert "kept" in texts and "undone" not in texts  # the new run grew from the state before the undone one

    slow = client.runs.create(thread_id, "echo", input={"text": "cancelled", "sleep": 30})
    wait_for(lambda: client.threads.get_state(thread_id)["values"].get("text") == "cancelled", 20)
    client.runs.cancel(thread_id, slow["run_id"], action="rollback")
    assert client.threads.get_state(thread_id)["values"]["answer"] == "new"
    with pytest.raises(NotFoundError):
        client.runs.get(thread_id, slow["run_id"])  # a rolled-back run is deleted


def test_cancel_many_by_ids_and_by_status(server: Stack) -> None:
    mine = get_sync_client(url=server.url, api_key=None, headers={"Authorization": f"Bearer {token('erin')}"})
    first, second = thread(mine), thread(mine)
    slow = [mine.runs.create(t, "echo", input={"text": "slow", "sleep": 30}) for t in (first, second)]
    wait_for(lambda: all(mine.runs.get(r["thread_id"], r["run_id"])["status"] == "running" for r in slow), 20)
    mine.runs.cancel_many(thread_id=first, run_ids=[slow[0]["run_id"]])
    wait_for(lambda: mine.runs.get(first, slow[0]["run_id"])["status"] == "interrupted", 20)
    assert mine.runs.get(second, slow[1]["run_id"])["status"] == "running"
    mine.runs.cancel_many(status="running")
    wait_for(lambda: mine.runs.get(second, slow[1]["run_id"])["status"] == "interrupted", 20)
    with pytest.raises(UnprocessableEntityError, match="give thread_id with run_ids, or a status"):
        mine.runs.cancel_many(run_ids=[slow[0]["run_id"]])


def test_a_webhook_gets_the_finished_run_signed_and_retried(client: SyncLangGraphClient, receiver: Receiver) -> None:
    thread_id = thread(client)
    receiver.fail_first = 1  # the first POST is answered 503: the worker tries again
    run = client.runs.create(thread_id, "echo", input={"text": "hook"}, webhook=receiver.url)
    posted = wait_for(lambda: [p.body for p in receiver.accepted(lambda b: b.get("run_id") == run["run_id"])], 30)
    (body,) = posted
    assert body["status"] == "success" and body["values"]["answer"] == "hook" and body["thread_id"] == thread_id
    [post] = receiver.accepted(lambda b: b.get("run_id") == run["run_id"])
    assert webhooks.verify(WEBHOOK_SECRET, post.headers["X-Graphgate-Signature"], post.raw)

    paused = client.runs.create(thread(client), "ask", input={}, webhook=receiver.url)
    (asked,) = wait_for(lambda: [p.body for p in receiver.accepted(lambda b: b.get("run_id") == paused["run_id"])], 30)
    assert asked["status"] == "interrupted"
    with pytest.raises(UnprocessableEntityError, match="webhook must be an absolute"):
        client.runs.create(thread_id, "echo", input={"text": "x"}, webhook="ftp://example.com/x")
