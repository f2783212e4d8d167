"""Bearer and stream tokens over real HTTP: every forged, expired, misdirected or confused token gets 401
(with ``WWW-Authenticate: Bearer``) on every protected route, and changes nothing; a token of one
principal never reaches another's data. tests/gateway/test_auth.py checks the same cases on the
Authenticator alone; this proves the running API applies them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from graphgate.testing.client import Api
from graphgate.testing.stack import JWT_SECRET, SECRET_KEY, Stack
from tests.security.conftest import AUDIENCE, ISSUER, bearer


def _b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def _claims(**kw: object) -> dict:
    now = int(time.time())
    return {"sub": "alice", "iat": now, "exp": now + 600, "iss": ISSUER, "aud": AUDIENCE, **kw}


def _tampered() -> str:
    head, _, sig = bearer("alice").split(".")
    return f"{head}.{_b64(_claims(sub='mallory'))}.{sig}"


def _without(name: str) -> str:
    return jwt.encode({k: v for k, v in _claims().items() if k != name}, JWT_SECRET, algorithm="HS256")


NOW = int(time.time())
BAD_TOKENS = {
    "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}.",
    "alg none, signature kept": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}.{bearer('alice').split('.')[2]}",
    "tampered payload": _tampered(),
    "wrong secret": jwt.encode(_claims(), "not-the-secret-not-the-secret-not-the-secret", algorithm="HS256"),
    "signed with the stream key": jwt.encode(_claims(), SECRET_KEY, algorithm="HS256"),
    "HS384 not allowed": jwt.encode(_claims(), JWT_SECRET, algorithm="HS384"),
    "expired": jwt.encode(_claims(exp=NOW - 120), JWT_SECRET, algorithm="HS256"),
    "not yet valid": jwt.encode(_claims(nbf=NOW + 86_400), JWT_SECRET, algorithm="HS256"),
    "issued in the future": jwt.encode(_claims(iat=NOW + 86_400), JWT_SECRET, algorithm="HS256"),
    "wrong issuer": jwt.encode(_claims(iss="https://evil.example"), JWT_SECRET, algorithm="HS256"),
    "wrong audience": jwt.encode(_claims(aud="another-api"), JWT_SECRET, algorithm="HS256"),
    "no issuer": _without("iss"),
    "no audience": _without("aud"),
    "no expiry": _without("exp"),
    "no subject": _without("sub"),
    "empty subject": jwt.encode(_claims(sub=""), JWT_SECRET, algorithm="HS256"),
    "subject not a string": jwt.encode(_claims(sub=42), JWT_SECRET, algorithm="HS256"),
    "stream token as bearer": jwt.encode(
        {**_claims(), "sid": "s1", "typ": "graphgate.stream"}, SECRET_KEY, algorithm="HS256"
    ),
    "garbage": "not.a.token",
}


@pytest.mark.parametrize("name", list(BAD_TOKENS))
def test_bad_bearer_tokens_are_401_everywhere(secured: Stack, name: str) -> None:
    headers = {"Authorization": f"Bearer {BAD_TOKENS[name]}"}
    alice = Api(secured.url, "alice", token=bearer("alice"))
    before = alice.http.get("/api/v1/tasks").json()["tasks"]
    for method, path, body in [
        ("POST", "/api/v1/tasks", {"graph": "echo", "input": {"text": "forged"}}),
        ("GET", "/api/v1/tasks", None),
        ("GET", "/api/v1/tasks/some-task", None),
        ("POST", "/api/v1/tasks/some-task/resume", {"answer": "x"}),
        ("POST", "/api/v1/tasks/some-task/cancel", None),
        ("GET", "/api/v1/events/some-session", None),
        ("POST", "/api/v1/events/some-session/token", None),
        ("GET", "/api/v1/graphs", None),
    ]:
        resp = httpx.request(method, f"{secured.url}{path}", headers=headers, json=body)
        assert resp.status_code == 401, (name, method, path, resp.status_code)
        assert resp.headers["www-authenticate"] == "Bearer"
        assert resp.json()["error"]["code"] == "unauthorized"
        assert BAD_TOKENS[name] not in resp.text  # the token is not echoed back
    assert alice.http.get("/api/v1/tasks").json()["tasks"] == before  # the forged create made nothing


def test_authorization_header_shapes(secured: Stack) -> None:
    good = bearer("alice")
    for value in ("", "Bearer", "Basic YWxpY2U6cHc=", f"Token {good}", f"Bearer{good}", good):
        resp = httpx.get(f"{secured.url}/api/v1/tasks", headers={"Authorization": value})
        assert resp.status_code == 401, value
    for value in (f"Bearer {good}", f"bearer {good}", f"BEARER  {good}"):
        assert httpx.get(f"{secured.url}/api/v1/tasks", headers={"Authorization": value}).status_code == 200, value


def test_stream_tokens_stay_within_their_session_and_principal(secured: Stack) -> None:
    alice, bob = Api(secured.url, "alice", token=bearer("alice")), Api(secured.url, "bob", token=bearer("bob"))
    mine = alice.create(graph="echo", input={"text": "mine"})
    theirs = bob.create(graph="echo", input={"text": "theirs"})
    token = alice.http.post(f"/api/v1/events/{mine['session_id']}/token").json()["token"]
    anon = httpx.Client(base_url=secured.url, timeout=10)
    with anon.stream("GET", f"/api/v1/events/{mine['session_id']}", params={"token": token}) as ok:
        assert ok.status_code == 200
    # on another session: refused, even one of the same principal
    other_of_alice = alice.create(graph="echo", input={"text": "other"})
    assert anon.get(f"/api/v1/events/{other_of_alice['session_id']}", params={"token": token}).status_code == 403
    assert anon.get(f"/api/v1/events/{theirs['session_id']}", params={"token": token}).status_code == 403
    # a stream token correctly signed for bob's session but naming alice opens nothing of bob's
    forged = jwt.encode(
        {"sub": "alice", "sid": theirs["session_id"], "typ": "graphgate.stream", "exp": NOW + 86_400},
        SECRET_KEY,
        algorithm="HS256",
    )
    assert anon.get(f"/api/v1/events/{theirs['session_id']}", params={"token": forged}).status_code == 404
    expired = jwt.encode(
        {"sub": "alice", "sid": mine["session_id"], "typ": "graphgate.stream", "exp": NOW - 60},
        SECRET_KEY,
        algorithm="HS256",
    )
    assert anon.get(f"/api/v1/events/{mine['session_id']}", params={"token": expired}).status_code == 401
    untyped = jwt.encode(
        {"sub": "alice", "sid": mine["session_id"], "exp": NOW + 86_400}, SECRET_KEY, algorithm="HS256"
    )
    assert anon.get(f"/api/v1/events/{mine['session_id']}", params={"token": untyped}).status_code == 401
    # a bearer header wins over ?token=: bob's bearer with alice's stream token sees nothing of alice's
    resp = anon.get(
        f"/api/v1/events/{mine['session_id']}",
        params={"token": token},
        headers={"Authorization": f"Bearer {bearer('bob')}"},
    )
    assert resp.status_code == 404
    # and bob's bearer opens none of alice's task routes
    for method, path in [
        ("GET", f"/api/v1/tasks/{mine['task_id']}"),
        ("POST", f"/api/v1/tasks/{mine['task_id']}/cancel"),
        ("POST", f"/api/v1/events/{mine['session_id']}/token"),
    ]:
        assert bob.http.request(method, path).status_code == 404


@pytest.fixture(scope="module")
def rsa_api(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, bytes, bytes]]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    stack = Stack(
        redis_url=redis_url,
        workdir=tmp_path_factory.mktemp("rsa"),
        extra_env={"GRAPHGATE_JWT_PUBLIC_KEY": public.decode(), "GRAPHGATE_JWT_SECRET": ""},
    )
    try:
        stack.start_api()
        yield stack, private, public
    finally:
        stack.stop()


def test_hs_rs_confusion_over_http(rsa_api: tuple[Stack, bytes, bytes]) -> None:
    stack, private, public = rsa_api
    now = int(time.time())
    claims = {"sub": "alice", "iat": now, "exp": now + 600}
    good = jwt.encode(claims, private, algorithm="RS256")
    assert httpx.get(f"{stack.url}/api/v1/tasks", headers={"Authorization": f"Bearer {good}"}).status_code == 200
    # HS256 "signed" with the public key, the classic confusion attack
    header, body = _b64({"alg": "HS256", "typ": "JWT"}), _b64(claims)
    sig = base64.urlsafe_b64encode(hmac.new(public, f"{header}.{body}".encode(), hashlib.sha256).digest()).rstrip(b"=")
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    for name, forged in {
        "HS256 with the public key": f"{header}.{body}.{sig.decode()}",
        "HS256 with the old shared secret": jwt.encode(claims, JWT_SECRET, algorithm="HS256"),
        "alg none": f"{_b64({'alg': 'none'})}.{body}.",
        "RS256 by another key": jwt.encode(claims, other, algorithm="RS256"),
    }.items():
        resp = httpx.get(f"{stack.url}/api/v1/tasks", headers={"Authorization": f"Bearer {forged}"})
        assert resp.status_code == 401, name
