"""A fake LangSmith API on loopback, for tests: what the ``langsmith`` SDK calls when a worker traces runs and
when graphgate forwards feedback (graphgate/core/feedback.py).

* ``GET /info``: a server that takes batched JSON runs (no multipart ingest, no compression);
* ``POST /runs/batch`` (``{"post": [...], "patch": [...]}``), ``POST /runs``, ``PATCH /runs/{id}``: the
  traced runs, by id (root runs have no ``parent_run_id``);
* ``POST /feedback``: a feedback (409 for an id it has), ``PATCH /feedback/{id}``: a change to one.

Every request must carry the API key in ``x-api-key`` (401 otherwise); the calls are recorded.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from graphgate.testing.fake_platform import FakePlatform

API_KEY = "lsv2_pt_fake_langsmith_key_for_tests"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: Any
    status: int


class FakeLangSmith(FakePlatform[Call]):
    thread_name = "fake-langsmith"
    label = "fake LangSmith"

    def __init__(self, api_key: str = API_KEY) -> None:
        super().__init__()
        self.api_key = api_key
        self.runs: dict[str, dict[str, Any]] = {}  # run id -> the run as posted, patches applied
        self.feedback: dict[str, dict[str, Any]] = {}  # feedback id -> the feedback, changes applied

    @property
    def env(self) -> dict[str, str]:
        """What points the langsmith SDK (and graphgate) at this fake."""
        return {"LANGSMITH_API_KEY": self.api_key, "LANGSMITH_ENDPOINT": self.url, "LANGSMITH_TRACING": "true"}

    def routes(self) -> list[BaseRoute]:
        return [Route("/{path:path}", self._endpoint, methods=["GET", "POST", "PATCH"])]

    def root_runs(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.runs.values() if not r.get("parent_run_id")]

    async def _endpoint(self, request: Request) -> Response:
        path = "/" + request.path_params["path"].strip("/")
        raw = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            raw = gzip.decompress(raw)
        body = json.loads(raw) if raw and "json" in request.headers.get("content-type", "json") else None
        with self.lock:
            status, answer = self._handle(request.method, path, body, request.headers.get("x-api-key"))
            self.calls.append(Call(request.method, path, body, status))
        return JSONResponse(answer, status_code=status)

    def _handle(self, method: str, path: str, body: Any, key: str | None) -> tuple[int, Any]:
        if key != self.api_key:
            return 401, {"detail": "Invalid token"}
        if (method, path) == ("GET", "/info"):
            config = {
                "use_multipart_endpoint": False,
                "scale_up_qsize_trigger": 1000,
                "scale_up_nthreads_limit": 16,
                "scale_down_nempty_trigger": 4,
                "size_limit": 100,
                "size_limit_bytes": 20_971_520,
            }
            return 200, {"version": "0.10.0", "batch_ingest_config": config}
        if (method, path) == ("POST", "/runs/batch"):
            for run in (body or {}).get("post") or []:
                self.runs[str(run["id"])] = dict(run)
            for run in (body or {}).get("patch") or []:
                self.runs.setdefault(str(run["id"]), {}).update(run)
            return 200, {}
        if (method, path) == ("POST", "/runs"):
            self.runs[str(body["id"])] = dict(body)
            return 200, {}
        if method == "PATCH" and path.startswith("/runs/"):
            self.runs.setdefault(path.rsplit("/", 1)[1], {}).update(body or {})
            return 200, {}
        if (method, path) == ("POST", "/feedback"):
            feedback_id = str(body.get("id"))
            if feedback_id in self.feedback:
                return 409, {"detail": f"feedback {feedback_id} already exists"}
            if not body.get("run_id"):
                return 422, {"detail": "run_id is required"}
            self.feedback[feedback_id] = dict(body)
            return 200, body
        if method == "PATCH" and path.startswith("/feedback/"):
            feedback_id = path.rsplit("/", 1)[1]
            if feedback_id not in self.feedback:
                return 404, {"detail": "not found"}
            self.feedback[feedback_id].update(body or {})
            return 200, self.feedback[feedback_id]
        return 404, {"detail": f"{method} {path} is not part of this fake"}
