"""Webhooks' rules, shared by the API (which checks a webhook when a task names it) and the workers (which
POST it, workers/webhooks.py): what a webhook URL may be, where it may point, and how each POST is signed.

**Where it may point.** Unless ``GRAPHGATE_WEBHOOK_ALLOW_PRIVATE`` is set, a host that resolves to a loopback,
private, link-local or reserved address is refused, when the task is created (a 422, nothing stored) and
again when the POST is made (DNS may have changed): a caller must not be able to make the workers reach
internal services.

**Signature.** With ``GRAPHGATE_WEBHOOK_SECRET`` set, each POST carries ``X-Graphgate-Signature:
t=<unix seconds>,v1=<hex>``, where ``<hex>`` is HMAC-SHA256 of ``<t>.<body>`` under the secret (Slack's and
Stripe's scheme): a receiver recomputes it over the raw body, compares in constant time, and refuses a ``t``
older than a few minutes (a replayed request). ``verify`` does exactly that.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from urllib.parse import urlsplit

from graphgate.core.errors import InvalidInput

SIGNATURE_HEADER = "X-Graphgate-Signature"
DELIVERY_HEADER = "X-Graphgate-Delivery"  # the idempotency key: the same for every retry of one POST
TOLERANCE_SECONDS = 300  # how old a signed timestamp ``verify`` accepts


class AddressRefused(ValueError):
    """The webhook's host resolves to an address it may not point at."""


def check_url(url: str) -> None:
    """``InvalidInput`` unless ``url`` is an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput("webhook must be an absolute http:// or https:// URL")


def check_public(url: str) -> None:
    """``AddressRefused`` unless every address ``url``'s host resolves to is a public one (``OSError`` when
    it does not resolve)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80))
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if not address.is_global:
            raise AddressRefused(f"{host!r} resolves to {address}, which is not a public address")


def check_webhook(url: str, allow_private: bool) -> None:
    """What a task's webhook must pass when the task is created: ``InvalidInput`` saying why it is refused."""
    check_url(url)
    if allow_private:
        return
    try:
        check_public(url)
    except AddressRefused as exc:
        raise InvalidInput(f"webhook {exc} (GRAPHGATE_WEBHOOK_ALLOW_PRIVATE is off)") from exc
    except OSError as exc:
        raise InvalidInput(f"webhook host does not resolve: {exc}") from exc


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The ``X-Graphgate-Signature`` value of ``body`` sent at ``timestamp`` (now by default)."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def verify(secret: str, header: str, body: bytes, now: float | None = None) -> bool:
    """True when ``header`` signs ``body`` under ``secret`` and its timestamp is recent (what a receiver does)."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    try:
        t = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - t) > TOLERANCE_SECONDS:
        return False
    expected = sign(secret, body, t).split(",v1=", 1)[1]
    return hmac.compare_digest(expected.encode(), fields.get("v1", "").encode("utf-8", "replace"))
