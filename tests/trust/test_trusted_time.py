"""Trusted time: tokens from a local RFC 3161 authority (`openssl ts` behind 127.0.0.1)
stamp a journal's checkpoint, travel in the pack and are checked offline by verify."""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from trust_helpers import verify
from tsa_peer import Authority, make_authority, serve

from camaudit.config.timestamps import TimestampsConfig
from camaudit.store.journal import Journal
from camaudit.store.keys import load_key
from camaudit.store.pack import export_pack
from camaudit.trust.stamper import stamp_latest
from camaudit.trust.token_store import DIR, tokens_between
from camaudit.trust.tsa import CLOCK_TOLERANCE_MS, TokenError, facts, imprint_of, verify_token
from camaudit.trust.tsa_client import request_token

DAY = 86_400_000


@pytest.fixture(scope="module")
def authorities(tmp_path_factory: pytest.TempPathFactory) -> tuple[Authority, Authority]:
    base = tmp_path_factory.mktemp("tsa")
    return make_authority(base, "Test TSA One"), make_authority(base, "Test TSA Two")


@pytest.fixture(scope="module")
def url(authorities: tuple[Authority, Authority]) -> Iterator[str]:
    with serve(authorities[0]) as u:
        yield u


def _journal(dirpath: Path, times: list[int]) -> Path:
    db = dirpath / "dev" / "journal.db"
    with Journal.open(db, "cafe-01", checkpoint_every=1000) as j:
        for ts in times:
            j.append("device.online", None, {}, ts)
        j.checkpoint(times[-1])
    return db


def _pack(db: Path, out: Path) -> Path:
    export_pack(db, out, now_ms=int(time.time() * 1000))
    return out


def test_token_verifies_offline_and_states_what_it_proves(authorities, url, tmp_path, capsys) -> None:
    now = int(time.time() * 1000)
    db = _journal(tmp_path, [now - 3000, now - 2000, now - 1000])
    assert stamp_latest(db, [url]) == []
    stored = tokens_between(db.parent / DIR, 1, 10)
    assert len(stored) == 1 and next(iter(stored)).startswith("0000000004.")  # the checkpoint, seq 4
    pack = _pack(db, tmp_path / "pack.zip")
    assert any(n.startswith("timestamps/") for n in zipfile.ZipFile(pack).namelist())
    key = load_key(db.parent / "device.key").public_hex
    # offline: the authority's server plays no part in the check
    code, out = verify(capsys, str(pack), "--pubkey", key, "--tsa-cert", str(authorities[0].ca))
    assert code == 0, out
    assert "records up to seq 4 existed by " in out and "(CN=Test TSA One)" in out
    # without a pinned authority the token is matched, not trusted, and the output says so
    code, out = verify(capsys, str(pack), "--pubkey", key)
    assert code == 0 and "1 time-stamp token(s) not checked" in out


def test_token_of_an_unpinned_authority_fails(authorities, url, tmp_path, capsys) -> None:
    now = int(time.time() * 1000)
    db = _journal(tmp_path, [now - 2000, now - 1000])
    stamp_latest(db, [url])
    pack = _pack(db, tmp_path / "pack.zip")
    code, out = verify(capsys, str(pack), "--tsa-cert", str(authorities[1].ca))
    assert code == 1 and "not signed by a pinned authority" in out, out


def test_record_dated_after_the_token_fails(authorities, url, tmp_path, capsys) -> None:
    """A device whose records claim a time ten days after the authority saw their hash."""
    future = int(time.time() * 1000) + 10 * DAY
    db = _journal(tmp_path, [future, future + 1000])
    stamp_latest(db, [url])
    pack = _pack(db, tmp_path / "pack.zip")
    code, out = verify(capsys, str(pack), "--tsa-cert", str(authorities[0].ca))
    assert code == 1 and "after the time-stamp token that proves records up to seq 3" in out, out


