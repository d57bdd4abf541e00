"""`camaudit verify PACK.zip`: check an evidence pack offline (no device, no hub).

Checks, in order, stopping at the first problem (named with the file and line):
the zip's entries before any is read (store.pack_zip: count, names, sizes, ratio, every
byte of the file inside the archive; folder entries ignored); the zip holds exactly the manifest's files plus manifest.json /
manifest.sig; every file's sha256 (streamed); the manifest's Ed25519 signature by the
signer it names; every record's hash, signature (always by the device key), device and
link from device.json's start hash, with no gap, ending where device.json says; the span
device.json claims; every evidence frame's name is its sha256 and is referenced by a
record; every derived file (report.md, ...) is exactly what the records give, at any
size of frames (store.pack_limits); no signed file or field is one that no check reads.

Trust: a pack is authentic only against a key the checker already holds. `device_key`
pins the device key; `hub_key` pins the hub key, which a hub-signed pack needs. Without
the key its signer needs, the result is `proven=False`: internally consistent, origin
unproven (the CLI exits EXIT_UNPROVEN and prints the fingerprints to compare).
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from camaudit.core.chain import ChainVerifier
from camaudit.core.record import Event, RecordError, no_duplicate_keys
from camaudit.errors import VerifyError
from camaudit.report.files import PDF
from camaudit.store.pack import (
    CUSTODY,
    DEVICE,
    EVENTS,
    HUB_FRAMES,
    MANIFEST,
    PACK_FORMAT,
    PACK_VERSION,
    SIGNATURE,
)
from camaudit.store.pack_limits import docs_problem, frames_inline, unexpected_files
from camaudit.store.pack_report import REPORTS, PackMeta, deletions_of, derived_files, evidence_refs
from camaudit.store.pack_zip import (
    PackReadError,
    hash_only,
    looks_like_zip,
    open_members,
    read_all,
)
from camaudit.trust.pack_time import PREFIX as TOKENS
from camaudit.trust.pack_time import check_pack_times
from camaudit.trust.pdf_sign import check_pdf, signer_of
from camaudit.trust.token_store import seq_of

EXIT_UNPROVEN = 3  # consistent, but no pinned key proves where it comes from
EXIT_REPORTS_UNCHECKED = 4  # records proven, but the report files are another rendering's: not re-derived


def fingerprint(key: bytes) -> str:
    """Short form of a public key to compare out of band: SHA256 of the raw key, 16 bytes."""
    d = hashlib.sha256(key).hexdigest()[:32]
    return ":".join(d[i : i + 4] for i in range(0, 32, 4))


@dataclass(frozen=True)
class PackReport:
    device: str
    public_key: str
    signed_by: str
    signer_key: str
    first_seq: int
    last_seq: int
    events: int
    checkpoints: int
    evidence: int
    proven: bool = True
    why_unproven: str = ""
    last_hash: str = ""  # hash of the record at last_seq
    regenerated: tuple[str, ...] = ()  # the derived files made again from the records and compared
    deletions: tuple[str, ...] = ()  # "records before T were deleted on D under policy P", ...
    pdf_signature: str = ""  # what the check of report.pdf's PDF signature found
    times: tuple[str, ...] = ()  # one line per time-stamp token ("records up to seq N existed by T (authority)")
    # why the report files were not re-derived ("" when they were): the pack's manifest names
    # another report rendering than this camaudit's (pack_report.REPORTS)
    reports_unchecked: str = ""
    custody: tuple[str, ...] = ()  # a hub pack's custody log run, checked (trust.custody)
    hub_frames: int = 0  # frames carried as the hub's re-encoding (hub_frames.json)

    def keys(self) -> str:
        out = f"device key {self.public_key} (fingerprint {fingerprint(bytes.fromhex(self.public_key))})"
        if self.signed_by == "hub":
            out += f", hub key {self.signer_key} (fingerprint {fingerprint(bytes.fromhex(self.signer_key))})"
        return out

    def _reports(self) -> str:
        if self.reports_unchecked:
            return "report files NOT re-derived"
        return f"{', '.join(self.regenerated)} match the records"

    def summary(self) -> str:
        what = (
            f"evidence pack of device {self.device}: {self.events} events "
            f"(seq {self.first_seq}..{self.last_seq}), {self.checkpoints} checkpoints, "
            f"{self.evidence} evidence frame(s)"
            + (f" ({self.hub_frames} re-encoded by the hub from the device's safe view; the "
               "device sha256 -> hub sha256 map is signed by the hub key)" if self.hub_frames else "")
            + f", {self._reports()}, "
            f"signed by the {self.signed_by}"
        )
        if self.proven:
            pinned = "hub key" if self.signed_by == "hub" else "device key"
            return f"OK, authentic {what}; against the pinned {pinned}; {self.keys()}"
        return (
            f"UNPROVEN ORIGIN: internally consistent {what}, but {self.why_unproven}; "
            f"compare out of band: {self.keys()}"
        )


def is_pack(path: Path) -> bool:
    """A pack (zip) rather than a journal: by its first bytes, or by a .zip name."""
    path = Path(path)
    return looks_like_zip(path) or (path.suffix.lower() == ".zip" and path.exists())


def _fail(path: Path, what: str) -> VerifyError:
    return VerifyError(f"{path}: FAILED: {what}")


def _verify_sig(public_key: bytes, sig_hex: str, data: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(bytes.fromhex(sig_hex), data)
    except (InvalidSignature, ValueError):
        return False
    return True


def _json(path: Path, name: str, data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data.decode("utf-8"), object_pairs_hook=no_duplicate_keys)
    except (UnicodeDecodeError, ValueError) as exc:
        raise _fail(path, f"{name} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _fail(path, f"{name} is not a JSON object")
    return doc


def _key(path: Path, name: str, value: object) -> bytes:
    try:
        key = bytes.fromhex(str(value))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise _fail(path, f"{name}: no valid Ed25519 public key")
    return key


def _opt_int(doc: dict[str, Any], field: str) -> int | None:
    v = doc.get(field)
    return v if isinstance(v, int) and not isinstance(v, bool) else None


def verify_pack(
    path: Path,
    public_key: bytes | None = None,
    hub_key: bytes | None = None,
    tsa_certs: Sequence[object] | None = None,
) -> PackReport:
    """Check the pack at `path`; VerifyError naming the first problem.

    `public_key` pins the device key, `hub_key` the hub key. The report's `proven` says
    whether a pinned key vouches for the pack's signer. `tsa_certs` pins time-stamp
    authorities: every token under timestamps/ must be signed by one of them."""
    path = Path(path)
    if not looks_like_zip(path):
        raise _fail(path, "not a zip file (an evidence pack is the .zip `camaudit export` writes)")
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _fail(path, f"not a readable zip (damaged or truncated): {exc}") from None
    with z:
        try:
            return _verify_open(path, z, public_key, hub_key, tsa_certs)
        except PackReadError as exc:
            raise _fail(path, str(exc)) from None


def _verify_open(
    path: Path,
    z: zipfile.ZipFile,
    public_key: bytes | None,
    hub_key: bytes | None,
    tsa_certs: Sequence[object] | None,
) -> PackReport:
    small = frozenset({MANIFEST, SIGNATURE, DEVICE})
    # derived names are only known from the records; give every non-frame member the
    # derived limit (frames live under evidence/)
    names = {i.filename for i in z.infolist()}
    derived_names = frozenset(n for n in names if not n.startswith("evidence/") and n not in small and n != EVENTS)
    members = open_members(z, records=EVENTS, small=small, derived=derived_names)
    if MANIFEST not in members:
        raise _fail(path, f"{MANIFEST} is missing")
    manifest_bytes, _ = read_all(z, members[MANIFEST])
    manifest = _json(path, MANIFEST, manifest_bytes)
    if manifest.get("format") != PACK_FORMAT:
        raise _fail(path, f"{MANIFEST}: not a camaudit evidence pack")
    if manifest.get("version") != PACK_VERSION:
        raise _fail(path, f"{MANIFEST}: pack version {manifest.get('version')!r}, this camaudit reads {PACK_VERSION}")
    files = manifest.get("files")
    if not isinstance(files, dict) or not files or not all(isinstance(v, str) for v in files.values()):
        raise _fail(path, f"{MANIFEST}: no file list")
    extra = set(members) - set(files) - {MANIFEST, SIGNATURE}
    if extra:
        raise _fail(path, f"files not in the manifest: {', '.join(sorted(extra))}")
    for name in sorted(set(files) | {SIGNATURE}):
        if name not in members:
            raise _fail(path, f"{name} is missing")
    kept: dict[str, bytes] = {}
    frames: set[str] = set()
    # frames are held only when they all fit INLINE_FRAMES_BYTES (the reports then show
    # them inline); past that the reports link them, so they are hashed by streaming and
    # every report is still regenerated and compared (store.pack_limits)
    inline = frames_inline(sum(m.size for n, m in members.items() if n in files and n.startswith("evidence/")))
    frame_bytes: dict[str, bytes] | None = {} if inline else None
    for name, digest in sorted(files.items()):
        m = members[name]
        if name.startswith("evidence/") and frame_bytes is not None:
            data, got = read_all(z, m)
            frame_bytes[got] = data
        elif name.startswith("evidence/"):
            got = hash_only(z, m)
        else:
            kept[name], got = read_all(z, m)
        if got != digest:
            raise _fail(path, f"{name} was changed (sha256 differs from the manifest)")
        if name.startswith("evidence/"):
            want = name[len("evidence/") :].removesuffix(".jpg")
            if got != want:
                raise _fail(path, f"{name}: content does not match its name")
            frames.add(got)
    sig = read_all(z, members[SIGNATURE])[0].decode("ascii", "replace").strip()

    device_doc = _json(path, DEVICE, kept.get(DEVICE, b""))
    key = _key(path, DEVICE, device_doc.get("public_key", ""))
    if manifest.get("public_key") != key.hex():
        raise _fail(path, f"{MANIFEST} and {DEVICE} name different keys")
    problem = docs_problem(manifest, device_doc)
    if problem:
        raise _fail(path, problem)
    if public_key is not None and public_key != key:
        raise _fail(
            path,
            f"device key {key.hex()[:16]}... is not the pinned --pubkey {public_key.hex()[:16]}...",
        )
    signed_by = manifest.get("signed_by")
    if signed_by not in ("device", "hub"):
        raise _fail(path, f"{MANIFEST}: unknown signer {signed_by!r}")
    signer = _key(path, f"{MANIFEST} signer_key", manifest.get("signer_key", ""))
    if signed_by == "device" and signer != key:
        raise _fail(path, f"{MANIFEST}: signed_by device, but signer_key is not the device key")
    if signed_by == "hub" and hub_key is not None and signer != hub_key:
        raise _fail(path, f"signed by hub key {signer.hex()[:16]}..., not the pinned --hub-key {hub_key.hex()[:16]}...")
    if not _verify_sig(signer, sig, manifest_bytes):
        raise _fail(path, f"{SIGNATURE} is not the {signed_by} key's signature of {MANIFEST}")

    device = str(device_doc.get("device", ""))
    first_seq, start_hash = device_doc.get("first_seq"), device_doc.get("start_hash")
    if not isinstance(first_seq, int) or first_seq < 1 or not isinstance(start_hash, str):
        raise _fail(path, f"{DEVICE}: first_seq / start_hash missing")
    chain = ChainVerifier(key, device=device, start_seq=first_seq - 1, start_hash=start_hash)
    referenced: set[str] = set()
    records: list[Event] = []
    data = kept.pop(EVENTS, b"")
    if not data:
        raise _fail(path, f"{EVENTS} holds no record")
    if not data.endswith(b"\n"):
        raise _fail(path, f"{EVENTS} does not end with a line feed (truncated?)")
    # records are split on "\n" only: canonical JSON escapes it inside strings, while
    # U+2028, U+2029, U+0085 may stand raw in a record and are not line ends here
    for lineno, raw in enumerate(_split_lines(data), 1):
        try:
            ev = Event.from_json(raw.decode("utf-8"))
        except (RecordError, UnicodeDecodeError) as exc:
            raise _fail(path, f"{EVENTS}:{lineno}: unreadable record: {exc}") from None
        if not chain.add(ev):
            raise _fail(path, f"{EVENTS}:{lineno}: {chain.first_bad}")
        referenced.update(evidence_refs(ev))
        records.append(ev)
    del data  # the parsed records are all that is kept
    report = chain.report()
    last_seq, head_seq = device_doc.get("last_seq"), device_doc.get("head_seq")
    if report.head_seq != last_seq:
        raise _fail(path, f"{EVENTS} ends at seq {report.head_seq}, {DEVICE} says {last_seq}")
    since, until, feed = _opt_int(device_doc, "since"), _opt_int(device_doc, "until"), device_doc.get("feed")
    if not isinstance(head_seq, int) or head_seq < report.head_seq:
        raise _fail(path, f"{DEVICE}: head_seq missing or before the last record")
    if until is None and head_seq != report.head_seq:
        raise _fail(
            path,
            f"the records end at seq {report.head_seq}, but the pack claims the span to the "
            f"end of the journal, whose head was seq {head_seq}: records were dropped",
        )
    # records before `since` are allowed: a pack reaches back to the notice texts in force
    # at the start of its span (notice.registered), and its chain starts there
    if until is not None and records[-1].ts > until:
        raise _fail(path, f"{EVENTS}:{len(records)}: seq {records[-1].seq} is after the span the pack claims")
    hub_map = _hub_frames(path, kept.pop(HUB_FRAMES, None), signed_by, frames, referenced)
    if hub_map:
        # one hub file may stand for several device frames: the hub's pixelation of two
        # device frames can be the same pixels, so the same JPEG (bench/hub_privacy.py)
        by_hub: dict[str, list[str]] = {}
        for d, h in sorted(hub_map.items()):
            by_hub.setdefault(h, []).append(d)
        frames = {d for f in frames for d in by_hub.get(f, [f])}
        if frame_bytes is not None:
            frame_bytes = {d: b for f, b in frame_bytes.items() for d in by_hub.get(f, [f])}
    for digest in sorted(frames):
        if digest not in referenced:
            raise _fail(path, f"evidence/{digest}.jpg: no record references this frame")
    deletion = (_hub_deletion(path, device_doc, signed_by, signer, device, first_seq, start_hash)
                or _deletion(path, device_doc, key, device, first_seq, start_hash, records, since))
    created = _opt_int(manifest, "created")
    if created is None or (feed is not None and not isinstance(feed, str)):
        raise _fail(path, f"{MANIFEST}/{DEVICE}: created / feed missing or malformed")
    meta = PackMeta(
        device=device,
        public_key=key.hex(),
        created_ms=created,
        signed_by=signed_by,
        since_ms=since,
        until_ms=until,
        feed=feed,
        frames=frozenset(frames),
        pdf_cert=None,
        deletion=deletion,
    )
    pdf_said = ""
    pdf_signer = None
    if PDF in kept:
        try:
            pdf_signer = signer_of(kept[PDF])
        except VerifyError as exc:
            raise _fail(path, f"{PDF}: {exc}") from None
        if pdf_signer is None:
            pdf_said = f"{PDF} carries no PDF signature (a pack made before camaudit signed its reports)"
        else:
            meta = replace(meta, pdf_cert=pdf_signer.fingerprint)
    tokens = {n: kept.pop(n) for n in sorted(kept) if n.startswith(TOKENS)}
    for n in tokens:
        if seq_of(n) is None or n.count("/") != 1:
            raise _fail(path, f"{n}: not a time-stamp token name (timestamps/<seq>.<id>.tsr)")
    try:
        times = check_pack_times([(e.seq, e.ts, e.hash) for e in records], tokens, tsa_certs)
    except VerifyError as exc:
        raise _fail(path, str(exc)) from None
    custody = _custody(path, kept.pop(CUSTODY, None), signed_by, signer, device)
    derived = derived_files(records, meta, frame_bytes)
    unchecked = unexpected_files(files, {EVENTS, DEVICE, *derived, *([HUB_FRAMES] if hub_map is not None else [])})
    if unchecked:
        raise _fail(path, f"{unchecked[0][:80]!r} is signed in the manifest but is no file a pack holds "
                    f"(not the records, a report derived from them or an evidence frame): nothing checks it")
    rendering = manifest.get("reports")
    unchecked_why = "" if rendering == REPORTS else (
        f"the pack's report files were made by report rendering {rendering if isinstance(rendering, int) else 'before 3'}, "
        f"this camaudit makes rendering {REPORTS}: they were not re-derived from the records, so read them "
        f"as that version's rendering of the records checked above (or check the pack with that camaudit version)"
    )
    if pdf_signer is not None:
        try:
            check_pdf(kept[PDF], None if unchecked_why else derived.get(PDF), signer)
        except VerifyError as exc:
            raise _fail(path, f"{PDF}: {exc}") from None
        pdf_said = f"{PDF}'s PDF signature is valid (certificate SHA-256 {pdf_signer.fingerprint}, issued by the {signed_by} key)"
    for name, want in derived.items():
        if unchecked_why:
            continue
        if name not in kept:
            raise _fail(path, f"{name} is missing (it is derived from the records)")
        if name == PDF and pdf_signer is not None:
            continue  # checked above: the derived PDF is the signed file's first revision
        if kept[name] != want:
            raise _fail(path, f"{name} differs from the one derived from the records: {_first_diff(kept[name], want)}")

    why = ""
    if signed_by == "hub" and hub_key is None:
        why = (
            "it is signed by a hub key that was not pinned (give --hub-key): the device key "
            "proves each record, not that the pack holds them all"
        )
    elif signed_by == "device" and public_key is None:
        why = "no device key was pinned (give --pubkey): anyone can make a consistent pack with a new key"
    return PackReport(
        device=device,
        public_key=key.hex(),
        signed_by=signed_by,
        signer_key=signer.hex(),
        first_seq=first_seq,
        last_seq=report.head_seq,
        events=report.events,
        checkpoints=report.checkpoints,
        evidence=len(frames),
        proven=not why,
        why_unproven=why,
        last_hash=report.head_hash,
        regenerated=() if unchecked_why else tuple(derived),
        reports_unchecked=unchecked_why,
        pdf_signature=pdf_said,
        deletions=tuple(deletions_of(records, deletion)),
        times=tuple(times.lines()),
        custody=tuple(custody),
        hub_frames=len(hub_map or {}),
    )


def _hub_deletion(path: Path, device_doc: dict[str, Any], signed_by: str, signer: bytes, device: str,
                  first_seq: int, start_hash: str) -> dict[str, Any] | None:
    """device.json's `hub_deletion` (the hub's signed record of its own pruning), checked
    against the key that signed the pack; None if the pack carries none."""
    from camaudit.trust.hub_deletion import FIELD, check_hub_deletion

    text = device_doc.get(FIELD)
    if text is None:
        return None
    if signed_by != "hub":
        raise _fail(path, f"{DEVICE}: {FIELD}: only a hub pack carries the hub's deletion record")
    try:
        return check_hub_deletion(text, signer, device, first_seq - 1, start_hash)
    except ValueError as exc:
        raise _fail(path, f"{DEVICE}: {FIELD}: {exc}") from None


def _custody(path: Path, data: bytes | None, signed_by: str, signer: bytes, device: str) -> list[str]:
    """A hub pack's custody/log.jsonl, checked against the key that signed the pack."""
    from camaudit.trust.custody import CustodyError, check_pack_run

    if data is None:
        return []
    if signed_by != "hub":
        raise _fail(path, f"{CUSTODY}: only a hub pack carries a custody log")
    try:
        return check_pack_run(data, signer, device)
    except CustodyError as exc:
        raise _fail(path, str(exc)) from None


