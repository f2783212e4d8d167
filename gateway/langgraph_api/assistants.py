"""``/assistants``: the registered graphs, one assistant each (``langgraph.json`` is where they are made).

Search, get (by graph name or assistant id), schemas and the drawable graph. Creating, updating and deleting
assistants is not offered (gateway/langgraph_api/unsupported.py says so with 501).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from pydantic import TypeAdapter, create_model

from graphgate.core.errors import InvalidInput
from graphgate.core.registry import GraphRegistry
from graphgate.core.wirejson import jsonable
from graphgate.gateway.api.deps import GatewayDep
from graphgate.gateway.langgraph_api import shapes
from graphgate.gateway.langgraph_api.deps import Caller
from graphgate.gateway.langgraph_api.requests import AssistantCount, AssistantSearch

router = APIRouter(tags=["langgraph: assistants"])


def _matching(graphs: GraphRegistry, graph_id: str | None, name: str | None, metadata: Any) -> list[dict[str, Any]]:
    found = [shapes.assistant(graphs, n) for n in graphs.names()]
    return [
        a
        for a in found
        if (graph_id is None or a["graph_id"] == graph_id)
        and (not name or name.lower() in a["name"].lower())
        and (not metadata or shapes.contains(a["metadata"], metadata))
    ]


@router.post("/assistants/search")
async def search(body: AssistantSearch, response: Response, gw: GatewayDep, who: Caller) -> list[dict[str, Any]]:
    """The assistants (registered graphs) matching ``graph_id``, ``name`` and ``metadata``, a page at a time."""
    found = _matching(gw.graphs, body.graph_id, body.name, body.metadata)
    if body.sort_by and body.sort_by not in ("created_at", "updated_at"):  # all were registered at once
        found.sort(key=lambda a: str(a[body.sort_by or ""]), reverse=body.sort_order == "desc")
    page = found[body.offset : body.offset + body.limit]
    if body.offset + body.limit < len(found):
        response.headers["X-Pagination-Next"] = str(body.offset + body.limit)
    return [shapes.select(a, body.select) for a in page]


@router.post("/assistants/count")
async def count(body: AssistantCount, gw: GatewayDep, who: Caller) -> int:
    return len(_matching(gw.graphs, body.graph_id, body.name, body.metadata))


@router.get("/assistants/{assistant_id}")
async def get(assistant_id: str, gw: GatewayDep, who: Caller) -> dict[str, Any]:
    return shapes.assistant(gw.graphs, shapes.resolve_assistant(gw.graphs, assistant_id))


@router.get("/assistants/{assistant_id}/graph")
async def graph(
    assistant_id: str,
    gw: GatewayDep,
    who: Caller,
    xray: Annotated[str, Query(description="true, false, or the subgraph depth to draw")] = "false",
) -> dict[str, Any]:
    """The graph's nodes and edges (``graph.get_graph(xray=...).to_json()``)."""
    name = shapes.resolve_assistant(gw.graphs, assistant_id)
    depth: bool | int = {"true": True, "false": False}.get(xray.lower(), False)
    if xray.lower() not in ("true", "false"):
        if not xray.isdigit():
            raise InvalidInput("xray must be true, false or a depth (a whole number)")
        depth = int(xray)
    drawn = gw.graphs.compiled(name, None).get_graph(xray=depth).to_json()
    return jsonable(drawn)  # type: ignore[no-any-return]


@router.get("/assistants/{assistant_id}/schemas")
async def schemas(assistant_id: str, gw: GatewayDep, who: Caller) -> dict[str, Any]:
    """The graph's input, output, state, config and context JSON schemas (None where LangGraph gives none)."""
    name = shapes.resolve_assistant(gw.graphs, assistant_id)
    compiled = gw.graphs.compiled(name, None)
    return {
        "graph_id": name,
        "input_schema": _attempt(compiled.get_input_jsonschema),
        "output_schema": _attempt(compiled.get_output_jsonschema),
        "state_schema": _attempt(lambda: _state_jsonschema(compiled)),
        "config_schema": _attempt(compiled.get_config_jsonschema),
        "context_schema": _attempt(compiled.get_context_jsonschema),
    }


def _attempt(make: Any) -> dict[str, Any] | None:
    try:
        schema = make()
    except Exception:  # schema generation is best effort, as on the LangGraph server
        return None
    return schema if isinstance(schema, dict) and schema else None


def _state_jsonschema(compiled: Any) -> dict[str, Any]:
    """The schema of the state channels a client sees, each channel's update type where pydantic can describe
    it (``Any`` where it cannot), as the LangGraph server builds it."""
    fields: dict[str, Any] = {}
    for key in compiled.stream_channels_list:
        kind = getattr(compiled.channels[key], "UpdateType", Any)
        try:
            TypeAdapter(kind).json_schema()
        except Exception:
            kind = Any
        fields[key] = (kind, None)
    model = create_model(compiled.get_name("State"), **fields)
    return model.model_json_schema()
