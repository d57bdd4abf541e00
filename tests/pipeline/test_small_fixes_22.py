"""Issue 22.10, the smaller items: a dead RTSP URL prints one line per retry in one time
format and a summary without "(; )"; captures without an identifiable face are not printed
like alerts; hours errors read as sentences; overnight hours are said; an empty subject
check leaves no folder. (`status` after a clip ended: tests/health/test_status_cmd.py.)"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from camaudit.console import describe
from camaudit.core.record import Event
from camaudit.store.journal import Journal


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "camaudit.cli", *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, env=dict(os.environ, TZ="UTC"))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_dead_rtsp_url_one_line_per_retry_one_time_format(tmp_path: Path):
    proc = subprocess.Popen(
        [sys.executable, "-m", "camaudit.cli", "run", "--source", f"rtsp://127.0.0.1:{_free_port()}/stream",
         "--db", str(tmp_path / "j.db")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
        env=dict(os.environ, TZ="UTC", PYTHONUNBUFFERED="1"))
    time.sleep(6)  # attempts at 0, 0.5, 1.5, 3.5 s
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    # the clock warning (issue 21) is said once on a machine whose clock is not synchronised
    lines = [ln for ln in err.splitlines() if ln.strip() and "camaudit.health.clock_sync" not in ln]
    clock = r"\d\d:\d\d:\d\d UTC"
    assert len(lines) >= 3, err
    for n, line in enumerate(lines, 1):
        assert re.fullmatch(rf"{clock} WARNING camaudit\.sources\.opencv_stream: stream rtsp://127\.0\.0\.1:\d+/stream: "
                            rf"cannot open \(attempt {n}\); retrying in \d+\.\d s", line), line
    assert re.search(rf"^{clock} main +feed\.down: cannot open$", out, re.M), out
    assert "(; )" not in out and "feed main: 0 frames at 0.0 fps, 0 capture(s)" in out


def _end(identifiable: int) -> Event:
    body = {"capture": "c-1", "start": 1_000, "end": 5_000, "frames": 9, "max_faces": 1, "distinct_tracks": 1,
            "identifiable_tracks": identifiable, "verdict": "unconsented", "reasons": ["no_notice"], "basis": None}
    return Event(device="d", seq=4, ts=5_000, type="capture.end", feed="door", body=body, prev="0" * 64)


def test_capture_without_identifiable_face_is_not_printed_like_an_alert():
    quiet = describe(_end(0))
    assert quiet is not None and "UNCONSENTED" not in quiet
    assert quiet.endswith("0 identifiable -> no identifiable face, no alert (unconsented [no_notice])")
    assert describe(_end(2)).endswith("2 identifiable -> UNCONSENTED [no_notice]")  # type: ignore[union-attr]


def _config(tmp: Path, hours: str) -> Path:
    cfg = tmp / "c.yaml"
    cfg.write_text("device: {id: cafe-01, venue: 'Café, 1 Main St'}\nfeeds: {door: {source: /dev/null}}\n"
                   "notices:\n  door-sign:\n    controller: Café Ltd\n    purposes: [security]\n"
                   "    rights: ask\n    contact: dpo@example.org\n    full_notice: https://example.org\n"
                   f"    covers: [door]\n    hours: {{mon-fri: '{hours}'}}\n")
    return cfg


def test_hours_errors_read_as_sentences(tmp_path: Path):
    proc = _cli("check-config", str(_config(tmp_path, "7:00-25:00")))
    assert proc.returncode != 0
    assert "Value error" not in proc.stderr
    assert re.search(r"c\.yaml:\d+: notices\.door-sign\.hours: mon-fri: time '25:00' is not a valid time of day",
                     proc.stderr), proc.stderr


def test_overnight_hours_are_accepted_and_said(tmp_path: Path):
    proc = _cli("check-config", str(_config(tmp_path, "17:00-09:00")))
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"warning: .*c\.yaml:\d+: notices\.door-sign\.hours\.mon-fri: '17:00-09:00' runs overnight, "
                     r"from 17:00 to 09:00 the next morning \(if you meant 09:00-17:00, swap the times\)",
                     proc.stderr), proc.stderr
    assert "overnight" not in _cli("check-config", str(_config(tmp_path, "09:00-17:00"))).stderr


def test_subject_check_that_finds_nothing_leaves_no_folder(tmp_path: Path):
    db = tmp_path / "journal.db"
    with Journal.open(db, "cafe-01") as j:
        j.append("device.online", None, {"feeds": ["door"], "timezone": "Europe/Paris"}, 1_795_651_200_000)
    out = tmp_path / "sc"
    proc = _cli("subject-check", "--db", str(db), "--feed", "door", "--from", "2020-01-01T10:00",
                "--to", "2020-01-01T11:00", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "no record at all between" in proc.stdout and not out.exists()
