"""`camaudit verify PACK.zip`: check an evidence pack offline (no device, no hub).

Checks, in order, stopping at the first problem (named with the file and line):
the zip holds exactly the manifest's files plus manifest.json / manifest.sig; every
file's sha256; the manifest's Ed25519 signature by the device key (or by `--pubkey`, which
must also be the key device.json names); every record's hash, signature, device and link
from device.json's start hash, with no gap; every evidence frame's name is its sha256 and
is referenced by a record.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camaudit.core.chain import ChainVerifier
from camaudit.core.record import Event, RecordError
from camaudit.errors import VerifyError
from camaudit.store.pack import (
    DEVICE,
    EVENTS,
    MANIFEST,
    PACK_FORMAT,
    SIGNATURE,
    evidence_refs,
)

MAX_MEMBER = 512 * 1024 * 1024  # refuse zip bombs before reading


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

    def summary(self) -> str:
        return (
            f"OK, evidence pack of device {self.device}: {self.events} events "
            f"(seq {self.first_seq}..{self.last_seq}), {self.checkpoints} checkpoints, "
            f"{self.evidence} evidence frame(s), device key {self.public_key[:16]}..."
            + (f", packed by hub key {self.signer_key[:16]}..." if self.signed_by == "hub" else "")
        )


def is_pack(path: Path) -> bool:
    return Path(path).is_file() and zipfile.is_zipfile(path)


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


def _read(z: zipfile.ZipFile, path: Path, name: str) -> bytes:
    try:
        info = z.getinfo(name)
    except KeyError:
        raise _fail(path, f"{name} is missing") from None
    if info.file_size > MAX_MEMBER:
        raise _fail(path, f"{name} is {info.file_size} bytes, more than a pack may hold")
    try:
        return z.read(name)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _fail(path, f"{name} cannot be read: {exc}") from None


def _json(path: Path, name: str, data: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise _fail(path, f"{name} is not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise _fail(path, f"{name} is not a JSON object")
    return doc


def verify_pack(path: Path, public_key: bytes | None = None) -> PackReport:
    """Check the pack at `path`; VerifyError naming the first problem."""
    path = Path(path)
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise _fail(path, f"not a readable zip: {exc}") from None
    with z:
        manifest_bytes = _read(z, path, MANIFEST)
        manifest = _json(path, MANIFEST, manifest_bytes)
        if manifest.get("format") != PACK_FORMAT:
            raise _fail(path, f"{MANIFEST}: not a camaudit evidence pack")
        files = manifest.get("files")
        if not isinstance(files, dict) or not files:
            raise _fail(path, f"{MANIFEST}: no file list")
        names = set(z.namelist())
        extra = names - set(files) - {MANIFEST, SIGNATURE}
        if extra:
            raise _fail(path, f"files not in the manifest: {', '.join(sorted(extra))}")
        contents: dict[str, bytes] = {}
        for name, digest in sorted(files.items()):
            data = _read(z, path, name)
            if hashlib.sha256(data).hexdigest() != digest:
                raise _fail(path, f"{name} was changed (sha256 differs from the manifest)")
            contents[name] = data
        sig = _read(z, path, SIGNATURE).decode("ascii", "replace").strip()

    device_doc = _json(path, DEVICE, contents.get(DEVICE, b""))
    try:
        key = bytes.fromhex(str(device_doc.get("public_key", "")))
    except ValueError:
        key = b""
    if len(key) != 32:
        raise _fail(path, f"{DEVICE}: no valid Ed25519 public key")
    if manifest.get("public_key") != key.hex():
        raise _fail(path, f"{MANIFEST} and {DEVICE} name different keys")
    if public_key is not None and public_key != key:
        raise _fail(path, f"signed by key {key.hex()[:16]}..., not the expected {public_key.hex()[:16]}...")
    signed_by = manifest.get("signed_by", "device")
    try:
        signer = bytes.fromhex(str(manifest.get("signer_key", key.hex())))
    except ValueError:
        signer = b""
    if signed_by == "device" and signer != key:
        raise _fail(path, f"{MANIFEST}: signed_by device, but signer_key is not the device key")
    if signed_by not in ("device", "hub") or len(signer) != 32:
        raise _fail(path, f"{MANIFEST}: unknown signer")
    if not _verify_sig(signer, sig, manifest_bytes):
        raise _fail(path, f"{SIGNATURE} is not the {signed_by} key's signature of {MANIFEST}")

    device = str(device_doc.get("device", ""))
    first_seq, start_hash = device_doc.get("first_seq"), device_doc.get("start_hash")
    if not isinstance(first_seq, int) or first_seq < 1 or not isinstance(start_hash, str):
        raise _fail(path, f"{DEVICE}: first_seq / start_hash missing")
    chain = ChainVerifier(key, device=device, start_seq=first_seq - 1, start_hash=start_hash)
    referenced: set[str] = set()
    lines = contents.get(EVENTS, b"").decode("utf-8", "replace").splitlines()
    if not lines:
        raise _fail(path, f"{EVENTS} holds no record")
    for lineno, line in enumerate(lines, 1):
        try:
            ev = Event.from_json(line)
        except RecordError as exc:
            raise _fail(path, f"{EVENTS}:{lineno}: unreadable record: {exc}") from None
        if not chain.add(ev):
            raise _fail(path, f"{EVENTS}:{lineno}: {chain.first_bad}")
        referenced.update(evidence_refs(ev))
    report = chain.report()
    if report.head_seq != device_doc.get("last_seq"):
        raise _fail(path, f"{EVENTS} ends at seq {report.head_seq}, {DEVICE} says {device_doc.get('last_seq')}")
    frames = [n for n in contents if n.startswith("evidence/")]
    for name in frames:
        digest = name[len("evidence/") :].removesuffix(".jpg")
        if hashlib.sha256(contents[name]).hexdigest() != digest:
            raise _fail(path, f"{name}: content does not match its name")
        if digest not in referenced:
            raise _fail(path, f"{name}: no record references this frame")
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
    )
