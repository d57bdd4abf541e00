"""`camaudit subject-check` and `camaudit hub subject-check` (issue 13): the captures of a
window, their verdicts and notice states, a pack and an Art. 15 letter citing both."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pipeline_helpers import camaudit

from camaudit.core.record import Event
from camaudit.hub.store.hub_store import HubStore
from camaudit.store.journal import Journal
from camaudit.store.keys import load_or_create_key

pytestmark = pytest.mark.integration


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="seconds")


@pytest.fixture(scope="module")
def window(venue_run: tuple[Path, Path]) -> tuple[Path, list[dict], str, str]:
    db, _ = venue_run
    caps = json.loads(camaudit("log", "--db", str(db), "--json").stdout)
    return db, caps, _iso(caps[0]["start"] - 60_000), _iso(caps[-1]["end"] + 60_000)


def _pdf_text(pdf: Path) -> str:
    return " ".join(subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                                   check=True, timeout=60).stdout.split())


def _check_outputs(out: Path, stdout: str, caps: list[dict], *verify_keys: str) -> None:
    pack_hash = hashlib.sha256((out / "pack.zip").read_bytes()).hexdigest()
    ids = [c["capture"] for c in caps]
    assert f"{len(caps)} capture(s)" in stdout and pack_hash in stdout
    lines = {line.split()[0]: line for line in stdout.splitlines() if line.startswith("  c-")}
    assert list(lines) == ids
    assert "consented, basis notice:entrance" in lines[ids[0]] and "entrance: VISIBLE" in lines[ids[0]]
    assert "while the privacy notice was not seen posted" in lines[ids[1]]
    assert "entrance: MISSING" in lines[ids[1]]
    for c in caps:
        assert all(e in lines[c["capture"]] for e in c["evidence"])
    # one letter per sign language (en, fr), each citing the capture ids and the pack hash
    for lang, words in (("en", "Article 15 GDPR"), ("fr", "article 15 du RGPD")):
        text = (out / f"letter-{lang}.txt").read_text(encoding="utf-8")
        assert words in text and pack_hash in text and all(i in text for i in ids)
        assert "Example Café Ltd, 1 Main St" in text and "dpo@example.org" in text
    info = subprocess.run(["pdfinfo", str(out / "letter.pdf")], capture_output=True, text=True, check=True).stdout
    assert "Pages:           2" in info  # one page per language
    flat = _pdf_text(out / "letter.pdf")
    assert pack_hash[:40] in flat.replace(" ", "") and all(i in flat for i in ids)
    assert "OK, authentic" in camaudit("verify", str(out / "pack.zip"), *verify_keys).stdout


def test_device_subject_check(window: tuple[Path, list[dict], str, str], tmp_path: Path):
    db, caps, t1, t2 = window
    out = tmp_path / "sc"
    proc = camaudit("subject-check", "--db", str(db), "--feed", "arcade", "--from", t1, "--to", t2, "--out", str(out))
    pub = load_or_create_key(db.parent / "device.key").public_hex
    _check_outputs(out, proc.stdout, caps, "--pubkey", pub)
    # the letter carries a PDF signature under the device key, as the pack's report.pdf does
    sig = subprocess.run(["pdfsig", str(out / "letter.pdf")], capture_output=True, text=True, timeout=60).stdout
    assert "Signature is Valid." in sig and "Total document signed" in sig, sig
    from camaudit.trust.pdf_sign import check_pdf

    who = check_pdf((out / "letter.pdf").read_bytes(), None, bytes.fromhex(pub))
    assert f"letter.pdf is signed: certificate SHA-256 {who.fingerprint}" in proc.stdout
    # the same folder again: the pack is never overwritten
    again = camaudit("subject-check", "--db", str(db), "--feed", "arcade", "--from", t1, "--to", t2,
                     "--out", str(out), check=False)
    assert again.returncode == 2 and "exists; not overwriting" in again.stderr


def test_window_with_no_record_and_unknown_feed(window: tuple[Path, list[dict], str, str], tmp_path: Path):
    db, caps, _, _ = window
    out = tmp_path / "none"
    proc = camaudit("subject-check", "--db", str(db), "--feed", "arcade", "--from", "2020-01-01T10:00:00Z",
                    "--to", "2020-01-01T11:00:00Z", "--out", str(out))
    assert "no capture is recorded" in proc.stdout and not (out / "pack.zip").exists()
    bad = camaudit("subject-check", "--db", str(db), "--feed", "kitchen", "--from", "2020-01-01",
                   "--to", "2020-01-02", "--out", str(out), check=False)
    assert bad.returncode == 2 and "known feeds: arcade" in bad.stderr and len(bad.stderr.splitlines()) == 1


def test_hub_subject_check_and_export_read_the_store_only(window: tuple[Path, list[dict], str, str], tmp_path: Path,
                                                         hub_db: str):
    db, caps, t1, t2 = window
    with Journal.open(db, "cafe-01") as j:
        events: list[Event] = j.events()
        public_key = j.public_key.hex()
    data = tmp_path / "hub"
    hub_key = load_or_create_key(data / "hub.key").public_hex
    store = HubStore(hub_db)  # a SQLite file in `data`, then a PostgreSQL database
    store.enroll("cafe-01", public_key)
    store.write_batch([(ev, ev.to_json().decode(), ev.ts) for ev in events], {}, {}, {}, [])
    store.close()
    before = _tables_but_custody(hub_db)
    out = tmp_path / "hub-sc"
    proc = camaudit("hub", "--data-dir", str(data), "--db", hub_db, "subject-check", "cafe-01", "--feed", "arcade",
                    "--from", t1, "--to", t2, "--out", str(out))
    # the hub keeps no frames: evidence is referenced, not carried; the letters are the same
    _check_outputs(out, proc.stdout, caps, "--pubkey", public_key, "--hub-key", hub_key)
    bad = camaudit("hub", "--data-dir", str(data), "--db", hub_db, "export", "cafe-01", "--out", str(tmp_path / "x.zip"),
                   "--feed", "kitchen", check=False)
    assert bad.returncode == 2
    assert bad.stderr.strip() == "camaudit: error: --feed 'kitchen': the hub's records of cafe-01 never saw that feed; known feeds: arcade"
    pack = tmp_path / "hub.zip"
    camaudit("hub", "--data-dir", str(data), "export", "cafe-01", "--out", str(pack), "--db", hub_db)
    shutil.unpack_archive(pack, tmp_path / "unz")
    html = (tmp_path / "unz" / "report.html").read_text(encoding="utf-8")
    assert "kept on the device" in html and "data:image/jpeg" not in html
    # the store changed only by the custody log's entries (issue 24): the check, its export, the export
    assert _tables_but_custody(hub_db) == before
    from camaudit.hub.store.sql import open_sql

    sql = open_sql(hub_db)
    whats = [r[0] for r in sql.execute("SELECT what FROM custody ORDER BY seq").fetchall()]
    sql.close()
    assert whats == ["subject.check", "export", "export"]


def _tables_but_custody(target: str) -> dict[str, list[tuple]]:
    from camaudit.hub.store.sql import open_sql

    sql = open_sql(target)
    try:
        return {t: sorted(tuple(str(v) for v in r) for r in sql.execute(f"SELECT * FROM {t}").fetchall())
                for t in ("devices", "heads", "events", "rejects", "witness", "bases", "quarantine",
                          "fork_state", "evidence_frames", "hub_tokens", "hub_deletions", "meta")}
    finally:
        sql.close()


def test_times_without_offset_are_the_venues_local_time(window: tuple[Path, list[dict], str, str], tmp_path: Path):
    """A passer-by gives the time on the venue's clocks (Europe/Paris here), whatever zone the
    machine running the check is in."""
    from zoneinfo import ZoneInfo

    db, caps, _, _ = window
    paris = ZoneInfo("Europe/Paris")

    def local(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, tz=paris).replace(tzinfo=None).isoformat(timespec="seconds")

    out = tmp_path / "local"
    proc = camaudit("subject-check", "--db", str(db), "--feed", "arcade", "--from", local(caps[0]["start"] - 30_000),
                    "--to", local(caps[-1]["end"] + 30_000), "--out", str(out), timeout=120)
    assert f"{len(caps)} capture(s)" in proc.stdout and "CET" in proc.stdout.splitlines()[0]
