"""The bench with tiny sizes (``python -m bench --smoke``), so it cannot rot: every workload runs end to end
against real processes and the table comes out. The numbers themselves are not checked here; speed belongs
in the bench (docs/performance.md), not in the test suite.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.systems import peer_missing
from graphgate.testing.stack import ROOT


@pytest.mark.timeout(300)
def test_bench_smoke(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    table = tmp_path / "bench.md"
    # the PostgreSQL column is left to the full bench (tests/e2e/test_postgres_checkpointer.py covers that
    # checkpointer): it would add a third stack start to a test that should stay well under a minute
    argv = [
        sys.executable,
        "-m",
        "bench",
        "--smoke",
        "--strict",
        "--postgres-url",
        "",
        "--json",
        str(out),
        "--markdown",
        str(table),
    ]
    peer_why = peer_missing()
    if peer_why:
        argv.append("--no-peer")  # the LangGraph server is the `bench` extra; the rest still runs
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRAPHGATE_")}
    proc = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}"

    printed = proc.stdout
    for heading in (
        "graphgate (SQLite)",
        "LangGraph server",
        "echo, 2 sequential runs",
        "interrupt round trips",
        "SSE fan-out",
        "chat delivery",
        "limits: redis-benchmark XADD",
        "limits: Celery no-op task",
    ):
        assert heading in printed, printed
    assert table.read_text().startswith("| workload | measure |")

    result = json.loads(out.read_text())
    sizes = result["sizes"]
    gg = result["systems"]["graphgate"]
    assert gg["latency"]["first_output"]["n"] == sizes["runs"]
    assert gg["latency"]["completion"]["p50"] >= gg["latency"]["first_output"]["p50"] > 0
    assert gg["throughput"]["errors"] == 0 and gg["throughput"]["per_second"] > 0
    assert gg["interrupt"]["next_output"]["n"] == sizes["rounds"]

    (fan,) = result["fanout"]
    assert fan["connected"] == fan["clients"] == sizes["sse_clients"]
    assert fan["delivered"] == fan["expected"] > 0 and fan["dropped"] == 0
    assert fan["rss_mib"] > 0

    assert result["limits"]["xadd"][0]["per_second"] > 0
    assert result["limits"]["celery"]["round_trip_ms"]["n"] == sizes["celery_runs"]

    assert "graphgate_pg" in result["skipped"]
    if peer_why:
        assert "peer" in result["skipped"]
    else:
        peer = result["systems"]["peer"]
        assert peer["latency"]["first_output"]["n"] == sizes["runs"]
        assert peer["throughput"]["errors"] == 0
    if "chat" not in result["skipped"]:
        for platform in result["chat"]["platforms"]:
            assert platform["events"] > 0 and platform["unhonoured_429"] == 0
