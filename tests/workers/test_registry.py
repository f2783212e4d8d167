"""The graph registry reads langgraph.json the way the LangGraph CLI does."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from langgraph.checkpoint.memory import InMemorySaver

from graphgate.core.errors import InvalidInput
from graphgate.core.registry import BUNDLED_CONFIG, RegistryError, load_registry

GRAPH_MODULE = textwrap.dedent(
    """
    import os
    from typing_extensions import TypedDict
    from langgraph.graph import StateGraph, START, END

    class S(TypedDict, total=False):
        text: str
        out: str

    def node(state):
        return {"out": state["text"] + os.environ.get("SUFFIX", "")}

    builder = StateGraph(S)
    builder.add_node(node)
    builder.add_edge(START, "node")
    builder.add_edge("node", END)
    compiled = builder.compile()

    def factory(config):
        assert "configurable" in config
        return builder

    def not_a_graph():
        return 42
    """
)


def write_project(tmp_path: Path, graphs: dict[str, str], env: object = None) -> Path:
    (tmp_path / "mygraphs.py").write_text(GRAPH_MODULE)
    config: dict[str, object] = {"graphs": graphs}
    if env is not None:
        config["env"] = env
    path = tmp_path / "langgraph.json"
    path.write_text(json.dumps(config))
    return path


def run(registry, name: str) -> dict:  # type: ignore[no-untyped-def]
    graph = registry.compiled(name, InMemorySaver(), {"configurable": {}})
    return graph.invoke({"text": "a"}, {"configurable": {"thread_id": "1"}})


def test_builder_compiled_and_factory_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write_project(
        tmp_path,
        {
            "b": "./mygraphs.py:builder",
            "c": "./mygraphs.py:compiled",
            "f": "./mygraphs.py:factory",
            "m": "mygraphs:builder",
        },
    )
    registry = load_registry(path)
    assert registry.names() == ["b", "c", "f", "m"] and registry.default == "b"
    for name in registry.names():
        assert run(registry, name)["out"] == "a"
    saver = InMemorySaver()
    assert registry.compiled("b", saver) is registry.compiled("b", saver)  # compiled once per checkpointer


def test_env_file_and_mapping(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUFFIX", raising=False)
    (tmp_path / ".env").write_text("# comment\nSUFFIX='!'\n")
    registry = load_registry(write_project(tmp_path, {"b": "./mygraphs.py:builder"}, env=".env"))
    assert run(registry, "b")["out"] == "a!"
    monkeypatch.delenv("SUFFIX")
    load_registry(write_project(tmp_path, {"b": "./mygraphs.py:builder"}, env={"SUFFIX": "?"}))
    import os

    assert os.environ["SUFFIX"] == "?"
    monkeypatch.delenv("SUFFIX")


def test_input_schema_validation(tmp_path: Path) -> None:
    registry = load_registry(write_project(tmp_path, {"b": "./mygraphs.py:builder"}))
    registry.validate_input("b", {"text": "ok"})
    with pytest.raises(InvalidInput, match="text"):
        registry.validate_input("b", {"text": 5})


@pytest.mark.parametrize(
    "graphs, message",
    [
        ({}, "no 'graphs'"),
        ({"x": "./missing.py:graph"}, "cannot load"),
        ({"x": "./mygraphs.py:nothing"}, "cannot load"),
        ({"x": "no-colon"}, "must look like"),
    ],
)
def test_bad_configs_are_named_errors(tmp_path: Path, graphs: dict[str, str], message: str) -> None:
    with pytest.raises(RegistryError, match=message):
        load_registry(write_project(tmp_path, graphs))


def test_factory_returning_something_else(tmp_path: Path) -> None:
    registry = load_registry(write_project(tmp_path, {"x": "./mygraphs.py:not_a_graph"}))
    with pytest.raises(RegistryError, match="not a LangGraph graph"):
        registry.compiled("x", InMemorySaver())


def test_bundled_examples_load() -> None:
    registry = load_registry(BUNDLED_CONFIG)
    assert {"writer", "echo", "ask"} <= set(registry.names())
    assert registry.specs["writer"].input_schema is not None
    with pytest.raises(InvalidInput):
        registry.validate_input("writer", {"topic": 42})
