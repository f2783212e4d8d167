"""Behavioural tests for the example graphs and the offline chat model."""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import StateGraph
from langgraph.types import Command

from examples import ask, chat_model, echo, writer
from examples.chat_model import OfflineChatModel, get_chat_model

_threads = itertools.count()


def _config(**configurable: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": f"t{next(_threads)}", **configurable}}


def _compile(module: Any) -> Any:
    return module.graph.compile(checkpointer=InMemorySaver())


@pytest.fixture(autouse=True)
def _offline_model(monkeypatch: pytest.MonkeyPatch) -> Any:
    for var in (
        "GRAPHGATE_CHAT_MODEL",
        "GRAPHGATE_CHAT_MODEL_BASE_URL",
        "GRAPHGATE_CHAT_MODEL_API_KEY",
        "GRAPHGATE_OFFLINE_MODEL_DELAY",
    ):
        monkeypatch.delenv(var, raising=False)
    chat_model._build.cache_clear()
    yield
    chat_model._build.cache_clear()


# --- all graphs ------------------------------------------------------------


@pytest.mark.parametrize("module", [echo, ask, writer])
def test_graph_is_uncompiled_builder_with_input_schema(module: Any) -> None:
    assert isinstance(module.graph, StateGraph)
    schema = module.graph.compile(checkpointer=InMemorySaver()).get_input_jsonschema()
    assert schema["type"] == "object"
    assert schema["properties"]


def test_input_schemas() -> None:
    assert writer.graph.compile().get_input_jsonschema()["required"] == ["topic"]
    assert set(echo.graph.compile().get_input_jsonschema()["properties"]) == {"text", "message", "sleep", "fail"}
    assert set(ask.graph.compile().get_input_jsonschema()["properties"]) == {"text"}


# --- echo ------------------------------------------------------------------


def test_echo_answers_text() -> None:
    result = _compile(echo).invoke({"text": " hello 世界 "}, _config())
    assert result["answer"] == "hello 世界"


def test_echo_accepts_message() -> None:
    assert _compile(echo).invoke({"message": "hi"}, _config())["answer"] == "hi"


def test_echo_runs_three_nodes_in_order() -> None:
    updates = list(_compile(echo).stream({"text": "x"}, _config(), stream_mode="updates"))
    assert [next(iter(u)) for u in updates] == ["receive", "transform", "respond"]


def test_echo_sleep_and_fail() -> None:
    app = _compile(echo)
    start = time.monotonic()
    assert app.invoke({"text": "slow", "sleep": 0.2}, _config())["answer"] == "slow"
    assert time.monotonic() - start >= 0.2
    with pytest.raises(RuntimeError, match="echo asked to fail"):
        app.invoke({"text": "x", "fail": True}, _config())


# --- ask -------------------------------------------------------------------


def test_ask_interrupts_then_greets() -> None:
    app, config = _compile(ask), _config()
    first = app.invoke({"text": "hi"}, config)
    assert [i.value for i in first["__interrupt__"]] == [{"question": "What should I call you?"}]
    assert app.invoke(Command(resume="Ada"), config)["answer"] == "Nice to meet you, Ada!"


def test_ask_without_input_text() -> None:
    app, config = _compile(ask), _config()
    app.invoke({}, config)
    assert app.invoke(Command(resume={"name": "李雷"}), config)["answer"] == "Nice to meet you, 李雷!"


# --- writer ----------------------------------------------------------------


def _words(text: str) -> int:
    return len(text.split())


def test_writer_auto_mode_article() -> None:
    result = _compile(writer).invoke({"topic": "Solar energy"}, _config(target_length=800))
    article = result["article"]
    assert result["answer"] == article
    assert article.startswith("# Solar energy\n")
    assert article.count("\n## ") == len(result["outline"]) == len(result["sections"])
    assert 3 <= len(result["outline"]) <= 8
    assert 0.7 * 800 <= _words(article) <= 1.3 * 800


@pytest.mark.parametrize("length", [300, 1500, 3000])
def test_writer_honours_target_length(length: int) -> None:
    result = _compile(writer).invoke({"topic": "Rivers"}, _config(target_length=length, depth_level="deep"))
    assert 0.7 * length <= _words(result["article"]) <= 1.3 * length


def test_writer_section_count_depends_on_depth() -> None:
    counts = {
        depth: len(_compile(writer).invoke({"topic": "Tea"}, _config(depth_level=depth, target_length=1000))["outline"])
        for depth in ("overview", "standard", "deep")
    }
    assert counts["overview"] <= counts["standard"] <= counts["deep"]
    assert counts["overview"] < counts["deep"]


def test_writer_is_deterministic() -> None:
    config = dict(target_audience="engineers", depth_level="deep", target_length=600)
    first = _compile(writer).invoke({"topic": "Caching"}, _config(**config))
    second = _compile(writer).invoke({"topic": "Caching"}, _config(**config))
    assert first["article"] == second["article"]


def test_writer_interactive_review_revise_then_approve() -> None:
    app, config = _compile(writer), _config(mode="interactive")
    payload = app.invoke({"topic": "Urban gardening"}, config)["__interrupt__"][0].value
    assert payload["question"] == "Approve this outline?"
    assert payload["options"] == [
        {"label": "Approve", "value": "approve"},
        {"label": "Revise", "value": "revise", "note": True},  # a note may go with it
    ]
    assert payload["free_text"] is False
    assert payload["revisions_left"] == 3
    first_outline = payload["outline"]

    revised = app.invoke(Command(resume="Revise: more about small balconies"), config)["__interrupt__"][0].value
    assert revised["outline"] != first_outline
    assert any("small balconies" in title for title in revised["outline"])
    assert revised["revisions_left"] == 2

    again = app.invoke(Command(resume={"action": "revise"}), config)["__interrupt__"][0].value
    assert again["outline"] != revised["outline"]

    result = app.invoke(Command(resume="approve"), config)
    assert "__interrupt__" not in result
    assert result["outline"] == again["outline"]
    assert result["revisions"] == 2
    assert result["article"].count("\n## ") == len(again["outline"])


def test_writer_revisions_are_capped() -> None:
    app, config = _compile(writer), _config(mode="interactive")
    app.invoke({"topic": "Bees"}, config)
    for _ in range(3):
        payload = app.invoke(Command(resume="revise"), config)["__interrupt__"][0].value
    assert payload["revisions_left"] == 0
    assert payload["options"] == [{"label": "Approve", "value": "approve"}]
    # the question says why Revise is gone
    assert payload["question"] == "Approve this outline? (All 3 revisions are used: approve it to go on.)"
    result = app.invoke(Command(resume="revise"), config)
    assert result["revisions"] == 3
    assert result["article"]


@pytest.mark.parametrize("answer", ["好的，继续", "approve", "looks fine", {"action": "approve"}, ""])
def test_writer_non_revise_answers_approve(answer: Any) -> None:
    app, config = _compile(writer), _config(mode="interactive")
    app.invoke({"topic": "Bees"}, config)
    result = app.invoke(Command(resume=answer), config)
    assert result.get("revisions", 0) == 0
    assert result["article"].startswith("# Bees")


def test_writer_streams_section_tokens() -> None:
    app, config = _compile(writer), _config(target_length=500)
    pieces: dict[int, list[str]] = defaultdict(list)
    updates: list[str] = []
    for mode, data in app.stream({"topic": "Tides"}, config, stream_mode=["messages", "updates"]):
        if mode == "updates":
            updates.extend(data)
        else:
            message, metadata = data
            assert isinstance(message, AIMessageChunk)
            if metadata["langgraph_node"] == "write":
                pieces[metadata["section_index"]].append(message.content)
    assert updates == ["plan", "write", "finalize"]
    sections = app.get_state(config).values["sections"]
    assert ["".join(pieces[i]) for i in sorted(pieces)] == sections
    assert all(len(p) > 10 for p in pieces.values())


def test_writer_chinese_topic_and_audience() -> None:
    topic, audience = "人工智能在医疗诊断中的应用", "医疗专业人士"
    app, config = _compile(writer), _config(target_audience=audience, mode="interactive", depth_level="deep")
    app.invoke({"topic": topic}, config)
    app.invoke(Command(resume="revise：更关注伦理问题"), config)
    result = app.invoke(Command(resume="同意"), config)
    assert result["article"].startswith(f"# {topic}\n")
    assert audience in result["article"]
    assert result["note"] == "更关注伦理问题"
    assert 0.7 * 800 <= _words(result["article"]) <= 1.3 * 800


def test_writer_invalid_config_falls_back_to_defaults() -> None:
    result = _compile(writer).invoke({"topic": "Owls"}, _config(depth_level="extreme", target_length="lots", mode="??"))
    assert "__interrupt__" not in result
    assert 0.7 * 800 <= _words(result["article"]) <= 1.3 * 800


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1. Intro\n2) Body\n3: End", ["Intro", "Body", "End"]),
        ("Here is the outline:\n- **Intro**: why it matters\n* Body\n• End", ["Intro", "Body", "End"]),
        ("## Intro\n## Body", ["Intro", "Body"]),
        ("Intro\nBody\nEnd\nExtra", ["Intro", "Body", "End"]),
    ],
)
def test_parse_outline_handles_llm_formats(text: str, expected: list[str]) -> None:
    assert writer.parse_outline(text, 3) == expected