def test_backdated_record_fails(tmp_path, capsys) -> None:
    """Times running backwards by 10 days inside one chain fail, token or not."""
    now = int(time.time() * 1000)
    db = _journal(tmp_path, [now - 2000, now - 10 * DAY, now - 1000])
    pack = _pack(db, tmp_path / "pack.zip")
    code, out = verify(capsys, str(pack))
    assert code == 1 and "seq 2 is dated" in out and "times run backwards" in out, out


def test_backwards_within_the_tolerance_passes(tmp_path, capsys) -> None:
    now = int(time.time() * 1000)
    db = _journal(tmp_path, [now - 2000, now - 2000 - CLOCK_TOLERANCE_MS + 1000, now])
    code, out = verify(capsys, str(_pack(db, tmp_path / "pack.zip")))
    assert code == 3, out  # consistent; origin unproven only because no key is pinned


def test_token_for_another_hash_fails(authorities, url, tmp_path, capsys) -> None:
    """The device (it holds its key) re-signs a pack carrying a token for another hash."""
    now = int(time.time() * 1000)
    db = _journal(tmp_path, [now - 2000, now - 1000])
    other, _ = request_token(url, hashlib.sha256(b"another chain").hexdigest())
    # the export itself never carries a token that stamps no record of the pack
    (db.parent / DIR).mkdir()
    (db.parent / DIR / "0000000003.0000000000000000.tsr").write_bytes(other)
    honest = _pack(db, tmp_path / "honest.zip")
    assert not any(n.startswith("timestamps/") for n in zipfile.ZipFile(honest).namelist())
    with zipfile.ZipFile(honest) as z:
        files = {n: z.read(n) for n in z.namelist() if not n.startswith("manifest.")}
        manifest = json.loads(z.read("manifest.json"))
    files["timestamps/0000000003.0000000000000000.tsr"] = other
    manifest["files"] = {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}
    mb = (json.dumps(manifest, sort_keys=True, indent=1) + "\n").encode()
    key = load_key(db.parent / "device.key")
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(forged, "w") as z:
        for n, d in {**files, "manifest.json": mb, "manifest.sig": key.sign(mb).hex().encode() + b"\n"}.items():
            z.writestr(n, d)
    code, out = verify(capsys, str(forged), "--pubkey", key.public_hex, "--tsa-cert", str(authorities[0].ca))
    assert code == 1 and "stamps a hash that is no record of this pack" in out, out


def test_tampered_and_foreign_tokens_are_refused(authorities, url) -> None:
    h = hashlib.sha256(b"x").hexdigest()
    der, f = request_token(url, h)
    assert f.imprint == imprint_of(h) and verify_token(der, [_ca(authorities[0])]).imprint == f.imprint
    bad = bytearray(der)
    bad[len(bad) // 2] ^= 1
    with pytest.raises(TokenError):
        verify_token(bytes(bad), [_ca(authorities[0])])
    with pytest.raises(TokenError):
        facts(b"\x30\x03\x02\x01\x00" + b"junk")
    with pytest.raises(TokenError, match="only http"):
        request_token("file:///etc/passwd", h)


def test_unreachable_authority_is_an_error_not_a_crash(tmp_path) -> None:
    now = int(time.time() * 1000)
    db = _journal(tmp_path, [now])
    errors = stamp_latest(db, ["http://127.0.0.1:9/tsa"], timeout_s=2)
    assert len(errors) == 1 and "127.0.0.1:9" in errors[0]
    assert tokens_between(db.parent / DIR, 0, 99) == {}


def test_config_rejects_non_http_urls_and_unknown_keys() -> None:
    from pydantic import ValidationError

    assert TimestampsConfig().urls == []  # none by default: nothing is sent anywhere
    with pytest.raises(ValidationError, match="http"):
        TimestampsConfig(urls=["ftp://tsa.example"])
    with pytest.raises(ValidationError):
        TimestampsConfig.model_validate({"urls": [], "servers": []})


def _ca(a: Authority) -> object:
    from camaudit.trust.tsa import load_certs

    return load_certs(a.ca.read_bytes())[0]
