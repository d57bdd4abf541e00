"""Issue 20 (low): a hub started as root runs its mosquitto, and the HAProxy in front of it,
as the `mosquitto` account, not as root; users added while it runs still work (mosquitto re-reads its files after dropping
privileges). Against the real hub and mosquitto; needs root and Debian's mosquitto account."""

from __future__ import annotations

import os
import pwd
import shutil
import tempfile
from pathlib import Path

import pytest
from test_hub_isolation import Client

pytestmark = [pytest.mark.integration, pytest.mark.timeout(60)]


def _uid(pid: int) -> int:
    line = next(ln for ln in Path(f"/proc/{pid}/status").read_text().splitlines() if ln.startswith("Uid:"))
    return int(line.split()[2])  # effective uid


@pytest.mark.skipif(os.geteuid() != 0, reason="the hub must run as root for this")
def test_a_root_hub_runs_mosquitto_as_its_own_account(make_hub) -> None:
    try:
        account = pwd.getpwnam("mosquitto")
    except KeyError:
        pytest.skip("no mosquitto account")
    base = Path(tempfile.mkdtemp(prefix="camaudit-root-hub-"))
    os.chmod(base, 0o711)  # like /var/lib: the broker account may pass through
    try:
        hub = make_hub(data_dir=base / "hub", broker_users=["dev1"])
        b = hub.embedded_broker
        assert _uid(b.pid) == account.pw_uid != 0
        assert _uid(b.front_pid) == account.pw_uid  # HAProxy too, once it bound the port
        assert (base / "hub" / "secrets").stat().st_mode & 0o077 == 0  # secrets stay the hub's
        assert (base / "hub").stat().st_mode & 0o007 == 0
        hub.add_mqtt_user("dev2")  # written while it runs: mosquitto re-reads it as `mosquitto`
        for user in ("dev1", "dev2"):
            c = Client(hub.broker_url, user, hub.password_file(user).read_text().strip())
            assert c.rc == 0, user
            c.close()
        hub.stop()
    finally:
        shutil.rmtree(base, ignore_errors=True)
