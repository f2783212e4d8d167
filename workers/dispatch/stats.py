"""What a dispatcher counts while it delivers; logged when it stops, read by tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Stats:
    calls: int = 0  # platform calls accepted
    posts: int = 0
    edits: int = 0
    rate_limited: int = 0  # RateLimited answers (each held its channel for Retry-After)
    retried: int = 0  # TransientError answers (each retried after a back-off)
    skipped_entries: int = 0  # redelivered entries already applied
    failures: int = 0  # tasks whose delivery ended with delivery.failed
    batch_errors: int = 0  # batches that raised and were retried from the recorded state
    given_up: int = 0  # entries acked undelivered after MAX_BATCH_ATTEMPTS failed batches
