"""Per-principal rate limits: past GRAPHGATE_RATE_LIMIT_PER_MINUTE, creating, resuming and cancelling get 429
with Retry-After, and change nothing; other principals and reads are not affected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import httpx
import pytest
import redis.asyncio as aioredis

from graphgate.core.errors import TooManyRequests
from graphgate.core.keys import Keys
from graphgate.core.tasks import Principal
from graphgate.gateway.ratelimit import WINDOW_SECONDS, RateLimiter
from graphgate.testing.client import Api
from graphgate.testing.stack import Stack

LIMIT = 5


def test_limiter_counts_per_principal_and_window(redis_url: str) -> None:
    async def scenario() -> None:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        limiter = RateLimiter(client, Keys("rl-unit-" + str(time.time_ns())), per_minute=3)
        start = 1_800_000_000.0 + 12  # 12 s into a window
        for i in range(3):
            await limiter.hit(Principal("ann"), now=start + i)
        with pytest.raises(TooManyRequests) as refused:
            await limiter.hit(Principal("ann"), now=start + 5)
        assert refused.value.status_code == 429
        assert refused.value.headers == {"Retry-After": str(WINDOW_SECONDS - 12 - 5)}
        await limiter.hit(Principal("bob"), now=start + 5)  # someone else is not affected
        await limiter.hit(Principal("ann"), now=start + WINDOW_SECONDS)  # the next window starts afresh
        off = RateLimiter(client, limiter.keys, per_minute=0)
        for _ in range(10):
            await off.hit(Principal("ann"), now=start + 5)  # 0 = no limit
        await client.aclose()

    asyncio.run(scenario())


@pytest.fixture(scope="module")
def limited(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        redis_url=redis_url,
        workdir=tmp_path_factory.mktemp("limited"),
        extra_env={"GRAPHGATE_RATE_LIMIT_PER_MINUTE": str(LIMIT)},
    )
    try:
        stack.start_api()  # no worker: the tasks stay queued, which is all this needs
        yield stack
    finally:
        stack.stop()


def fresh_window(needed: float = 15) -> None:
    """Wait for a new one-minute window when less than ``needed`` seconds of this one are left."""
    left = WINDOW_SECONDS - time.time() % WINDOW_SECONDS
    if left < needed:
        time.sleep(left + 0.1)


def test_creates_over_the_limit_get_429_with_retry_after(limited: Stack) -> None:
    fresh_window()
    api, other = Api(limited.url, "rl-ann"), Api(limited.url, "rl-bob")
    for i in range(LIMIT):
        api.create(graph="echo", input={"text": str(i)})
    refused = api.http.post("/api/v1/tasks", json={"graph": "echo", "input": {"text": "one too many"}})
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited" and "per minute" in refused.json()["error"]["message"]
    assert 1 <= int(refused.headers["Retry-After"]) <= WINDOW_SECONDS
    assert len(api.http.get("/api/v1/tasks").json()["tasks"]) == LIMIT  # the refused request created nothing
    assert api.http.get("/api/v1/tasks").status_code == 200  # reads are not limited
    other.create(graph="echo", input={"text": "not affected"})  # nor are other principals


def test_resume_and_cancel_count_too(limited: Stack) -> None:
    fresh_window()
    api = Api(limited.url, "rl-cy")
    created = api.create(graph="echo", input={"text": "x"})
    for _ in range(LIMIT - 1):
        assert api.resume(created["task_id"], "answer").status_code == 409  # counted, even when refused
    resp = api.cancel(created["task_id"])
    assert resp.status_code == 429 and "Retry-After" in resp.headers
    assert api.get(created["task_id"])["status"] == "queued"  # the limited cancel changed nothing


def test_unauthenticated_requests_are_401_not_counted(limited: Stack) -> None:
    fresh_window()
    for _ in range(LIMIT + 2):
        assert httpx.post(f"{limited.url}/api/v1/tasks", json={"graph": "echo"}).status_code == 401
    Api(limited.url, "rl-dee").create(graph="echo", input={"text": "fine"})
