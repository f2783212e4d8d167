"""A chat message as each bundled graph's input, checked by the graph's own input check."""

from __future__ import annotations

import pytest

from graphgate.connectors.inputs import text_input
from graphgate.core.registry import BUNDLED_CONFIG, GraphRegistry, load_registry


@pytest.fixture(scope="module")
def graphs() -> GraphRegistry:
    return load_registry(BUNDLED_CONFIG)


@pytest.mark.parametrize(
    ("graph", "expected"),
    [
        ("writer", {"topic": "tides"}),  # its only required string field
        ("echo", {"text": "tides"}),
        ("agent", {"messages": [{"role": "user", "content": "tides"}]}),  # a LangChain agent: one user message
    ],
)
def test_chat_text_goes_where_the_graph_reads_it(graphs: GraphRegistry, graph: str, expected: dict) -> None:
    value = text_input(graphs, graph, "tides")
    assert value == expected
    graphs.validate_input(graph, value)  # and the graph takes it
