"""Issue 20 lows: what a hub store leaves on disk and in messages.
(a) a libpq key=value string given as --db is refused in one line with its password hidden,
    and no file is named after it; redact() hides key=value passwords as well as URL ones.
(b) hub.db, hub.db-wal and hub.db-shm are 0600 even when --db points into an existing
    folder under a 0022 umask, and a store an older hub left 0644 is tightened on open."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from camaudit.hub.store.hub_store import HubStore
from camaudit.hub.store.sql import SqlError, open_sql, redact

DSN = "host=127.0.0.1 port=5432 dbname=camaudit user=hub password=hunter2secret"


def test_key_value_dsn_is_refused_without_its_password_or_a_file(tmp_path: Path) -> None:
    folder = tmp_path / "cwd"
    folder.mkdir()
    for value in (DSN, "dbname=x password='two words'"):
        for args, env in ((["--db", value], {}), ([], {"CAMAUDIT_HUB_DB": value})):
            proc = subprocess.run(
                [str(Path(sys.executable).parent / "camaudit"), "hub", "--data-dir", str(tmp_path / "d"), *args, "forks"],
                cwd=folder, capture_output=True, text=True, timeout=60, env={**os.environ, **env})
            assert proc.returncode == 2, proc
            err = proc.stderr.strip()
            assert len(err.splitlines()) == 1 and "key=value" in err and "postgresql://" in err
            assert "hunter2secret" not in err + proc.stdout and "two words" not in err
            assert "password=***" in err
    assert list(folder.iterdir()) == [] and not (tmp_path / "d" / "hub.db").exists()
    with pytest.raises(SqlError) as exc:  # the port itself refuses it too
        open_sql(DSN)
    assert "hunter2secret" not in str(exc.value)
    assert list(folder.iterdir()) == []
    assert redact(DSN) == "host=127.0.0.1 port=5432 dbname=camaudit user=hub password=***"
    assert redact("dbname=x password = 'a b\\'c' user=u") == "dbname=x password = *** user=u"
    assert redact("postgresql://u:pw@h/db?password=x") == "postgresql://u:***@h/db?password=***"
    assert redact("/var/lib/hub.db") == "/var/lib/hub.db"


def _modes(db: Path) -> dict[str, int]:
    return {p.name: stat.S_IMODE(p.stat().st_mode) for p in db.parent.iterdir() if p.name.startswith(db.name)}


def test_store_files_are_private_in_an_existing_folder(tmp_path: Path) -> None:
    folder = tmp_path / "existing"
    folder.mkdir(mode=0o755)
    old = os.umask(0o022)
    try:
        store = HubStore(folder / "hub.db")
        modes = _modes(folder / "hub.db")
        assert {"hub.db", "hub.db-wal", "hub.db-shm"} <= set(modes), modes
        assert all(m == 0o600 for m in modes.values()), modes
        store.close()
        # a store an older hub left readable by everyone is tightened when opened
        for p in folder.iterdir():
            p.chmod(0o644)
        HubStore(folder / "hub.db").close()
        assert all(m == 0o600 for m in _modes(folder / "hub.db").values())
    finally:
        os.umask(old)