# --- chat model ------------------------------------------------------------


def test_offline_model_stream_matches_invoke_and_is_deterministic() -> None:
    model = OfflineChatModel()
    prompt = [HumanMessage("Topic: Kites\nSection: Materials\nWords: 120")]
    text = model.invoke(prompt).content
    chunks = list(model.stream(prompt))
    assert len(chunks) > 50
    assert "".join(c.content for c in chunks) == text
    assert OfflineChatModel().invoke(prompt).content == text
    assert 84 <= _words(text) <= 156
    assert model._llm_type == "graphgate-offline-deterministic"


def test_get_chat_model_defaults_to_offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRAPHGATE_OFFLINE_MODEL_DELAY", "0.001")
    model = get_chat_model()
    assert isinstance(model, OfflineChatModel)
    assert model.delay_per_token == 0.001
    assert get_chat_model() is model


def test_get_chat_model_uses_init_chat_model(monkeypatch: pytest.MonkeyPatch) -> None:
    import langchain.chat_models

    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
    sentinel = OfflineChatModel()

    def fake_init_chat_model(*args: Any, **kwargs: Any) -> Any:
        calls.append((args, kwargs))
        return sentinel

    monkeypatch.setattr(langchain.chat_models, "init_chat_model", fake_init_chat_model)
    monkeypatch.setenv("GRAPHGATE_CHAT_MODEL", "openai:gpt-4o-mini")
    assert get_chat_model() is sentinel
    assert get_chat_model() is sentinel
    assert calls == [(("openai:gpt-4o-mini",), {})]

    monkeypatch.setenv("GRAPHGATE_CHAT_MODEL_BASE_URL", "http://localhost:8000/v1")
    monkeypatch.setenv("GRAPHGATE_CHAT_MODEL_API_KEY", "sk-test")
    get_chat_model()
    assert calls[-1] == (
        ("openai:gpt-4o-mini",),
        {"base_url": "http://localhost:8000/v1", "api_key": "sk-test"},
    )
