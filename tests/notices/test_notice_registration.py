"""notice.registered: journalled when a notice is new or its text/hours/coverage change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from camaudit.config.model import Config
from camaudit.notices.registration import register_notices
from camaudit.store.journal import Journal

NOTICE: dict[str, Any] = {
    "controller": "Example Cafe Ltd, 1 Main St",
    "purposes": ["security of the premises"],
    "rights": "access, erasure, objection: ask the contact below",
    "contact": "dpo@example.org",
    "full_notice": "https://example.org/cctv",
    "covers": ["counter"],
    "hours": {"mon-fri": "07:00-19:00"},
}


def _cfg(tmp: Path, **changes: Any) -> Config:
    return Config.model_validate(
        {
            "device": {"id": "cafe-01", "data_dir": str(tmp), "timezone": "Europe/Paris"},
            "feeds": {"counter": {"source": str(tmp)}, "door": {"source": str(tmp)}},
            "notices": {"entrance": {**NOTICE, **changes}},
        }
    )


def _register(db: Path, cfg: Config, ts: int) -> list[str]:
    with Journal.open(db, "cafe-01") as j:
        return register_notices(cfg, db, lambda t, f, b, ts_ms: j.append(t, f, b, ts_ms), ts)


def _registered(db: Path) -> list[dict[str, Any]]:
    with Journal.open(db, "cafe-01") as j:
        return [dict(e.body) for e in j.events() if e.type == "notice.registered"]


def test_registered_once_then_again_on_each_change(tmp_path: Path):
    db = tmp_path / "journal.db"
    assert _register(db, _cfg(tmp_path), 1000) == ["entrance"]
    assert _register(db, _cfg(tmp_path), 2000) == []  # same notice: nothing new
    assert _register(db, _cfg(tmp_path, hours={"mon-sat": "08:00-18:00"}), 3000) == ["entrance"]
    assert _register(db, _cfg(tmp_path, hours={"mon-sat": "08:00-18:00"}, covers=["counter", "door"]), 4000) == ["entrance"]
    assert _register(db, _cfg(tmp_path, hours={"mon-sat": "08:00-18:00"}, covers=["counter", "door"], rights="ask us"), 5000) == ["entrance"]
    bodies = _registered(db)
    assert [b["hours"] for b in bodies] == [{"mon-fri": "07:00-19:00"}] + [{"mon-sat": "08:00-18:00"}] * 3
    assert bodies[2]["covers"] == ["counter", "door"] and bodies[3]["rights"] == "ask us"
    first = bodies[0]
    assert first["controller"] == NOTICE["controller"] and first["timezone"] == "Europe/Paris"
    assert first["marker"].startswith("CA1:ENTRANCE:") and first["hash"] != bodies[1]["hash"]


def test_an_export_of_a_later_span_still_carries_the_notice_in_force(tmp_path: Path):
    """The pack starts at the newest notice.registered before the span (so the report shows
    what was posted), and the daily re-statement of an unchanged notice is shown once."""
    import zipfile

    from camaudit.report.model import build
    from camaudit.store.pack import export_pack
    from camaudit.store.pack_verify import verify_pack

    db = tmp_path / "journal.db"
    cfg = _cfg(tmp_path)
    _register(db, cfg, 1_000)  # seq 1
    with Journal.open(db, "cafe-01") as j:
        for i in range(30):  # a day of other records
            j.append("feed.up", "counter", {"detail": f"#{i}"}, 2_000 + i)
    with Journal.open(db, "cafe-01") as j:
        register_notices(cfg, db, lambda t, f, b, ts: j.append(t, f, b, ts), 90_000, again=True)
        j.append("feed.down", "counter", {"detail": "late"}, 100_000)
        key = j.public_key
    pack = tmp_path / "late.zip"
    s = export_pack(db, pack, since_ms=2_010, until_ms=2_020, now_ms=200_000)
    assert s.first_seq == 1 and s.last_seq == 22  # reaches back to the registration (seq 1)
    verify_pack(pack, key)
    with zipfile.ZipFile(pack) as z:
        from camaudit.core.record import Event

        records = [Event.from_json(x) for x in z.read("events.jsonl").decode().splitlines()]
        assert "Example Cafe Ltd, 1 Main St" in z.read("report.html").decode()
    rep = build(records, {"device": "cafe-01", "since": 2_010, "until": 2_020})
    assert [n.notice for n in rep.notices] == ["entrance"]
    all_recs = Journal.open(db, "cafe-01")
    try:
        both = build(all_recs.events(), {"device": "cafe-01"})
    finally:
        all_recs.close()
    assert len(both.notices) == 1  # re-stated unchanged: shown once
    assert both.controllers == ["Example Cafe Ltd, 1 Main St"]


def test_a_notice_taken_out_of_the_config_is_journalled_withdrawn_once(tmp_path: Path):
    from camaudit.report.files import report_files

    db = tmp_path / "journal.db"
    _register(db, _cfg(tmp_path), 1000)
    other = Config.model_validate({
        "device": {"id": "cafe-01", "data_dir": str(tmp_path), "timezone": "Europe/Paris"},
        "feeds": {"counter": {"source": str(tmp_path)}},
    })
    assert _register(db, other, 2000) == ["entrance"]
    assert _register(db, other, 3000) == []  # withdrawn once
    bodies = _registered(db)
    assert bodies[-1] == {"notice": "entrance", "withdrawn": True, "covers": [], "timezone": "Europe/Paris"}
    with Journal.open(db, "cafe-01") as j:
        html = report_files(j.events(), {"device": "cafe-01"})["report.html"].decode()
    assert "Notice entrance, withdrawn" in html and "Notice entrance, as registered" in html


def test_an_export_does_not_reach_back_to_a_withdrawn_notice(tmp_path: Path):
    from camaudit.store.pack import export_pack

    db = tmp_path / "journal.db"
    _register(db, _cfg(tmp_path), 1000)  # seq 1
    bare = Config.model_validate({"device": {"id": "cafe-01", "data_dir": str(tmp_path)},
                                  "feeds": {"counter": {"source": str(tmp_path)}}})
    _register(db, bare, 2000)  # seq 2: withdrawn
    with Journal.open(db, "cafe-01") as j:
        for i in range(5):
            j.append("feed.up", "counter", {"detail": f"#{i}"}, 3000 + i)
    s = export_pack(db, tmp_path / "p.zip", since_ms=3002, until_ms=3004, now_ms=9000)
    assert s.first_seq == 5
