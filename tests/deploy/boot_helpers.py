"""Boot a deployed Debian root with systemd as PID 1 in a container (systemd-nspawn).

The deployed root is cached in .cache/ (keyed by what deploy.sh installs from this checkout);
each test boots it through an overlay (the cache is the read-only lower layer, the test's
writes go to its own upper layer), so "reboot" boots the same upper layer again, and
nothing is copied. Commands run inside the booted container with nsenter.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from deploy_helpers import CACHE, ROOT, copy_root, deploy, need_root, wheelhouse

# what the deployed root is made from: a change to any of these rebuilds it
SOURCES = ["deploy.sh", "pyproject.toml", "device", "firmware", "config/picamera.yaml",
           "scripts/debian-root.sh"]


def need_containers() -> None:
    need_root()
    if shutil.which("systemd-nspawn") is None:
        pytest.skip("systemd-nspawn not installed (scripts/system-deps.sh installs systemd-container)")
    if shutil.which("nsenter") is None:
        pytest.skip("nsenter (util-linux) not installed")
    if "overlay" not in Path("/proc/filesystems").read_text():
        pytest.skip("this kernel has no overlay file system to boot the cached root through")


def sources_digest() -> str:
    h = hashlib.sha256()
    for name in SOURCES:
        p = ROOT / name
        files = sorted(f for f in p.rglob("*")
                       if f.is_file() and "__pycache__" not in f.parts and "pi-gen" not in f.parts) \
            if p.is_dir() else [p]
        for f in files:
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes())
    return h.hexdigest()[:16]


@contextmanager
def overlay(lower: Path, work: Path) -> Iterator[Path]:
    """`lower` (read-only) with `work`/upper on top, mounted at `work`/root."""
    upper, scratch, merged = work / "upper", work / "scratch", work / "root"
    for d in (upper, scratch, merged):
        d.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "overlay", "overlay", "-o",
                    f"lowerdir={lower},upperdir={upper},workdir={scratch}", str(merged)],
                   check=True, timeout=30)
    try:
        yield merged
    finally:
        if subprocess.run(["umount", str(merged)], timeout=60).returncode != 0:
            subprocess.run(["umount", "-l", str(merged)], timeout=60)


class Booted:
    """A container booted from `root`: systemd is its PID 1."""

    def __init__(self, root: Path, log: Path) -> None:
        self.root = root
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.leader = 0

    def start(self, timeout: float = 120) -> float:
        """Boot; returns the seconds until the container's systemd reports running/degraded."""
        t0 = time.monotonic()
        out = open(self.log, "ab")  # noqa: SIM115 - kept by the child
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "--quiet", "--keep-unit", "--register=no", "--private-network",
             "--boot", "-D", str(self.root)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
        )
        out.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"the container exited: {self.log_tail()}"
            self.leader = self.leader or self._find_leader()
            if self.leader:
                state = self.sh("systemctl is-system-running || true", check=False).stdout.strip()
                if state in ("running", "degraded"):
                    return time.monotonic() - t0
            time.sleep(0.5)
        raise AssertionError(f"the container did not finish booting in {timeout} s: {self.log_tail()}")

    def _find_leader(self) -> int:
        """The container's PID 1: the child of systemd-nspawn that runs systemd."""
        assert self.proc is not None
        kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            for pid in kids.read_text().split():
                if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    return int(pid)
        except OSError:
            pass
        return 0

    def sh(self, script: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """`sh -c script` inside the container (all its namespaces, its root)."""
        assert self.leader
        proc = subprocess.run(
            ["nsenter", f"--target={self.leader}", "--mount", "--uts", "--ipc", "--net", "--pid",
             "--root", "--wd", "--", "/bin/sh", "-c", script],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
            env={"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8",
                 "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"},
        )
        if check:
            assert proc.returncode == 0, f"{script}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def unit(self, name: str) -> dict[str, str]:
        out = self.sh(f"systemctl show {name} -p ActiveState -p SubState -p MainPID -p NRestarts "
                      "-p Result -p Type -p WatchdogUSec").stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait_active(self, name: str, timeout: float = 120, other_than_pid: str | None = None) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        u: dict[str, str] = {}
        while time.monotonic() < deadline:
            u = self.unit(name)
            if u.get("ActiveState") == "active" and u.get("SubState") == "running" and \
                    u.get("MainPID", "0") not in ("0", other_than_pid):
                return u
            time.sleep(0.5)
        logs = self.sh(f"journalctl -u {name} --no-pager -n 30", check=False).stdout
        raise AssertionError(f"{name} not active in {timeout} s: {u}\n{logs}")

    def poweroff(self, timeout: float = 90) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        if self.leader:
            os.kill(self.leader, signal.SIGRTMIN + 4)  # systemd: poweroff (what nspawn's own ^]^]^] does)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
        self.leader = 0

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


def deployed_root(base: Path) -> Path:
    """The base root with the device (no key: the first boot makes it, as on an image) and
    the hub deployed, cached until a source changes. Both run from the bundled clip config."""
    dest = CACHE / f"deployed-{sources_digest()}"
    if (dest / ".complete").exists():
        return dest
    for old in CACHE.glob("deployed-*"):
        shutil.rmtree(old, ignore_errors=True)
    part = CACHE / "deployed.part"
    shutil.rmtree(part, ignore_errors=True)
    copy_root(base, part)
    wheels = str(wheelhouse())
    cfg = CACHE / "boot-device.yaml"
    cfg.write_text(BOOT_CONFIG)
    deploy("--root", str(part), "--wheels", wheels, "--config", str(cfg), "--no-key")
    deploy("--hub", "--root", str(part), "--wheels", wheels)
    (part / ".complete").write_text("ok\n")
    part.rename(dest)
    return dest


# the device on the bundled clip, looped at its own pace: a live feed without a camera
BOOT_CONFIG = """\
device: {id: boot-01, data_dir: /var/lib/camaudit, timezone: Europe/Paris}
feeds:
  main: {source: /opt/camaudit/venv/lib/python3.11/site-packages/camaudit/data/demo_headpose.gif, loop: true, pace: true}
"""
