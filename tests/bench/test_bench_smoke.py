"""The bench with tiny sizes (``python -m bench --smoke``), so it cannot rot: every workload runs end to end
against real processes and the table comes out. The numbers themselves are not checked here; speed belongs
in the bench (docs/performance.md), not in the test suite. Aegra is left to the full bench (its venv and
database take half a minute to make); what the bench does differently for it is checked here without it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bench import peer_load
from bench.systems import PostgresCpu, peer_missing
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
        "--no-aegra",
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
        "graphgate /api/v1 (SQLite)",
        "graphgate LangGraph API (SQLite)",
        "langgraph dev",
        "Aegra",
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

    lg = result["systems"]["graphgate_lg"]  # graphgate driven by the peers' client
    assert lg["latency"]["first_output"]["n"] == sizes["runs"]
    assert lg["throughput"]["errors"] == 0 and lg["throughput"]["cpu_ms_per_run"]["worker"] > 0
    assert lg["interrupt"]["next_output"]["n"] == sizes["rounds"]

    assert "graphgate_pg" in result["skipped"]
    assert result["skipped"]["aegra"] == "--no-aegra"
    if peer_why:
        assert "peer" in result["skipped"]
    else:
        peer = result["systems"]["peer"]
        assert peer["latency"]["first_output"]["n"] == sizes["runs"]
        assert peer["throughput"]["errors"] == 0
    if "chat" not in result["skipped"]:
        for platform in result["chat"]["platforms"]:
            assert platform["events"] > 0 and platform["unhonoured_429"] == 0


class FakeRuns:
    """The SDK's ``runs.stream``, playing back fixed frames: the client's handling of them without a server."""

    def __init__(self, frames: list[tuple[str, Any]]) -> None:
        self.frames = frames

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        for event, data in self.frames:
            yield SimpleNamespace(event=event, data=data)


def test_stream_takes_aegras_end_frame() -> None:
    """Aegra ends every stream with ``event: end``: the end of a run there, a failed one when it says so."""
    ok = [("metadata", {"run_id": "r"}), ("updates", {"receive": {}}), ("end", {"status": "success"})]
    first, end, parts = asyncio.run(peer_load._stream(SimpleNamespace(runs=FakeRuns(ok)), "t", "echo"))
    assert 0 < first <= end and [p.event for p in parts] == ["metadata", "updates", "end"]
    failed = [("metadata", {"run_id": "r"}), ("end", {"status": "error"})]
    with pytest.raises(peer_load.PeerRunFailed):
        asyncio.run(peer_load._stream(SimpleNamespace(runs=FakeRuns(failed)), "t", "echo"))


def test_postgres_cpu_counts_backends_that_exit() -> None:
    """Pools open and close connections during a batch: a backend that exits before the end still counts,
    through its parent's reaped-children CPU (here a shell stands for the postmaster)."""
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    postmaster = subprocess.Popen(["sh", "-c", f"sleep 0.2; {sys.executable} -c '{burn}'; sleep 30"])
    try:
        meter = PostgresCpu(postmaster.pid, "graphgate_bench_x").start()
        children = Path(f"/proc/{postmaster.pid}/task/{postmaster.pid}/children")

        def burner_gone() -> bool:
            titles = []
            for pid in children.read_text().split():
                try:
                    titles.append(Path(f"/proc/{pid}/cmdline").read_bytes())
                except FileNotFoundError:  # it exited between the listing and the read: gone
                    pass
            return titles == [b"sleep\x0030\x00"]

        deadline = time.monotonic() + 10
        while not burner_gone() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert burner_gone()
        assert meter.stop() >= 0.25  # the burner's 0.3 s, though it exited before the end
    finally:
        postmaster.kill()
        postmaster.wait()


def test_the_in_process_attempt_bench_runs(capsys: pytest.CaptureFixture[str]) -> None:
    """``python -m bench.attempt``: the worker attempt measurement behind docs/performance.md still runs."""
    from bench import attempt

    assert attempt.main(["--runs", "10"]) == 0
    out = capsys.readouterr().out
    assert "10 attempts: CPU" in out and "'evalsha': 5.0" in out  # begin, three node events, the final transition
