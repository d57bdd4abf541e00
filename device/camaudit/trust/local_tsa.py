"""A local RFC 3161 time-stamp authority for tests and `make demo`: `openssl ts -reply`
behind a stdlib HTTP server on 127.0.0.1 (a test peer, as mosquitto is for the MQTT
tests; never a production authority: its CA is made on the spot).

`make_authority(dir, name)` makes a CA and a time-stamping certificate (critical
extendedKeyUsage timeStamping) with the openssl command; `serve(authority)` answers
POSTed application/timestamp-query bodies with the DER reply."""

from __future__ import annotations

import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

_CONF = """\
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = {cn}
[ tsa_ext ]
basicConstraints = CA:FALSE
keyUsage = critical, digitalSignature, nonRepudiation
extendedKeyUsage = critical, timeStamping
[ ca_ext ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
[ tsa ]
default_tsa = tsa_config
[ tsa_config ]
dir = {dir}
serial = {dir}/serial
crypto_device = builtin
signer_cert = {dir}/tsa.pem
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha384, sha512
accuracy = secs:1
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
"""


@dataclass(frozen=True)
class Authority:
    dir: Path
    name: str

    @property
    def ca(self) -> Path:
        return self.dir / "ca.pem"

    @property
    def tsa_cert(self) -> Path:
        return self.dir / "tsa.pem"

    @property
    def config(self) -> Path:
        return self.dir / "openssl.cnf"

    def reply(self, query: bytes) -> bytes:
        with tempfile.TemporaryDirectory(dir=self.dir) as tmp:
            q, r = Path(tmp) / "q.tsq", Path(tmp) / "r.tsr"
            q.write_bytes(query)
            subprocess.run(
                ["openssl", "ts", "-reply", "-config", str(self.config), "-queryfile", str(q),
                 "-out", str(r)],
                check=True, capture_output=True, timeout=30,
            )
            return r.read_bytes()


def _ssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_authority(base: Path, name: str = "camaudit test TSA") -> Authority:
    d = Path(base) / name.replace(" ", "_")
    d.mkdir(parents=True)
    (d / "openssl.cnf").write_text(_CONF.format(cn=f"{name} CA", dir=d))
    (d / "serial").write_text("01\n")
    _ssl("req", "-x509", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650", "-config", "openssl.cnf",
         "-extensions", "ca_ext", "-subj", f"/CN={name} CA", cwd=d)
    _ssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
         "-keyout", "tsa.key", "-out", "tsa.csr", "-config", "openssl.cnf", "-subj", f"/CN={name}",
         cwd=d)
    _ssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
         "-out", "tsa.pem", "-days", "3650", "-extfile", "openssl.cnf", "-extensions", "tsa_ext", cwd=d)
    return Authority(d, name)


@contextmanager
def serve(authority: Authority) -> Iterator[str]:
    """The authority's URL while the server runs (127.0.0.1, a free port)."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            n = int(self.headers.get("Content-Length") or 0)
            query = self.rfile.read(min(n, 1 << 16))
            if self.headers.get("Content-Type") != "application/timestamp-query":
                self.send_error(415)
                return
            try:
                body = authority.reply(query)
            except subprocess.CalledProcessError:
                self.send_error(400)
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/timestamp-reply")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/tsa"
    finally:
        server.shutdown()
        server.server_close()
        t.join(timeout=5)
