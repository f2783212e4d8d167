"""``gateway.cli`` processes beside a ``Stack`` (the dispatcher, a platform's listener), for connector tests."""

from __future__ import annotations

import subprocess
import sys
import uuid

from graphgate.cli.processes import wait_until
from graphgate.testing.stack import ROOT, Proc, Stack

# Faster than the product's defaults, so that tests see hand-overs and every shard quickly.
DISPATCHER_ENV = {"GRAPHGATE_DISPATCHER_LEASE_SECONDS": "3", "GRAPHGATE_DELIVERY_SHARDS": "4"}


def spawn(stack: Stack, name: str, args: list[str], ready: str, **extra_env: str) -> Proc:
    """``python -m graphgate.cli <args>`` against the stack; returns once its log shows ``ready``."""
    log = stack.workdir / f"{name}-{uuid.uuid4().hex[:4]}.log"
    stack.workdir.mkdir(parents=True, exist_ok=True)
    out = open(log, "ab")
    popen = subprocess.Popen(
        [sys.executable, "-m", "graphgate.cli", *args],
        env={**stack.env, **extra_env},
        cwd=ROOT,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    proc = Proc(name, popen, log)

    def started() -> bool:
        if popen.poll() is not None:
            raise RuntimeError(f"{name} exited:\n{proc.text()[-3000:]}")
        return ready in proc.text()

    if not wait_until(started, 60, 0.1):
        raise RuntimeError(f"{name} did not start:\n{proc.text()[-3000:]}")
    return proc


def start_dispatcher(stack: Stack, name: str = "dispatcher", **extra_env: str) -> Proc:
    """``python -m graphgate.cli dispatcher`` against the stack; returns once it owns shards."""
    return spawn(stack, name, ["dispatcher"], "owns shards", **extra_env)


def start_scheduler(stack: Stack, name: str = "scheduler", **extra_env: str) -> Proc:
    """``python -m graphgate.cli scheduler`` against the stack; returns once it polls."""
    return spawn(stack, name, ["scheduler"], "scheduler started", **extra_env)
