"""Issue 20 item 2: a cloned card's history never becomes the hub-signed record. While a fork
of a device is open, `hub export`, the web export and `hub subject-check` refuse every span
the fork touches, naming the fork and `camaudit hub resolve-fork`; the pages say it."""

from __future__ import annotations

import html
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from brokers import wait_for
from devicesend import publish_as, settles

from camaudit.cli import main
from camaudit.store.journal import Journal
from camaudit.store.pack_verify import verify_pack

NOW = int(time.time() * 1000) - 3_600_000


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`camaudit ARGS` as a user runs it: (exit code, what it printed)."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat()


@pytest.mark.integration
@pytest.mark.timeout(120)
def test_open_fork_refuses_export_web_export_and_subject_check(make_hub, tmp_path: Path, hub_db: str,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    hub = make_hub(web=True, db=hub_db)
    real_dir, clone_dir = tmp_path / "real", tmp_path / "clone"
    j = Journal.open(real_dir / "journal.db", "dev1", checkpoint_every=1000)
    hub.enroll("dev1", j.public_key.hex())
    shared = [j.append("capture.end", "counter", {"capture": f"c-{i}", "verdict": "consented"}, NOW + i * 1000)
              for i in range(1, 6)]
    j.close()
    shutil.copytree(real_dir, clone_dir)  # the SD card, cloned into a second Pi
    password = hub.password_file("dev1").read_text().strip()
    for _ in range(10):  # re-sent as a device does until acked (the broker reloads its users on enroll)
        publish_as(hub.broker_url, "dev1", password, [e.to_json() for e in shared])
        if settles(lambda: hub.store.seqs("dev1") == [1, 2, 3, 4, 5], 3.0):
            break
    assert hub.store.seqs("dev1") == [1, 2, 3, 4, 5]
    # the clone speaks first: its invented "consented" records become the stored chain
    clone = Journal.open(clone_dir / "journal.db", "dev1", checkpoint_every=1000)
    fake = [clone.append("capture.end", "counter", {"capture": f"clone-{i}", "verdict": "consented"},
                         NOW + i * 1000) for i in range(6, 9)]
    clone.close()
    publish_as(hub.broker_url, "dev1", password, [e.to_json() for e in fake])
    wait_for(lambda: hub.store.seqs("dev1") == list(range(1, 9)), what="clone's records stored")
    real = Journal.open(real_dir / "journal.db", "dev1", checkpoint_every=1000)
    truth = [real.append("capture.end", "counter", {"capture": f"real-{i}", "verdict": "unconsented",
                                                     "reasons": ["no_notice"]}, NOW + i * 1000)
             for i in range(6, 9)]
    real.close()
    publish_as(hub.broker_url, "dev1", password, [e.to_json() for e in truth])
    wait_for(lambda: len(hub.store.quarantined("dev1")) == 3, what="real records quarantined")
    assert hub.store.forks()[0]["fork_seq"] == 6

    refusal = ("dev1's history is forked from seq 6", "camaudit hub resolve-fork dev1")
    data = ["--data-dir", str(hub.data_dir), "--db", hub_db]
    # `hub export` of the whole history: refused, no pack written
    whole = tmp_path / "all.zip"
    code, out = _run(capsys, "hub", *data, "export", "dev1", "--out", str(whole))
    assert code != 0 and not whole.exists()
    assert all(s in out for s in refusal), out
    # a span before the fork (only the records both copies share) still exports and verifies
    early = tmp_path / "early.zip"
    code, out = _run(capsys, "hub", *data, "export", "dev1", "--out", str(early),
                                     "--until", _iso(NOW + 5 * 1000 + 500))
    assert code == 0, out
    assert verify_pack(early, public_key=hub.store.public_key("dev1")).last_seq == 5
    # a span after the fork point: refused too
    code, out = _run(capsys, "hub", *data, "export", "dev1", "--out", str(tmp_path / "late.zip"),
                                     "--since", _iso(NOW + 7 * 1000))
    assert code != 0 and all(s in out for s in refusal), out
    # the subject check over the fork: refused, no letter written
    sc = tmp_path / "sc"
    code, out = _run(capsys, "hub", *data, "subject-check", "dev1", "--feed", "counter",
                                     "--from", _iso(NOW), "--to", _iso(NOW + 10_000), "--out", str(sc))
    assert code != 0 and all(s in out for s in refusal), out
    assert not sc.exists() or not any(sc.iterdir())
    # the web export: refused with the same line, no zip
    auth = {"Authorization": f"Bearer {hub.token}"}
    resp = httpx.get(hub.web_url + "/export", params={"device": "dev1"}, headers=auth, timeout=30)
    assert resp.status_code == 409 and resp.headers["content-type"].startswith("text/html")
    assert all(s in html.unescape(resp.text) for s in refusal), resp.text[-1500:]
    # the device table and the capture page say the history is forked
    index = httpx.get(hub.web_url + "/", headers=auth, timeout=30).text
    assert "history forked from seq 6" in index
    page = httpx.get(hub.web_url + "/capture/dev1/clone-7", headers=auth, timeout=30).text
    assert "The history of dev1 is forked from seq 6" in page

    # `hub forks` lists both versions of each forked seq, for the operator to compare
    code, out = _run(capsys, "hub", *data, "forks")
    assert code == 0 and "dev1: fork from seq 6, 3 record(s) quarantined" in out
    for fake_ev, true_ev in zip(fake, truth, strict=True):
        assert f"seq {true_ev.seq}: stored hash {fake_ev.hash}, quarantined hash {true_ev.hash}" in out

    # resolved (the clone was the second copy; keep the quarantined one): exports work again
    code, out = _run(capsys, "hub", *data, "resolve-fork", "dev1", "--keep", "quarantined")
    assert code == 0, out
    assert "history forked" not in httpx.get(hub.web_url + "/", headers=auth, timeout=30).text
