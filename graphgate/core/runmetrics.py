"""Run-duration histograms kept in Redis: written by the workers, read by the API's ``/metrics``.

Workers have no HTTP port, and there may be any number of them on any number of hosts; so each
``run_graph`` attempt adds its wall time to one histogram kept in a Redis hash (``Keys.run_metrics``), per graph
and outcome. Every API replica exports the same cluster-wide histogram: it is a counter that only grows and
survives worker restarts (and Redis restarts, with AOF), so ``rate()`` and ``histogram_quantile()`` work on it
as on any Prometheus histogram. Cost: one pipelined Redis round trip per attempt.

Hash fields: ``b|<graph>|<outcome>|<i>`` counts attempts whose duration fell in bucket ``i`` (not cumulative),
``s|<graph>|<outcome>`` sums their durations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import redis

from graphgate.core.keys import Keys

RUN_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, math.inf)
OUTCOMES = {
    "completed": "completed",
    "failed": "failed",
    "cancelled": "cancelled",
    "waiting_input": "interrupted",  # stopped at an interrupt(), waiting for an answer
    "queued": "requeued",  # retried after an error, or handed back (another delivery owned it)
}
SEP = "|"


def bucket_index(seconds: float) -> int:
    """The first bucket whose upper bound is at least ``seconds``."""
    for i, bound in enumerate(RUN_BUCKETS):
        if seconds <= bound:
            return i
    return len(RUN_BUCKETS) - 1


def record_run(client: redis.Redis, keys: Keys, graph: str, outcome: str, seconds: float) -> None:
    """Add one attempt of ``seconds`` to the histogram of ``graph`` and ``outcome``."""
    key = keys.run_metrics()
    with client.pipeline(transaction=False) as pipe:
        pipe.hincrby(key, SEP.join(("b", graph, outcome, str(bucket_index(seconds)))), 1)
        pipe.hincrbyfloat(key, SEP.join(("s", graph, outcome)), seconds)
        pipe.execute()


@dataclass
class RunHistogram:
    """One graph and outcome's histogram, cumulative as Prometheus wants it."""

    graph: str
    outcome: str
    counts: list[int] = field(default_factory=lambda: [0] * len(RUN_BUCKETS))
    total: float = 0.0

    def cumulative(self) -> list[tuple[str, int]]:
        out, running = [], 0
        for bound, count in zip(RUN_BUCKETS, self.counts):
            running += count
            out.append(("+Inf" if math.isinf(bound) else f"{bound:g}", running))
        return out


def read_run_histograms(raw: dict[str, str]) -> list[RunHistogram]:
    """Parse the hash written by ``record_run``; fields it does not recognise are skipped."""
    hists: dict[tuple[str, str], RunHistogram] = {}
    for name, value in raw.items():
        parts = name.split(SEP)
        try:
            if parts[0] == "b" and len(parts) == 4:
                h = hists.setdefault((parts[1], parts[2]), RunHistogram(parts[1], parts[2]))
                h.counts[int(parts[3])] += int(value)
            elif parts[0] == "s" and len(parts) == 3:
                h = hists.setdefault((parts[1], parts[2]), RunHistogram(parts[1], parts[2]))
                h.total += float(value)
        except (ValueError, IndexError):
            continue
    return [hists[k] for k in sorted(hists)]
