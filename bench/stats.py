"""Summaries of measured samples: percentiles and rates, rounded the way the table prints them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


def percentile(values: list[float], p: float) -> float:
    """The ``p``-th percentile (nearest rank) of ``values``; NaN when there are none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Latency:
    """Milliseconds: p50/p95/p99 and the number of samples they come from."""

    p50: float
    p95: float
    p99: float
    n: int

    @classmethod
    def of(cls, samples_ms: list[float]) -> Latency:
        return cls(percentile(samples_ms, 50), percentile(samples_ms, 95), percentile(samples_ms, 99), len(samples_ms))

    def as_dict(self) -> dict[str, float]:
        return {"p50": self.p50, "p95": self.p95, "p99": self.p99, "n": self.n}


@dataclass(frozen=True)
class Throughput:
    """Completed runs per second over the wall time of the whole batch, and how many runs went wrong."""

    runs: int
    seconds: float
    errors: int
    completion_ms: Latency  # per-run time from request to completion while the batch ran
    cpu_seconds: dict[str, float] = field(default_factory=dict)  # CPU spent during the batch, by process group

    def cpu_ms_per_run(self) -> dict[str, float]:
        done = max(1, self.runs - self.errors)
        return {name: seconds * 1000 / done for name, seconds in self.cpu_seconds.items()}

    @property
    def per_second(self) -> float:
        return (self.runs - self.errors) / self.seconds if self.seconds > 0 else math.nan

    def as_dict(self) -> dict[str, object]:
        return {
            "runs": self.runs,
            "seconds": self.seconds,
            "errors": self.errors,
            "per_second": self.per_second,
            "completion_ms": self.completion_ms.as_dict(),
            "cpu_ms_per_run": self.cpu_ms_per_run(),
        }
