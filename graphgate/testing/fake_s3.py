"""A fake S3-compatible store on loopback, for tests: path-style ``PUT`` / ``GET`` / ``HEAD`` of objects in
buckets it knows, each request's AWS Signature Version 4 checked against its own key pair (an implementation
of the algorithm of its own, so that boto3's signing is checked by a second one), ``NoSuchKey`` /
``NoSuchBucket`` / ``SignatureDoesNotMatch`` answered as S3 answers them (XML).

Debian and PyPI have no MinIO server to start in a test; this covers what graphgate asks of a bucket.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from graphgate.testing.fake_platform import FakePlatform

ACCESS_KEY = "GGFAKEACCESSKEY00001"
SECRET_KEY = "fake/secret/key/for/the/tests/0000000000"
REGION = "us-east-1"


@dataclass(frozen=True)
class Call:
    method: str
    bucket: str
    key: str
    status: int


def _error(status: int, code: str, message: str) -> Response:
    body = f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return Response(body, status_code=status, media_type="application/xml")


def signature_v4(request_method: str, raw_path: str, query: str, headers: dict[str, str], secret: str) -> str | None:
    """The signature a request signed with ``secret`` must carry (from its Authorization header's scope and
    signed headers), or None when the header is not a SigV4 one."""
    auth = headers.get("authorization", "")
    if not auth.startswith("AWS4-HMAC-SHA256 "):
        return None
    fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 ") :].split(","))
    _, date, region, service, _ = fields["Credential"].split("/")
    signed = fields["SignedHeaders"].split(";")
    canonical_query = "&".join(
        f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in sorted(parse_qsl(query, keep_blank_values=True))
    )
    canonical_headers = "".join(f"{name}:{' '.join(headers.get(name, '').split())}\n" for name in signed)
    canonical = "\n".join(
        [
            request_method,
            raw_path,
            canonical_query,
            canonical_headers,
            ";".join(signed),
            headers["x-amz-content-sha256"],
        ]
    )
    scope = f"{date}/{region}/{service}/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", headers["x-amz-date"], scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


class FakeS3(FakePlatform[Call]):
    thread_name = "fake-s3"
    label = "fake S3"

    def __init__(self, buckets: tuple[str, ...] = ("graphgate-files",)) -> None:
        super().__init__()
        self.objects: dict[tuple[str, str], tuple[bytes, str]] = {}  # (bucket, key) -> (bytes, content type)
        self.buckets = set(buckets)

    @property
    def env(self) -> dict[str, str]:
        """What points graphgate's attachment store at the first bucket."""
        return {
            "GRAPHGATE_ATTACHMENTS_S3_BUCKET": sorted(self.buckets)[0],
            "GRAPHGATE_ATTACHMENTS_S3_ENDPOINT": self.url,
            "GRAPHGATE_ATTACHMENTS_S3_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }

    def routes(self) -> list[BaseRoute]:
        return [Route("/{bucket}/{key:path}", self._object, methods=["GET", "PUT", "HEAD"])]

    async def _object(self, request: Request) -> Response:
        bucket, key = request.path_params["bucket"], request.path_params["key"]
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        raw_path = request.scope.get("raw_path", b"").decode() or request.url.path
        expected = signature_v4(request.method, raw_path, request.url.query, headers, SECRET_KEY)
        given = headers.get("authorization", "").rsplit("Signature=", 1)[-1]
        status = 200
        if expected is None or f"Credential={ACCESS_KEY}/" not in headers.get("authorization", ""):
            answer, status = _error(403, "AccessDenied", "Access Denied"), 403
        elif not hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace")):
            answer, status = (
                _error(403, "SignatureDoesNotMatch", "The request signature we calculated does not match"),
                403,
            )
        elif headers.get("x-amz-content-sha256") not in ("UNSIGNED-PAYLOAD", hashlib.sha256(body).hexdigest()):
            answer, status = (
                _error(400, "XAmzContentSHA256Mismatch", "The provided 'x-amz-content-sha256' does not match"),
                400,
            )
        elif bucket not in self.buckets:
            answer, status = _error(404, "NoSuchBucket", "The specified bucket does not exist"), 404
        elif request.method == "PUT":
            with self.lock:
                self.objects[(bucket, key)] = (body, headers.get("content-type", "binary/octet-stream"))
            answer = Response(b"", headers={"ETag": f'"{hashlib.md5(body).hexdigest()}"'})  # noqa: S324 (S3's ETag)
        elif (bucket, key) not in self.objects:
            answer, status = _error(404, "NoSuchKey", "The specified key does not exist."), 404
        else:
            data, content_type = self.objects[(bucket, key)]
            answer = Response(b"" if request.method == "HEAD" else data, media_type=content_type)
        with self.lock:
            self.calls.append(Call(request.method, bucket, key, status))
        return answer
