"""The widget's HTTP routes over real HTTP: files, the demo page's security headers, the development login."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from graphgate.testing.stack import ROOT, Stack


@pytest.fixture(scope="module")
def plain_api(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An API process with the default settings (no development login); no worker needed."""
    stack = Stack(redis_url=redis_url, workdir=tmp_path_factory.mktemp("web-plain"))
    try:
        yield stack.start_api()
    finally:
        stack.stop()


def test_demo_page_has_a_strict_content_security_policy(web_stack: Stack) -> None:
    resp = httpx.get(f"{web_stack.url}/")
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
    csp = {d.split()[0]: d.split()[1:] for d in resp.headers["content-security-policy"].split("; ")}
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"] and csp["style-src"] == ["'self'"] and csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"] and csp["base-uri"] == ["'none'"]
    assert csp["require-trusted-types-for"] == ["'script'"]
    assert resp.headers["x-content-type-options"] == "nosniff"
    assert '<graphgate-chat id="chat"' in resp.text and "<script>" not in resp.text  # no inline script
    head = httpx.head(f"{web_stack.url}/")
    assert (
        head.status_code == 200 and head.headers["content-security-policy"] == resp.headers["content-security-policy"]
    )


def test_widget_files_are_served_as_modules(web_stack: Stack) -> None:
    entry = httpx.get(f"{web_stack.url}/widget.js")
    assert entry.status_code == 200 and entry.headers["content-type"].startswith("text/javascript")
    assert "./web/widget.js" in entry.text
    names = sorted(path.name for path in (ROOT / "web").iterdir() if path.is_file())
    assert {"widget.js", "element.js", "conversation.js", "stream.js", "taskstatus.js", "widget.css"} <= set(names)
    for name in names:  # every module the widget imports, and the rest of web/
        resp = httpx.get(f"{web_stack.url}/web/{name}")
        assert resp.status_code == 200, name
        again = httpx.get(f"{web_stack.url}/web/{name}", headers={"If-None-Match": resp.headers["etag"]})
        assert again.status_code == 304
    assert httpx.get(f"{web_stack.url}/web/widget.css").headers["content-type"].startswith("text/css")
    # the widget's code loads on any site (a module script needs CORS); the demo page is not shared that way
    other = {"Origin": "https://elsewhere.example"}
    for path in ("/widget.js", "/web/element.js", "/web/widget.css"):
        assert httpx.get(f"{web_stack.url}{path}", headers=other).headers["access-control-allow-origin"] == "*", path
    assert "access-control-allow-origin" not in httpx.get(f"{web_stack.url}/web/index.html", headers=other).headers
    assert "access-control-allow-origin" not in httpx.get(f"{web_stack.url}/", headers=other).headers
    refused = httpx.get(f"{web_stack.url}/api/v1/graphs", headers=other)
    assert "access-control-allow-origin" not in refused.headers  # the API still obeys GRAPHGATE_CORS_ORIGINS


@pytest.mark.parametrize(
    "path",
    [
        "/web/%2e%2e/pyproject.toml",
        "/web/..%2fgraphgate/core/settings.py",
        "/web/.hidden.js",
        "/web/nope.js",
        "/web/README.md",
        "/web/",
    ],
)
def test_nothing_outside_web_is_served(web_stack: Stack, path: str) -> None:
    with httpx.Client(base_url=web_stack.url) as client:
        resp = client.send(client.build_request("GET", httpx.URL(web_stack.url + path)))
    assert resp.status_code == 404, path


def test_dev_login_mints_a_working_token(web_stack: Stack) -> None:
    resp = httpx.post(f"{web_stack.url}/api/v1/dev/token", json={"sub": "zoe"})
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["sub"] == "zoe" and body["expires_in"] > 0
    graphs = httpx.get(f"{web_stack.url}/api/v1/graphs", headers={"Authorization": f"Bearer {body['token']}"})
    assert graphs.status_code == 200 and "writer" in [g["name"] for g in graphs.json()["graphs"]]
    for bad in ({"sub": ""}, {"sub": "a b"}, {"sub": "x" * 65}, {}, {"sub": "ok", "admin": True}):
        assert httpx.post(f"{web_stack.url}/api/v1/dev/token", json=bad).status_code == 422, bad


def test_dev_login_does_not_exist_by_default(plain_api: str) -> None:
    assert httpx.post(f"{plain_api}/api/v1/dev/token", json={"sub": "zoe"}).status_code == 404
    assert "/api/v1/dev/token" not in httpx.get(f"{plain_api}/openapi.json").json()["paths"]
    assert httpx.get(f"{plain_api}/").status_code == 200  # the demo page is still there; it asks for a token
