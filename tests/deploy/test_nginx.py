"""HTTPS through real nginx in front of two API replicas and two workers (see conftest.py)."""

from __future__ import annotations

import json
import ssl
import time
from typing import Any

import httpx
import requests
import sseclient
from httpx_sse import connect_sse

from graphgate.testing.stack import token
from tests.deploy.conftest import (
    Deployment,
    alpn_protocol,
    tls_version_accepted,
    wait_for,
)

ORIGINAL_README_BODY = {
    "topic": "人工智能在医疗诊断中的应用",
    "mode": "interactive",
    "config": {"target_audience": "医疗专业人士", "depth_level": "deep", "target_length": 3000},
}


def _headers(sub: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub)}"}


def _upstream_of(dep: Deployment, path: str) -> str:
    """The replica (``127.0.0.1:<port>``) nginx passed the logged request for ``path`` to."""

    def logged() -> str | None:
        for line in reversed(dep.nginx.access_log.read_text().splitlines()):
            if f" {path} " in line or f" {path}?" in line:
                return line.split("upstream=", 1)[1].split()[0]
        return None

    return wait_for(logged, 10)


def _ca(dep: Deployment) -> ssl.SSLContext:
    """A client TLS context trusting the test's local CA (and nothing else)."""
    return ssl.create_default_context(cafile=str(dep.tls.cafile))


def test_tls_http2_and_hsts(deployment: Deployment) -> None:
    ca = deployment.tls.cafile
    assert ca is not None
    assert alpn_protocol(deployment.nginx.https_port, ca) == "h2"
    assert tls_version_accepted(deployment.nginx.https_port, ca, ssl.TLSVersion.TLSv1_3)
    assert tls_version_accepted(deployment.nginx.https_port, ca, ssl.TLSVersion.TLSv1_2)
    with httpx.Client(base_url=deployment.nginx.url, verify=_ca(deployment)) as client:
        resp = client.get("/healthz")
        assert resp.status_code == 200 and resp.json() == {"status": "ok"}
        assert resp.headers["strict-transport-security"].startswith("max-age=63072000")
        # errors carry HSTS too, and the public edge serves no metrics
        missing = client.get("/metrics")
        assert missing.status_code == 404 and "strict-transport-security" in missing.headers
        # JSON is compressed
        spec = client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
        assert spec.status_code == 200 and spec.headers.get("content-encoding") == "gzip"
    # plain HTTP is sent to HTTPS
    plain = httpx.get(f"http://127.0.0.1:{deployment.nginx.http_port}/api/v1/tasks?x=1", headers={"Host": "localhost"})
    assert plain.status_code == 308 and plain.headers["location"] == "https://localhost/api/v1/tasks?x=1"


def test_task_created_on_one_replica_streams_through_the_other_unbuffered(deployment: Deployment) -> None:
    """Created on replica A directly; followed over HTTPS through nginx until nginx picked replica B (it
    balances, so at most a few tries); the first events arrive while the run is still going."""
    ca = _ca(deployment)
    other = f"127.0.0.1:{deployment.replica_ports['b']}"
    seen_upstreams = []
    for _ in range(6):
        created = httpx.post(
            f"{deployment.replica_a}/api/v1/tasks",
            json={"graph": "echo", "input": {"text": "via nginx", "sleep": 2}},
            headers=_headers(),
        )
        assert created.status_code == 202, created.text
        task = created.json()
        path = f"/api/v1/events/{task['session_id']}"
        arrivals: dict[str, float] = {}
        envelopes: list[dict[str, Any]] = []
        with httpx.Client(
            base_url=deployment.nginx.url, verify=ca, headers=_headers(), timeout=httpx.Timeout(10, read=30)
        ) as client:
            with connect_sse(client, "GET", path, headers={"Accept-Encoding": "gzip"}) as source:
                assert source.response.status_code == 200
                assert source.response.headers["content-type"].startswith("text/event-stream")
                assert "content-encoding" not in source.response.headers  # never gzip an event stream
                for sse in source.iter_sse():
                    if not sse.data:
                        continue
                    arrivals.setdefault(sse.event, time.monotonic())
                    envelopes.append(json.loads(sse.data))
                    if sse.event in ("task.completed", "task.failed"):
                        break
        assert [e["type"] for e in envelopes][:2] == ["task.queued", "task.started"]
        assert envelopes[-1]["type"] == "task.completed" and envelopes[-1]["data"]["text"] == "via nginx"
        # the run sleeps 2 s between task.started and task.completed: had anything held the stream back,
        # both would have arrived together
        assert arrivals["task.completed"] - arrivals["task.started"] >= 1.0
        upstream = _upstream_of(deployment, path)
        seen_upstreams.append(upstream)
        if upstream == other:
            return
    raise AssertionError(f"nginx never sent the stream to replica B; upstreams: {seen_upstreams}")


