"""Shared by the deploy tests: the cached Debian root, the wheelhouse, chroot with mounts."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / ".cache"
DEPLOY = ROOT / "deploy.sh"


def need_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root (debootstrap, chroot, mounts); CI runs `make test` as root")
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap not installed (scripts/system-deps.sh installs it)")


def debian_root(arch: str = "amd64") -> tuple[Path, float]:
    """The cached root (built on first use); returns it and the seconds this call took."""
    dest = CACHE / f"debian-bookworm-{arch}"
    t0 = time.monotonic()
    proc = subprocess.run(
        [str(ROOT / "scripts" / "debian-root.sh"), str(dest), arch],
        capture_output=True, text=True, timeout=1800,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dest, time.monotonic() - t0


# Debian bookworm's python3-numpy: deploy.sh keeps it as the venv's numpy (docs/pi-image.md),
# so the bundle holds wheels that work with it (opencv-python-headless < 4.12, ml_dtypes 0.5)
BOOKWORM_NUMPY = "1.24.2"


def wheelhouse() -> Path:
    """Every wheel camaudit needs in a bookworm root (numpy pinned to Debian's), downloaded once."""
    dest = CACHE / "wheels" / f"amd64-numpy{BOOKWORM_NUMPY}"
    marker = dest / ".complete"
    if not marker.exists():
        dest.mkdir(parents=True, exist_ok=True)
        pins = dest / "constraints.txt"
        pins.write_text(f"numpy=={BOOKWORM_NUMPY}\n")
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "-d", str(dest), "-c", str(pins),
             str(ROOT), "setuptools>=68", "wheel"],
            capture_output=True, text=True, timeout=1200,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        marker.write_text("ok\n")
    return dest


def numpy2_wheels() -> Path:
    """A numpy 2 wheel, what pip would put into the venv if deploy.sh did not keep Debian's."""
    dest = CACHE / "wheels" / "numpy2"
    marker = dest / ".complete"
    if not marker.exists():
        dest.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "-d", str(dest), "numpy>=2,<3"],
            capture_output=True, text=True, timeout=600,
        )
        assert proc.returncode == 0, proc.stderr[-3000:]
        marker.write_text("ok\n")
    return dest


def deploy(*args: str, timeout: float = 900, check: bool = True,
           offline: bool = False) -> subprocess.CompletedProcess[str]:
    """deploy.sh ARGS; offline: in a network namespace of its own with no interface up
    (`unshare -n`), where no host can be reached."""
    prefix = ["unshare", "-n"] if offline else []
    proc = subprocess.run(
        [*prefix, "bash", str(DEPLOY), *args], capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert proc.returncode == 0, f"deploy.sh {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
    return proc


@contextmanager
def mounted(root: Path, binds: dict[str, Path]) -> Iterator[None]:
    """/proc, /dev and read-only bind mounts inside `root`; always unmounted."""
    done: list[Path] = []
    try:
        for kind, target in (("proc", root / "proc"), ("dev", root / "dev")):
            target.mkdir(exist_ok=True)
            cmd = ["mount", "-t", "proc", "proc", str(target)] if kind == "proc" else \
                  ["mount", "--bind", "/dev", str(target)]
            subprocess.run(cmd, check=True, timeout=30)
            done.append(target)
        for inside, outside in binds.items():
            target = root / inside.lstrip("/")
            target.mkdir(parents=True, exist_ok=True)
            subprocess.run(["mount", "--bind", str(outside), str(target)], check=True, timeout=30)
            done.append(target)
            subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True, timeout=30)
        yield
    finally:
        for target in reversed(done):
            if subprocess.run(["umount", str(target)], timeout=30).returncode != 0:
                subprocess.run(["umount", "-l", str(target)], timeout=30)


def chroot(root: Path, *cmd: str, timeout: float = 300, check: bool = True,
           user: str | None = None) -> subprocess.CompletedProcess[str]:
    prefix = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups"] if user else []
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8", "HOME": "/root"}
    proc = subprocess.run(["chroot", str(root), *prefix, *cmd], capture_output=True, text=True,
                          timeout=timeout, env=env, stdin=subprocess.DEVNULL)
    if check:
        assert proc.returncode == 0, f"{cmd}\n{proc.stdout}\n{proc.stderr}"
    return proc


def copy_root(src: Path, dest: Path) -> Path:
    subprocess.run(["cp", "-a", "--reflink=auto", str(src), str(dest)], check=True, timeout=600)
    return dest


def mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve()) + "/"
    with open("/proc/mounts") as f:
        points = [line.split()[1].replace("\\040", " ") for line in f]
    return [m for m in points if m.startswith(prefix) or m == prefix[:-1]]


@contextmanager
def work_root(base: Path, dest: Path) -> Iterator[Path]:
    """A copy of the cached root, removed afterwards (~0.6 GB once deployed), but never while
    anything is still mounted inside it: that would delete through a bind mount of /dev."""
    root = copy_root(base, dest)
    try:
        yield root
    finally:
        left = mounts_under(root)
        assert not left, f"still mounted, {root} kept: {left}"
        shutil.rmtree(root)
