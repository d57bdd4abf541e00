"""The hub's custody log as values: one entry per look at, or hand-over of, the evidence
(who, when, what, from where), hash-chained and signed by the hub key.

An entry is canonical JSON (core.record.canonical_json):

    {"v": 1, "seq": 7, "ts": <UTC ms>, "who": "session 1a2b3c4d", "what": "export",
     "where": "127.0.0.1", "detail": {...}, "prev": "<hash of entry 6>",
     "hash": "<SHA-256 of the entry without hash and sig>", "sig": "<Ed25519 of hash>"}

Entry 1's prev is 64 zeros. A run of entries is checked by `check_run`: each names its
predecessor's hash, seqs have no gap, each hash is its content's and each signature the
hub key's: an entry removed from, changed in or put into the run fails.

Pure: values in, values out.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from camaudit.core.record import canonical_json

GENESIS = "0" * 64
VERSION = 1

#: What the hub records (the issue's list); `detail` says more.
ACTIONS = (
    "login", "login.failed", "capture.view", "evidence.view", "export", "subject.check",
    "alert.ack", "fork.resolve",
)

_FIELDS = {"v", "seq", "ts", "who", "what", "where", "detail", "prev", "hash", "sig"}


class CustodyError(ValueError):
    """A custody entry or run that does not hold together; the message names the entry."""


def content_hash(entry: Mapping[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k not in ("hash", "sig")}
    return hashlib.sha256(canonical_json(body)).hexdigest()


def make_entry(
    *, seq: int, ts: int, who: str, what: str, where: str, detail: Mapping[str, Any], prev: str,
    sign: Callable[[bytes], bytes] | None,
) -> dict[str, Any]:
    """The next entry after `prev`; `sign` signs its hash's bytes (None: unsigned)."""
    entry: dict[str, Any] = {
        "v": VERSION, "seq": seq, "ts": ts, "who": who[:200], "what": what[:64],
        "where": where[:200], "detail": dict(detail), "prev": prev,
    }
    entry["hash"] = content_hash(entry)
    entry["sig"] = sign(bytes.fromhex(entry["hash"])).hex() if sign is not None else ""
    return entry


def to_line(entry: Mapping[str, Any]) -> str:
    return canonical_json(entry).decode("utf-8")


def parse_line(text: str, where: str) -> dict[str, Any]:
    try:
        entry = json.loads(text)
    except ValueError as exc:
        raise CustodyError(f"{where}: not a custody entry: {exc}") from None
    if not isinstance(entry, dict) or set(entry) != _FIELDS:
        raise CustodyError(f"{where}: not a custody entry (fields {sorted(entry) if isinstance(entry, dict) else '?'})")
    for k in ("seq", "ts"):
        if not isinstance(entry[k], int) or isinstance(entry[k], bool) or entry[k] < 0:
            raise CustodyError(f"{where}: {k} is not a non-negative integer")
    for k in ("who", "what", "where", "prev", "hash", "sig"):
        if not isinstance(entry[k], str):
            raise CustodyError(f"{where}: {k} is not text")
    if not isinstance(entry["detail"], dict):
        raise CustodyError(f"{where}: detail is not an object")
    return entry


def _sig_ok(key: bytes, entry: Mapping[str, Any]) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(key).verify(bytes.fromhex(entry["sig"]), bytes.fromhex(entry["hash"]))
    except (InvalidSignature, ValueError):
        return False
    return True


def check_run(entries: Sequence[Mapping[str, Any]], key: bytes, *, name: str = "custody log") -> None:
    """A contiguous run of entries: chained, gapless, each hash its content's, each signed
    by `key` (the hub's Ed25519 public key). CustodyError naming the first bad entry."""
    prev: Mapping[str, Any] | None = None
    for i, e in enumerate(entries, 1):
        at = f"{name}:{i} (entry {e.get('seq')})"
        if e.get("v") != VERSION:
            raise CustodyError(f"{at}: version {e.get('v')!r}, this camaudit reads {VERSION}")
        if content_hash(e) != e.get("hash"):
            raise CustodyError(f"{at}: its hash is not its content's (the entry was changed)")
        if not _sig_ok(key, e):
            raise CustodyError(f"{at}: not signed by the hub key")
        if prev is not None:
            if e["seq"] != prev["seq"] + 1:
                raise CustodyError(f"{at}: follows entry {prev['seq']}: entries "
                                   f"{prev['seq'] + 1}..{e['seq'] - 1} were removed")
            if e["prev"] != prev["hash"]:
                raise CustodyError(f"{at}: does not name entry {prev['seq']}'s hash as its predecessor "
                                   "(an entry was removed or replaced)")
            if e["ts"] < prev["ts"]:
                raise CustodyError(f"{at}: dated before entry {prev['seq']}")
        elif e["seq"] == 1 and e["prev"] != GENESIS:
            raise CustodyError(f"{at}: the first entry does not start the log")
        prev = e


def check_pack_run(data: bytes, key: bytes, device: str, *, name: str = "custody/log.jsonl") -> list[str]:
    """A hub pack's custody run: chained and signed by the hub `key`, ending with the
    pack's own export entry (an export of `device`). The lines verify prints."""
    if not data.endswith(b"\n"):
        raise CustodyError(f"{name}: does not end with a line feed (truncated?)")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise CustodyError(f"{name}: not UTF-8") from None
    entries = [parse_line(line, f"{name}:{i}") for i, line in enumerate(text[:-1].split("\n"), 1)]
    check_run(entries, key, name=name)
    last = entries[-1]
    if last["what"] != "export" or last["detail"].get("device") != device:
        raise CustodyError(f"{name}: its last entry is not this pack's own export of device {device}")
    counts: dict[str, int] = {}
    for e in entries:
        counts[e["what"]] = counts.get(e["what"], 0) + 1
    said = ", ".join(f"{n} {w}" for w, n in sorted(counts.items()))
    return [
        f"custody log: entries {entries[0]['seq']}..{last['seq']} chained and signed by the hub key ({said})",
        f"this pack's own export: entry {last['seq']}, by {last['who']} from {last['where']}",
    ]
