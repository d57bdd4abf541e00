"""Issue 22.6: Ctrl-C on `camaudit hub` in a terminal (SIGINT to the whole foreground process
group: the hub, its receiver process and its mosquitto) stops it cleanly: no traceback from
the receiver, no "mosquitto exited with 0; restarting" from the broker supervisor."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from brokers import free_port, require_mosquitto, wait_port

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


def test_ctrl_c_stops_the_hub_without_traceback_or_broker_restart(tmp_path: Path) -> None:
    require_mosquitto()
    web, mq = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "camaudit.cli", "hub", "--data-dir", str(tmp_path / "hub"),
         "--listen", f"127.0.0.1:{web}", "--broker-listen", f"127.0.0.1:{mq}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONUNBUFFERED="1"), start_new_session=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("alerts "):
                break
        time.sleep(1.5)  # the receiver process is up and connected
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "restarting" not in err, err
    wait_port(mq, 10, up=False)
