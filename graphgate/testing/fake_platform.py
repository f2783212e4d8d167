"""What the fake chat platforms (graphgate/testing/fake_slack.py, graphgate/testing/fake_bot_api.py)
share: a Starlette app served by uvicorn in a thread on a free loopback port, the record of calls, the errors a
test asks for, and reading a call's arguments from its query string and its JSON or form body."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import BaseRoute

from graphgate.cli.processes import free_port, wait_until

C = TypeVar("C")  # a platform's record of one call


@dataclass
class Fault:
    """The next ``times`` calls of ``method`` whose arguments match ``when`` fail with this error."""

    method: str
    when: Callable[[dict[str, Any]], bool]
    status: int
    error: str  # the platform's error code or description
    retry_after: float | None
    times: int


class FakePlatform(Generic[C]):
    """A platform API on ``url``, started by ``start`` (returns once it answers) and stopped by ``stop``."""

    thread_name = "fake-platform"
    label = "fake platform"  # in the error raised when it does not start

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.calls: list[C] = []
        self._faults: list[Fault] = []
        self.port = free_port()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def routes(self) -> list[BaseRoute]:
        """The platform's endpoints."""
        raise NotImplementedError

    def start(self) -> Self:
        config = uvicorn.Config(
            Starlette(routes=self.routes()), host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name=self.thread_name, daemon=True)
        self._thread.start()
        if not wait_until(lambda: bool(self._server and self._server.started), 10):
            raise RuntimeError(f"{self.label} did not start")
        return self

    def stop(self) -> None:
        if self._server:
            self._server.should_exit = True
        if self._thread:
            self._thread.join(10)

    def _add_fault(self, fault: Fault) -> None:
        with self.lock:
            self._faults.append(fault)

    def _take_fault(self, method: str, args: dict[str, Any]) -> Fault | None:
        """The fault this call meets, if any, counted as used (call with ``lock`` held)."""
        for fault in self._faults:
            if fault.times > 0 and fault.method == method and fault.when(args):
                fault.times -= 1
                return fault
        return None


async def request_args(request: Request) -> dict[str, Any]:
    """A call's arguments: its query string, updated with its JSON or form-encoded body."""
    args: dict[str, Any] = dict(request.query_params)
    raw = await request.body()
    if raw:
        if "json" in request.headers.get("content-type", ""):
            args.update(json.loads(raw))
        else:
            args.update(dict(parse_qsl(raw.decode(), keep_blank_values=True)))
    return args
