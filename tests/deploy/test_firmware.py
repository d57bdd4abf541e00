"""The units, the Pi boot and journald fragments and the pi-gen stage, as systemd reads them."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from deploy_helpers import ROOT

FW = ROOT / "firmware"
SCRIPTS = [ROOT / "deploy.sh", *sorted((ROOT / "scripts").glob("*.sh")),
           *sorted((FW / "pi-gen").rglob("*.sh")), *sorted((ROOT / "tests" / "deploy").glob("*.sh"))]


def unit(name: str) -> dict[str, list[str]]:
    """key -> every value it is given (systemd allows repeats), [Service] and [Unit]."""
    out: dict[str, list[str]] = {}
    for line in (FW / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            k, v = line.split("=", 1)
            out.setdefault(k.strip(), []).append(v.strip())
    return out


def test_shellcheck_every_script():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck not installed (scripts/system-deps.sh installs it)")
    proc = subprocess.run(["shellcheck", *map(str, SCRIPTS)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout


def test_systemd_analyze_verify_is_clean_and_catches_mistakes(tmp_path: Path):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    script = str(ROOT / "scripts" / "verify-units.sh")
    ok = subprocess.run([script], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "camaudit.service"
    bad.write_text((FW / "camaudit.service").read_text().replace("WatchdogSec=60", "WatchdogSecs=60"))
    proc = subprocess.run([script, str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0 and "WatchdogSecs" in proc.stderr


@pytest.mark.parametrize("name", ["camaudit.service", "camaudit-hub.service"])
def test_units_restart_and_are_hardened(name: str):
    u = unit(name)
    assert u["Restart"] == ["always"] and u["StartLimitIntervalSec"] == ["0"]
    assert u["User"][0].startswith("camaudit")
    for key, value in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("PrivateTmp", "yes"),
                       ("ProtectHome", "yes"), ("ProtectKernelTunables", "yes"),
                       ("ProtectKernelModules", "yes"), ("ProtectKernelLogs", "yes")]:
        assert u[key] == [value], key
    assert u["ReadWritePaths"] == [u["ExecStart"][0].split("--data-dir ")[1].split()[0]] \
        if "hub" in name else u["ReadWritePaths"] == ["/var/lib/camaudit"]
    assert "AF_PACKET" not in u["RestrictAddressFamilies"][0]
    assert "@system-service" in u["SystemCallFilter"] and u["MemoryMax"]


@pytest.mark.parametrize("name", ["camaudit.service", "camaudit-hub.service"])
def test_units_are_notify_with_a_watchdog(name: str):
    u = unit(name)
    assert u["Type"] == ["notify"] and u["NotifyAccess"] == ["main"]
    assert int(u["WatchdogSec"][0]) >= 20  # the loop counts as stalled after half of it


def test_exposure_score():
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze not installed")
    for name in ("camaudit.service", "camaudit-hub.service"):
        proc = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(FW / name)],
                              capture_output=True, text=True, timeout=60)
        last = proc.stdout.strip().splitlines()[-1]
        score = float(last.split("level for ")[1].split(":")[1].split()[0])
        assert score <= 2.0, last  # "OK" is below 4.9 on systemd's 0-10 scale


def test_boot_journald_and_watchdog_fragments():
    boot = (FW / "boot" / "config.txt.camaudit").read_text().splitlines()
    assert "dtparam=watchdog=on" in boot and "camera_auto_detect=1" in boot
    assert boot[0] == "# >>> camaudit" and boot[-1] == "# <<< camaudit"  # deploy.sh replaces it
    j = configparser.ConfigParser()
    j.read(FW / "journald.conf.d" / "camaudit.conf")
    assert j["Journal"]["Storage"] == "volatile" and j["Journal"]["RuntimeMaxUse"]
    w = configparser.ConfigParser()
    w.read(FW / "system.conf.d" / "camaudit-watchdog.conf")
    assert w["Manager"]["RuntimeWatchdogSec"] == "15s"  # the BCM2835 maximum


def test_pi_gen_stage():
    stage = FW / "pi-gen" / "stage-camaudit"
    assert "copy_previous" in (stage / "prerun.sh").read_text()
    assert os.access(stage / "prerun.sh", os.X_OK) and os.access(stage / "00-install" / "01-run.sh", os.X_OK)
    assert "IMG_SUFFIX" in (stage / "EXPORT_IMAGE").read_text()
    packages = (stage / "00-install" / "00-packages").read_text().split()
    assert {"python3-picamera2", "python3-venv"} <= set(packages)
    run = (stage / "00-install" / "01-run.sh").read_text()
    # every card must make its own device key on first boot: a baked key would be a clone
    assert "deploy.sh --root / " in run and "--no-key" in run
