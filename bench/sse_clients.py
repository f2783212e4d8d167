"""A process holding many SSE clients on a graphgate API (``python -m bench.sse_clients``), driven by bench/fanout.py.

Protocol on stdin/stdout, one JSON document a line:

1. reads ``{"url", "token", "sessions": [...], "after"}``: one client per entry of ``sessions`` (repeat a
   session to give it several clients), each following from stream id ``after``;
2. writes ``{"connected": n, "failed": n}`` once every client has its response headers (or failed);
3. answers each ``status`` line with ``{"probes": n}``: how many clients have received a probe event
   (``data.payload.probe``), which tells the driver that every client's subscription is live end to end;
4. on ``stop`` writes ``{"received", "marked", "lags_ms", "dropped", "errors"}`` and exits.

Only events whose ``data.payload.bench`` is set count as marked; their lag is the client's receive time minus
the envelope's ``ts`` (written by the load generator just before its XADD), on the same machine clock.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from dataclasses import dataclass, field

import aiohttp


@dataclass
class Tally:
    dropped: int = 0  # connections that ended while the bench was still running
    received: int = 0
    probes: int = 0  # clients that received a probe event
    lags_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


async def follow(
    http: aiohttp.ClientSession,
    url: str,
    session_id: str,
    after: str,
    tally: Tally,
    settled: asyncio.Queue[bool],
    stopping: asyncio.Event,
) -> None:
    """One client: connect, report to ``settled`` whether it got a 200, then read events until cancelled."""
    connected = probed = False
    try:
        async with http.get(f"{url}/api/v1/events/{session_id}", headers={"Last-Event-ID": after}) as resp:
            if resp.status != 200:
                tally.errors.append(f"HTTP {resp.status}")
                settled.put_nowait(False)
                return
            connected = True
            settled.put_nowait(True)
            async for line in resp.content:
                if not line.startswith(b"data:"):
                    continue
                now = time.time()
                tally.received += 1
                env = json.loads(line[5:])
                payload = env.get("data", {}).get("payload")
                if not isinstance(payload, dict):
                    continue
                if payload.get("bench"):
                    tally.lags_ms.append((now - env["ts"]) * 1000)
                elif payload.get("probe") and not probed:
                    probed = True
                    tally.probes += 1
    except Exception as exc:  # connection refused, reset, a bad line: all count against the server
        if stopping.is_set():
            return
        tally.errors.append(f"{type(exc).__name__}: {exc}"[:200])
        if not connected:
            settled.put_nowait(False)
            return
    if not stopping.is_set():
        tally.dropped += 1  # the server ended the stream while the bench still ran


async def main() -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    spec = json.loads(await reader.readline())
    tally = Tally()
    stopping = asyncio.Event()
    settled: asyncio.Queue[bool] = asyncio.Queue()
    sessions: list[str] = spec["sessions"]
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=None, connect=60, sock_read=None)
    headers = {"Authorization": f"Bearer {spec['token']}"}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as http:
        tasks = [
            asyncio.create_task(follow(http, spec["url"], sid, spec["after"], tally, settled, stopping))
            for sid in sessions
        ]
        connected = failed = 0
        for _ in sessions:
            if await settled.get():
                connected += 1
            else:
                failed += 1
        print(json.dumps({"connected": connected, "failed": failed}), flush=True)
        while (await reader.readline()).strip() == b"status":
            print(json.dumps({"probes": tally.probes}), flush=True)
        stopping.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    print(
        json.dumps(
            {
                "received": tally.received,
                "marked": len(tally.lags_ms),
                "lags_ms": tally.lags_ms,
                "dropped": tally.dropped,
                "errors": tally.errors[:20],
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    asyncio.run(main())
