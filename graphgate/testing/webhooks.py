"""A webhook receiver on loopback for tests: records each POST (its JSON, headers and raw body) and answers
503 to the first ``fail_first`` POSTs, so that a retry shows."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Post:
    body: dict[str, Any]
    headers: dict[str, str]
    raw: bytes
    status: int  # what the receiver answered


class Receiver:
    def __init__(self) -> None:
        self.posts: list[Post] = []  # every POST, refused ones too (status 503)
        self.fail_first = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                status = 200
                if receiver.fail_first > 0:
                    receiver.fail_first -= 1
                    status = 503
                receiver.posts.append(Post(json.loads(raw), dict(self.headers.items()), raw, status))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def accepted(self, match: Any = lambda body: True) -> list[Post]:
        """The POSTs answered 200 whose body ``match`` accepts."""
        return [p for p in self.posts if p.status == 200 and match(p.body)]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
