"""``graphgate up --tls`` / ``graphgate api --tls``: HTTPS with a local certificate or given files."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from cryptography import x509

from graphgate.cli.processes import free_port
from graphgate.cli.tls import TlsConfigError, ensure_certificate, resolve_tls
from graphgate.testing.stack import ROOT, RedisServer, Stack


def test_local_certificate_is_made_once_and_reused(tmp_path: Path) -> None:
    first = ensure_certificate(tmp_path / "tls")
    assert first.cafile is not None
    assert (first.keyfile.stat().st_mode & 0o777) == 0o600
    assert ((tmp_path / "tls" / "ca-key.pem").stat().st_mode & 0o777) == 0o600
    cert_bytes, ca_bytes = first.certfile.read_bytes(), first.cafile.read_bytes()
    again = ensure_certificate(tmp_path / "tls")
    assert again.certfile.read_bytes() == cert_bytes  # reused, not regenerated
    leaf = x509.load_pem_x509_certificate(cert_bytes)
    names = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert {"localhost"} <= set(names.get_values_for_type(x509.DNSName))
    # a new host name: a new server certificate from the same CA, so clients keep trusting ca.pem
    wider = ensure_certificate(tmp_path / "tls", ("api.internal",))
    assert wider.certfile.read_bytes() != cert_bytes and wider.cafile.read_bytes() == ca_bytes
    ctx = ssl.create_default_context(cafile=str(wider.cafile))
    ctx.load_cert_chain(wider.certfile, wider.keyfile)  # key matches the certificate


def test_tls_options_are_checked(tmp_path: Path) -> None:
    assert resolve_tls(False, None, None, tmp_path) is None
    with pytest.raises(TlsConfigError):
        resolve_tls(True, tmp_path / "cert.pem", None, tmp_path)
    with pytest.raises(TlsConfigError):
        resolve_tls(False, tmp_path / "missing.pem", tmp_path / "missing-key.pem", tmp_path)
    out = subprocess.run(
        [sys.executable, "-m", "graphgate.cli", "api", "--certfile", str(tmp_path / "x.pem")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={k: v for k, v in os.environ.items() if not k.startswith("GRAPHGATE_")},
    )
    assert out.returncode == 2 and "key file" in out.stderr


def test_up_with_tls_serves_https_with_a_local_certificate(redis_server: RedisServer, tmp_path: Path) -> None:
    stack = Stack(redis_url=redis_server.url, workdir=tmp_path, extra_env={"GRAPHGATE_WORKER_CONCURRENCY": "1"})
    port = free_port()
    log = tmp_path / "up.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "graphgate.cli", "up", "--tls", "--port", str(port)],
        env=stack.env,
        cwd=ROOT,
        stdout=open(log, "ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 90
        while "ready at https://" not in log.read_text():
            assert proc.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.2)
        ca = Path(stack.env["GRAPHGATE_DATA_DIR"]) / "tls" / "ca.pem"
        assert str(ca.resolve()) in log.read_text()  # up tells the operator what to trust
        resp = httpx.get(f"https://localhost:{port}/healthz", verify=ssl.create_default_context(cafile=str(ca)))
        assert resp.status_code == 200
        with pytest.raises(httpx.ConnectError):  # a client that trusts only the system CAs refuses it
            httpx.get(f"https://localhost:{port}/healthz")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
