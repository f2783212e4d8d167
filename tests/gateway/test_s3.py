"""Files kept in an S3-compatible bucket: boto3 (the real SDK) against a fake S3 on loopback that checks each
request's SigV4 signature with an implementation of its own; what is put comes back, a wrong secret and an
unknown bucket are refused, a missing key reads as missing."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from graphgate.core.attachments import S3Blobs, write
from graphgate.core.settings import Settings
from graphgate.testing.fake_s3 import FakeS3


@pytest.fixture(scope="module")
def s3() -> Iterator[FakeS3]:
    fake = FakeS3().start()
    yield fake
    fake.stop()


def settings(s3: FakeS3, monkeypatch: pytest.MonkeyPatch, **env: str) -> Settings:
    for name, value in {**s3.env, **env}.items():
        monkeypatch.setenv(name, value)
    return Settings()


def test_a_file_is_put_into_the_bucket_and_read_back(s3: FakeS3, monkeypatch: pytest.MonkeyPatch) -> None:
    config = settings(s3, monkeypatch, GRAPHGATE_ATTACHMENTS_S3_PREFIX="gg/")
    attachment = write(config, "alice", b"%PDF-1.7 numbers", "application/pdf", "q3 report.pdf")
    assert s3.objects[("graphgate-files", f"gg/{attachment.file_id}")] == (b"%PDF-1.7 numbers", "application/pdf")
    store = S3Blobs(config)
    assert store.get(attachment.file_id) == b"%PDF-1.7 numbers"
    assert store.get(secrets.token_hex(16)) is None  # NoSuchKey
    assert [c.status for c in s3.calls[-3:]] == [200, 200, 404]


def test_a_wrong_secret_and_an_unknown_bucket_are_refused(s3: FakeS3, monkeypatch: pytest.MonkeyPatch) -> None:
    wrong = S3Blobs(settings(s3, monkeypatch, AWS_SECRET_ACCESS_KEY="not-the-secret"))
    with pytest.raises(ClientError, match="SignatureDoesNotMatch"):
        wrong.put(secrets.token_hex(16), b"x", "text/plain")
    missing = S3Blobs(settings(s3, monkeypatch, GRAPHGATE_ATTACHMENTS_S3_BUCKET="no-such-bucket"))
    with pytest.raises(ClientError, match="NoSuchBucket"):
        missing.put(secrets.token_hex(16), b"x", "text/plain")
