"""A fake OpenAI Chat Completions API on loopback, for tests: real HTTP and real payload shapes, no model.

Why it exists: the agent example runs a real ``ChatOpenAI`` (``langchain-openai``) when
``GRAPHGATE_CHAT_MODEL`` is set, and tests need that path offline.  This server answers the way the
offline agent model does (:func:`examples.agent_model.plan_reply`, calling only the tools a request offers), so
the same conversation gets the same answer through either model.

Endpoints (under ``base_url`` = ``http://127.0.0.1:<port>/v1``):

* ``POST /v1/chat/completions``: a ``chat.completion``, or with ``"stream": true`` Server-Sent Events of
  ``chat.completion.chunk`` ending with ``data: [DONE]``.  A text streams as one content delta per word;
  tool calls stream as ``delta.tool_calls`` fragments (index, id, type and name first, then the
  arguments in several pieces) and finish with ``finish_reason: "tool_calls"``.  With
  ``stream_options.include_usage`` every chunk has ``"usage": null`` and a last chunk with no choices
  carries the usage.
* ``GET /v1/models``: the one model.

Every call needs an ``Authorization: Bearer <key>`` header (equal to ``api_key`` when one is given), else
401 with OpenAI's error shape.  ``calls`` records each chat completion call; ``requests`` is their bodies.
``fail`` makes the next calls fail with an OpenAI error (e.g. 429 with ``retry-after``).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from examples.agent_model import PlannedCall, Reply, plan_reply
from graphgate.testing.fake_platform import FakePlatform, Fault

CREATED = 1_700_000_000  # a fixed "created" timestamp: responses depend on the request only
FINGERPRINT = "fp_graphgate_fake"
ARGUMENT_PIECE = 12  # characters of tool call arguments per streamed fragment
COMPLETIONS = "chat.completions"  # the method name faults and calls are recorded under


@dataclass
class Call:
    """One chat completion call: its JSON body, its Authorization header and the HTTP status answered."""

    body: dict[str, Any]
    authorization: str
    status: int


class FakeOpenAI(FakePlatform[Call]):
    """The fake API on ``base_url``; ``start``/``stop`` or ``with FakeOpenAI() as server: ...``."""

    thread_name = "fake-openai"
    label = "fake OpenAI server"

    def __init__(
        self,
        api_key: str | None = None,
        model: str = "gpt-4o-mini",
        speaker: str = "fake openai",
        chunk_delay: float = 0.0,
    ) -> None:
        """``api_key``: the only key accepted (any bearer key when None); ``speaker``: the label that
        opens text replies; ``chunk_delay``: seconds between streamed chunks."""
        super().__init__()
        self.api_key = api_key
        self.model = model
        self.speaker = speaker
        self.chunk_delay = chunk_delay
        self._ids = itertools.count(1)

    @property
    def base_url(self) -> str:
        """What to pass as ``base_url`` to an OpenAI client (``GRAPHGATE_CHAT_MODEL_BASE_URL``)."""
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[dict[str, Any]]:
        """The bodies of the chat completion calls so far, oldest first."""
        with self.lock:
            return [call.body for call in self.calls]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/v1/chat/completions", self._completions, methods=["POST"]),
            Route("/v1/models", self._models, methods=["GET"]),
        ]

    def fail(
        self, status: int = 429, message: str = "Rate limit reached", *, retry_after: float | None = 1, times: int = 1
    ) -> None:
        """Answer the next ``times`` chat completion calls with an OpenAI error of ``status``."""
        self._add_fault(
            Fault(COMPLETIONS, lambda args: True, status, message, retry_after if status == 429 else None, times)
        )

    def reply_for(self, messages: Sequence[dict[str, Any]], tools: Sequence[str]) -> Reply:
        """What the server answers to ``messages`` when ``tools`` are offered (for tests' expectations)."""
        return plan_reply(messages, set(tools), speaker=self.speaker)

    # --- endpoints -----------------------------------------------------------------------------------

    async def _models(self, request: Request) -> Response:
        if denied := self._denied(request):
            return denied
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {"id": self.model, "object": "model", "created": CREATED, "owned_by": "graphgate-tests"},
                ],
            }
        )

    async def _completions(self, request: Request) -> Response:
        authorization = request.headers.get("authorization", "")
        try:
            body = json.loads(await request.body())
        except ValueError:
            body = None
        response = self._denied(request) or _invalid(body) or self._fault()
        with self.lock:
            self.calls.append(
                Call(body if isinstance(body, dict) else {}, authorization, response.status_code if response else 200)
            )
        if response:
            return response
        reply = self.reply_for(body["messages"], _offered_tools(body))
        completion_id = f"chatcmpl-fake{next(self._ids):06d}"
        model = str(body.get("model") or self.model)
        usage = _usage(body["messages"], reply)
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            events = self._events(_chunks(completion_id, model, reply, usage if include_usage else None))
            return StreamingResponse(events, media_type="text/event-stream")
        return JSONResponse(_completion(completion_id, model, reply, usage))

    async def _events(self, chunks: list[dict[str, Any]]) -> AsyncIterator[str]:
        """The chunks as SSE ``data:`` lines, then ``data: [DONE]``."""
        for chunk in chunks:
            if self.chunk_delay > 0:
                await asyncio.sleep(self.chunk_delay)
            yield f"data: {json.dumps(chunk)}\n\n"
        yield "data: [DONE]\n\n"

    def _denied(self, request: Request) -> Response | None:
        """A 401 unless the request carries an acceptable bearer key."""
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and key.strip() and (self.api_key is None or key.strip() == self.api_key):
            return None
        return _error(401, "Incorrect API key provided.", "invalid_request_error", "invalid_api_key")

    def _fault(self) -> Response | None:
        """The error a test arranged with ``fail`` for this call, if any."""
        with self.lock:
            fault = self._take_fault(COMPLETIONS, {})
        if fault is None:
            return None
        kind = "rate_limit_exceeded" if fault.status == 429 else "server_error"
        response = _error(fault.status, fault.error, kind, kind)
        if fault.retry_after is not None:
            response.headers["retry-after"] = str(fault.retry_after)
        return response