def test_original_readme_example_over_https(deployment: Deployment) -> None:
    """The README's client, unchanged but for the address: requests + sseclient-py, a bearer token, the
    interrupt answered from inside the event loop, through nginx at https://localhost:<port>."""
    base = deployment.nginx.url
    ca = str(deployment.tls.cafile)
    headers = {"Authorization": f"Bearer {token('readme-user')}"}

    resp = requests.post(f"{base}/api/v1/tasks", json=ORIGINAL_README_BODY, headers=headers, verify=ca, timeout=10)
    assert resp.status_code == 202, resp.text
    task = resp.json()
    assert task["events_url"] == f"{base}/api/v1/events/{task['session_id']}"

    stream = requests.get(
        task["events_url"],
        headers={**headers, "Accept": "text/event-stream"},
        stream=True,
        verify=ca,
        timeout=(10, 120),
    )
    assert stream.status_code == 200
    types: list[str] = []
    final: dict[str, Any] = {}
    for event in sseclient.SSEClient(stream).events():
        if not event.data:
            continue
        envelope = json.loads(event.data)
        types.append(event.event)
        if event.event == "interrupt":
            answer = requests.post(
                f"{base}/api/v1/tasks/{task['task_id']}/resume",
                json={"answer": "approve", "interrupt_id": envelope["data"]["interrupt_id"]},
                headers=headers,
                verify=ca,
                timeout=10,
            )
            assert answer.status_code == 202, answer.text
        if event.event in ("task.completed", "task.failed", "task.cancelled"):
            final = envelope
            break
    stream.close()
    assert "interrupt" in types and "task.resumed" in types
    assert types.index("interrupt") < types.index("task.resumed")
    assert final["type"] == "task.completed", final
    assert "人工智能在医疗诊断中的应用" in final["data"]["output"]["article"]
    # writer is routed to its own queue (GRAPHGATE_GRAPH_QUEUES) and ran there
    status = requests.get(f"{base}/api/v1/tasks/{task['task_id']}", headers=headers, verify=ca, timeout=10).json()
    assert status["status"] == "completed"


def test_webhook_routes_reach_the_api_untouched(deployment: Deployment) -> None:
    """/slack/ and /telegram/ go to the app: the answer is the app's own (JSON), not nginx's; bodies over
    the webhooks' limit stop at nginx."""
    ca = _ca(deployment)
    body = b'{"update_id": 1, "message": {"text": "caf\\u00e9 \xe2\x98\x95"}}'
    for path in ("/telegram/webhook", "/slack/events"):
        resp = httpx.post(
            f"{deployment.nginx.url}{path}",
            content=body,
            verify=ca,
            headers={"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": "nope"},
        )
        assert resp.headers.get("content-type", "").startswith("application/json"), (path, resp.status_code, resp.text)
        assert resp.status_code in (400, 401, 403, 404, 405, 422), (path, resp.status_code)
        logged = wait_for(  # nginx writes its access log line after the response
            lambda: [line for line in deployment.nginx.access_log.read_text().splitlines() if f"POST {path} " in line],
            10,
        )
        assert "upstream=127.0.0.1:" in logged[-1]
    too_big = httpx.post(f"{deployment.nginx.url}/telegram/webhook", content=b"x" * (1024 * 1024 + 10), verify=ca)
    assert too_big.status_code == 413
