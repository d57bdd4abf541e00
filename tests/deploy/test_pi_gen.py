"""The pi-gen stage run for real into a Debian bookworm root, as pi-gen runs it
(tests/deploy/pigen_stage.sh: its packages and 01-run.sh with pi-gen's on_chroot), ending with
the service installed and `camaudit check-config` passing inside; and the venv keeps Debian's
numpy, so an extension built against it (python3-scipy, the stand-in for Raspberry Pi OS's
simplejpeg under picamera2) imports from the appliance's own interpreter.

Slow (minutes), needs root and the cached root of scripts/debian-root.sh.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from deploy_helpers import (
    BOOKWORM_NUMPY,
    ROOT,
    chroot,
    debian_root,
    mounted,
    mounts_under,
    need_root,
    numpy2_wheels,
    wheelhouse,
    work_root,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

STAGE = ROOT / "firmware" / "pi-gen" / "stage-camaudit"
HARNESS = Path(__file__).with_name("pigen_stage.sh")
VENV_PY = "/opt/camaudit/venv/bin/python"
# an extension module built against Debian's numpy, importing numpy's C API
STAND_IN = ("import numpy, scipy.ndimage; "
            "print(numpy.__version__, numpy.__file__); "
            "print(scipy.ndimage.uniform_filter(numpy.arange(9.0).reshape(3, 3), 3).sum())")


@pytest.fixture(scope="module")
def base_root() -> Path:
    need_root()
    root, seconds = debian_root("amd64")
    print(f"debian root ready in {seconds:.0f} s")
    return root


def test_pi_gen_stage_installs_the_service_and_keeps_debians_numpy(base_root: Path, tmp_path: Path):
    with work_root(base_root, tmp_path / "root") as root:
        env = {**os.environ, "CAMAUDIT_WHEELS": str(wheelhouse()), "CAMAUDIT_SRC": str(ROOT)}
        t0 = time.monotonic()
        proc = subprocess.run([str(HARNESS), str(root), str(STAGE)], env=env, capture_output=True,
                              text=True, timeout=1500, stdin=subprocess.DEVNULL)
        print(f"pi-gen stage ran in {time.monotonic() - t0:.0f} s")
        assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
        assert "pigen_stage: done" in proc.stdout
        assert not mounts_under(root)  # pi-gen's end-of-stage unmount left nothing behind
        # plain Debian has no picamera2: said, not an error
        assert "python3-picamera2 is not in this root's apt sources" in proc.stdout
        assert f"numpy: the system's {BOOKWORM_NUMPY} (python3-numpy)" in proc.stdout
        # the units wait (bounded) for a synchronised clock: systemd-timesyncd is there, as on a Pi
        assert "clock: services wait for a synchronised clock at boot (systemd-time-wait-sync.service)" in proc.stdout
        assert (root / "etc/systemd/system/sysinit.target.wants/systemd-time-wait-sync.service").is_symlink()
        assert "TimeoutStartSec=90s" in (
            root / "etc/systemd/system/systemd-time-wait-sync.service.d/camaudit.conf").read_text()
        assert (root / "etc/systemd/system/multi-user.target.wants/camaudit.service").is_symlink()
        assert (root / "etc/camaudit/config.yaml").is_file()
        assert not (root / "var/lib/camaudit/device.key").exists()  # each card makes its own
        assert not (root / "root/camaudit-checkout").exists()
        assert not list((root / "tmp").glob("camaudit-src*"))
        with mounted(root, {"/numpy2": numpy2_wheels()}):
            out = chroot(root, "camaudit", "check-config", "/etc/camaudit/config.yaml")
            assert "OK (1 feed(s)" in out.stdout
            # the stand-in imports from the appliance's interpreter, with Debian's numpy
            got = chroot(root, VENV_PY, "-c", STAND_IN).stdout.split()
            assert got[0] == BOOKWORM_NUMPY and got[1].startswith("/usr/lib/python3/dist-packages/numpy/")
            assert float(got[2]) == 36.0

            # the measurement behind the choice: a venv where pip put numpy 2 next to Debian's
            # breaks the same extension (as picamera2's simplejpeg breaks on Raspberry Pi OS)
            chroot(root, "python3", "-m", "venv", "--system-site-packages", "/root/np2")
            chroot(root, "/root/np2/bin/pip", "install", "-q", "--no-index", "--find-links",
                   "/numpy2", "numpy>=2")
            bad = chroot(root, "/root/np2/bin/python", "-c", STAND_IN, check=False)
        assert bad.returncode != 0, bad.stdout
        print("numpy 2 in the venv:", bad.stderr.strip().splitlines()[-1])
