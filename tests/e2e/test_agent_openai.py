"""The example agent on a real model client: ``GRAPHGATE_CHAT_MODEL=openai:…`` makes the worker build
``langchain-openai``'s ``ChatOpenAI``, pointed with ``GRAPHGATE_CHAT_MODEL_BASE_URL`` at an OpenAI-compatible
server on loopback (graphgate/testing/fake_openai.py). Token streaming, streamed tool calls, the approval and the
final answer all go through the real client, the real worker and the real API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from graphgate.testing.client import Api, terminal_of
from graphgate.testing.fake_openai import FakeOpenAI
from graphgate.testing.stack import Stack, running_stack

API_KEY = "sk-test-graphgate"


@pytest.fixture(scope="module")
def openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key=API_KEY, chunk_delay=0.005) as server:
        yield server


@pytest.fixture(scope="module")
def openai_stack(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory, openai_server: FakeOpenAI
) -> Iterator[Stack]:
    env = {
        "GRAPHGATE_CHAT_MODEL": "openai:gpt-4o-mini",
        "GRAPHGATE_CHAT_MODEL_BASE_URL": openai_server.base_url,
        "GRAPHGATE_CHAT_MODEL_API_KEY": API_KEY,
    }
    with running_stack(redis_url, tmp_path_factory.mktemp("openai"), env) as stack:
        yield stack


def test_streamed_tool_calls_approval_and_answer_through_chat_openai(
    openai_stack: Stack, openai_server: FakeOpenAI
) -> None:
    api = Api(openai_stack.url, "alice")
    before = len(openai_server.requests)
    created = api.create(
        graph="agent", input={"messages": [{"role": "user", "content": "email ann@example.com the Q3 report"}]}
    )
    events = api.events(created["session_id"], lambda e: e.type in ("interrupt", "task.failed"))
    assert events[-1].type == "interrupt", events[-1].data
    [action] = events[-1].data["actions"]
    # the arguments arrived as streamed fragments and were joined by ChatOpenAI
    assert action["name"] == "send_email" and action["args"]["to"] == "ann@example.com"

    assert api.resume(created["task_id"], "approve").status_code == 202
    rest = api.events(created["session_id"], terminal_of(created["task_id"]), last_event_id=events[-1].id)
    assert rest[-1].type == "task.completed", rest[-1].data
    text = rest[-1].data["text"]
    assert text.startswith("[fake openai] The email to ann@example.com is queued")
    deltas = [e.data["text"] for e in rest if e.type == "message.delta"]
    assert len(deltas) > 3 and "".join(deltas) == text  # token by token, as the server streamed it
    assert [e.data["tool"] for e in rest if e.type == "tool.completed"] == ["send_email"]

    requests = openai_server.requests[before:]
    assert len(requests) == 2  # the turn that called the tool, the turn that answered
    assert all(r["stream"] is True and r["model"] == "gpt-4o-mini" for r in requests)
    assert {t["function"]["name"] for t in requests[0]["tools"]} == {"lookup_order", "calculator", "send_email"}
    assert requests[1]["messages"][-1]["role"] == "tool"
    assert all(c.authorization == f"Bearer {API_KEY}" for c in openai_server.calls)


def test_a_rate_limit_from_the_provider_is_retried(openai_stack: Stack, openai_server: FakeOpenAI) -> None:
    api = Api(openai_stack.url, "alice")
    before = len(openai_server.calls)
    openai_server.fail(status=429, message="Rate limit reached", retry_after=0, times=1)
    created = api.create(graph="agent", input={"messages": "what is 12*7+1"})
    events = api.events(created["session_id"], terminal_of(created["task_id"]))
    assert events[-1].type == "task.completed", events[-1].data
    assert "12*7+1 = 85" in events[-1].data["text"]
    assert [c.status for c in openai_server.calls[before:]][:2] == [429, 200]
