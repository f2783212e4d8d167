"""Fixtures of the security tests: an API configured as production would be (issuer and audience checked,
CORS for one origin), with a worker, on the test run's private Redis under a key prefix of its own."""

from __future__ import annotations

import time
from collections.abc import Iterator

import jwt
import pytest

from graphgate.testing.client import Api
from graphgate.testing.stack import JWT_SECRET, Stack

ISSUER = "https://idp.graphgate.test"
AUDIENCE = "graphgate-api"
ALLOWED_ORIGIN = "https://app.graphgate.test"


def bearer(sub: str, **claims: object) -> str:
    """A valid token for the secured stack (right secret, issuer and audience), claims overridable."""
    now = int(time.time())
    body = {"sub": sub, "iat": now, "exp": now + 3600, "iss": ISSUER, "aud": AUDIENCE, **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, JWT_SECRET, algorithm="HS256")


@pytest.fixture(scope="session")
def secured(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(
        redis_url=redis_url,
        workdir=tmp_path_factory.mktemp("secured"),
        extra_env={
            "GRAPHGATE_JWT_ISSUER": ISSUER,
            "GRAPHGATE_JWT_AUDIENCE": AUDIENCE,
            "GRAPHGATE_CORS_ORIGINS": f'["{ALLOWED_ORIGIN}"]',
            "GRAPHGATE_RATE_LIMIT_PER_MINUTE": "0",
        },
    )
    try:
        stack.start_worker(concurrency=1)
        stack.start_api()
        yield stack
    finally:
        stack.stop()


@pytest.fixture
def user(secured: Stack) -> Api:
    return Api(secured.url, "alice", token=bearer("alice"))