def _hub_frames(path: Path, data: bytes | None, signed_by: str, frames: set[str],
                referenced: set[str]) -> dict[str, str] | None:
    """hub_frames.json of a hub pack: device sha256 (named by a record) -> sha256 of the
    hub's re-encoding the pack carries; None when the pack has none."""
    if data is None:
        return None
    if signed_by != "hub":
        raise _fail(path, f"{HUB_FRAMES}: only a hub-signed pack maps frames to re-encodings")
    doc = _json(path, HUB_FRAMES, data)
    mapping = doc.get("frames")
    if not isinstance(mapping, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()):
        raise _fail(path, f"{HUB_FRAMES}: no device sha256 -> hub sha256 map")
    for dev, hub in sorted(mapping.items()):
        if dev not in referenced:
            raise _fail(path, f"{HUB_FRAMES}: no record references device frame {dev[:16]}...")
        if hub not in frames:
            raise _fail(path, f"{HUB_FRAMES}: evidence/{hub}.jpg is not in the pack")
    return dict(mapping)


def _deletion(
    path: Path,
    device_doc: dict[str, Any],
    key: bytes,
    device: str,
    first_seq: int,
    start_hash: str,
    records: list[Event],
    since: int | None,
) -> dict[str, Any] | None:
    """The body of device.json's deletion record, checked: signed by the device key, of
    this device, naming the point the records continue from. A pack whose records start
    after seq 1 without a `since` (it claims the journal from its start) needs it, or a
    deletion record naming that point among its records: else its start is a silent gap."""
    from camaudit.core.record import check_hash, check_signature
    from camaudit.trust.retention import PRUNED, names_point

    text = device_doc.get("deletion")
    if text is None:
        in_chain = any(ev.type == PRUNED and names_point(ev.body, first_seq - 1, start_hash) for ev in records)
        if first_seq > 1 and since is None and not in_chain:
            raise _fail(
                path,
                f"the records start at seq {first_seq} and the pack claims the journal from its "
                f"start, but no retention.pruned record names the point before them: records "
                f"1..{first_seq - 1} are missing without a record of their deletion",
            )
        return None
    try:
        if not isinstance(text, str):
            raise RecordError("not a record's JSON text")
        ev = Event.from_json(text)
        check_hash(ev)
        check_signature(ev, key)
    except RecordError as exc:
        raise _fail(path, f"{DEVICE}: deletion: {exc}") from None
    if ev.type != PRUNED or ev.device != device or not names_point(ev.body, first_seq - 1, start_hash):
        raise _fail(path, f"{DEVICE}: deletion: not this device's record of the deletion before seq {first_seq}")
    return dict(ev.body)


def _split_lines(data: bytes) -> Iterator[bytes]:
    """The "\n"-terminated lines of `data`, one at a time (no list of them all)."""
    start = 0
    while start < len(data):
        end = data.index(b"\n", start)
        yield data[start:end]
        start = end + 1


def _first_diff(got: bytes, want: bytes) -> str:
    a, b = got.decode("utf-8", "replace").split("\n"), want.decode("utf-8", "replace").split("\n")
    for i, (x, y) in enumerate(zip(a, b, strict=False), 1):
        if x != y:
            return f"line {i} reads {x[:80]!r}, the records give {y[:80]!r}"
    return f"{len(a)} lines, the records give {len(b)}"
