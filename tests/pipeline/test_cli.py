"""The CLI contract other scripts rely on: log --json keys, verify exit codes, clean errors."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from pipeline_helpers import camaudit

from camaudit.store.journal import Journal

STABLE_KEYS = {"feed", "start", "end", "max_faces", "distinct_tracks", "identifiable_tracks",
               "verdict", "reasons"}


def make_journal(path: Path) -> None:
    j = Journal.open(path, "cli-01")
    body = {"capture": "c-000001", "start": 1000, "end": None, "frames": 3, "max_faces": 2,
            "distinct_tracks": 2, "identifiable_tracks": 1,
            "face_px": {"min": 20, "median": 30, "max": 40}, "verdict": "unconsented",
            "reasons": ["no_notice"], "basis": None, "evidence": []}
    j.append("capture.start", "cam", body, 1000)
    j.append("capture.end", "cam", {**body, "end": 4000, "frames": 30}, 7000)
    j.close()


def test_log_json_has_stable_keys(tmp_path: Path):
    db = tmp_path / "j.db"
    make_journal(db)
    (row,) = json.loads(camaudit("log", "--db", str(db), "--json").stdout)
    assert set(row) >= STABLE_KEYS
    assert (row["feed"], row["start"], row["end"], row["verdict"]) == ("cam", 1000, 4000, "unconsented")
    table = camaudit("log", "--db", str(db)).stdout
    assert "c-000001" in table and "unconsented" in table


def test_verify_ok_then_names_first_bad_record(tmp_path: Path):
    db = tmp_path / "j.db"
    make_journal(db)
    ok = camaudit("verify", str(db))
    assert "OK" in ok.stdout
    con = sqlite3.connect(db)
    (raw,) = con.execute("select json from events where seq = 2").fetchone()
    con.execute("update events set json = ? where seq = 2", (raw.replace('"frames":30', '"frames":31'),))
    con.commit()
    con.close()
    bad = camaudit("verify", str(db), check=False)
    assert bad.returncode == 1
    assert "seq 2" in bad.stderr and "Traceback" not in bad.stderr


@pytest.mark.parametrize(
    "args, expect",
    [
        (["verify", "/nonexistent/j.db"], "/nonexistent/j.db"),
        (["log", "--db", "/nonexistent/j.db"], "/nonexistent/j.db"),
        (["run", "--source", "/nonexistent/clip.mp4", "--db", "/tmp/x.db"], "/nonexistent/clip.mp4"),
        (["check-config", "/nonexistent.yaml"], "/nonexistent.yaml"),
        # click's own usage errors too: one line, naming the option and where to look
        (["run", "--bogus"], "No such option '--bogus' (see `camaudit run --help`)"),
        (["nosuch"], "No such command 'nosuch'"),
        (["log"], "give --db FILE or -c CONFIG"),
        (["log", "--db", "x.db", "--tz", "Mars/Olympus"], "unknown time zone 'Mars/Olympus'"),
        (["verify", "x.db", "--pubkey", "zz"], "--pubkey: neither 64 hex digits nor a readable file"),
        (["hub", "enroll", "cafe-01"], "Missing argument 'PUBKEY'"),
        (["hub", "export", "dev1", "--out", "/tmp/never.zip", "--data-dir", "/nonexistent/hub"],
         "no hub store at /nonexistent/hub/hub.db"),
        (["hub", "--timezone", "Mars/Olympus", "adduser", "x"],
         "hub setting timezone (--timezone): unknown time zone 'Mars/Olympus'"),
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], expect: str):
    proc = camaudit(*args, check=False)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("camaudit: error:") and expect in lines[0]


def test_log_shows_local_time_with_the_zone(tmp_path: Path):
    db = tmp_path / "journal.db"
    j = Journal.open(db, "cli-01")
    start = 1795687200000  # 2026-11-26 10:00:00 UTC
    body = {"capture": "c-000001", "start": start, "end": start + 30_000, "verdict": "consented",
            "reasons": [], "basis": "notice:sign"}
    j.append("capture.end", "cam", body, start + 30_000)
    j.close()
    berlin = camaudit("log", "--db", str(db), "--tz", "Europe/Berlin").stdout.splitlines()
    assert "2026-11-26 11:00:00 CET" in berlin[1] and "11:00:30" in berlin[1]
    assert berlin[-1] == "times in Europe/Berlin (now UTC+01:00)" or berlin[-1].startswith(
        "times in Europe/Berlin (now UTC+02:00")
    cfg = tmp_path / "venue.yaml"
    cfg.write_text(f"device: {{id: cli-01, data_dir: {tmp_path}, timezone: America/New_York}}\n"
                   "feeds: {cam: {source: x.mp4}}\n")
    ny = camaudit("log", "-c", str(cfg)).stdout.splitlines()  # journal and zone from the config
    assert "2026-11-26 05:00:00 EST" in ny[1]
    assert ny[-1].startswith("times in America/New_York")


def test_check_config_reports_every_unknown_feed_at_its_line(tmp_path: Path):
    cfg = tmp_path / "venue.yaml"
    cfg.write_text(
        "feeds:\n  counter: {source: a.mp4}\nnotices:\n  sign:\n    controller: c\n"
        "    purposes: [p]\n    rights: r\n    contact: c\n    full_notice: f\n"
        "    covers: [countr]\n    watch: {feed: dor}\n")
    proc = camaudit("check-config", str(cfg), check=False)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert len(lines) == 2 and all(ln.startswith("camaudit: error: ") for ln in lines)
    assert lines[0].startswith(f"camaudit: error: {cfg}:10: notices.sign.covers: unknown feed 'countr'")
    assert lines[1].startswith(f"camaudit: error: {cfg}:11: notices.sign.watch.feed: unknown feed 'dor'")


def test_check_config_names_the_line_of_an_unknown_time_zone(tmp_path: Path):
    cfg = tmp_path / "venue.yaml"
    cfg.write_text("feeds: {cam: {source: x.mp4}}\ndevice:\n  id: cafe-01\n  timezone: Europe/Atlantis\n")
    proc = camaudit("check-config", str(cfg), check=False)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [
        f"camaudit: error: {cfg}:4: device.timezone: unknown time zone 'Europe/Atlantis' "
        "(use an IANA name like 'Europe/Berlin')"]


def test_hub_data_dir_after_the_subcommand_and_never_world_readable(tmp_path: Path):
    from camaudit.store.keys import DeviceKey

    hub = tmp_path / "deep" / "hub"
    key = DeviceKey.generate().public_hex
    out = camaudit("hub", "enroll", "cafe-01", key, "--data-dir", str(hub)).stdout
    assert f"enrolled cafe-01 in {hub / 'hub.db'}" in out
    assert (hub.stat().st_mode & 0o777) == 0o700
    assert (hub.parent.stat().st_mode & 0o077) == 0  # created parents are private too
    env_hub = tmp_path / "envhub"
    proc = subprocess.run(
        [sys.executable, "-m", "camaudit.cli", "hub", "adduser", "cafe-02"],
        capture_output=True, text=True, timeout=60, env={**os.environ, "CAMAUDIT_HUB_DIR": str(env_hub)},
    )
    assert proc.returncode == 0, proc.stderr
    assert (env_hub.stat().st_mode & 0o777) == 0o700 and (env_hub / "broker" / "passwd").is_file()
    # an existing folder is not loosened or tightened behind the user's back
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    shared.chmod(0o750)
    camaudit("hub", "enroll", "cafe-03", key, "--data-dir", str(shared))
    assert (shared.stat().st_mode & 0o777) == 0o750


def test_check_config_reports_line_and_key(tmp_path: Path):
    cfg = tmp_path / "venue.yaml"
    cfg.write_text("feeds:\n  cam:\n    source: x.mp4\n    evidense: blurred\n")
    proc = camaudit("check-config", str(cfg), check=False)
    assert proc.returncode == 2
    assert f"{cfg}:4: feeds.cam.evidense: unknown key" in proc.stderr


def test_config_schema_is_json_schema():
    schema = json.loads(camaudit("config-schema").stdout)
    assert schema["type"] == "object" and "feeds" in schema["properties"]
    assert schema["required"] == ["feeds"]
