"""Behavioural tests for the agent example (offline rules, and a real ChatOpenAI against the fake OpenAI
server), for the fake server itself, and for the parallel-interrupts example."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from typing import Any

import httpx
import openai
import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, ToolMessage
from langchain_openai import ChatOpenAI
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from examples import agent, chat_model, parallel
from examples.agent import build_agent, evaluate
from examples.agent_model import OfflineAgentModel, get_agent_model, plan_reply
from graphgate.core.registry import BUNDLED_CONFIG, load_registry
from graphgate.testing.fake_openai import FakeOpenAI

TOOL_NAMES = {"lookup_order", "calculator", "send_email"}
Q3_ARGS = {"to": "ann@example.com", "subject": "Q3 report", "body": "Hi Ann,\n\nQ3 report.\n\nBest regards"}
MODEL_ENV = (
    "GRAPHGATE_CHAT_MODEL",
    "GRAPHGATE_CHAT_MODEL_BASE_URL",
    "GRAPHGATE_CHAT_MODEL_API_KEY",
    "GRAPHGATE_OFFLINE_MODEL_DELAY",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_API_BASE",
)

_threads = itertools.count()


def _config() -> dict[str, Any]:
    return {"configurable": {"thread_id": f"agent-{next(_threads)}"}}


def _ask(text: str) -> dict[str, Any]:
    return {"messages": [{"role": "user", "content": text}]}


def _pending(app: Any, config: dict[str, Any]) -> list[Any]:
    return list(app.get_state(config).interrupts)


def _messages(app: Any, config: dict[str, Any]) -> list[Any]:
    return list(app.get_state(config).values["messages"])


@pytest.fixture(autouse=True)
def _offline_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in MODEL_ENV:
        monkeypatch.delenv(var, raising=False)
    chat_model._build.cache_clear()
    yield
    chat_model._build.cache_clear()


@pytest.fixture
def app() -> Any:
    return build_agent(checkpointer=InMemorySaver())


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    with FakeOpenAI(api_key="test-key") as server:
        yield server


def _use_fake_openai(monkeypatch: pytest.MonkeyPatch, server: FakeOpenAI) -> None:
    monkeypatch.setenv("GRAPHGATE_CHAT_MODEL", "openai:gpt-4o-mini")
    monkeypatch.setenv("GRAPHGATE_CHAT_MODEL_BASE_URL", server.base_url)
    monkeypatch.setenv("GRAPHGATE_CHAT_MODEL_API_KEY", "test-key")


# --- offline: approval of e-mails ---------------------------------------------------------------------


def test_email_request_interrupts_with_one_action_request(app: Any) -> None:
    config = _config()
    app.invoke(_ask("email ann@example.com the Q3 report"), config)
    [pending] = _pending(app, config)
    assert pending.value == {
        "action_requests": [
            {
                "name": "send_email",
                "args": Q3_ARGS,
                "description": f"Send an email to ann@example.com?\nSubject: Q3 report\n\n{Q3_ARGS['body']}",
            }
        ],
        "review_configs": [{"action_name": "send_email", "allowed_decisions": ["approve", "edit", "reject"]}],
    }
    assert not any(isinstance(m, ToolMessage) for m in _messages(app, config))  # nothing ran yet


def test_approve_runs_the_tool_and_answers(app: Any) -> None:
    config = _config()
    app.invoke(_ask("email ann@example.com the Q3 report"), config)
    result = app.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config)
    tool_messages = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert [m.content for m in tool_messages] == ["Email to ann@example.com queued: Q3 report"]
    final = result["messages"][-1]
    assert isinstance(final, AIMessage) and not final.tool_calls
    assert final.content == '[offline model] The email to ann@example.com is queued (subject: "Q3 report").'
    assert _pending(app, config) == []


def test_edit_changes_the_arguments_used(app: Any) -> None:
    config = _config()
    app.invoke(_ask("email ann@example.com the Q3 report"), config)
    edited = {"to": "bob@example.com", "subject": "Q3 report (final)", "body": "Hi Bob"}
    result = app.invoke(
        Command(resume={"decisions": [{"type": "edit", "edited_action": {"name": "send_email", "args": edited}}]}),
        config,
    )
    [tool_message] = [m for m in result["messages"] if isinstance(m, ToolMessage)]
    assert tool_message.content.endswith("Email to bob@example.com queued: Q3 report (final)")
    assert "ann@example.com queued" not in tool_message.content
    assert result["messages"][-1].content == (
        '[offline model] The email to bob@example.com is queued (subject: "Q3 report (final)"). '
        "A reviewer edited it before it went out."
    )


def test_reject_with_a_reason_is_reported(app: Any) -> None:
    config = _config()
    app.invoke(_ask("email ann@example.com the Q3 report"), config)
    result = app.invoke(
        Command(resume={"decisions": [{"type": "reject", "message": "The numbers are not final"}]}), config
    )
    assert not any("queued" in str(m.content) for m in result["messages"] if isinstance(m, ToolMessage))
    assert result["messages"][-1].content == (
        "[offline model] The email to ann@example.com was not sent: the reviewer rejected it, "
        'saying "The numbers are not final".'
    )


def test_reject_without_a_reason(app: Any) -> None:
    config = _config()
    app.invoke(_ask("email ann@example.com the Q3 report"), config)
    result = app.invoke(Command(resume={"decisions": [{"type": "reject"}]}), config)
    assert result["messages"][-1].content == (
        "[offline model] The email to ann@example.com was not sent: the reviewer rejected it."
    )


def test_two_recipients_make_two_action_requests(app: Any) -> None:
    config = _config()
    app.invoke(_ask("email ann and bob the agenda"), config)
    [pending] = _pending(app, config)
    requests = pending.value["action_requests"]
    assert [(r["name"], r["args"]["to"], r["args"]["subject"]) for r in requests] == [
        ("send_email", "ann@example.com", "Agenda"),
        ("send_email", "bob@example.com", "Agenda"),
    ]
    assert len(pending.value["review_configs"]) == 2
    result = app.invoke(
        Command(resume={"decisions": [{"type": "approve"}, {"type": "reject", "message": "Bob is away"}]}), config
    )
    assert [m.content for m in result["messages"] if isinstance(m, ToolMessage) and "queued" in m.content] == [
        "Email to ann@example.com queued: Agenda"
    ]
    assert result["messages"][-1].content == (
        '[offline model] The email to ann@example.com is queued (subject: "Agenda"). '
        'The email to bob@example.com was not sent: the reviewer rejected it, saying "Bob is away".'
    )


def test_wrong_number_of_decisions_is_refused(app: Any) -> None:
    config = _config()
    app.invoke(_ask("email ann and bob the agenda"), config)
    with pytest.raises(ValueError, match="Number of human decisions"):
        app.invoke(Command(resume={"decisions": [{"type": "approve"}]}), config)


def test_tool_call_ids_are_deterministic(app: Any) -> None:
    ids = []
    for text in ("email ann@example.com the Q3 report", "email ann@example.com the Q3 report", "email bob hi"):
        config = _config()
        app.invoke(_ask(text), config)
        ids.append([c["id"] for c in _messages(app, config)[-1].tool_calls])
    assert ids[0] == ids[1] and ids[0][0].startswith("call_")
    assert ids[2] != ids[0]


# --- offline: other tools, memory, streaming ----------------------------------------------------------


def test_calculator_path(app: Any) -> None:
    config = _config()
    result = app.invoke(_ask("what is 12*7+1"), config)
    assert [m.content for m in result["messages"] if isinstance(m, ToolMessage)] == ["12*7+1 = 85"]
    assert result["messages"][-1].content == "[offline model] 12*7+1 = 85"
    assert _pending(app, config) == []  # the calculator needs no approval


def test_lookup_order_path(app: Any) -> None:
    result = app.invoke(_ask("Where is my order a-1001?"), _config())
    assert result["messages"][-1].content == (
        "[offline model] Order A-1001: shipped on 2 June with DHL (tracking DHL-558120), expected on 5 June."
    )
    unknown = app.invoke(_ask("status of order Z-999 please"), _config())
    assert unknown["messages"][-1].content == "[offline model] There is no order 'Z-999'. Order ids look like A-1001."


def test_memory_across_turns_on_one_thread(app: Any) -> None:
    config = _config()
    first = app.invoke(_ask("My name is Ann"), config)
    assert first["messages"][-1].content.startswith(
        '[offline model] This is message 1 of our conversation. You said: "My name is Ann".'
    )
    second = app.invoke(_ask("What did I tell you?"), config)
    assert second["messages"][-1].content == (
        '[offline model] This is message 2 of our conversation. Earlier you said: "My name is Ann".'
    )
    other = app.invoke(_ask("What did I tell you?"), _config())
    assert "message 1 of" in other["messages"][-1].content


def test_text_reply_streams_word_by_word(app: Any) -> None:
    config = _config()
    chunks = [
        message
        for message, meta in app.stream(_ask("hello there"), config, stream_mode="messages")
        if isinstance(message, AIMessageChunk) and meta["langgraph_node"] == "model"
    ]
    words = [c.content for c in chunks if c.content]
    assert len(words) > 10
    assert words[:3] == ["[offline ", "model] ", "This "]
    assert "".join(words) == _messages(app, config)[-1].content


def test_tool_call_streams_as_chunks_that_aggregate(app: Any) -> None:
    config = _config()
    chunks = [
        m
        for m, _ in app.stream(_ask("email ann@example.com the Q3 report"), config, stream_mode="messages")
        if isinstance(m, AIMessageChunk)
    ]
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged = merged + chunk
    assert [(c["name"], c["args"]) for c in merged.tool_calls] == [("send_email", Q3_ARGS)]
    assert len(_pending(app, config)) == 1


def test_offline_model_is_labelled_and_only_calls_bound_tools() -> None:
    model = OfflineAgentModel()
    assert "NOT a language model" in (OfflineAgentModel.__doc__ or "")
    assert "not-a-language-model" in model._llm_type
    unbound = model.invoke([HumanMessage("email ann@example.com the Q3 report")])
    assert unbound.tool_calls == [] and unbound.content.startswith("[offline model] This is message 1")
    bound = model.bind_tools([agent.send_email]).invoke([HumanMessage("email ann@example.com the Q3 report")])
    assert [(c["name"], c["args"]) for c in bound.tool_calls] == [("send_email", Q3_ARGS)]
    streamed = list(model.stream([HumanMessage("hi"), AIMessage("x"), HumanMessage("and now?")]))
    assert "".join(str(c.content) for c in streamed) == (
        '[offline model] This is message 2 of our conversation. Earlier you said: "hi".'
    )


def test_plan_reply_reads_openai_messages_and_offered_tools() -> None:
    messages = [{"role": "user", "content": [{"type": "text", "text": "what is (3 + 4) * 2^3"}]}]
    [call] = plan_reply(messages, {"calculator"}).tool_calls
    assert (call.name, call.args) == ("calculator", {"expression": "(3 + 4) * 2**3"})
    assert plan_reply(messages, set(), speaker="x").text.startswith("[x] This is message 1 of our conversation.")


@pytest.mark.parametrize(
    "expression, value",
    [("12*7+1", 85), ("(1 + 2) * -3", -9), ("2 ** 10", 1024), ("7 / 2", 3.5), ("-(4.5)", -4.5)],
)
def test_calculator_evaluates_arithmetic(expression: str, value: float) -> None:
    assert evaluate(expression) == value


@pytest.mark.parametrize(
    "expression, reason",
    [
        ("__import__('os').system('true')", "is not a number"),
        ("x + 1", "is not a number"),
        ("1/0", "division by zero"),
        ("9 ** 9 ** 9", "too large"),
        ("True + 1", "is not a number"),
        ("1 +", "not a valid"),
        ("1" * 300, "too long"),
    ],
)
def test_calculator_refuses_anything_else(expression: str, reason: str) -> None:
    assert reason in agent.calculator.invoke({"expression": expression})


def test_agent_and_parallel_are_registered() -> None:
    registry = load_registry(BUNDLED_CONFIG)
    assert {"agent", "parallel"} <= set(registry.names())
    registry.validate_input("agent", _ask("hi"))
    registry.validate_input("parallel", {"request": "ship it"})
    assert registry.specs["parallel"].input_schema["required"] == ["request"]


# --- a real ChatOpenAI against the fake OpenAI server -------------------------------------------------


def test_get_agent_model_follows_the_environment(monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> None:
    assert isinstance(get_agent_model(), OfflineAgentModel)
    _use_fake_openai(monkeypatch, fake_openai)
    first = get_agent_model()
    assert isinstance(first, ChatOpenAI) and first.openai_api_base == fake_openai.base_url
    with FakeOpenAI(api_key="test-key") as other:
        monkeypatch.setenv("GRAPHGATE_CHAT_MODEL_BASE_URL", other.base_url)
        second = get_agent_model()
        assert second is not first and second.openai_api_base == other.base_url
        second.invoke("hello")
        assert len(other.requests) == 1 and fake_openai.requests == []


def test_real_model_approval_flow(monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> None:
    _use_fake_openai(monkeypatch, fake_openai)
    app, config = build_agent(checkpointer=InMemorySaver()), _config()
    streamed = [m for m, _ in app.stream(_ask("email ann@example.com the Q3 report"), config, stream_mode="messages")]
    assert sum(1 for m in streamed if isinstance(m, AIMessageChunk) and m.tool_call_chunks) > 3  # fragments
    [pending] = _pending(app, config)
    assert [(r["name"], r["args"]) for r in pending.value["action_requests"]] == [("send_email", Q3_ARGS)]
    call_id = _messages(app, config)[-1].tool_calls[0]["id"]

    text = [
        m.content
        for m, meta in app.stream(Command(resume={"decisions": [{"type": "approve"}]}), config, stream_mode="messages")
        if isinstance(m, AIMessageChunk) and m.content
    ]
    expected = '[fake openai] The email to ann@example.com is queued (subject: "Q3 report").'
    assert "".join(text) == expected and len(text) > 5
    assert _messages(app, config)[-1].content == expected

    first, second = fake_openai.requests
    assert first["stream"] is True and second["stream"] is True
    assert {t["function"]["name"] for t in first["tools"]} == TOOL_NAMES
    assert [c.authorization for c in fake_openai.calls] == ["Bearer test-key"] * 2
    assert second["messages"][-2]["tool_calls"][0]["id"] == call_id
    assert second["messages"][-1] == {
        "role": "tool",
        "tool_call_id": call_id,
        "content": "Email to ann@example.com queued: Q3 report",
    }


def test_real_model_reject_and_plain_invoke(monkeypatch: pytest.MonkeyPatch, fake_openai: FakeOpenAI) -> None:
    _use_fake_openai(monkeypatch, fake_openai)
    app, config = build_agent(checkpointer=InMemorySaver()), _config()
    app.invoke(_ask("email ann and bob the agenda"), config)  # no "messages" stream mode: not streamed
    [pending] = _pending(app, config)
    assert [r["args"]["to"] for r in pending.value["action_requests"]] == ["ann@example.com", "bob@example.com"]
    result = app.invoke(
        Command(resume={"decisions": [{"type": "reject", "message": "Not yet"}, {"type": "approve"}]}), config
    )
    assert result["messages"][-1].content == (
        '[fake openai] The email to ann@example.com was not sent: the reviewer rejected it, saying "Not yet". '
        'The email to bob@example.com is queued (subject: "Agenda").'
    )
    assert [r.get("stream", False) for r in fake_openai.requests] == [False, False]


# --- the fake OpenAI server itself --------------------------------------------------------------------


def test_fake_openai_requires_a_bearer_key(fake_openai: FakeOpenAI) -> None:
    assert httpx.get(f"{fake_openai.base_url}/models").status_code == 401
    wrong = httpx.post(
        f"{fake_openai.base_url}/chat/completions",
        headers={"Authorization": "Bearer nope"},
        json={"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "invalid_api_key"
    models = httpx.get(f"{fake_openai.base_url}/models", headers={"Authorization": "Bearer test-key"}).json()
    assert [m["id"] for m in models["data"]] == ["gpt-4o-mini"]


def test_fake_openai_streams_tool_call_fragments_and_usage(fake_openai: FakeOpenAI) -> None:
    client = openai.OpenAI(base_url=fake_openai.base_url, api_key="test-key", max_retries=0)
    tools = [{"type": "function", "function": {"name": "send_email", "parameters": {"type": "object"}}}]
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "email ann@example.com the Q3 report"}],
            tools=tools,
            stream=True,
            stream_options={"include_usage": True},  # type: ignore[arg-type]
        )
    )
    fragments = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert fragments[0].id and fragments[0].function.name == "send_email" and len(fragments) > 3
    assert json.loads("".join(f.function.arguments or "" for f in fragments)) == Q3_ARGS
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].choices == [] and chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0

    text = client.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], tools=[])  # type: ignore[arg-type]
    assert text.choices[0].finish_reason == "stop" and text.choices[0].message.tool_calls is None
    assert text.choices[0].message.content.startswith("[fake openai] This is message 1")


def test_fake_openai_only_calls_offered_tools_and_can_fail(fake_openai: FakeOpenAI) -> None:
    model = ChatOpenAI(model="gpt-4o-mini", base_url=fake_openai.base_url, api_key="test-key", max_retries=0)
    reply = model.bind_tools([agent.calculator]).invoke("email ann@example.com the Q3 report")
    assert reply.tool_calls == [] and "This is message 1" in reply.content
    fake_openai.fail(429, times=1)
    with pytest.raises(openai.RateLimitError):
        model.invoke("hi")
    assert model.invoke("hi").content.startswith("[fake openai]")
    assert [c.status for c in fake_openai.calls] == [200, 429, 200]


# --- the parallel-interrupts graph --------------------------------------------------------------------


def _parallel() -> Any:
    return parallel.graph.compile(checkpointer=InMemorySaver())


def test_parallel_pauses_on_two_interrupts_in_one_step() -> None:
    app, config = _parallel(), _config()
    app.invoke({"request": "ship v2"}, config)
    pending = _pending(app, config)
    assert sorted(p.value["reviewer"] for p in pending) == ["finance", "legal"]
    assert all(p.value["options"] == ["approve", "reject"] for p in pending)
    assert {p.value["question"] for p in pending} == {
        "Legal review: may we go ahead with 'ship v2'?",
        "Finance review: may we go ahead with 'ship v2'?",
    }
    assert len({p.id for p in pending}) == 2
    ids = {p.value["reviewer"]: p.id for p in pending}
    result = app.invoke(Command(resume={ids["legal"]: "approve", ids["finance"]: "reject"}), config)
    assert result["answer"] == "Request 'ship v2' is rejected: legal chose approve, finance chose reject."
    assert _pending(app, config) == []


def test_parallel_answered_one_at_a_time() -> None:
    app, config = _parallel(), _config()
    app.invoke({"request": "ship v2"}, config)
    ids = {p.value["reviewer"]: p.id for p in _pending(app, config)}
    app.invoke(Command(resume={ids["finance"]: {"decision": "approve"}}), config)
    [left] = _pending(app, config)
    assert (left.id, left.value["reviewer"]) == (ids["legal"], "legal")
    result = app.invoke(Command(resume={left.id: "yes"}), config)
    assert result["answer"] == "Request 'ship v2' is approved: legal chose approve, finance chose approve."
