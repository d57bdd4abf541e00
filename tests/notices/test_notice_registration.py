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
