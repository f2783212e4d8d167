"""The LangGraph server's endpoints this API does not offer yet, each answering 501 with what to do instead.

A plain 404 or 405 would leave an SDK user guessing whether the path is wrong; these say the feature is
missing and where it is written down (docs/langgraph-api.md).
"""

from __future__ import annotations

from fastapi import APIRouter

from graphgate.core.errors import GraphgateError

ASSISTANTS = "assistants are the graphs registered in langgraph.json; they cannot be created, changed or deleted here"
ENDPOINTS: list[tuple[str, str, str]] = [  # (method, path, why)
    ("POST", "/assistants", ASSISTANTS),
    ("PATCH", "/assistants/{assistant_id}", ASSISTANTS),
    ("DELETE", "/assistants/{assistant_id}", ASSISTANTS),
    ("POST", "/assistants/{assistant_id}/versions", ASSISTANTS),
    ("POST", "/assistants/{assistant_id}/latest", ASSISTANTS),
    ("GET", "/assistants/{assistant_id}/subgraphs", "subgraphs of an assistant are not listed yet"),
    ("GET", "/assistants/{assistant_id}/subgraphs/{namespace}", "subgraphs of an assistant are not listed yet"),
    ("POST", "/threads/prune", "pruning threads is not supported yet; delete them one by one"),
    ("GET", "/threads/{thread_id}/stream", "following a whole thread is not supported yet; join a run's stream"),
    ("POST", "/runs/crons", "crons are not supported"),
    ("POST", "/runs/crons/search", "crons are not supported"),
    ("POST", "/threads/{thread_id}/runs/crons", "crons are not supported"),
    ("PUT", "/store/items", "the LangGraph store is not supported"),
    ("GET", "/store/items", "the LangGraph store is not supported"),
    ("DELETE", "/store/items", "the LangGraph store is not supported"),
    ("POST", "/store/items/search", "the LangGraph store is not supported"),
    ("POST", "/store/namespaces", "the LangGraph store is not supported"),
]


class NotSupported(GraphgateError):
    status_code = 501
    code = "not_supported"


def router() -> APIRouter:
    r = APIRouter(tags=["langgraph: not supported"])
    for method, path, why in ENDPOINTS:

        async def refuse(why: str = why) -> None:
            raise NotSupported(f"{why} (docs/langgraph-api.md)")

        r.add_api_route(path, refuse, methods=[method], include_in_schema=False, name=f"unsupported {method} {path}")
    return r
