"""The floor under graphgate's numbers on this machine: Redis's XADD rate and a Celery no-op round trip."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass

import redis

from bench.stats import Latency
from graphgate.testing.stack import ROOT


@dataclass(frozen=True)
class XaddRate:
    clients: int
    per_second: float
    p50_ms: float


def redis_xadd(port: int, requests: int) -> list[XaddRate]:
    """``redis-benchmark ... XADD bench * f v`` with its default 50 clients and with one client."""
    binary = shutil.which("redis-benchmark")
    if binary is None:
        raise RuntimeError("redis-benchmark is not installed")
    out = []
    for clients in (50, 1):
        n = requests if clients > 1 else max(1000, requests // 5)
        proc = subprocess.run(
            [
                binary,
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-c",
                str(clients),
                "-n",
                str(n),
                "--csv",
                "XADD",
                "bench:xadd",
                "*",
                "f",
                "v",
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        rows = [row for row in csv.DictReader(io.StringIO(proc.stdout)) if row.get("rps")]
        out.append(XaddRate(clients, float(rows[-1]["rps"]), float(rows[-1]["p50_latency_ms"])))
    redis.Redis(port=port).delete("bench:xadd")
    return out


@dataclass(frozen=True)
class CeleryFloor:
    round_trip_ms: Latency  # one no-op task at a time: apply_async -> result
    burst: int
    per_second: float  # a burst of no-ops submitted at once, until every result is in


def celery_noop(redis_url: str, runs: int, burst: int, concurrency: int, pool: str, warmup: int = 10) -> CeleryFloor:
    """Start a no-op Celery worker with graphgate's pool settings and time its tasks."""
    env = {**os.environ, "BENCH_REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "bench.celery_noop",
            "worker",
            "-Q",
            "bench.noop",
            "-c",
            str(concurrency),
            "-P",
            pool,
            "--without-gossip",
            "--without-mingle",
            "-E",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        from bench import celery_noop as mod

        mod.app.conf.broker_url = redis_url  # before the app's first use: it connects lazily
        mod.app.conf.result_backend = redis_url
        mod.noop.delay().get(timeout=90)  # the worker is up
        samples: list[float] = []
        for i in range(warmup + runs):
            t0 = time.perf_counter()
            mod.noop.delay().get(timeout=30)
            if i >= warmup:
                samples.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        results = [mod.noop.delay() for _ in range(burst)]
        for result in results:
            result.get(timeout=120)
        seconds = time.perf_counter() - t0
        return CeleryFloor(Latency.of(samples), burst, burst / seconds)
    finally:
        worker.terminate()
        try:
            worker.wait(20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
