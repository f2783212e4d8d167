"""HTTPS for ``graphgate up --tls`` and ``graphgate api --tls``: given certificate files, or local ones.

Local certificates come from a small certificate authority of this machine's own, kept in
``GRAPHGATE_DATA_DIR/tls/``: ``ca.pem`` (what a client trusts, e.g. ``requests.get(..., verify="ca.pem")``),
``cert.pem`` (the server certificate followed by the CA: a full chain), ``key.pem`` and ``ca-key.pem``
(private, mode 0600). They are made once and reused; a server certificate near its end, or one that does not
name a requested host, is replaced by a new one from the same CA, so clients keep trusting ``ca.pem``.

``python -m graphgate.cli.tls DIR [HOST ...]`` writes the same files into DIR (for nginx, docker-compose).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

DEFAULT_HOSTS = ("localhost", "127.0.0.1", "::1")
CA_DAYS = 3650
SERVER_DAYS = 397  # the longest lifetime browsers accept for a server certificate
RENEW_BEFORE = dt.timedelta(days=30)


class TlsConfigError(Exception):
    """The TLS options are inconsistent (a certificate without its key, a file that does not exist)."""


@dataclass(frozen=True)
class TlsFiles:
    certfile: Path  # server certificate chain (PEM)
    keyfile: Path  # its private key (PEM)
    cafile: Path | None = None  # the local CA clients should trust; None for certificates given by the operator


def resolve_tls(
    enabled: bool,
    certfile: str | Path | None,
    keyfile: str | Path | None,
    data_dir: Path,
    hosts: tuple[str, ...] = (),
) -> TlsFiles | None:
    """The files to serve HTTPS with, or None for plain HTTP.

    Given ``certfile`` and ``keyfile`` (options or ``GRAPHGATE_TLS_CERTFILE``/``_KEYFILE``) are used as they
    are and switch TLS on; otherwise ``enabled`` (``--tls``) means local certificates in ``data_dir/tls``.
    Raises ``TlsConfigError`` for one file without the other or a file that does not exist.
    """
    if certfile or keyfile:
        if not (certfile and keyfile):
            raise TlsConfigError("give both a certificate file and its key file")
        files = TlsFiles(Path(certfile), Path(keyfile))
        for path in (files.certfile, files.keyfile):
            if not path.is_file():
                raise TlsConfigError(f"TLS file {path} does not exist")
        return files
    if not enabled:
        return None
    return ensure_certificate(data_dir / "tls", hosts)


def ensure_certificate(directory: Path, hosts: tuple[str, ...] = ()) -> TlsFiles:
    """Local CA and server certificate in ``directory``, made on first use and reused after.

    The server certificate names localhost, 127.0.0.1, ::1, this machine's host name and ``hosts``. Safe
    to call from several processes at once (a lock file serializes them).
    """
    directory.mkdir(parents=True, exist_ok=True)
    wanted = _host_list(hosts)
    files = TlsFiles(directory / "cert.pem", directory / "key.pem", directory / "ca.pem")
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        ca_cert, ca_key = _load_or_make_ca(directory)
        if not _server_cert_usable(files.certfile, files.keyfile, wanted):
            key = ec.generate_private_key(ec.SECP256R1())
            cert = _server_cert(key, wanted, ca_cert, ca_key)
            _write(files.keyfile, _key_pem(key), private=True)
            _write(
                files.certfile,
                cert.public_bytes(serialization.Encoding.PEM) + ca_cert.public_bytes(serialization.Encoding.PEM),
            )
    return files


# --- internals ----------------------------------------------------------------------------------------------


def _host_list(extra: tuple[str, ...]) -> list[str]:
    names = [*DEFAULT_HOSTS, socket.gethostname(), *extra]
    out: list[str] = []
    for name in names:
        name = name.strip().strip("[]")
        if name and name not in ("0.0.0.0", "::") and name not in out:
            out.append(name)
    return out


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, private: bool = False) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    tmp.replace(path)


def _load_or_make_ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = directory / "ca.pem", directory / "ca-key.pem"
    if cert_path.is_file() and key_path.is_file():
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if isinstance(key, ec.EllipticCurvePrivateKey) and cert.not_valid_after_utc - _now() > RENEW_BEFORE:
            return cert, key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "graphgate local"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"graphgate local CA ({socket.gethostname()})"),
        ]
    )
    now = _now()
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    _write(key_path, _key_pem(key), private=True)
    _write(cert_path, cert.public_bytes(serialization.Encoding.PEM))
    return cert, key


def _san(hosts: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for host in hosts:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(entries)


def _server_cert_usable(certfile: Path, keyfile: Path, hosts: list[str]) -> bool:
    if not (certfile.is_file() and keyfile.is_file()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(certfile.read_bytes())
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, x509.ExtensionNotFound):
        return False
    have = {str(v) for v in names.get_values_for_type(x509.DNSName)}
    have |= {str(v) for v in names.get_values_for_type(x509.IPAddress)}
    wanted = {str(ipaddress.ip_address(h)) if _is_ip(h) else h for h in hosts}
    return wanted <= have and cert.not_valid_after_utc - _now() > RENEW_BEFORE


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _server_cert(
    key: ec.EllipticCurvePrivateKey, hosts: list[str], ca_cert: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> x509.Certificate:
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=SERVER_DAYS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(_san(hosts), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if not args:
        print("usage: python -m graphgate.cli.tls DIR [HOST ...]", file=sys.stderr)
        return 2
    files = ensure_certificate(Path(args[0]), tuple(args[1:]))
    print(f"certificate {files.certfile}\nkey         {files.keyfile}\ntrust       {files.cafile}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
