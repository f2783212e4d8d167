"""SSE fan-out: many SSE clients on one graphgate API process while events arrive at a steady rate.

The load generator writes well-formed ``custom`` events straight into the sessions' Redis streams (one
``XADD`` each, through ``gateway.keys`` and ``gateway.events``), so the measure isolates the fan-out path —
the API's one hub reader, its in-memory queues and the SSE responses — from graph execution. The sessions
themselves are real: each is created through the API with one echo run, and every client is authorized by
the API like any browser.

The clients run in ``procs`` separate processes (bench/sse_clients.py) so a client's own event loop is not
the bottleneck; on a small machine they still share the CPU with the API, which the lag includes.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field

import redis

from bench.graphgate_load import create_sessions
from bench.stats import Latency
from bench.systems import BENCH_SUB, Graphgate, cpu_seconds, rss_kib
from graphgate.core.events import STREAM_FIELD, Event, EventType, serialize_event
from graphgate.core.keys import Keys
from graphgate.testing.stack import ROOT, token

TICK = 0.005  # the load generator writes what is due every TICK seconds, in one pipeline
GRACE = 2.0  # seconds allowed for the last events to reach the clients before they stop
STREAM_MAXLEN = 10_000


@dataclass
class FanoutResult:
    clients: int
    sessions: int
    connected: int
    held_in: float  # seconds from starting the clients until every one of them received a probe event
    seconds: float
    produced: int  # events written to the streams during the window
    expected: int  # deliveries owed: each event times the clients following its session
    delivered: int  # marked events the clients received
    lag_ms: Latency
    rss_kib: int  # API VmRSS with every client connected, after the window
    hwm_kib: int  # API peak RSS (VmHWM)
    api_cpu: float  # API CPU seconds per wall second during the window
    dropped: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def delivered_per_second(self) -> float:
        return self.delivered / self.seconds if self.seconds else math.nan

    @property
    def produced_per_second(self) -> float:
        return self.produced / self.seconds if self.seconds else math.nan

    def as_dict(self) -> dict[str, object]:
        return {
            "clients": self.clients,
            "sessions": self.sessions,
            "connected": self.connected,
            "held_in": self.held_in,
            "seconds": self.seconds,
            "produced": self.produced,
            "expected": self.expected,
            "delivered": self.delivered,
            "delivered_per_second": self.delivered_per_second,
            "produced_per_second": self.produced_per_second,
            "lag_ms": self.lag_ms.as_dict(),
            "rss_mib": self.rss_kib / 1024,
            "hwm_mib": self.hwm_kib / 1024,
            "api_cpu": self.api_cpu,
            "dropped": self.dropped,
            "errors": self.errors,
        }


async def prepare(gg: Graphgate, sessions: int) -> list[tuple[str, str]]:
    """The sessions the clients will follow (created through the API)."""
    return await create_sessions(gg.url, sessions)


def measure(
    gg: Graphgate,
    pairs: list[tuple[str, str]],
    clients: int,
    rate: float,
    seconds: float,
    procs: int = 2,
    grace: float = GRACE,
) -> FanoutResult:
    """Hold ``clients`` SSE clients on the sessions ``pairs`` (round robin) and write ``rate`` events per
    second spread over the sessions for ``seconds``."""
    r = redis.Redis.from_url(gg.redis.url, decode_responses=True)
    keys = Keys(gg.prefix)
    follow = [pairs[i % len(pairs)][0] for i in range(clients)]
    followers: dict[str, int] = {}
    for sid in follow:
        followers[sid] = followers.get(sid, 0) + 1
    now_s, now_us = r.time()
    after = f"{now_s * 1000 + now_us // 1000}-0"  # only what is written from now on
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = []
    spawned = time.perf_counter()
    for part in range(procs):
        share = follow[part::procs]
        if not share:
            continue
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.sse_clients"],
            cwd=ROOT,
            env=env,
            text=True,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert child.stdin is not None
        child.stdin.write(
            json.dumps({"url": gg.url, "token": token(BENCH_SUB), "sessions": share, "after": after}) + "\n"
        )
        child.stdin.flush()
        children.append(child)
    try:
        connected = 0
        errors: list[str] = []
        for child in children:
            assert child.stdout is not None
            line = child.stdout.readline()
            if not line:
                raise RuntimeError("an SSE client process exited before connecting")
            ready = json.loads(line)
            connected += ready["connected"]
            if ready["failed"]:
                errors.append(f"{ready['failed']} clients could not connect")
        held_in = _probe(r, keys, pairs, children, len(follow), spawned)
        produced_by: dict[str, int] = {}
        cpu0 = cpu_seconds(gg.api_pid)
        t0 = time.perf_counter()
        produced = _produce(r, keys, pairs, rate, seconds, produced_by)
        window = time.perf_counter() - t0
        cpu = (cpu_seconds(gg.api_pid) - cpu0) / window
        time.sleep(grace)
        rss, hwm = rss_kib(gg.api_pid)
        delivered = dropped = 0
        lags: list[float] = []
        for child in children:
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write("stop\n")
            child.stdin.flush()
            result = json.loads(child.stdout.readline() or "{}")
            delivered += result.get("marked", 0)
            lags.extend(result.get("lags_ms", []))
            dropped += result.get("dropped", 0)
            errors.extend(result.get("errors", []))
    finally:
        for child in children:
            try:
                child.wait(20)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        r.close()
    expected = sum(n * followers.get(sid, 0) for sid, n in produced_by.items())
    return FanoutResult(
        clients=clients,
        sessions=len(pairs),
        connected=connected,
        held_in=held_in,
        seconds=window,
        produced=produced,
        expected=expected,
        delivered=delivered,
        lag_ms=Latency.of(lags),
        rss_kib=rss,
        hwm_kib=hwm,
        api_cpu=cpu,
        dropped=dropped,
        errors=errors[:10],
    )


def _probe(
    r: redis.Redis,
    keys: Keys,
    pairs: list[tuple[str, str]],
    children: list[subprocess.Popen[str]],
    clients: int,
    since: float,
    timeout: float = 180.0,
) -> float:
    """Write one probe event per session (again every few seconds) until every client received one: only then
    is each subscription live end to end. Seconds from ``since`` (a perf_counter time) until then."""
    deadline = time.perf_counter() + timeout
    next_probe = 0.0
    while time.perf_counter() < deadline:
        if time.perf_counter() >= next_probe:
            pipe = r.pipeline(transaction=False)
            for sid, task_id in pairs:
                event = Event(EventType.CUSTOM, task_id, sid, {"payload": {"probe": 1}})
                pipe.xadd(
                    keys.events(sid), {STREAM_FIELD: serialize_event(event)}, maxlen=STREAM_MAXLEN, approximate=True
                )
            pipe.execute()
            next_probe = time.perf_counter() + 5.0
        probed = 0
        for child in children:
            assert child.stdin is not None and child.stdout is not None
            child.stdin.write("status\n")
            child.stdin.flush()
            probed += json.loads(child.stdout.readline())["probes"]
        if probed >= clients:
            return time.perf_counter() - since
        time.sleep(0.2)
    raise RuntimeError(f"only {probed} of {clients} SSE clients received a probe event within {timeout:g} s")


def _produce(
    r: redis.Redis, keys: Keys, pairs: list[tuple[str, str]], rate: float, seconds: float, produced_by: dict[str, int]
) -> int:
    """Write ``rate`` events per second, round robin over the sessions, for ``seconds``; how many."""
    sent = 0
    start = time.perf_counter()
    while True:
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            return sent
        due = int(rate * elapsed) - sent
        if due > 0:
            pipe = r.pipeline(transaction=False)
            for _ in range(due):
                sid, task_id = pairs[sent % len(pairs)]
                event = Event(EventType.CUSTOM, task_id, sid, {"payload": {"bench": sent + 1}})
                pipe.xadd(
                    keys.events(sid), {STREAM_FIELD: serialize_event(event)}, maxlen=STREAM_MAXLEN, approximate=True
                )
                produced_by[sid] = produced_by.get(sid, 0) + 1
                sent += 1
            pipe.execute()
        time.sleep(TICK)
