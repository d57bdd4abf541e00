"""deploy.sh refuses what it cannot support with one clear line, before changing anything."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from deploy_helpers import DEPLOY, ROOT, deploy


def fake_root(tmp_path: Path, os_release: str, arch: str = "arm64") -> Path:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "etc/os-release").write_text(os_release)
    (root / "var/lib/dpkg/status").write_text(
        f"Package: base-files\nArchitecture: {arch}\n\nPackage: dpkg\nStatus: install ok installed\n"
        f"Architecture: {arch}\n"
    )
    return root


BOOKWORM_PI = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_CODENAME=bookworm\n'


def error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("deploy.sh: error: ")
    return lines[0]


@pytest.mark.parametrize("text, words", [
    ('PRETTY_NAME="Ubuntu 24.04 LTS"\nID=ubuntu\nID_LIKE=debian\nVERSION_CODENAME=noble\n', "Ubuntu 24.04"),
    ('PRETTY_NAME="Debian 11"\nID=debian\nVERSION_CODENAME=bullseye\n', "bullseye"),
    ('PRETTY_NAME="Fedora 40"\nID=fedora\n', "Fedora 40"),
])
def test_unsupported_os(tmp_path: Path, text: str, words: str):
    line = error_line(deploy("--root", str(fake_root(tmp_path, text)), "--dry-run", check=False))
    assert "unsupported OS" in line and words in line


def test_os_release_is_read_not_executed(tmp_path: Path):
    marker = tmp_path / "pwned"
    text = BOOKWORM_PI.replace("ID=debian", f"ID=debian\n$(touch {marker})")
    deploy("--root", str(fake_root(tmp_path, text)), "--dry-run", "--wheels", str(tmp_path), check=False)
    assert not marker.exists()


@pytest.mark.parametrize("arch, words", [("armhf", "32-bit"), ("riscv64", "riscv64")])
def test_unsupported_architecture(tmp_path: Path, arch: str, words: str):
    line = error_line(deploy("--root", str(fake_root(tmp_path, BOOKWORM_PI, arch)), "--dry-run", check=False))
    assert "unsupported architecture" in line and words in line


def test_no_network(tmp_path: Path):
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root to enter an empty network namespace")
    root = fake_root(tmp_path, BOOKWORM_PI)  # none of the system packages installed
    cmd = ["unshare", "--net", "bash", str(DEPLOY), "--root", str(root)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert "no network: cannot reach deb.debian.org:443" in error_line(proc)
    assert sorted(p.name for p in root.iterdir()) == ["etc", "var"]  # nothing changed
    # a plan needs no network: it names what the install would need
    plan = subprocess.run([*cmd, "--dry-run"], capture_output=True, text=True, timeout=60)
    assert plan.returncode == 0, plan.stderr
    assert "network: would be needed for deb.debian.org pypi.org" in plan.stdout


@pytest.mark.parametrize("style", ["block", "flow"])
def test_no_camera_whatever_the_yaml_style(tmp_path: Path, style: str):
    if Path("/dev/video0").exists() or shutil.which("rpicam-hello"):
        pytest.skip("this machine has a camera")
    cfg = tmp_path / "cam.yaml"
    feeds = ("feeds: {door: {source: picamera2, fps: 2}}\n" if style == "flow" else
             "feeds:\n  door:\n    source: 'picamera2'\n")
    cfg.write_text("device: {id: cafe-01}\n" + feeds)
    line = error_line(deploy("--dry-run", "--config", str(cfg), check=False))
    assert "no camera" in line and "--skip-camera-check" in line


def test_no_camera(tmp_path: Path):
    if Path("/dev/video0").exists() or shutil.which("rpicam-hello"):
        pytest.skip("this machine has a camera")
    # the host itself (bookworm, amd64) as target; the Pi-camera config; nothing changes
    proc = deploy("--dry-run", "--config", str(ROOT / "config" / "picamera.yaml"), check=False)
    line = error_line(proc)
    assert "no camera" in line and "--skip-camera-check" in line


@pytest.mark.parametrize("args, words", [
    (["--purge"], "--purge goes with --uninstall"),
    (["--tls-cert", "/etc/hostname"], "for --hub"),
    (["--hub", "--tls-cert", "/etc/hostname"], "needs --tls-key"),
    (["--root", "/nonexistent-dir"], "no such folder"),
    (["--bogus"], "unknown option"),
])
def test_bad_options(args: list[str], words: str):
    assert words in error_line(deploy(*args, "--dry-run", check=False))


def test_help():
    out = deploy("--help").stdout
    for opt in ("--hub", "--root", "--dry-run", "--upgrade", "--uninstall", "--purge", "--tls-cert"):
        assert opt in out
