"""Authentication: JWT bearer tokens for API clients, and short-lived tokens for one session's SSE stream.

Bearer tokens are verified with an explicit algorithm allow-list that is tied to the configured key type
(HS256 for a shared secret; RS256/ES256 for a public key), so ``alg: none`` and HS/RS confusion never
verify. ``exp`` is required; ``iss`` and ``aud`` are checked when configured.
"""

from __future__ import annotations

import time
from typing import Any

import jwt

from graphgate.core.approvals import Actor
from graphgate.core.errors import Forbidden, Unauthorized
from graphgate.core.settings import Settings
from graphgate.core.tasks import Principal

STREAM_TOKEN_TYPE = "graphgate.stream"
ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "EdDSA"]


class Authenticator:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        if settings.jwt_public_key:
            self._key: Any = settings.jwt_public_key
            allowed = settings.jwt_algorithms or ["RS256", "ES256"]
            bad = [a for a in allowed if a not in ASYMMETRIC_ALGORITHMS]
        else:
            self._key = settings.resolved_jwt_secret()
            allowed = settings.jwt_algorithms or ["HS256"]
            bad = [a for a in allowed if not a.startswith("HS")]
        if bad:
            raise ValueError(f"JWT algorithms {bad} do not fit the configured key type")
        self.algorithms = allowed
        self._stream_key = settings.resolved_secret_key()

    def principal_from_bearer(self, authorization: str | None) -> Principal:
        """The principal named by a valid ``Authorization: Bearer`` token; ``Unauthorized`` otherwise."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthorized()
        return self.principal_from_token(authorization[7:].strip())

    def principal_from_token(self, token: str) -> Principal:
        return Principal(self.claims_from_token(token)["sub"])

    def actor_from_bearer(self, authorization: str | None) -> Actor:
        """The caller as an answerer of routed questions: its principal and the token's claims."""
        if not authorization or not authorization.lower().startswith("bearer "):
            raise Unauthorized()
        claims = self.claims_from_token(authorization[7:].strip())
        return Actor.api(claims["sub"], claims)

    def claims_from_token(self, token: str) -> dict[str, Any]:
        """The claims of a valid bearer token (``sub`` a non-empty string); ``Unauthorized`` otherwise."""
        options = {"require": ["exp", "sub"]}
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=self.algorithms,
                issuer=self.settings.jwt_issuer,
                audience=self.settings.jwt_audience,
                options={**options, "verify_aud": self.settings.jwt_audience is not None},  # type: ignore[dict-item]
                leeway=5,
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid token: {exc}") from exc
        if claims.get("typ") == STREAM_TOKEN_TYPE or not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise Unauthorized("invalid token: not a bearer token")
        return dict(claims)

    # --- session-scoped stream tokens ----------------------------------------------------------------

    def mint_stream_token(self, principal: Principal, session_id: str) -> tuple[str, int]:
        """A token that opens exactly one session's event stream, for browsers' EventSource."""
        ttl = self.settings.stream_token_ttl_seconds
        now = int(time.time())
        claims = {"sub": principal.id, "sid": session_id, "typ": STREAM_TOKEN_TYPE, "iat": now, "exp": now + ttl}
        return jwt.encode(claims, self._stream_key, algorithm="HS256"), ttl

    def principal_from_stream_token(self, token: str, session_id: str) -> Principal:
        try:
            claims = jwt.decode(
                token, self._stream_key, algorithms=["HS256"], options={"require": ["exp", "sid", "sub"]}
            )
        except jwt.PyJWTError as exc:
            raise Unauthorized(f"invalid stream token: {exc}") from exc
        if claims.get("typ") != STREAM_TOKEN_TYPE:
            raise Unauthorized("invalid stream token")
        if claims["sid"] != session_id:
            raise Forbidden("this stream token is for another session")
        return Principal(claims["sub"])


def mint_dev_token(settings: Settings, sub: str, ttl_seconds: int = 24 * 3600) -> str:
    """An HS256 bearer token for development (``graphgate token``); needs a shared secret, not a public key."""
    if settings.jwt_public_key:
        raise ValueError("the gateway verifies with a public key; mint tokens with your identity provider")
    now = int(time.time())
    claims: dict[str, Any] = {"sub": sub, "iat": now, "exp": now + ttl_seconds}
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.resolved_jwt_secret(), algorithm="HS256")
