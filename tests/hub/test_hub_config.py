"""HubConfig: YAML loading, defaults that bind loopback only, errors that name the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from camaudit.config.hub import HubConfig, load_hub_config, split_hostport
from camaudit.errors import ConfigError


def test_defaults_bind_loopback_and_need_enrollment() -> None:
    c = HubConfig()
    assert split_hostport(c.listen)[0] == "127.0.0.1"
    assert split_hostport(c.broker_listen)[0] == "127.0.0.1"
    assert c.broker is None and not c.trust_on_first_use
    assert c.db_path == c.data_dir / "hub.db"


def test_load_yaml(tmp_path: Path) -> None:
    f = tmp_path / "hub.yaml"
    f.write_text("hub:\n  data_dir: /srv/hub\n  listen: 0.0.0.0:8443\n  broker: mqtts://b.example:8883\n"
                 "  mqtt: {username: hub, password_file: /etc/hub.pass, ca_file: /etc/ca.pem}\n")
    c = load_hub_config(f)
    assert c.listen == "0.0.0.0:8443" and c.broker == "mqtts://b.example:8883"
    assert c.mqtt.username == "hub" and c.mqtt.ca_file == "/etc/ca.pem"


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("listen: nowhere\n", "listen"),
        ("brokr: mqtt://x\n", "brokr"),
        ("token: short\n", "token"),
        ("mqtt: {url: 'http://x'}\n", "mqtt.url"),
        ("[1, 2\n", "invalid YAML"),
        ("broker: ftp://x:21\n", "broker"),
    ],
)
def test_bad_config_names_file_and_key(tmp_path: Path, text: str, needle: str) -> None:
    f = tmp_path / "hub.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError) as exc:
        load_hub_config(f)
    assert str(f) in str(exc.value) and needle in str(exc.value)