# --- payloads ------------------------------------------------------------------------------------------


def _error(status: int, message: str, kind: str, code: str | None) -> JSONResponse:
    """An OpenAI error response."""
    return JSONResponse({"error": {"message": message, "type": kind, "param": None, "code": code}}, status)


def _invalid(body: Any) -> Response | None:
    """A 400 when the body is not a chat completion request."""
    if not isinstance(body, dict):
        return _error(400, "We could not parse the JSON body of your request.", "invalid_request_error", None)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return _error(400, "'messages' must be a non-empty array of objects.", "invalid_request_error", None)
    if not body.get("model"):
        return _error(400, "you must provide a model parameter", "invalid_request_error", None)
    return None


def _offered_tools(body: dict[str, Any]) -> list[str]:
    """Names of the function tools the request offers (none when ``tool_choice`` is "none")."""
    if body.get("tool_choice") == "none":
        return []
    return [
        str(t["function"]["name"])
        for t in body.get("tools") or []
        if isinstance(t, dict) and t.get("type") == "function" and isinstance(t.get("function"), dict)
    ]


def _usage(messages: Sequence[dict[str, Any]], reply: Reply) -> dict[str, int]:
    """Token counts, approximated by words (deterministic, not tiktoken's)."""
    prompt = sum(len(str(m.get("content") or "").split()) + 3 for m in messages)
    completion = len(reply.text.split()) + sum(len(json.dumps(c.args).split()) + 3 for c in reply.tool_calls)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _tool_call(call: PlannedCall) -> dict[str, Any]:
    """A tool call in the (non-streamed) message format."""
    return {"id": call.id, "type": "function", "function": {"name": call.name, "arguments": json.dumps(call.args)}}


def _completion(completion_id: str, model: str, reply: Reply, usage: dict[str, int]) -> dict[str, Any]:
    """A whole ``chat.completion`` object."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.text or None, "refusal": None}
    if reply.tool_calls:
        message["tool_calls"] = [_tool_call(c) for c in reply.tool_calls]
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": CREATED,
        "model": model,
        "system_fingerprint": FINGERPRINT,
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": usage,
    }


def _chunks(completion_id: str, model: str, reply: Reply, usage: dict[str, int] | None) -> list[dict[str, Any]]:
    """The ``chat.completion.chunk`` objects of a streamed reply, in order."""
    if reply.tool_calls:
        deltas = [{"role": "assistant", "content": None, "refusal": None}]
        deltas += [d for i, call in enumerate(reply.tool_calls) for d in _tool_call_deltas(i, call)]
    else:
        deltas = [{"role": "assistant", "content": "", "refusal": None}]
        deltas += [{"content": word} for word in re.findall(r"\s*\S+\s*", reply.text)]
    finish = "tool_calls" if reply.tool_calls else "stop"

    def chunk(choices: list[dict[str, Any]]) -> dict[str, Any]:
        out = {
            "id": completion_id,
            "object": "chat.completion.chunk",
            "created": CREATED,
            "model": model,
            "system_fingerprint": FINGERPRINT,
            "choices": choices,
        }
        if usage is not None:
            out["usage"] = None
        return out

    chunks = [chunk([{"index": 0, "delta": d, "logprobs": None, "finish_reason": None}]) for d in deltas]
    chunks.append(chunk([{"index": 0, "delta": {}, "logprobs": None, "finish_reason": finish}]))
    if usage is not None:
        chunks.append({**chunk([]), "usage": usage})
    return chunks


def _tool_call_deltas(index: int, call: PlannedCall) -> list[dict[str, Any]]:
    """One tool call as deltas: id, type and name with empty arguments, then the arguments in pieces."""
    arguments = json.dumps(call.args)
    head = {"index": index, "id": call.id, "type": "function", "function": {"name": call.name, "arguments": ""}}
    pieces = [arguments[i : i + ARGUMENT_PIECE] for i in range(0, len(arguments), ARGUMENT_PIECE)]
    return [{"tool_calls": [head]}] + [
        {"tool_calls": [{"index": index, "function": {"arguments": piece}}]} for piece in pieces
    ]
