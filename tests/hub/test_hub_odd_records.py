"""Issue 20 item 6: a signed record with a verdict outside the closed set ("pending") or a
malformed notice translation. Ingest refuses both shapes; and every reader (hub export, web
export, subject check, pages) survives whatever an older hub's ingest stored."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import httpx
import pytest
from devicesend import publish_as, settles

from camaudit.core.record import GENESIS_PREV, Event, seal
from camaudit.hub.evidence.pack import export_hub_pack
from camaudit.report.command import run_subject_check
from camaudit.store.keys import DeviceKey, load_or_create_key
from camaudit.store.pack_verify import verify_pack

NOW = int(time.time() * 1000) - 3_600_000
NOTICE = {"notice": "entrance", "controller": "Cafe Ltd", "purposes": ["safety"], "rights": "ask us",
          "contact": "c@x", "full_notice": "x.org", "covers": ["counter"], "languages": ["en", "de"],
          "watch_feed": "counter", "timezone": "UTC", "hash": "0" * 64, "marker": "m"}


def _chain(device: str, key: DeviceKey, bodies: list[tuple[str, dict]]) -> list[Event]:
    out, prev = [], GENESIS_PREV
    for i, (typ, body) in enumerate(bodies, 1):
        ev = seal(device=device, seq=i, ts=NOW + i * 1000, type=typ, feed="counter", body=body,
                  prev=prev, sign=key.sign)
        out.append(ev)
        prev = ev.hash
    return out


def _cap(cid: str, verdict: str) -> tuple[str, dict]:
    return ("capture.end", {"capture": cid, "start": NOW, "end": NOW + 30_000, "max_faces": 1,
                            "identifiable_tracks": 1, "verdict": verdict,
                            "reasons": ["no_notice"] if verdict == "unconsented" else []})


@pytest.mark.integration
@pytest.mark.timeout(90)
def test_ingest_refuses_unknown_verdicts_and_malformed_translations(make_hub, hub_db: str) -> None:
    hub = make_hub(db=hub_db)
    bad = {
        "d-pending": [_cap("c-1", "unconsented"), _cap("c-2", "pending")],
        "d-trans": [_cap("c-1", "unconsented"), ("notice.registered", {**NOTICE, "translations": {"de": "text"}})],
        "d-purp": [_cap("c-1", "unconsented"), ("notice.registered",
                                                {**NOTICE, "translations": {"de": {"purposes": 5}}})],
        "d-change": [_cap("c-1", "unconsented"), ("capture.end", {
            **_cap("c-2", "consented")[1], "verdict_changes": [{"ts": NOW, "verdict": "maybe"}]})],
    }
    for device, bodies in bad.items():
        key = DeviceKey.generate()
        hub.enroll(device, key.public_hex)
        evs = _chain(device, key, bodies)
        password = hub.password_file(device).read_text().strip()
        for _ in range(10):  # re-sent until the first record is stored (the broker reloads on enroll)
            publish_as(hub.broker_url, device, password, [e.to_json().decode() for e in evs])
            if settles(lambda d=device: hub.store.seqs(d) == [1] and hub.store.rejects().get("bad_schema"), 3):
                break
    assert settles(lambda: hub.store.rejects().get("bad_schema", 0) >= len(bad), 10), hub.store.rejects()
    for device in bad:
        assert hub.store.seqs(device) == [1], device  # the odd record is refused, the good one kept


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_every_reader_survives_what_an_older_ingest_stored(make_hub, tmp_path: Path, hub_db: str) -> None:
    hub = make_hub(web=True, db=hub_db)
    key = DeviceKey.generate()
    hub.enroll("dev1", key.public_hex)
    evs = _chain("dev1", key, [
        ("notice.registered", {**NOTICE, "translations": {"de": "text", "fr": {"controller": ["x"]}}}),
        _cap("c-ok", "unconsented"),
        _cap("c-odd", "pending"),
    ])
    # stored as a hub from before the closed set did (its ingest took these shapes)
    hub.store.write_batch([(e, e.to_json().decode(), NOW) for e in evs], {"dev1": (3, NOW)}, {}, {}, [])
    hub_key = hub.data_dir / "hub.key"
    load_or_create_key(hub_key)
    pack = tmp_path / "p.zip"
    export_hub_pack(hub.store, hub_key, "dev1", pack, now_ms=NOW + 10_000)
    assert verify_pack(pack, key.public_bytes).last_seq == 3
    with zipfile.ZipFile(pack) as z:
        md = z.read("report.md").decode()
    assert "pending" in md and "c-odd" in md  # the odd record is shown as recorded
    out = tmp_path / "sc"

    def make(p: Path, since_ms: int, until_ms: int) -> object:
        return export_hub_pack(hub.store, hub_key, "dev1", p, since_ms=since_ms, until_ms=until_ms,
                               feed="counter", now_ms=NOW + 10_000)

    def iso(ms: int) -> str:
        from datetime import UTC, datetime
        return datetime.fromtimestamp(ms / 1000, UTC).isoformat()

    run_subject_check(make, "counter", iso(NOW - 1000), iso(NOW + 60_000), out, "UTC")
    assert any(p.name.startswith("letter") for p in out.iterdir())
    auth = {"Authorization": f"Bearer {hub.token}"}
    for path in ("/export?device=dev1", "/", "/captures", "/capture/dev1/c-odd", "/capture/dev1/c-ok"):
        r = httpx.get(hub.web_url + path, headers=auth, timeout=60)
        assert r.status_code == 200, (path, r.status_code, r.text[-500:])
