"""The hub's custody log (issue 24): every login (and failed login), capture page view,
evidence image view, export (web and `hub export`), subject check, alert acknowledgement
and fork resolution is one entry of a hash-chained, hub-signed log in the hub store
(SQLite and PostgreSQL); `hub audit-log` prints it, /audit-log shows it, a hub pack
carries its run and its own export entry, and `verify` fails a pack whose run lost or
changed an entry."""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from camaudit.cli import main
from camaudit.errors import VerifyError
from camaudit.hub.custody import CustodyLog, acknowledged
from camaudit.hub.custody.log import custody_log
from camaudit.hub.evidence.inbox import EvidenceStore, Frame
from camaudit.hub.store.hub_store import HubStore
from camaudit.hub.store.sql import open_sql
from camaudit.hub.web.app import create_app
from camaudit.hub.web.live import LiveAlerts
from camaudit.store.journal import Journal
from camaudit.store.keys import load_or_create_key
from camaudit.store.pack_verify import verify_pack

T0 = 1_795_651_200_000
TOKEN = "custody-token-0123456789abcdef"
SHA = "ab" * 32


def _jpeg() -> bytes:
    """A real (tiny, flat) JPEG: hub packs now put the hub's stored frames into report.pdf."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (4, 4), (120, 120, 120)).save(buf, "JPEG")
    return buf.getvalue()


JPEG = _jpeg()


def _capture(cid: str) -> dict[str, object]:
    return {"capture": cid, "start": T0, "end": T0 + 5000, "frames": 50, "max_faces": 2,
            "distinct_tracks": 2, "identifiable_tracks": 2, "face_px": {"min": 40, "median": 50, "max": 60},
            "verdict": "unconsented", "reasons": ["no_notice"], "basis": None, "evidence": ["sha256:" + SHA]}


@pytest.fixture()
def hub(tmp_path: Path, hub_db: str) -> tuple[str, Path, Journal]:
    jpath = tmp_path / "dev" / "journal.db"
    with Journal.open(jpath, "cafe-01", checkpoint_every=3) as j:
        j.append("device.online", None, {}, T0)
        j.append("capture.end", "counter", _capture("c-000001"), T0 + 5000)
        events = j.events()
    data = tmp_path / "hub"
    load_or_create_key(data / "hub.key")
    store = HubStore(hub_db)
    store.enroll("cafe-01", j.public_key.hex())
    store.write_batch([(ev, ev.to_json().decode(), T0) for ev in events], {}, {}, {}, [])
    EvidenceStore(store.sql).add(Frame("cafe-01", SHA, "c-000001", 2, "counter", 4, 4, len(JPEG), T0), JPEG)
    store.close()
    return hub_db, data / "hub.key", j


def _whats(db: str, key: Path) -> list[str]:
    store = HubStore(db)
    try:
        return [e["what"] for e in custody_log(store, key).entries()]
    finally:
        store.close()


def test_every_custody_action_appears_exactly_once(
    hub: tuple[str, Path, Journal], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, key, journal = hub
    data_dir = str(key.parent)
    store = HubStore(db)
    app = create_app(store, TOKEN, LiveAlerts(), hub_key=key, evidence=EvidenceStore(store.sql))
    with TestClient(app) as web:
        assert web.post("/login", data={"token": "wrong" * 6}).status_code == 401
        assert _whats(db, key) == ["login.failed"]
        r = web.post("/login", data={"token": TOKEN}, follow_redirects=False)
        assert r.status_code == 303
        assert web.get("/capture/cafe-01/c-000001").status_code == 200
        assert web.get(f"/evidence/cafe-01/{SHA}.jpg", params={"capture": "c-000001"}).content == JPEG
        r = web.get("/export", params={"device": "cafe-01"})
        assert r.status_code == 200
        web_pack = tmp_path / "web.zip"
        web_pack.write_bytes(r.content)
        assert _whats(db, key) == ["login.failed", "login", "capture.view", "evidence.view", "export"]
        # not recorded: a page that shows no evidence, a refused view
        assert web.get("/captures").status_code == 200
        assert web.get("/capture/cafe-01/nope").status_code == 404
        assert len(_whats(db, key)) == 5
        page = web.get("/audit-log")
        assert page.status_code == 200 and "evidence.view" in page.text and "testclient" in page.text
    assert TestClient(app).get("/audit-log", follow_redirects=False).status_code == 303  # login first
    acknowledged(app.state.custody, "session 0000abcd", "192.0.2.7", "cafe-01", 2)
    store.close()

    main(["hub", "--data-dir", data_dir, "export", "cafe-01", "--out", str(tmp_path / "cli.zip"), "--db", db])
    main(["hub", "--data-dir", data_dir, "subject-check", "cafe-01", "--feed", "counter", "--db", db,
          "--from", "2026-11-24T00:00:00+00:00", "--to", "2026-11-30T00:00:00+00:00",
          "--out", str(tmp_path / "sc")])
    # the hub's subject-check letter carries a PDF signature under the hub key (pdfsig agrees)
    from camaudit.trust.pdf_sign import check_pdf

    who = check_pdf((tmp_path / "sc" / "letter.pdf").read_bytes(), None, load_or_create_key(key).public_bytes)
    assert f"letter.pdf is signed: certificate SHA-256 {who.fingerprint}" in capsys.readouterr().out
    sig = subprocess.run(["pdfsig", str(tmp_path / "sc" / "letter.pdf")], capture_output=True, text=True,
                         timeout=60).stdout
    assert "Signature is Valid." in sig, sig
    sql = open_sql(db)
    sql.execute("INSERT INTO fork_state (device, fork_seq, detected_ms, copies) VALUES (?,?,?,?)",
                ("cafe-01", 2, T0, 2))
    sql.close()
    main(["hub", "--data-dir", data_dir, "resolve-fork", "cafe-01", "--keep", "stored", "--db", db])
    capsys.readouterr()

    assert _whats(db, key) == ["login.failed", "login", "capture.view", "evidence.view", "export", "alert.ack",
                               "export", "subject.check", "export", "fork.resolve"]
    main(["hub", "--data-dir", data_dir, "audit-log", "--json", "--db", db])
    entries = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [e["seq"] for e in entries] == list(range(1, 11))
    by = {(e["what"], e["detail"].get("purpose")): e for e in entries}
    assert by[("capture.view", None)]["detail"] == {"device": "cafe-01", "capture": "c-000001"}
    assert by[("evidence.view", None)]["detail"]["sha"] == SHA
    assert by[("export", "web export")]["where"] == "testclient"
    assert by[("export", "export")]["where"] == "local" and "(command line)" in by[("export", "export")]["who"]
    assert by[("export", "subject check")]["detail"]["file"] == "pack.zip"
    assert by[("fork.resolve", None)]["detail"]["keep"] == "stored"
    assert by[("login", None)]["who"].startswith("session ") and by[("login.failed", None)]["who"] == "wrong token"
    # the human listing: venue-time rule, zone named
    main(["hub", "--data-dir", data_dir, "audit-log", "--db", db, "--timezone", "Europe/Berlin"])
    out = capsys.readouterr()
    assert len(out.out.splitlines()) == 10 and all(" CET " in x or " CEST " in x for x in out.out.splitlines())
    assert "10 entries, chain and hub signatures checked" in out.err

    # each pack carries its run and its own export entry; verify checks chain and signature
    hub_key = load_or_create_key(key).public_bytes
    r = verify_pack(web_pack, journal.public_key, hub_key)
    assert r.custody[1].startswith("this pack's own export: entry 5, by session ")
    r = verify_pack(tmp_path / "sc" / "pack.zip", journal.public_key, hub_key)
    assert "entries 1..9" in r.custody[0] and "1 subject.check" in r.custody[0]


def test_a_removed_or_changed_entry_fails_verify(
    hub: tuple[str, Path, Journal], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db, key, journal = hub
    store = HubStore(db)
    clog = CustodyLog(store.sql, load_or_create_key(key))
    for i in range(4):
        clog.record(f"session {i:08d}", "capture.view", "127.0.0.1", {"device": "cafe-01", "capture": "c-000001"})
    store.close()
    hub_key = load_or_create_key(key).public_bytes
    main(["hub", "--data-dir", str(key.parent), "export", "cafe-01", "--out", str(tmp_path / "ok.zip"), "--db", db])
    assert "entries 1..5" in verify_pack(tmp_path / "ok.zip", journal.public_key, hub_key).custody[0]

    sql = open_sql(db)
    sql.execute("DELETE FROM custody WHERE seq = 3")
    sql.close()
    main(["hub", "--data-dir", str(key.parent), "export", "cafe-01", "--out", str(tmp_path / "gap.zip"), "--db", db])
    with pytest.raises(VerifyError, match="entries 3..3 were removed"):
        verify_pack(tmp_path / "gap.zip", journal.public_key, hub_key)
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["hub", "--data-dir", str(key.parent), "audit-log", "--db", db])
    assert "entry 4): follows entry 2: entries 3..3 were removed" in capsys.readouterr().err

    # an entry changed in the store (who it was) is caught by its hash
    sql = open_sql(db)
    text = sql.execute("SELECT json FROM custody WHERE seq = 2").fetchone()[0]
    sql.execute("UPDATE custody SET json = ? WHERE seq = 2", (text.replace("session 00000001", "session 99999999"),))
    sql.execute("DELETE FROM custody WHERE seq > 2")
    sql.close()
    main(["hub", "--data-dir", str(key.parent), "export", "cafe-01", "--out", str(tmp_path / "chg.zip"), "--db", db])
    with pytest.raises(VerifyError, match="entry 2.*was changed"):
        verify_pack(tmp_path / "chg.zip", journal.public_key, hub_key)


def test_a_pack_whose_run_lost_an_entry_fails_even_resigned(hub: tuple[str, Path, Journal], tmp_path: Path) -> None:
    """Someone with the pack (not the hub key) drops a line of custody/log.jsonl: the
    manifest no longer matches; the hub itself re-signing the manifest: the chain breaks."""
    import hashlib

    db, key, journal = hub
    store = HubStore(db)
    clog = CustodyLog(store.sql, load_or_create_key(key))
    for _ in range(3):
        clog.record("bearer token", "evidence.view", "10.0.0.2", {"device": "cafe-01", "sha": SHA})
    store.close()
    pack = tmp_path / "p.zip"
    main(["hub", "--data-dir", str(key.parent), "export", "cafe-01", "--out", str(pack), "--db", db])
    with zipfile.ZipFile(pack) as z:
        files = {n: z.read(n) for n in z.namelist()}
    lines = files["custody/log.jsonl"].decode().splitlines()
    files["custody/log.jsonl"] = ("\n".join(lines[:1] + lines[2:]) + "\n").encode()
    manifest = json.loads(files["manifest.json"])
    manifest["files"]["custody/log.jsonl"] = hashlib.sha256(files["custody/log.jsonl"]).hexdigest()
    files["manifest.json"] = (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode()
    files["manifest.sig"] = load_or_create_key(key).sign(files["manifest.json"]).hex().encode() + b"\n"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for n, d in files.items():
            z.writestr(n, d)
    bad = tmp_path / "bad.zip"
    bad.write_bytes(buf.getvalue())
    with pytest.raises(VerifyError, match="entries 2..2 were removed"):
        verify_pack(bad, journal.public_key, load_or_create_key(key).public_bytes)


def test_rate_limited_logins_and_since(
    hub: tuple[str, Path, Journal], capsys: pytest.CaptureFixture[str]
) -> None:
    db, key, _ = hub
    store = HubStore(db)
    app = create_app(store, TOKEN, LiveAlerts(), hub_key=key)
    with TestClient(app) as web:
        codes = [web.post("/login", data={"token": "wrong" * 6}).status_code for _ in range(6)]
    store.close()
    assert codes == [401] * 5 + [429]
    sql = open_sql(db)
    entries = [json.loads(r[0]) for r in sql.execute("SELECT json FROM custody ORDER BY seq").fetchall()]
    sql.close()
    assert [(e["what"], e["who"], e["detail"]["rate_limited"]) for e in entries] == \
        [("login.failed", "wrong token", False)] * 5 + [("login.failed", "rate-limited", True)]
    from datetime import UTC, datetime

    def at(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")

    capsys.readouterr()
    for since, n in ((at(entries[0]["ts"] - 2000), 6), (at(entries[-1]["ts"] + 2000), 0)):
        main(["hub", "--data-dir", str(key.parent), "audit-log", "--db", db, "--since", since])
        out = capsys.readouterr()
        assert len(out.out.splitlines()) == n and "6 entries, chain and hub signatures checked" in out.err
