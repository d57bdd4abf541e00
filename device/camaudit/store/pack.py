"""Evidence packs: a span of a device journal as one zip a third party can verify offline.

`camaudit export --db JOURNAL --out PACK.zip [--since T] [--until T] [--feed F]` writes:

- `events.jsonl`: every record of the contiguous seq range that covers the chosen time
  span (all feeds, so every `prev` link can be checked), each line the record exactly as
  the device signed it;
- `evidence/<sha256>.jpg`: the evidence frames those records reference (made safe on the
  device before they were written: pipeline/evidence.py);
- `device.json`: device id, Ed25519 public key, seq range, the hash the range continues
  from, the span asked for (since/until/feed), the journal's head seq at export, and
  `deletion`: when the records continue from a point the journal was pruned to, the
  signed `retention.pruned` record (JSON text) of that deletion (trust.retention);
- `report.md` (and any other file pack_report.derived_files returns): derived from the
  records and the signed metadata only, so verify can make it again (`--feed` narrows the
  report, never the records);
- `timestamps/<seq>.<id>.tsr`: RFC 3161 time-stamp tokens (DER) over the hash of record
  <seq> that the device (or hub) obtained from a time-stamp authority (trust.tsa);
- `custody/log.jsonl` (hub packs): the hub's custody log entries from the pack's span to
  its own export entry, hash-chained and hub-signed (trust.custody);
- `manifest.json` (sha256 of every file above) and `manifest.sig` (the device key's
  signature of manifest.json).

`camaudit verify PACK.zip` (store.pack_verify) checks all of it without the device.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sqlite3
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camaudit.core.record import Event, RecordError
from camaudit.errors import JournalError
from camaudit.notices.registration import registrations_start
from camaudit.report.files import PDF
from camaudit.store.db import journal_error, open_readonly, read_meta
from camaudit.store.keys import DeviceKey, load_key
from camaudit.store.pack_report import (
    REPORT,
    REPORTS,
    PackMeta,
    derived_files,
    evidence_refs,
    latest_captures,
    scoped_refs,
)
from camaudit.trust.pdf_sign import sign_pdf, signing_identity
from camaudit.trust.token_store import DIR as TOKEN_DIR
from camaudit.trust.token_store import tokens_between

__all__ = ["REPORT", "evidence_refs", "export_pack", "build_pack", "PackSummary"]

log = logging.getLogger(__name__)

PACK_FORMAT = "camaudit-evidence-pack"
PACK_VERSION = 2
CUSTODY = "custody/log.jsonl"
EVENTS = "events.jsonl"
DEVICE = "device.json"
HUB_FRAMES = "hub_frames.json"  # hub packs: device sha256 -> sha256 of the hub's re-encoding
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"


@dataclass(frozen=True)
class PackSummary:
    path: Path
    device: str
    first_seq: int
    last_seq: int
    events: int
    captures: int
    evidence: int
    missing_evidence: int
    signed_by: str = "device"
    signer_key: str = ""  # hex public key that signed the manifest

    def summary(self) -> str:
        where = "kept on the device" if self.signed_by == "hub" else "missing"
        missing = f", {self.missing_evidence} evidence frame(s) {where}" if self.missing_evidence else ""
        return (
            f"{self.path}: {self.events} events (seq {self.first_seq}..{self.last_seq}) of "
            f"device {self.device}, {self.captures} capture(s), {self.evidence} evidence "
            f"frame(s){missing}"
        )


def export_pack(
    db: Path,
    out: Path,
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    feed: str | None = None,
    key_path: Path | None = None,
    evidence_dir: Path | None = None,
    now_ms: int,
) -> PackSummary:
    """Write the evidence pack of the journal records with since_ms <= ts <= until_ms.

    The device key (default: next to the journal) signs the manifest; evidence frames are
    taken from `evidence_dir` (default: <journal folder>/evidence). JournalError when the
    span holds no record or `out` exists.
    """
    db, out = Path(db), Path(out)
    check_pack_args(out, since_ms, until_ms)
    key_path = Path(key_path) if key_path else db.parent / "device.key"
    key = load_key(key_path)
    device, public_key, lines, head_seq, deletion = _read_span(db, since_ms, until_ms)
    if key.public_bytes.hex() != public_key:
        raise JournalError(f"export: the key at {key_path} is not this journal's")
    return build_pack(
        out,
        device=device,
        public_key=public_key,
        lines=lines,
        signer=key,
        signed_by="device",
        evidence_dir=Path(evidence_dir) if evidence_dir else db.parent / "evidence",
        feed=feed,
        since_ms=since_ms,
        until_ms=until_ms,
        now_ms=now_ms,
        head_seq=head_seq,
        deletion=deletion,
        timestamps=tokens_between(db.parent / TOKEN_DIR, 1, head_seq),
    )


def check_pack_args(out: Path, since_ms: int | None, until_ms: int | None) -> None:
    if out.exists():
        raise JournalError(f"export: {out} exists; not overwriting evidence")
    if since_ms is not None and until_ms is not None and until_ms < since_ms:
        raise JournalError("export: --until is before --since")


def build_pack(
    out: Path,
    *,
    device: str,
    public_key: str,
    lines: list[str],
    signer: DeviceKey,
    signed_by: str,
    evidence_dir: Path | None,
    feed: str | None,
    since_ms: int | None,
    until_ms: int | None,
    now_ms: int,
    head_seq: int | None = None,
    timestamps: dict[str, bytes] | None = None,
    deletion: str | None = None,
    custody: list[str] | None = None,
    hub_deletion: str | None = None,
    hub_frames: dict[str, bytes] | None = None,
) -> PackSummary:
    """Write a pack of `lines` (a contiguous run of one device's signed records, in seq
    order). `signer` signs the manifest: the device's own key, or a hub's (`signed_by`).
    `head_seq`: the highest seq the source held at export (default: the last line's).
    `timestamps`: token file name -> DER; only tokens over a record of `lines` are carried.
    `deletion`: the signed retention.pruned record naming the point `lines` continue from
    (needed when the records do not start at seq 1 and no `since` was asked for).
    `custody`: a hub pack's run of custody log entries (trust.custody), ending with its own
    export entry, carried as custody/log.jsonl. `hub_deletion`: the hub's signed record of
    its own pruning that `lines` continue from (trust.hub_deletion).
    `hub_frames`: device sha256 -> the hub's own JPEG of that frame (a hub pack never carries
    a device's bytes): stored as evidence/<its own sha256>.jpg, with HUB_FRAMES mapping the
    signed device sha256 to it, signed in the manifest by the hub key."""
    events = [Event.from_json(line) for line in lines]
    frames: dict[str, bytes] = {}
    missing: list[str] = []
    for digest in scoped_refs(events, feed, since_ms, until_ms):
        if digest in frames or digest in missing:
            continue
        if hub_frames is not None:
            if digest in hub_frames:
                frames[digest] = hub_frames[digest]
            else:
                missing.append(digest)
            continue
        try:
            data = (evidence_dir / f"{digest}.jpg").read_bytes() if evidence_dir else b""
        except OSError:
            data = b""
        if hashlib.sha256(data).hexdigest() != digest:
            missing.append(digest)  # absent, or damaged on disk: never carried
            continue
        frames[digest] = data
    captures = latest_captures(events, feed)
    device_doc = {
        "device": device,
        "public_key": public_key,
        "first_seq": events[0].seq,
        "last_seq": events[-1].seq,
        "start_hash": events[0].prev,
        "since": since_ms,
        "until": until_ms,
        "feed": feed,
        "head_seq": events[-1].seq if head_seq is None else head_seq,
    }
    if deletion is not None:
        device_doc["deletion"] = deletion
    if hub_deletion is not None:
        device_doc["hub_deletion"] = hub_deletion
    identity = signing_identity(signer.private_key, signed_by, device if signed_by == "device" else "hub")
    meta = PackMeta(
        device=device,
        public_key=public_key,
        created_ms=now_ms,
        signed_by=signed_by,
        since_ms=since_ms,
        until_ms=until_ms,
        feed=feed,
        frames=frozenset(frames),
        pdf_cert=identity.fingerprint,
        deletion=_deletion_body(deletion) if hub_deletion is None else json.loads(hub_deletion)["body"],
    )
    for line in lines:
        if "\n" in line:  # canonical JSON escapes it; a raw one would split the record
            raise JournalError("export: a record holds a raw line feed")
    files: dict[str, bytes] = {
        EVENTS: ("\n".join(lines) + "\n").encode("utf-8"),
        DEVICE: _json(device_doc),
        **derived_files(events, meta, frames),
    }
    if PDF in files:
        files[PDF] = sign_pdf(files[PDF], identity, reason=f"camaudit evidence pack of device {device}")
    if hub_frames is not None:
        mapping = {d: hashlib.sha256(data).hexdigest() for d, data in sorted(frames.items())}
        files[HUB_FRAMES] = _json({"note": "evidence frames re-encoded by the hub from the device's "
                                   "safe view: device sha256 -> hub sha256", "frames": mapping})
        files.update({f"evidence/{mapping[d]}.jpg": data for d, data in sorted(frames.items())})
    else:
        files.update({f"evidence/{d}.jpg": data for d, data in sorted(frames.items())})
    files.update(_tokens_of(events, timestamps or {}))
    if custody:
        files[CUSTODY] = ("\n".join(custody) + "\n").encode("utf-8")
    manifest = _json(
        {
            "format": PACK_FORMAT,
            "version": PACK_VERSION,
            "reports": REPORTS,
            "created": now_ms,
            "device": device,
            "public_key": public_key,
            "signed_by": signed_by,
            "signer_key": signer.public_hex,
            "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()},
        }
    )
    _write_zip(out, {**files, MANIFEST: manifest, SIGNATURE: _sign(signer, manifest)})
    log.info("evidence pack %s written: seq %d..%d", out, events[0].seq, events[-1].seq)
    return PackSummary(
        path=out,
        device=device,
        first_seq=events[0].seq,
        last_seq=events[-1].seq,
        events=len(events),
        captures=len(captures),
        evidence=len(frames),
        missing_evidence=len(missing),
        signed_by=signed_by,
        signer_key=signer.public_hex,
    )


def _deletion_body(text: str | None) -> dict[str, Any] | None:
    return None if text is None else dict(Event.from_json(text).body)


def _tokens_of(events: list[Event], tokens: dict[str, bytes]) -> dict[str, bytes]:
    """The tokens that stamp a record of `events`, as pack files (others are left out:
    a pack carries nothing verify could not tie to its records)."""
    from camaudit.trust.tsa import TokenError, facts, imprint_of

    imprints = {imprint_of(ev.hash) for ev in events}
    out: dict[str, bytes] = {}
    for name, der in sorted(tokens.items()):
        try:
            if facts(der).imprint in imprints:
                out[f"{TOKEN_DIR}/{name}"] = der
        except TokenError as exc:
            log.warning("time-stamp token %s left out of the pack: %s", name, exc)
    return out


def _json(doc: object) -> bytes:
    return (json.dumps(doc, sort_keys=True, indent=1) + "\n").encode()


def _sign(key: DeviceKey, manifest: bytes) -> bytes:
    return key.sign(manifest).hex().encode() + b"\n"


def _read_span(
    db: Path, since_ms: int | None, until_ms: int | None
) -> tuple[str, str, list[str], int, str | None]:
    """(device, public key hex, the stored JSON of every record from the first to the last
    record in the span, in seq order, the journal's head seq, the deletion record naming the
    point the first record continues from if the journal was pruned to it)."""
    conn = open_readonly(db)
    try:
        conn.execute("BEGIN")
        meta = read_meta(conn)
        lo, hi = conn.execute(
            "SELECT MIN(seq), MAX(seq) FROM events WHERE ts >= ? AND ts <= ?",
            (since_ms if since_ms is not None else -(2**62), until_ms if until_ms is not None else 2**62),
        ).fetchone()
        if lo is None:
            raise JournalError(f"export: journal {db} holds no record in that time span")
        (head,) = conn.execute("SELECT MAX(seq) FROM events").fetchone()
        lo = registrations_start(conn, lo)  # issue 13: the notice texts in force at the start
        lines = [
            text
            for (text,) in conn.execute(
                "SELECT json FROM events WHERE seq BETWEEN ? AND ? ORDER BY seq", (lo, hi)
            )
        ]
        deletion = _deletion_naming(conn, lo - 1)
    except sqlite3.Error as exc:
        raise journal_error(db, exc, "exporting") from None
    finally:
        conn.close()
    if len(lines) != hi - lo + 1:
        raise JournalError(f"export: journal {db} has a gap between seq {lo} and {hi}")
    for text in lines:
        try:
            Event.from_json(text)
        except RecordError as exc:
            raise JournalError(f"export: journal {db}: unreadable record: {exc}") from None
    return meta.get("device", ""), meta.get("public_key", ""), lines, int(head), deletion


def _deletion_naming(conn: sqlite3.Connection, seq: int) -> str | None:
    """The stored JSON of the newest retention.pruned record naming (seq, its hash) as the
    point the journal continues from; None if the journal was not pruned to `seq`."""
    from camaudit.store.journal import _pruned_of
    from camaudit.trust.retention import PRUNED, names_point

    p_seq, p_hash = _pruned_of(conn)
    if seq < 1 or p_seq != seq:
        return None
    for (text,) in conn.execute("SELECT json FROM events WHERE type = ? ORDER BY seq DESC", (PRUNED,)):
        try:
            if names_point(Event.from_json(text).body, p_seq, p_hash):
                return str(text)
        except RecordError:
            continue
    return None


def _write_zip(out: Path, files: dict[str, bytes]) -> None:
    """Write atomically: a partial pack never carries the final name."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for name, data in files.items():
                info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
                info.compress_type = zipfile.ZIP_STORED if name.endswith(".jpg") else zipfile.ZIP_DEFLATED
                z.writestr(info, data)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise JournalError(f"export: cannot write {out}: {exc.strerror or exc}") from None
