"""The hub broker's front: Debian's HAProxy (2.4+ parses MQTT) between the network and mosquitto.

mosquitto 2.0.11 keeps a socket that never sends CONNECT for 1.5 x its keepalive (~90 s) and has
no setting for it; its `max_connections` counts a socket only after accepting it. The hub
therefore puts HAProxy on the public MQTT port(s) and mosquitto on a private 127.0.0.1 port
only HAProxy and the hub's own clients use. HAProxy, configured by `front_config_text`:

- keeps a connection only if its first bytes are one complete, valid MQTT CONNECT
  (`mqtt_is_valid`) within `connect_delay_s`: a silent or trickling client is dropped then;
- refuses a source address's connection past `per_address` open ones (a stick table of
  `conn_cur`) and any connection past `max_connections` open in all;
- terminates TLS when the hub has a certificate, and checks the decrypted stream;
- logs every connection it ends, with the client's address, to `haproxy.log` in the broker
  folder (mosquitto sees HAProxy's address, 127.0.0.1, for every client).

Nothing here supervises: broker/mosquitto.py starts and restarts HAProxy with mosquitto.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from camaudit.hub.store.hub_store import HubError

#: HAProxy's idle timeout once a CONNECT passed (`timeout tunnel`): above the longest MQTT
#: keepalive a device may ask for (3600 s, which mosquitto enforces at 1.5 x), so a quiet but
#: connected device is never cut by the front.
IDLE_TIMEOUT_S = 7200


@dataclass(frozen=True)
class FrontLimits:
    """What the front lets through (docs/hub-security.md, "Bounds")."""

    max_connections: int = 256  # open in all (HubConfig.broker_max_connections)
    per_address: int = 16  # open from one source address (HubConfig.broker_max_per_address)
    connect_delay_s: float = 5.0  # to send a complete CONNECT (HubConfig.broker_connect_timeout_s)


def haproxy_binary() -> str | None:
    return shutil.which("haproxy") or ("/usr/sbin/haproxy" if Path("/usr/sbin/haproxy").exists() else None)


def need_haproxy() -> str:
    path = haproxy_binary()
    if path is None:
        raise HubError("haproxy is not installed (the hub's MQTT front): run `sudo apt-get install haproxy` "
                       "(Debian / Raspberry Pi OS), or start the hub with --broker URL")
    return path


def files_needed(limits: FrontLimits) -> int:
    """Descriptors HAProxy needs: two a forwarded connection (client and mosquitto side), one
    for each socket it accepts past the limit before closing it, and its own."""
    return 3 * limits.max_connections + 64


def _bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def front_config_text(
    *,
    host: str,
    port: int,
    backend_port: int,
    limits: FrontLimits,
    pem: Path | None = None,
    account: tuple[int, int] | None = None,
) -> str:
    """haproxy.cfg for the front on host:port (TLS with `pem`, cert and key in one file) that
    forwards checked MQTT to mosquitto on 127.0.0.1:backend_port. With `account` (uid, gid)
    HAProxy drops to it after binding and reading `pem` (a root hub: the broker's account)."""
    delay_ms = max(1, round(limits.connect_delay_s * 1000))
    bind = f"bind {_bind_address(host, port)}"
    if pem is not None:
        bind += f" ssl crt {pem}"
    lines = [
        "# Written by camaudit hub at every start; edit the hub's config instead.",
        "global",
        "    log stderr format raw local0 info",
        f"    maxconn {2 * limits.max_connections + 64}",
        "    hard-stop-after 5s",
        # the hub's unit forbids setrlimit (SystemCallFilter=~@resources): HAProxy then warns
        # and runs with the unit's LimitNOFILE instead of exiting (measured: it exits otherwise)
        "    no strict-limits",
    ]
    if account is not None:
        lines += [f"    uid {account[0]}", f"    gid {account[1]}"]
    lines += [
        "",
        "defaults",
        "    mode tcp",
        "    log global",
        "    option tcplog",
        "    timeout connect 5s",
        # until the rules accept a CONNECT (and during a TLS handshake) the client timeout is
        # the CONNECT delay; from then on the connection is a tunnel, idle up to IDLE_TIMEOUT_S
        f"    timeout client {delay_ms}ms",
        f"    timeout server {IDLE_TIMEOUT_S}s",
        f"    timeout tunnel {IDLE_TIMEOUT_S}s",
        "    timeout client-fin 30s",
        "    timeout server-fin 30s",
        "",
        "frontend mqtt",
        f"    {bind}",
        f"    maxconn {2 * limits.max_connections + 32}",
        "    stick-table type ipv6 size 100k expire 60s store conn_cur",
        "    tcp-request connection track-sc0 src,ipmask(32,64)",  # IPv6: one /64 counts as one address
        f"    tcp-request inspect-delay {delay_ms}ms",
        # content rules, not connection rules, so that HAProxy logs the refused address
        f"    tcp-request content reject if {{ sc0_conn_cur gt {limits.per_address} }}",
        f"    tcp-request content reject if {{ fe_conn gt {limits.max_connections} }}",
        "    tcp-request content reject unless { req.payload(0,0),mqtt_is_valid }",
        "    default_backend mosquitto",
        "",
        "backend mosquitto",
        f"    server mosquitto 127.0.0.1:{backend_port}",
    ]
    return "\n".join(lines) + "\n"


def front_pem_text(certfile: Path, keyfile: Path | None) -> str:
    """HAProxy wants the certificate (and chain) and its key in one PEM file."""
    try:
        text = certfile.read_text(encoding="ascii")
        if keyfile is not None and keyfile != certfile:
            text = text.rstrip("\n") + "\n" + keyfile.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise HubError(f"broker TLS certificate/key: {exc}") from None
    if "PRIVATE KEY-----" not in text:
        raise HubError(f"broker TLS: no private key in {keyfile or certfile} (set broker_keyfile)")
    return text if text.endswith("\n") else text + "\n"


def check_config(binary: str, conf: Path) -> None:
    """`haproxy -c -f conf`: a config HAProxy would refuse is a clear error before it starts."""
    try:
        res = subprocess.run([binary, "-c", "-f", str(conf)], capture_output=True, text=True,
                             timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise HubError(f"haproxy -c -f {conf}: {exc}") from None
    if res.returncode != 0:
        lines = [ln for ln in (res.stderr + res.stdout).splitlines() if "ALERT" in ln] or res.stderr.splitlines()
        raise HubError(f"haproxy refuses {conf}: {lines[0].strip() if lines else res.returncode}")
