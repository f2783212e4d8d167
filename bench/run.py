"""``python -m bench``: graphgate and the LangGraph servers side by side, one table.

Starts a private redis-server, then in turn: the limits of the machine (redis-benchmark XADD, a Celery no-op
round trip), graphgate with SQLite checkpoints through /api/v1 (latency, throughput, interrupts, SSE fan-out),
graphgate with PostgreSQL checkpoints in a throwaway database, graphgate through its LangGraph Server API, and
the peers serving the same ``langgraph.json``: ``langgraph dev`` and Aegra (in .venv-aegra, made on first use,
with a throwaway PostgreSQL database). The last three are driven by one client, the LangGraph SDK. Each system
is stopped before the next one starts. Prints one table (docs/performance.md explains it).

    python -m bench                 # the full run (several minutes)
    python -m bench --smoke         # tiny sizes: checks the bench works
    python -m bench --only latency,throughput --no-peer --no-aegra
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.metadata
import json
import math
import os
import platform
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from bench import chat, fanout, graphgate_load, limits, peer_load
from bench.stats import Latency, Throughput
from bench.systems import (
    Aegra,
    AegraUnavailable,
    CpuMeter,
    Graphgate,
    LangGraphServer,
    Peer,
    PeerUnavailable,
    PostgresCpu,
    PostgresDatabase,
    PostgresUnavailable,
    aegra_missing,
    peer_missing,
)
from bench.table import COLUMNS, HEADERS, Row, judge, render_markdown, render_text
from graphgate.testing.cluster import RedisCluster
from graphgate.testing.stack import RedisServer

NOTES = [
    "gain: how many times better graphgate /api/v1 (SQLite) is than the peer (its time / ours, or our rate / its).",
    "graphgate LangGraph API, langgraph dev and Aegra are driven by the same client (langgraph_sdk): a thread, "
    "runs streamed on it, an interrupt answered by a run with Command(resume=...).",
    "server CPU: every process of the system (/proc/<pid>/stat); PostgreSQL: the whole local server, with the "
    "backends that exited during the batch (docs/performance.md).",
    "SSE fan-out: graphgate only; the load generator XADDs events straight into the session streams, so the row "
    "measures the API's fan-out alone. The peers have no such external event source (n/a).",
]

WORKLOADS = ("limits", "latency", "throughput", "interrupt", "fanout", "chat")
RUN_WORKLOADS = ("latency", "throughput", "interrupt")  # the rows every system runs


@dataclass(frozen=True)
class Sizes:
    runs: int = 200  # sequential echo runs
    warmup: int = 10
    throughput_runs: int = 1000
    concurrency: int = 32
    rounds: int = 50  # interrupt round trips
    sse_clients: int = 1000
    sse_sessions: tuple[int, ...] = (1000, 10)  # one fan-out row per entry: clients spread over this many sessions
    sse_rate: float = 2000.0  # events per second delivered to the clients in all
    sse_seconds: float = 20.0
    sse_procs: int = 2
    sse_grace: float = 2.0  # seconds for the last events to arrive before the clients stop
    celery_runs: int = 200
    celery_burst: int = 1000
    xadd_requests: int = 100_000
    chat_tasks: int = 250  # echo runs per chat platform
    chat_channels: int = 50  # Slack channels, and as many Telegram chats
    chat_429s: int = 4  # Slack calls answered `ratelimited` on purpose, per method (post, update)
    chat_interval: float | None = None  # dispatcher pacing per channel; None: the product's default (1 s)


SMOKE = Sizes(
    runs=2,
    warmup=0,
    throughput_runs=6,
    concurrency=3,
    rounds=1,
    sse_clients=6,
    sse_sessions=(3,),
    sse_rate=60.0,
    sse_seconds=1.0,
    sse_procs=1,
    sse_grace=0.5,
    celery_runs=5,
    celery_burst=20,
    xadd_requests=2000,
    chat_tasks=2,
    chat_channels=2,
    chat_429s=1,
    chat_interval=0.2,
)


@dataclass
class Options:
    sizes: Sizes
    only: tuple[str, ...]
    peer: bool
    aegra: bool
    aegra_python: str | None
    postgres_url: str | None
    worker_concurrency: int
    worker_pool: str
    strict: bool
    redis_cluster: bool = False  # graphgate's columns keep their state on a 3-primary Redis Cluster


@dataclass
class Results:
    """Everything measured, by section; a section that could not run holds its reason in ``skipped``."""

    machine: dict[str, Any]
    sizes: Sizes
    only: tuple[str, ...]
    systems: dict[str, dict[str, Any]]  # column -> workload -> result object
    fanout: list[fanout.FanoutResult]
    limits: dict[str, Any]
    chat: Any
    skipped: dict[str, str]  # "<column>" or "<workload>" or "<column>.<workload>" -> why it was not measured


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kib = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "python": platform.python_version(),
        "kernel": platform.release(),
        "loadavg_start": loadavg(),
        "versions": versions(),
    }


def versions() -> str:
    """The versions of what the bench's own environment runs (Aegra's venv reports its own)."""
    found = []
    for name in ("langgraph", "langgraph-api", "langgraph-cli", "langgraph-runtime-inmem", "langgraph-sdk", "celery"):
        try:
            found.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            pass
    return ", ".join(found)


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return ""


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def section(results: Results, opts: Options, key: str, fn: Callable[[], Any]) -> Any:
    """Run one measured step; a failure becomes a "not measured" note unless ``--strict``."""
    try:
        return fn()
    except Exception as exc:
        if opts.strict:
            raise
        traceback.print_exc(file=sys.stderr)
        results.skipped[key] = f"failed: {type(exc).__name__}: {str(exc).splitlines()[0][:120] if str(exc) else ''}"
        return None


def run(opts: Options) -> Results:
    s = opts.sizes
    results = Results(machine(), s, opts.only, {c: {} for c in COLUMNS}, [], {}, None, {})
    work = Path(tempfile.mkdtemp(prefix="gg-bench-"))
    redis = RedisServer(work / "redis").start()
    cluster = RedisCluster(work / "cluster").start() if opts.redis_cluster else None
    try:
        if "limits" in opts.only:
            log("limits: redis-benchmark XADD")
            results.limits["xadd"] = section(
                results, opts, "limits.xadd", lambda: limits.redis_xadd(redis.port, s.xadd_requests)
            )
            log("limits: Celery no-op round trip")
            results.limits["celery"] = section(
                results,
                opts,
                "limits.celery",
                lambda: limits.celery_noop(
                    redis.url, s.celery_runs, s.celery_burst, opts.worker_concurrency, opts.worker_pool
                ),
            )

        if cluster is not None:
            results.machine["state"] = "graphgate's state on a 3-primary Redis Cluster (the private Redis: broker)"

        def graphgate(column: str, database: PostgresDatabase | None = None) -> Graphgate:
            """A graphgate deployment for ``column``, in a folder of its own, as the options say."""
            workdir = work / column.replace("_", "-")
            return Graphgate(
                column,
                redis,
                workdir,
                database=database,
                concurrency=opts.worker_concurrency,
                pool=opts.worker_pool,
                cluster=cluster,
            )

        measure_graphgate(results, opts, graphgate("graphgate"), "graphgate", with_fanout=True)
        measure_postgres(results, opts, lambda db: graphgate("graphgate_pg", db))
        measure_lg_api(results, opts, "graphgate_lg", graphgate("graphgate_lg"))

        why = "--no-peer" if not opts.peer else peer_missing()
        if why:
            results.skipped["peer"] = why
        else:
            measure_lg_api(results, opts, "peer", Peer())

        why = "--no-aegra" if not opts.aegra else aegra_missing(opts.postgres_url, opts.aegra_python)
        if why:
            results.skipped["aegra"] = why
        else:
            aegra = Aegra(opts.postgres_url or "", opts.aegra_python)
            measure_lg_api(results, opts, "aegra", aegra)
            results.machine["aegra"] = aegra.versions

        if "chat" in opts.only:
            log("chat delivery")
            outcome = section(
                results,
                opts,
                "chat",
                lambda: chat.measure(
                    redis,
                    work / "chat",
                    s.chat_tasks,
                    s.chat_channels,
                    s.chat_429s,
                    s.chat_interval,
                    opts.worker_concurrency,
                ),
            )
            if isinstance(outcome, chat.NotMeasured):
                results.skipped["chat"] = outcome.reason
            else:
                results.chat = outcome
    finally:
        if cluster is not None:
            cluster.stop()
        redis.stop()
        shutil.rmtree(work, ignore_errors=True)
    results.machine["loadavg_end"] = loadavg()
    return results


def measure_postgres(results: Results, opts: Options, graphgate: Callable[[PostgresDatabase], Graphgate]) -> None:
    """The graphgate column again (``graphgate(db)`` makes it), with checkpoints in a throwaway PostgreSQL
    database."""
    if not set(opts.only) & set(RUN_WORKLOADS):
        return
    if not opts.postgres_url:
        results.skipped["graphgate_pg"] = "no --postgres-url"
        return
    try:
        db = PostgresDatabase(opts.postgres_url).create()
    except PostgresUnavailable as exc:
        results.skipped["graphgate_pg"] = f"PostgreSQL unavailable ({exc})"
        return
    try:
        measure_graphgate(results, opts, graphgate(db), "graphgate_pg", with_fanout=False)
    finally:
        db.drop()


def measure_graphgate(results: Results, opts: Options, gg: Graphgate, column: str, with_fanout: bool) -> None:
    s = opts.sizes
    if not set(opts.only) & {*RUN_WORKLOADS, *(("fanout",) if with_fanout else ())}:
        return
    log(f"{column}: starting (worker --concurrency {gg.concurrency} --pool {gg.pool})")
    try:
        gg.start()
    except Exception as exc:
        if opts.strict:
            raise
        results.skipped[column] = f"did not start: {exc}"[:200]
        return
    out = results.systems[column]
    try:
        if "latency" in opts.only:
            log(f"{column}: echo, {s.runs} sequential runs")
            out["latency"] = section(
                results,
                opts,
                f"{column}.latency",
                lambda: asyncio.run(graphgate_load.latency(gg.url, s.runs, s.warmup)),
            )
        if "throughput" in opts.only:
            log(f"{column}: echo, {s.throughput_runs} runs at concurrency {s.concurrency}")
            out["throughput"] = section(
                results,
                opts,
                f"{column}.throughput",
                lambda: metered(
                    gg.processes(),
                    lambda: asyncio.run(graphgate_load.throughput(gg.url, s.throughput_runs, s.concurrency)),
                    gg.postgres(),
                ),
            )
        if "interrupt" in opts.only:
            log(f"{column}: ask, {s.rounds} interrupt round trips")
            out["interrupt"] = section(
                results,
                opts,
                f"{column}.interrupt",
                lambda: asyncio.run(graphgate_load.interrupt(gg.url, s.rounds, s.warmup // 2)),
            )
        if with_fanout and "fanout" in opts.only:
            for sessions in s.sse_sessions:
                log(
                    f"{column}: SSE fan-out, {s.sse_clients} clients on {sessions} sessions, {s.sse_rate:g} events/s delivered"
                )
                result = section(results, opts, f"fanout.{sessions}", lambda: _fanout(gg, s, sessions))
                if result is not None:
                    results.fanout.append(result)
    finally:
        gg.stop()


def metered(
    processes: dict[str, list[int]], fn: Callable[[], Throughput], postgres: PostgresCpu | None = None
) -> Throughput:
    """``fn()``'s result with the CPU time each group of ``processes``, the PostgreSQL server and the bench
    spent meanwhile."""
    meter = CpuMeter(processes, postgres).start()
    result = fn()
    return replace(result, cpu_seconds=meter.stop())


def _fanout(gg: Graphgate, s: Sizes, sessions: int) -> fanout.FanoutResult:
    sessions = min(sessions, s.sse_clients)
    pairs = asyncio.run(fanout.prepare(gg, sessions))
    per_session = math.ceil(s.sse_clients / sessions)
    # the rate is what the clients receive in all: each event written reaches every client of its session
    return fanout.measure(gg, pairs, s.sse_clients, s.sse_rate / per_session, s.sse_seconds, s.sse_procs, s.sse_grace)


def measure_lg_api(results: Results, opts: Options, column: str, server: LangGraphServer) -> None:
    """The run workloads through the LangGraph Server API, with the same client for every server."""
    s = opts.sizes
    if not set(opts.only) & set(RUN_WORKLOADS):
        return
    log(f"{column}: starting {HEADERS[column]}")
    try:
        server.start()
    except PostgresUnavailable as exc:
        results.skipped[column] = f"PostgreSQL unavailable ({exc})"
        return
    except Exception as exc:
        if opts.strict:
            raise
        traceback.print_exc(file=sys.stderr)  # the message holds the server's log tail
        first = (str(exc).splitlines() or [""])[0]
        why = first if isinstance(exc, (PeerUnavailable, AegraUnavailable)) else f"{type(exc).__name__}: {first}"
        results.skipped[column] = f"did not start: {why}"[:200]
        return
    out = results.systems[column]
    url, headers = server.url, server.headers
    try:
        if "latency" in opts.only:
            log(f"{column}: echo, {s.runs} sequential runs")
            out["latency"] = section(
                results,
                opts,
                f"{column}.latency",
                lambda: asyncio.run(peer_load.latency(url, s.runs, s.warmup, headers)),
            )
        if "throughput" in opts.only:
            log(f"{column}: echo, {s.throughput_runs} runs at concurrency {s.concurrency}")
            out["throughput"] = section(
                results,
                opts,
                f"{column}.throughput",
                lambda: metered(
                    server.processes(),
                    lambda: asyncio.run(peer_load.throughput(url, s.throughput_runs, s.concurrency, headers)),
                    server.postgres(),
                ),
            )
        if "interrupt" in opts.only:
            log(f"{column}: ask, {s.rounds} interrupt round trips")
            out["interrupt"] = section(
                results,
                opts,
                f"{column}.interrupt",
                lambda: asyncio.run(peer_load.interrupt(url, s.rounds, s.warmup // 2, headers)),
            )
    finally:
        server.stop()


# --- the table -------------------------------------------------------------------------------------------


def rows(results: Results) -> list[Row]:
    s = results.sizes
    out: list[Row] = []

    def values(workload: str, pick: Callable[[Any], float | str]) -> dict[str, float | str | None]:
        cells: dict[str, float | str | None] = {}
        for column in COLUMNS:
            skipped = results.skipped.get(column) or results.skipped.get(f"{column}.{workload}")
            result = results.systems[column].get(workload)
            cells[column] = pick(result) if result is not None else ("n/a" if skipped else None)
        return cells

    def latency_rows(workload: str, title: str, key: str, label: str, targets: dict[str, float]) -> None:
        for p in ("p50", "p95", "p99"):
            row = Row(title, f"{label} {p}, ms", values(workload, lambda r, p=p: getattr(r[key], p)))
            if p in targets:
                row.target, row.met = f"<= {targets[p]:g} ms", judge(row.values["graphgate"], targets[p])
            out.append(row)

    if "latency" in results.only:
        title = f"echo, {s.runs} sequential runs"
        latency_rows("latency", title, "first_output", "request -> first graph output", {"p50": 20})
        latency_rows("latency", title, "completion", "request -> completion", {"p50": 40, "p99": 100})
    if "throughput" in results.only:
        throughput_rows(results, values, out)
    if "interrupt" in results.only:
        interrupt_rows(results, values, out)
    if "fanout" in results.only:
        fanout_rows(results, out)
    if "chat" in results.only:
        if results.chat is not None:
            out.extend(chat.rows(results.chat))
        else:
            out.append(Row("chat delivery", "not measured", {"graphgate": results.skipped.get("chat", "not run")}))
    if "limits" in results.only:
        limit_rows(results, out)
    return out


Values = Callable[[str, Callable[[Any], float | str]], dict[str, float | str | None]]


def throughput_rows(results: Results, values: Values, out: list[Row]) -> None:
    s = results.sizes
    title = f"echo, {s.throughput_runs:,} runs at concurrency {s.concurrency}"
    tput = Row(
        title,
        "completed runs per second",
        values("throughput", lambda r: r.per_second),
        higher_is_better=True,
        target=">= 3x langgraph dev",
    )
    gain = tput.gain()
    tput.met = None if gain is None else gain >= 3
    out.append(tput)
    out.append(Row(title, "errors", values("throughput", lambda r: float(r.errors)), digits=0))
    out.append(
        Row(title, "request -> completion p50 under load, ms", values("throughput", lambda r: r.completion_ms.p50))
    )
    out.append(Row(title, "server CPU per run, ms (all its processes)", values("throughput", server_cpu_ms)))
    out.append(Row(title, "  of which, ms", values("throughput", cpu_breakdown)))
    out.append(
        Row(
            title,
            "bench client CPU per run, ms",
            values("throughput", lambda r: r.cpu_ms_per_run().get("client", math.nan)),
            compare=False,
        )
    )


def server_cpu_ms(result: Throughput) -> float:
    return (
        sum(ms for name, ms in result.cpu_ms_per_run().items() if name != "client") if result.cpu_seconds else math.nan
    )


CPU_GROUPS = {"api": "API", "worker": "worker", "redis": "Redis", "server": "server", "postgres": "PostgreSQL"}


def cpu_breakdown(result: Throughput) -> str:
    per_run = result.cpu_ms_per_run()
    return " / ".join(f"{label} {per_run[name]:.1f}" for name, label in CPU_GROUPS.items() if name in per_run)


def interrupt_rows(results: Results, values: Values, out: list[Row]) -> None:
    s = results.sizes
    title = f"ask, {s.rounds} interrupt round trips"
    row = Row(
        title,
        "resume request -> next graph output p50, ms",
        values("interrupt", lambda r: r["next_output"].p50),
        target="<= 40 ms",
    )
    row.met = judge(row.values["graphgate"], 40)
    out.append(row)
    out.append(
        Row(title, "resume request -> next graph output p95, ms", values("interrupt", lambda r: r["next_output"].p95))
    )
    out.append(Row(title, "resume request -> completion p50, ms", values("interrupt", lambda r: r["completion"].p50)))


def fanout_rows(results: Results, out: list[Row]) -> None:
    s = results.sizes
    if "fanout" in results.skipped or not results.fanout:
        reason = results.skipped.get("fanout") or next(
            (v for k, v in results.skipped.items() if k.startswith("fanout")), "not run"
        )
        out.append(Row("SSE fan-out", "not measured", {"graphgate": reason}))
    peers = {"peer": "n/a", "aegra": "n/a"}  # see NOTES
    for f in results.fanout:
        title = f"SSE fan-out, {f.clients:,} clients on {f.sessions:,} sessions"
        rate = Row(
            title,
            f"events/s delivered (written {f.produced_per_second:,.0f}/s)",
            {"graphgate": f.delivered_per_second, **peers},
            higher_is_better=True,
            digits=0,
            target=f">= {s.sse_rate:,.0f}/s",
        )
        rate.met = judge(f.delivered_per_second, 0.95 * s.sse_rate, higher_is_better=True)
        out.append(rate)
        lost = f.expected - f.delivered
        out.append(
            Row(
                title,
                "clients held / deliveries lost",
                {"graphgate": f"{f.connected - f.dropped}/{f.clients}, {lost} lost"},
                target="all held, 0 lost",
                met=f.connected - f.dropped == f.clients and lost == 0,
            )
        )
        out.append(Row(title, "seconds until every client was live", {"graphgate": f.held_in}))
        out.append(Row(title, "delivery lag p50, ms", {"graphgate": f.lag_ms.p50}))
        lag = Row(title, "delivery lag p99, ms", {"graphgate": f.lag_ms.p99}, target="<= 50 ms")
        lag.met = judge(f.lag_ms.p99, 50)
        out.append(lag)
        rss = Row(
            title,
            "API RSS, MB (peak)",
            {"graphgate": f"{f.rss_kib / 1024:.0f} ({f.hwm_kib / 1024:.0f})"},
            target="<= 300 MB",
            met=f.hwm_kib / 1024 <= 300,
        )
        out.append(rss)
        out.append(Row(title, "API CPU, cores", {"graphgate": f.api_cpu}, digits=2))


def limit_rows(results: Results, out: list[Row]) -> None:
    xadd = results.limits.get("xadd")
    if xadd:
        for rate in xadd:
            out.append(
                Row(
                    "limits: redis-benchmark XADD",
                    f"{rate.clients} client(s): ops/s (p50 ms)",
                    {"graphgate": f"{rate.per_second:,.0f} ({rate.p50_ms:.3f})"},
                )
            )
    celery = results.limits.get("celery")
    if celery:
        out.append(
            Row(
                "limits: Celery no-op task",
                "round trip p50 / p95, ms",
                {"graphgate": f"{celery.round_trip_ms.p50:.1f} / {celery.round_trip_ms.p95:.1f}"},
            )
        )
        out.append(
            Row(
                "limits: Celery no-op task",
                f"burst of {celery.burst:,}: tasks/s",
                {"graphgate": celery.per_second},
                digits=0,
            )
        )


def to_json(results: Results) -> dict[str, Any]:
    def plain(value: Any) -> Any:
        if isinstance(value, (Latency, Throughput, fanout.FanoutResult)):
            return value.as_dict()
        if hasattr(value, "__dataclass_fields__"):
            return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(v) for v in value]
        return value

    return plain(
        {
            "machine": results.machine,
            "sizes": results.sizes,
            "systems": results.systems,
            "fanout": results.fanout,
            "limits": results.limits,
            "chat": results.chat,
            "skipped": results.skipped,
        }
    )


def parse(argv: list[str] | None) -> tuple[Options, argparse.Namespace]:
    d = Sizes()
    p = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--smoke", action="store_true", help="tiny sizes, to check the bench itself works")
    p.add_argument("--only", default=",".join(WORKLOADS), help=f"comma-separated subset of {', '.join(WORKLOADS)}")
    p.add_argument("--no-peer", action="store_true", help="do not start the LangGraph server (langgraph dev)")
    p.add_argument("--no-aegra", action="store_true", help="do not start Aegra")
    p.add_argument(
        "--aegra-python",
        help="the Python >= 3.12 to make .venv-aegra with (default: the first found on PATH or in pyenv)",
    )
    p.add_argument(
        "--postgres-url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server where a throwaway database may be created ('' to skip)",
    )
    p.add_argument(
        "--worker-concurrency",
        type=int,
        help="graphgate worker processes, threads with --worker-pool threads (default 4; 1 with --smoke)",
    )
    p.add_argument("--worker-pool", default="prefork", choices=["prefork", "threads", "solo"])
    p.add_argument(
        "--redis-cluster",
        action="store_true",
        help="graphgate's columns keep their state on a 3-primary Redis Cluster (the private Redis is the broker)",
    )
    p.add_argument("--runs", type=int, help=f"sequential echo runs (default {d.runs})")
    p.add_argument("--throughput-runs", type=int, help=f"echo runs of the throughput row (default {d.throughput_runs})")
    p.add_argument("--concurrency", type=int, help=f"clients of the throughput row (default {d.concurrency})")
    p.add_argument("--rounds", type=int, help=f"interrupt round trips (default {d.rounds})")
    p.add_argument("--sse-clients", type=int, help=f"SSE clients (default {d.sse_clients})")
    p.add_argument(
        "--sse-sessions",
        help=f"sessions the clients follow, one fan-out row each (default {','.join(map(str, d.sse_sessions))})",
    )
    p.add_argument(
        "--sse-rate", type=float, help=f"events per second delivered to all clients together (default {d.sse_rate:g})"
    )
    p.add_argument("--sse-seconds", type=float, help=f"length of the fan-out window (default {d.sse_seconds:g})")
    p.add_argument("--chat-tasks", type=int, help=f"echo runs per chat platform (default {d.chat_tasks})")
    p.add_argument("--chat-channels", type=int, help=f"Slack channels and Telegram chats (default {d.chat_channels})")
    p.add_argument("--json", type=Path, help="also write every result to this file")
    p.add_argument("--markdown", type=Path, help="also write the table as Markdown to this file")
    p.add_argument("--strict", action="store_true", help="stop at the first failure instead of noting it in the table")
    args = p.parse_args(argv)
    sizes = SMOKE if args.smoke else d
    overrides = {
        k: getattr(args, k)
        for k in (
            "runs",
            "throughput_runs",
            "concurrency",
            "rounds",
            "sse_clients",
            "sse_rate",
            "sse_seconds",
            "chat_tasks",
            "chat_channels",
        )
        if getattr(args, k) is not None
    }
    if args.sse_sessions:
        overrides["sse_sessions"] = tuple(int(x) for x in args.sse_sessions.split(","))
    sizes = replace(sizes, **overrides)
    only = tuple(w.strip() for w in args.only.split(",") if w.strip())
    unknown = set(only) - set(WORKLOADS)
    if unknown:
        p.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    concurrency = args.worker_concurrency or (1 if args.smoke else 4)
    opts = Options(
        sizes,
        only,
        not args.no_peer,
        not args.no_aegra,
        args.aegra_python,
        args.postgres_url or None,
        concurrency,
        args.worker_pool,
        args.strict,
        args.redis_cluster,
    )
    return opts, args


def main(argv: list[str] | None = None) -> int:
    opts, args = parse(argv)
    started = time.perf_counter()
    results = run(opts)
    table = rows(results)
    m = results.machine
    print()
    print(
        f"graphgate bench: {m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, Python {m['python']}; "
        f"load average {m['loadavg_start']} at start, {m['loadavg_end']} at end; "
        f"graphgate worker --pool {opts.worker_pool} --concurrency {opts.worker_concurrency}; "
        f"{time.perf_counter() - started:.0f} s"
    )
    print(f"versions: {m['versions']}" + (f"; Aegra: {m['aegra']}" if m.get("aegra") else ""))
    if m.get("state"):
        print(m["state"])
    print(render_text(table))
    notes = [*NOTES, *(f"not measured: {key}: {why}" for key, why in results.skipped.items())]
    for note in notes:
        print(f"  {note}")
    if args.json:
        args.json.write_text(json.dumps(to_json(results), indent=2, default=str))
    if args.markdown:
        args.markdown.write_text(render_markdown(table) + "\n\n" + "".join(f"* {note}\n" for note in notes))
    failed = [k for k, v in results.skipped.items() if v.startswith("failed")]
    return 1 if failed else 0
