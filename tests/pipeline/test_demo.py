"""`make demo` runs `camaudit demo`: a four-act story on the bundled clips, device + broker + hub
on 127.0.0.1, an exported pack checked against the device key."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pipeline_helpers import ROOT, camaudit, captures

from camaudit import demo_story
from camaudit.core.policy import parse_hours

pytestmark = pytest.mark.integration


def test_closed_hours_exclude_the_moment_they_are_made_at():
    tz = ZoneInfo(demo_story.TIMEZONE)
    for hour in range(24):
        now = datetime(2026, 12, 3, hour, 59, tzinfo=tz)
        hours = parse_hours({"daily": demo_story.closed_hours(now)})
        assert not hours.is_open_local(now), (hour, demo_story.closed_hours(now))


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("demo")
    proc = camaudit("demo", "--data-dir", str(tmp), "--no-serve")
    return tmp, proc.stdout


def test_each_act_ends_with_its_verdict(demo_run):
    tmp, out = demo_run
    by_feed = {c["feed"]: c for c in captures(tmp / "device" / "journal.db")}
    assert set(by_feed) == {a.feed for a in demo_story.ACTS}, out
    for act in demo_story.ACTS:
        cap = by_feed[act.feed]
        assert cap["verdict"] == act.verdict, (act.feed, cap)
        assert act.why in ([cap["basis"]] if act.verdict == "consented" else cap["reasons"]), cap
        assert cap["identifiable_tracks"] >= 1
    assert len(re.findall(r"^ok  ", out, re.M)) == len(demo_story.ACTS), out
    assert "BAD" not in out


def test_alerts_for_the_unconsented_acts_reach_the_hub(demo_run):
    tmp, out = demo_run
    assert "ALERT: 2 identifiable faces filmed on 'counter' while the privacy notice was not seen" in out
    assert "ALERT: 2 identifiable faces filmed on 'terrace' outside the recording hours" in out
    m = re.search(r"hub: (\d+) of (\d+) events from demo-01 verified and stored, 0 rejected", out)
    assert m and m.group(1) == m.group(2), out
    assert len(re.findall(r"^hub alert: ", out, re.M)) == 2, out
    con = sqlite3.connect(tmp / "hub" / "hub.db")
    try:
        (n,) = con.execute("select count(*) from events where device = 'demo-01'").fetchone()
    finally:
        con.close()
    assert n == int(m.group(1))
    # the hub listened on loopback only
    assert re.search(r"broker mqtt://127\.0\.0\.1:\d+, web page http://127\.0\.0\.1:\d+", out)


def test_pack_is_exported_and_verified_against_the_device_key(demo_run):
    tmp, out = demo_run
    pack = tmp / "evidence-pack.zip"
    assert pack.is_file()
    assert re.search(r"verify .*evidence-pack\.zip --pubkey [0-9a-f]{16}\.\.\.: OK", out), out
    assert re.search(r"journal\.db: OK, (\d+) events", out)


def test_demo_shows_trusted_time_the_signed_report_and_its_custody_entries(demo_run):
    """Issue 24: the hub pack holds a token from the demo's own local authority, a signed
    report.pdf and the custody entry of its own export; the printed verify command passes."""
    tmp, out = demo_run
    assert re.search(r"^trusted time: a local time-stamp authority \(openssl ts\) answers at "
                     r"http://127\.0\.0\.1:\d+/tsa$", out, re.M), out
    assert re.search(r"^  trusted time: records up to seq \d+ existed by .* \(CN=camaudit demo TSA\)", out, re.M), out
    assert re.search(r"^  signed report: report\.pdf's PDF signature is valid", out, re.M), out
    m = re.search(r"^  this pack's own export: entry (\d+), by .+ from local$", out, re.M)
    assert m, out
    assert re.search(r"^  custody log: `.* hub audit-log --data-dir ", out, re.M)
    cmd = re.search(r"\(\S*camaudit verify (\S+hub-pack\.zip --hub-key [0-9a-f]{64} --tsa-cert \S+)\):", out)
    assert cmd, out
    proc = camaudit("verify", *cmd.group(1).split())
    assert "OK, authentic evidence pack" in proc.stdout and "existed by" in proc.stdout
    log = camaudit("hub", "audit-log", "--json", "--data-dir", str(tmp / "hub"))
    exports = [json.loads(x) for x in log.stdout.splitlines() if '"what":"export"' in x]
    assert [e["seq"] for e in exports] == [int(m.group(1))]


def test_demo_prints_the_alerts_command_with_its_broker_port(demo_run):
    _, out = demo_run
    m = re.search(r"^  (\S+) alerts --broker mqtt://127\.0\.0\.1:(\d+) --username alerts "
                  r"--password-file \S+/hub/secrets/alerts\.pass --tz Europe/Paris -f$", out, re.M)
    assert m, out
    hub_line = re.search(r"hub: broker mqtt://127\.0\.0\.1:(\d+)", out)
    assert hub_line and hub_line.group(1) == m.group(2)


# --- issue 22.3 and 22.6: a terminal's Ctrl-C (SIGINT to the whole foreground group)


def _spawn_demo(data: Path, *args: str) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "camaudit.cli", "demo", "--data-dir", str(data), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def _read_until(proc: subprocess.Popen[str], marker: str) -> str:
    seen = []
    assert proc.stdout is not None
    for line in proc.stdout:
        seen.append(line)
        if marker in line:
            return "".join(seen)
    raise AssertionError(f"{marker!r} never printed:\n{''.join(seen)}\n{proc.stderr.read() if proc.stderr else ''}")


@pytest.mark.timeout(240)
def test_ctrl_c_on_the_served_demo_is_a_clean_stop_and_its_alerts_command_works(tmp_path: Path):
    (tmp_path / "device").mkdir()
    (tmp_path / "device" / "device.key").write_text("the previous demo's key\n")
    proc = _spawn_demo(tmp_path, "--serve")
    try:
        out = _read_until(proc, "Press Ctrl-C")
        assert f"starting afresh: deleting the previous demo's journal, device key, hub and report in {tmp_path}/" in out
        line = next(x for x in out.splitlines() if x.startswith("Alerts in a terminal: "))
        words = line.removeprefix("Alerts in a terminal: ").split()
        assert words[1] == "alerts" and words[-1] == "-f"
        alerts = subprocess.run([sys.executable, "-m", "camaudit.cli", *words[1:-1], "--wait", "1"],
                                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert alerts.returncode == 0, alerts.stderr
        assert f"connected to {words[3]}" in alerts.stderr
        time.sleep(1)
    finally:
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert rest.strip().splitlines()[-1] == "stopping the demo hub"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert "restarting" not in err, err  # the broker supervisor did not take the stop for a crash


@pytest.mark.timeout(240)
def test_ctrl_c_during_the_demo_run_stops_it_in_one_line(tmp_path: Path):
    proc = _spawn_demo(tmp_path, "--serve")
    try:
        _read_until(proc, "started:")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert rest.strip().splitlines()[-1] == f"demo stopped (Ctrl-C); what it journalled so far is in {tmp_path}/device/journal.db"
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err


def test_make_demo_ends_by_saying_how_to_put_camaudit_on_path(tmp_path: Path):
    """`make demo` runs the Makefile's real recipe (here with a stand-in camaudit script, so
    the demo itself does not run twice); the PATH hint it prints works."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    script = venv / "bin" / "camaudit"
    script.write_text("#!/bin/sh\necho \"demo ran: $*\"\nexit 3\n")
    script.chmod(0o755)
    (venv / ".runtime").touch()  # newer than pyproject.toml: nothing to install
    proc = subprocess.run(["make", "-s", "-C", str(ROOT), "demo", f"VENV={venv}"], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert "demo ran: demo" in proc.stdout and proc.returncode != 0  # the demo's failure still fails make
    assert proc.stdout.rstrip().splitlines()[-1] == (
        f"put it on PATH for this shell with: . {venv}/bin/activate   (then: camaudit --help)")
    assert f"type {venv}/bin/camaudit ..." in proc.stdout
    real = ROOT / ".venv" / "bin" / "activate"
    if real.exists():  # what the hint says, done for real
        done = subprocess.run(["bash", "-c", f". {real} && cd {tmp_path} && camaudit --version"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and "camaudit" in done.stdout, done.stderr
