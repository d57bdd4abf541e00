"""The CLI contract other scripts rely on: log --json keys, verify exit codes, clean errors."""

from __future__ import annotations

import json
import sqlite3
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
    ],
)
def test_bad_input_is_one_clear_line(args: list[str], expect: str):
    proc = camaudit(*args, check=False)
    assert proc.returncode != 0
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("camaudit: error:") and expect in lines[0]


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
