"""deploy.sh into a real Debian bookworm root (debootstrap), then the program inside it.

The root is built once and cached in .cache/ (from scratch on a clean machine: measured
about 2 minutes here); each test deploys into a fresh copy of it. Slow: minutes, needs root.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
from deploy_helpers import (
    ROOT,
    chroot,
    debian_root,
    deploy,
    mounted,
    need_root,
    wheelhouse,
    work_root,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

IMAGE = "11--Meeting/11_Meeting_Meeting_11_Meeting_Meeting_11_176.jpg"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def base_root() -> Path:
    need_root()
    root, seconds = debian_root("amd64")
    print(f"debian root ready in {seconds:.0f} s")
    return root


def test_deploy_run_upgrade_uninstall(base_root: Path, tmp_path: Path, shared_data: Path):
    with work_root(base_root, tmp_path / "root") as root:
        deploy_run_upgrade_uninstall(root, shared_data)


def deploy_run_upgrade_uninstall(root: Path, shared_data: Path) -> None:
    wheels = wheelhouse()
    out = deploy("--root", str(root), "--wheels", str(wheels), "--config",
                 str(ROOT / "config" / "picamera.yaml"))
    assert "on the hub: camaudit hub enroll cafe-01 " in out.stderr
    for mnt in ("proc", "sys", "dev"):  # deploy.sh unmounted what it mounted
        assert not os.path.ismount(root / mnt), mnt
    assert (root / "etc/systemd/system/multi-user.target.wants/camaudit.service").is_symlink()
    key = root / "var/lib/camaudit/device.key"
    assert key.is_file() and (key.stat().st_mode & 0o077) == 0
    cfg = root / "etc/camaudit/config.yaml"

    wider = shared_data / "wider_dev" / "images"
    with mounted(root, {"/data/wider": wider}):
        assert "OK (1 feed(s)" in chroot(root, "camaudit", "check-config", "/etc/camaudit/config.yaml").stdout
        inside = chroot(root, "camaudit", "detect", "--json", f"/data/wider/{IMAGE}")
        # the same command on this machine's own install gives the same boxes
        host = subprocess.run([str(ROOT / ".venv/bin/camaudit"), "detect", "--json", str(wider / IMAGE)],
                              capture_output=True, text=True, timeout=300, check=True)
        got, want = json.loads(inside.stdout), json.loads(host.stdout)
        # the same boxes as reported, though inside runs Debian's numpy 1.24 with the wheels
        # that fit it (opencv-python-headless 4.11) and this venv numpy 2 (docs/pi-image.md)
        assert got["faces"] == want["faces"] and len(want["faces"]) >= 1
        # and the daemon itself, as the service's user, on the bundled clip: a journal
        demo = chroot(root, "/opt/camaudit/venv/bin/python", "-c",
                      "import camaudit, pathlib; print(pathlib.Path(camaudit.__file__).parent / 'data' / 'demo_headpose.gif')").stdout.strip()
        chroot(root, "camaudit", "run", "--source", demo, "--db", "/var/lib/camaudit/journal.db",
               "--device-id", "cafe-01", "--quiet", user="camaudit", timeout=600)
    journal = root / "var/lib/camaudit/journal.db"
    assert journal.is_file()

    # --upgrade from the bundle with no network at all keeps config (even edited), key and journal
    cfg.write_text(cfg.read_text() + "# edited by the venue\n")
    kept = {p: digest(p) for p in (cfg, key, journal)}
    out = deploy("--root", str(root), "--wheels", str(wheels), "--upgrade", offline=True)
    assert "network: not needed" in out.stdout and "system packages: present" in out.stdout  # no apt
    assert {p: digest(p) for p in kept} == kept
    with mounted(root, {}):
        chroot(root, "camaudit", "verify", "/var/lib/camaudit/journal.db")

    # --uninstall removes the program, keeps the data
    out = deploy("--root", str(root), "--uninstall")
    assert not (root / "opt/camaudit").exists() and not (root / "usr/share/camaudit").exists()
    assert not (root / "etc/systemd/system/camaudit.service").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants/camaudit.service").exists()
    assert {p: digest(p) for p in kept} == kept
    # ... and --purge removes the data and the user too
    deploy("--root", str(root), "--uninstall", "--purge")
    assert not (root / "var/lib/camaudit").exists() and not (root / "etc/camaudit").exists()
    assert "camaudit:" not in (root / "etc/passwd").read_text()


def tree(root: Path) -> dict[str, tuple[int, int]]:
    out = {}
    for sub in ("etc", "opt", "var/lib", "usr/local", "usr/share"):
        for dirpath, _dirs, files in os.walk(root / sub):
            for f in files:
                p = Path(dirpath) / f
                st = p.lstat()
                out[str(p)] = (st.st_mtime_ns, st.st_size)
    return out


def test_dry_run_plans_offline_and_changes_nothing(base_root: Path):
    before = tree(base_root)
    # no network (own namespace, no interface): a plan needs none, even without --wheels
    out = deploy("--root", str(base_root), "--dry-run", offline=True)
    assert "would run: chroot" in out.stdout and "systemctl --root=" in out.stdout
    assert "network: would be needed for pypi.org (not checked in a dry run)" in out.stdout
    # the base root has every system package the device needs: apt is not planned at all;
    # plain Debian has no python3-picamera2, and the plan says so instead of listing it
    assert "apt-get update -q" not in out.stdout and "apt-get install" not in out.stdout
    assert "python3-picamera2 is not in this system's apt sources" in out.stdout
    hub = deploy("--root", str(base_root), "--dry-run", "--hub", "--wheels", str(ROOT), offline=True)
    assert "system packages to install: mosquitto" in hub.stdout
    assert "apt-get install -y -q --no-install-recommends mosquitto" in hub.stdout
    assert "haproxy" in hub.stdout.split("system packages to install:")[1].splitlines()[0]
    assert "python3-picamera2" not in hub.stdout
    assert tree(base_root) == before


def test_deploy_hub_with_tls(base_root: Path, tmp_path: Path):
    with work_root(base_root, tmp_path / "root") as root:
        deploy_hub_with_tls(root, tmp_path)


def deploy_hub_with_tls(root: Path, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=hub.test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    out = deploy("--hub", "--root", str(root), "--wheels", str(wheelhouse()),
                 "--tls-cert", str(cert), "--tls-key", str(key))
    assert "enroll DEVICE PUBKEY" in out.stdout
    for mnt in ("proc", "sys", "dev"):
        assert not os.path.ismount(root / mnt), mnt
    assert (root / "etc/systemd/system/multi-user.target.wants/camaudit-hub.service").is_symlink()
    assert not (root / "etc/systemd/system/multi-user.target.wants/mosquitto.service").exists()
    assert not (root / "etc/systemd/system/multi-user.target.wants/camaudit.service").exists()
    assert (root / "usr/sbin/mosquitto").exists()
    assert (root / "usr/sbin/haproxy").exists()  # the hub broker's front
    assert not (root / "etc/systemd/system/multi-user.target.wants/haproxy.service").exists()
    env = (root / "etc/camaudit/hub.env").read_text()
    assert "CAMAUDIT_HUB_ARGS=--config /etc/camaudit/hub.yaml" in env
    st = (root / "etc/camaudit/hub-tls/key.pem").stat()
    assert st.st_mode & 0o777 == 0o640 and st.st_uid == 0  # group camaudit-hub, not world
    assert (root / "etc/camaudit/hub-tls/key.pem").read_bytes() == key.read_bytes()
    data = root / "var/lib/camaudit-hub"
    assert data.is_dir() and data.stat().st_mode & 0o777 == 0o700
    with mounted(root, {}):
        assert "--data-dir" in chroot(root, "camaudit", "hub", "--help").stdout
    # the unit's ExecStart resolves in that root, as systemd would see it
    unit = (root / "etc/systemd/system/camaudit-hub.service").read_text()
    assert "camaudit hub --data-dir /var/lib/camaudit-hub $CAMAUDIT_HUB_ARGS" in unit
    assert os.access(root / "opt/camaudit/venv/bin/camaudit", os.X_OK)
    # the hub's mosquitto plugin (bound on subscriptions), built in the root for its venv
    assert (root / "opt/camaudit/venv/lib/camaudit/camaudit_subscribe_acl.so").is_file()
    # ... and that command line runs: the hub starts with the TLS broker deploy.sh configured
    out = run_hub_service_command(root)
    assert "broker  mqtts://0.0.0.0:8883" in out, out


def service_command(root: Path, name: str) -> list[str]:
    """ExecStart of the installed unit with its EnvironmentFile's variables substituted as
    systemd does for an unquoted $VAR (split into words)."""
    unit = (root / "etc/systemd/system" / name).read_text().splitlines()
    env: dict[str, str] = {}
    for line in unit:
        if line.startswith("Environment=") and "=" in line[12:]:
            k, v = line[12:].split("=", 1)
            env[k] = v
        if line.startswith("EnvironmentFile="):
            path = root / line.split("=", 1)[1].lstrip("-").lstrip("/")
            for e in path.read_text().splitlines():
                if e.strip() and not e.startswith("#"):
                    k, v = e.split("=", 1)
                    env[k] = v
    cmd = next(line.split("=", 1)[1] for line in unit if line.startswith("ExecStart="))
    words: list[str] = []
    for w in shlex.split(cmd):
        words.extend(env[w[1:]].split() if w.startswith("$") else [w])
    return words


def run_hub_service_command(root: Path) -> str:
    """The hub unit's command line, run as its user inside the root, in a network namespace of
    its own (its 0.0.0.0:8883 listener reaches nothing outside), until it says it is up."""
    cmd = service_command(root, "camaudit-hub.service")
    inner = ("ip link set lo up && exec chroot " + shlex.quote(str(root)) +
             " setpriv --reuid=camaudit-hub --regid=camaudit-hub --init-groups " + shlex.join(cmd))
    with mounted(root, {}):
        proc = subprocess.Popen(["unshare", "-n", "sh", "-c", inner], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL,
                                env={"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "LANG": "C.UTF-8"})
        out = []
        try:
            assert proc.stdout is not None
            deadline = time.monotonic() + 60
            for line in proc.stdout:
                out.append(line)
                if line.startswith("hub key") or time.monotonic() > deadline:
                    break
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                rest, _ = proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                rest, _ = proc.communicate(timeout=10)
            out.append(rest or "")
    return "".join(out)
