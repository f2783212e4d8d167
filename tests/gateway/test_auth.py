"""JWT verification: every malformed, forged or misdirected token is refused."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from graphgate.core.errors import Forbidden, Unauthorized
from graphgate.core.settings import Settings
from graphgate.core.tasks import Principal
from graphgate.gateway.auth import Authenticator, mint_dev_token

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"


def hs_settings(tmp_path, **kw) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(jwt_secret=SECRET, secret_key="stream-key-for-unit-tests-long-enough-32b", data_dir=tmp_path, **kw)


def claims(**kw: object) -> dict[str, object]:
    now = int(time.time())
    return {"sub": "alice", "iat": now, "exp": now + 60, **kw}


def test_valid_hs256_token(tmp_path) -> None:  # type: ignore[no-untyped-def]
    auth = Authenticator(hs_settings(tmp_path))
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    assert auth.principal_from_bearer(f"Bearer {token}") == Principal("alice")


@pytest.mark.parametrize(
    "header",
    [None, "", "Basic abc", "Bearer", "Bearer not.a.token", "bearer " + "x" * 5000],
)
def test_missing_or_malformed_header(tmp_path, header) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(Unauthorized):
        Authenticator(hs_settings(tmp_path)).principal_from_bearer(header)


def _b64(obj: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_alg_none_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims())}."
    with pytest.raises(Unauthorized):
        Authenticator(hs_settings(tmp_path)).principal_from_token(token)


@pytest.mark.parametrize(
    "bad",
    [
        {"exp": int(time.time()) - 120},  # expired
        {"nbf": int(time.time()) + 600},  # not yet valid
        {"exp": None},  # no expiry
        {"sub": None},  # no subject
        {"sub": ""},
    ],
)
def test_bad_claims_refused(tmp_path, bad) -> None:  # type: ignore[no-untyped-def]
    body = {k: v for k, v in {**claims(), **bad}.items() if v is not None}
    token = jwt.encode(body, SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized):
        Authenticator(hs_settings(tmp_path)).principal_from_token(token)


def test_tampered_and_wrong_secret_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    auth = Authenticator(hs_settings(tmp_path))
    token = jwt.encode(claims(), SECRET, algorithm="HS256")
    head, body, sig = token.split(".")
    forged_body = _b64({**claims(), "sub": "mallory"})
    with pytest.raises(Unauthorized):
        auth.principal_from_token(f"{head}.{forged_body}.{sig}")
    with pytest.raises(Unauthorized):
        auth.principal_from_token(jwt.encode(claims(), "another-secret-another-secret-xx", algorithm="HS256"))


def test_issuer_and_audience_checked(tmp_path) -> None:  # type: ignore[no-untyped-def]
    auth = Authenticator(hs_settings(tmp_path, jwt_issuer="https://idp", jwt_audience="graphgate"))
    good = jwt.encode(claims(iss="https://idp", aud="graphgate"), SECRET, algorithm="HS256")
    assert auth.principal_from_token(good).id == "alice"
    for wrong in (claims(iss="https://evil", aud="graphgate"), claims(iss="https://idp", aud="other"), claims()):
        with pytest.raises(Unauthorized):
            auth.principal_from_token(jwt.encode(wrong, SECRET, algorithm="HS256"))


def _rsa_pair() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def test_rs256_and_es256_with_public_key(tmp_path) -> None:  # type: ignore[no-untyped-def]
    private, public = _rsa_pair()
    auth = Authenticator(Settings(jwt_public_key=public.decode(), data_dir=tmp_path))
    assert auth.principal_from_token(jwt.encode(claims(), private, algorithm="RS256")).id == "alice"

    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_public = ec_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    ec_auth = Authenticator(Settings(jwt_public_key=ec_public.decode(), data_dir=tmp_path))
    assert ec_auth.principal_from_token(jwt.encode(claims(), ec_key, algorithm="ES256")).id == "alice"


def test_hs_rs_confusion_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A token HMAC-signed with the RSA *public* key must not verify against that public key."""
    private, public = _rsa_pair()
    auth = Authenticator(Settings(jwt_public_key=public.decode(), data_dir=tmp_path))
    import hashlib
    import hmac

    header, body = _b64({"alg": "HS256", "typ": "JWT"}), _b64(claims())
    sig = hmac.new(public, f"{header}.{body}".encode(), hashlib.sha256).digest()
    forged = f"{header}.{body}.{base64.urlsafe_b64encode(sig).rstrip(b'=').decode()}"
    with pytest.raises(Unauthorized):
        auth.principal_from_token(forged)


def test_key_type_and_algorithms_must_agree(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        Authenticator(Settings(jwt_secret=SECRET, jwt_algorithms=["RS256"], data_dir=tmp_path))
    _, public = _rsa_pair()
    with pytest.raises(ValueError):
        Authenticator(Settings(jwt_public_key=public.decode(), jwt_algorithms=["HS256"], data_dir=tmp_path))


def test_stream_tokens_are_scoped_to_one_session(tmp_path) -> None:  # type: ignore[no-untyped-def]
    auth = Authenticator(hs_settings(tmp_path))
    token, ttl = auth.mint_stream_token(Principal("alice"), "s1")
    assert ttl > 0
    assert auth.principal_from_stream_token(token, "s1") == Principal("alice")
    with pytest.raises(Forbidden):
        auth.principal_from_stream_token(token, "s2")
    with pytest.raises(Unauthorized):  # never usable as a bearer token
        auth.principal_from_token(token)
    bearer = jwt.encode(claims(), SECRET, algorithm="HS256")
    with pytest.raises(Unauthorized):  # and a bearer token is not a stream token
        auth.principal_from_stream_token(bearer, "s1")


def test_dev_token_verifies(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = Settings(data_dir=tmp_path, jwt_issuer="gg", jwt_audience="api")
    token = mint_dev_token(settings, "bob")
    assert Authenticator(settings).principal_from_token(token).id == "bob"
    assert (tmp_path / "jwt-secret").exists()  # generated once and kept for the next process
