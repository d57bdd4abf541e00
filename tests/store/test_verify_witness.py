"""`camaudit verify JOURNAL --witness HUB_EXPORT --hub-key KEY` catches a journal whose
newest records were deleted; without it, verify says it cannot see that (issue 12)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from store_helpers import T0, capture_body, run_verify

from camaudit.hub.evidence.pack import export_hub_pack
from camaudit.hub.store.hub_store import HubStore
from camaudit.store.journal import Journal
from camaudit.store.keys import DeviceKey, load_or_create_key


@pytest.fixture()
def setup(tmp_path: Path) -> tuple[Path, Path, str, int]:
    """A journal, and the hub's export of all of it (the hub stored every record)."""
    db = tmp_path / "dev" / "journal.db"
    with Journal.open(db, "cafe-01", checkpoint_every=3) as j:
        j.append("device.online", None, {}, T0)
        j.append("capture.start", "door", capture_body("c-000001"), T0 + 1000)
        j.append("capture.end", "door", capture_body("c-000001", frames=9, end=T0 + 9000), T0 + 9000)
        j.append("alert", "door", {"capture": "c-000001", "text": "no notice"}, T0 + 9001)
        events = j.events()
        pub = j.public_key.hex()
    hub_dir = tmp_path / "hub"
    hub_key = load_or_create_key(hub_dir / "hub.key")
    store = HubStore(hub_dir / "hub.db")
    store.enroll("cafe-01", pub)
    store.write_batch([(ev, ev.to_json().decode(), T0) for ev in events], {}, {}, {}, [])
    store.close()
    witness = tmp_path / "hub-export.zip"
    export_hub_pack(hub_dir / "hub.db", hub_dir / "hub.key", "cafe-01", witness, now_ms=T0 + 10_000)
    return db, witness, hub_key.public_hex, events[-1].seq


def test_witness_confirms_an_untouched_journal(setup, capsys) -> None:
    db, witness, hub, head = setup
    code, out, err = run_verify(capsys, str(db), "--witness", str(witness), "--hub-key", hub)
    assert code == 0, err
    assert f"head seq {head}" in out and f"hub-witnessed up to seq {head}" in out


def test_deleted_tail_passes_alone_and_fails_against_the_witness(setup, capsys) -> None:
    db, witness, hub, head = setup
    con = sqlite3.connect(db)
    con.execute("DELETE FROM events WHERE seq > ?", (head - 2,))  # the alert is gone
    con.commit()
    con.close()
    code, out, _ = run_verify(capsys, str(db))
    assert code == 0 and "records deleted from the end cannot be seen (give --witness)" in out
    code, _, err = run_verify(capsys, str(db), "--witness", str(witness), "--hub-key", hub)
    assert code == 1
    assert err.strip() == (
        f"camaudit: error: {db}: FAILED: the journal ends at seq {head - 2}, but the hub witnessed "
        f"seq {head} ({witness}): records were deleted from its end"
    )


def test_witness_needs_the_pinned_hub_key(setup, capsys) -> None:
    db, witness, _, _ = setup
    code, _, err = run_verify(capsys, str(db), "--witness", str(witness))
    assert code == 2 and "--witness needs --hub-key" in err
    code, _, err = run_verify(capsys, str(db), "--witness", str(witness), "--hub-key", DeviceKey.generate().public_hex)
    assert code == 1 and "not the pinned --hub-key" in err


def test_tail_rewritten_with_the_device_key_fails_against_the_witness(setup, capsys) -> None:
    """The operator holds the device key: the alert deleted and other records signed in
    its place make a valid chain as long as before, but not the one the hub saw."""
    db, witness, hub, head = setup
    con = sqlite3.connect(db)
    con.execute("DELETE FROM events WHERE seq > ?", (head - 2,))
    con.execute("DELETE FROM outbox WHERE seq > ?", (head - 2,))
    con.commit()
    con.close()
    with Journal.open(db, "cafe-01", checkpoint_every=1000) as j:
        while j.head[0] < head:
            j.append("device.online", None, {}, T0 + 9001)
    code, out, _ = run_verify(capsys, str(db))
    assert code == 0 and f"head seq {head}" in out  # alone, nothing to see
    code, _, err = run_verify(capsys, str(db), "--witness", str(witness), "--hub-key", hub)
    assert code == 1 and f"FAILED: seq {head} is not the record the hub witnessed" in err
