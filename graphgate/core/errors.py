"""Named errors, each with the HTTP status it maps to (gateway/app.py turns them into responses)."""

from __future__ import annotations


class GraphgateError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.headers = headers or {}


class InvalidInput(GraphgateError):
    status_code = 422
    code = "invalid_input"


class Unauthorized(GraphgateError):
    status_code = 401
    code = "unauthorized"

    def __init__(self, message: str = "missing or invalid credentials") -> None:
        super().__init__(message, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(GraphgateError):
    status_code = 403
    code = "forbidden"


class NotFound(GraphgateError):
    status_code = 404
    code = "not_found"


class Conflict(GraphgateError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(GraphgateError):
    status_code = 413
    code = "payload_too_large"


class TooManyRequests(GraphgateError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})


class Unavailable(GraphgateError):
    status_code = 503
    code = "unavailable"
