"""The mosquitto configuration the hub generates, and the manual's copy of its ACL (docs/hub-security.md)."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from pydantic import ValidationError

from camaudit.config.hub import HubConfig
from camaudit.hub.broker.files import acl_text
from camaudit.hub.broker.mosquitto import BrokerLimits, ManagedMosquitto

README = Path(__file__).resolve().parents[2] / "docs" / "hub-security.md"  # the manual page on the broker


def test_generated_config_has_the_documented_settings(tmp_path: Path) -> None:
    b = ManagedMosquitto(tmp_path, "127.0.0.1", 18830)
    b.write_config()
    conf = b.conf_file.read_text().splitlines()
    lim = BrokerLimits()
    for line in ("allow_anonymous false", "use_username_as_clientid true", "persistence true",
                 "listener 18830 127.0.0.1", f"password_file {b.passwd_file}", f"acl_file {b.acl_file}",
                 f"max_packet_size {lim.max_packet_size}", f"max_queued_messages {lim.max_queued_messages}",
                 f"max_queued_bytes {lim.max_queued_bytes}", f"max_connections {lim.max_connections}",
                 f"max_keepalive {lim.max_keepalive}", f"max_inflight_messages {lim.max_inflight_messages}"):
        assert line in conf
    for f in (b.conf_file, b.acl_file, b.passwd_file):
        assert f.stat().st_mode & 0o777 == 0o600
    readme = README.read_text()
    for name, value in (("max_packet_size", lim.max_packet_size), ("max_queued_messages", lim.max_queued_messages),
                        ("max_connections", lim.max_connections), ("max_keepalive", lim.max_keepalive),
                        ("max_inflight_messages", lim.max_inflight_messages)):
        assert f"| `{name}` | {value} |" in readme
    assert f"| `max_queued_bytes` | {lim.max_queued_bytes // 2**20} MiB |" in readme


def test_readme_shows_the_acl_the_hub_writes() -> None:
    block = re.search(r"The ACL the hub writes.*?```\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    generated = [ln for ln in acl_text("camaudit").splitlines() if not ln.startswith("#")]
    assert block.group(1).splitlines() == generated


def test_hub_config_sets_the_fronts_limits(make_hub) -> None:
    """A fleet past 256 devices raises `broker_max_connections`: HAProxy in front holds that
    many, mosquitto behind it accepts 64 more (the hub's own clients); the per-address limit
    and the CONNECT delay reach HAProxy's config, which `haproxy -c` accepted at start."""
    hub = make_hub(broker_max_connections=600, broker_max_per_address=40, broker_connect_timeout_s=2.5)
    b = hub.embedded_broker
    conf = b.conf_file.read_text().splitlines()
    assert "max_connections 664" in conf and f"listener {b.backend_port} 127.0.0.1" in conf
    assert not any(ln.startswith(f"listener {b.port}") for ln in conf)  # only HAProxy listens there
    front = b.front_conf_file.read_text()
    for line in ("tcp-request content reject if { fe_conn gt 600 }",
                 "tcp-request content reject if { sc0_conn_cur gt 40 }",
                 "tcp-request inspect-delay 2500ms", "timeout client 2500ms",
                 f"bind 127.0.0.1:{b.port}", f"server mosquitto 127.0.0.1:{b.backend_port}"):
        assert line in front
    assert b.front_conf_file.stat().st_mode & 0o777 == 0o600


def test_the_private_port_is_kept_across_restarts(tmp_path: Path) -> None:
    """Workers on the hub's machine read mosquitto's private port from mosquitto.conf when they
    start (commands/worker.py hub_broker_url): a hub restart keeps it while it is free, and
    the worker URL is that private listener, not the front."""
    from camaudit.hub.broker.front import FrontLimits
    from camaudit.hub.commands.worker import hub_broker_url

    ports = []
    for _ in range(2):
        b = ManagedMosquitto(tmp_path, "127.0.0.1", 0, front=FrontLimits())
        b.start()
        assert hub_broker_url(tmp_path) == b.private_url == f"mqtt://127.0.0.1:{b.backend_port}"
        ports.append(b.backend_port)
        b.stop()
    assert ports[0] == ports[1]
    with socket.socket() as busy:  # taken by someone else meanwhile: a new one
        busy.bind(("127.0.0.1", ports[0]))
        busy.listen()
        b = ManagedMosquitto(tmp_path, "127.0.0.1", 0, front=FrontLimits())
        assert b.backend_port != ports[0]


@pytest.mark.parametrize(("field", "value"), [
    ("broker_max_connections", 3), ("broker_max_per_address", 0), ("broker_connect_timeout_s", 0),
    ("broker_connect_timeout_s", 600), ("broker_max_per_adress", 16),
])
def test_broker_limits_out_of_range_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        HubConfig.model_validate({field: value})
