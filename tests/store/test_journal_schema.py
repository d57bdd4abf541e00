"""The journal's schema is written with plain sqlite3 (the device run does not import
sqlite-utils: about 3 MB resident, docs/tracks.md "Peak memory of one feed"). A new journal
must have exactly the schema sqlite-utils' create_table wrote for it before, so journals
made by either version are the same file format."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from sqlite_utils import Database

from camaudit.store.journal import Journal


def _schema(conn: sqlite3.Connection) -> list[tuple[str, str, str, str | None]]:
    return sorted(conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall())


def _v1_with_sqlite_utils(db: Database) -> None:
    """The migration as shipped until this change (store/db.py _v1)."""
    db.create_table("meta", {"key": str, "value": str}, pk="key", not_null={"value"})
    db.create_table(
        "events",
        {"seq": int, "ts": int, "type": str, "feed": str, "capture": str, "hash": str, "json": str},
        pk="seq",
        not_null={"ts", "type", "hash", "json"},
    )
    db.execute("CREATE INDEX events_ts ON events(ts)")
    db.execute("CREATE INDEX events_type ON events(type, seq)")
    db.execute(
        "CREATE INDEX events_capture ON events(feed, capture, seq) WHERE capture IS NOT NULL"
    )
    db.create_table("outbox", {"seq": int}, pk="seq")


def test_new_journal_schema_is_the_one_sqlite_utils_wrote(tmp_path: Path) -> None:
    j = Journal.open(tmp_path / "j.db", "schema-01")
    j.close()
    with sqlite3.connect(tmp_path / "j.db") as conn:
        ours = _schema(conn)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    ref = sqlite3.connect(":memory:")
    _v1_with_sqlite_utils(Database(ref, execute_plugins=False))
    assert ours == _schema(ref)


def test_journal_written_then_reopened_and_verified(tmp_path: Path) -> None:
    j = Journal.open(tmp_path / "j.db", "schema-01")
    j.append("device.online", None, {"version": "0.1.0"}, 1_795_651_200_000)
    j.close()
    j = Journal.open(tmp_path / "j.db", "schema-01")  # an existing journal: no migration
    j.append("device.online", None, {"version": "0.1.0"}, 1_795_651_260_000)
    j.checkpoint(1_795_651_261_000)
    assert [e.seq for e in j.events()] == [1, 2, 3]
    j.close()
    ok = subprocess.run([sys.executable, "-m", "camaudit.cli", "verify", str(tmp_path / "j.db")],
                        capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr + ok.stdout


def test_journal_open_does_not_import_sqlite_utils(tmp_path: Path) -> None:
    code = ("import sys; from pathlib import Path; from camaudit.store.journal import Journal; "
            f"Journal.open(Path({str(tmp_path / 'j.db')!r}), 'schema-01').close(); "
            "print('sqlite_utils' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"
