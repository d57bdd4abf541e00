"""Reading an evidence pack's zip safely: every member is checked before any is read.

Checked from the central directory alone, before one byte is inflated: the file is a zip
(magic bytes), member count, names (relative, no `..`, no backslash, no drive, no NUL, no
duplicates), no symlink entries, only stored/deflated members, each member's uncompressed
size against its own limit, the total, and the compression ratio. Folder entries
(`evidence/`, as `zip -r` adds them) are ignored. Members are then read in fixed-size
chunks, and zipfile stops inflating at the declared size, so a lying header cannot make a
member larger than its checked size.

Memory bound: only the small JSON members, the records (at most MAX_RECORDS_BYTES) and the
derived files (at most MAX_DERIVED_BYTES each) are held, and the evidence frames only
under pack_limits.INLINE_FRAMES_BYTES in all (to regenerate the reports that show them);
past that a frame is hashed in CHUNK-byte pieces and never held.
"""

from __future__ import annotations

import hashlib
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_MEMBERS = 20_000
MAX_NAME = 200
MAX_JSON_BYTES = 1 << 20  # manifest.json, manifest.sig, device.json
MAX_RECORDS_BYTES = 64 << 20  # events.jsonl
MAX_DERIVED_BYTES = 20 << 20  # report.md and other files derived from the records (16 MiB
# before issue 20: report.html of frames just under pack_limits.INLINE_FRAMES_BYTES, 4/3 of
# them in base64, did not fit with its text)
MAX_FRAME_BYTES = 16 << 20  # one evidence frame
MAX_TOTAL_BYTES = 2 << 30  # all members, uncompressed
MAX_RATIO = 100  # uncompressed / compressed, for members above RATIO_FROM bytes
RATIO_FROM = 1 << 20
CHUNK = 1 << 20
ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a first member, or an empty archive


class PackReadError(Exception):
    """The zip itself is unusable or unsafe (the message says what and where)."""


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    info: zipfile.ZipInfo


def looks_like_zip(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) in ZIP_MAGIC
    except OSError:
        return False


def _name_problem(name: str) -> str | None:
    if not name or len(name) > MAX_NAME:
        return "an empty or over-long name"
    if "\x00" in name or "\\" in name or name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "an absolute or non-portable path"
    parts = name.rstrip("/").split("/")
    if any(p in ("", ".", "..") for p in parts):
        return "a path with '..', '.' or an empty part"
    return None


def limit_for(name: str, records: str, small: frozenset[str], derived: frozenset[str]) -> int:
    if name == records:
        return MAX_RECORDS_BYTES
    if name in small:
        return MAX_JSON_BYTES
    if name in derived:
        return MAX_DERIVED_BYTES
    return MAX_FRAME_BYTES


def check_layout(z: zipfile.ZipFile) -> None:
    """Every byte of the file belongs to the archive (issue 20): the first entry starts at
    byte 0 and the central directory sits where the end record says (nothing prepended:
    a "fake zip" before the real one), each entry follows the one before with nothing
    between them, the end record is the file's last bytes, and no archive or entry comment
    (text an unzip tool shows that no signature covers), and each local header gives the
    method, CRC and sizes the central directory gives (a reader walking the local headers
    sees the same files). The end record is found by zipfile's own reader; this only
    compares the offsets and fields it and the local headers give."""
    name = z.filename
    if name is None:
        raise PackReadError("the zip has no file name to check its layout")
    infos = sorted(z.infolist(), key=lambda i: i.header_offset)
    with open(name, "rb") as f:
        endrec = zipfile._EndRecData(f)  # type: ignore[attr-defined]  # zipfile's own reader
        if endrec is None:
            raise PackReadError("no end of central directory record (damaged or truncated zip)")
        size = f.seek(0, 2)
        at, size_cd, offset_cd, comment = endrec[9], endrec[5], endrec[6], endrec[8]
        tail = size - at - 22
        if comment or tail:
            raise PackReadError(
                f"{tail} byte(s) after the zip's end record (trailing data or an archive comment): "
                "a pack is exactly the zip export writes"
            )
        cd_end = at - (56 + 20 if endrec[0] == zipfile.stringEndArchive64 else 0)  # type: ignore[attr-defined]
        before = cd_end - size_cd - offset_cd
        if before:
            raise PackReadError(
                f"{before} byte(s) before the zip's first entry (data or another zip prepended): "
                "a pack starts with its first entry"
            )
        pos, descriptor = 0, False
        for info in infos:
            gap = info.header_offset - pos
            if info.comment:
                raise PackReadError(f"zip entry {info.filename[:80]!r} carries a comment")
            if gap < 0:
                raise PackReadError(f"zip entry {info.filename[:80]!r} overlaps the entry before it")
            if gap and not (descriptor and gap in (12, 16, 20, 24)):
                raise PackReadError(
                    f"{gap} byte(s) at offset {pos} of the zip belong to no entry (data hidden between entries)"
                )
            f.seek(info.header_offset)
            head = f.read(30)
            if len(head) != 30 or head[:4] != b"PK\x03\x04":
                raise PackReadError(f"zip entry {info.filename[:80]!r}: no local header at its offset")
            _, _, flags, method, _, _, crc, csize, usize, n, m = struct.unpack("<4s5H3L2H", head)
            local = (method, crc, csize, usize) if not flags & 0x8 else (method,)
            central = (info.compress_type, info.CRC, info.compress_size, info.file_size)[: len(local)]
            if any(a != b and a != 0xFFFFFFFF for a, b in zip(local, central, strict=True)):
                # a reader walking local headers (a streaming unzip) would see other content
                raise PackReadError(f"zip entry {info.filename[:80]!r}: its local header disagrees with the central directory")
            pos = info.header_offset + 30 + n + m + info.compress_size
            descriptor = bool(info.flag_bits & 0x8)
        gap = offset_cd - pos
        if gap and not (descriptor and gap in (12, 16, 20, 24)):
            raise PackReadError(
                f"{gap} byte(s) at offset {pos} of the zip belong to no entry (data hidden before the central directory)"
            )


def open_members(
    z: zipfile.ZipFile, *, records: str, small: frozenset[str], derived: frozenset[str]
) -> dict[str, Member]:
    """Check every entry of `z` (see the module doc and check_layout); return the file
    members by name."""
    infos = z.infolist()
    if len(infos) > MAX_MEMBERS:
        raise PackReadError(f"{len(infos)} zip entries, more than a pack may hold ({MAX_MEMBERS})")
    check_layout(z)
    out: dict[str, Member] = {}
    total = 0
    for info in infos:
        name = info.filename
        problem = _name_problem(name)
        if problem:
            raise PackReadError(f"zip entry {name[:80]!r}: {problem}")
        mode = (info.external_attr >> 16) & 0xFFFF
        if stat.S_ISLNK(mode):
            raise PackReadError(f"zip entry {name!r} is a symbolic link")
        if info.is_dir():
            if info.file_size:
                raise PackReadError(f"zip entry {name!r} is a folder with content")
            continue  # folder entries (zip -r) carry nothing
        if name in out:
            raise PackReadError(f"zip entry {name!r} appears twice")
        if info.flag_bits & 0x1:
            raise PackReadError(f"zip entry {name!r} is encrypted")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise PackReadError(f"zip entry {name!r}: compression method {info.compress_type} not allowed")
        limit = limit_for(name, records, small, derived)
        if info.file_size > limit:
            raise PackReadError(f"{name} is {info.file_size} bytes uncompressed, more than {limit} allowed")
        if info.file_size > RATIO_FROM and info.file_size > MAX_RATIO * max(1, info.compress_size):
            raise PackReadError(
                f"{name} inflates {info.file_size // max(1, info.compress_size)}x "
                f"(more than {MAX_RATIO}x): refused as a zip bomb"
            )
        total += info.file_size
        if total > MAX_TOTAL_BYTES:
            raise PackReadError(f"members total more than {MAX_TOTAL_BYTES} bytes uncompressed")
        out[name] = Member(name, info.file_size, info)
    return out


def chunks(z: zipfile.ZipFile, m: Member) -> Iterator[bytes]:
    """The member's bytes in CHUNK pieces; never more than its checked size."""
    read = 0
    try:
        with z.open(m.info) as f:
            while True:
                part = f.read(CHUNK)
                if not part:
                    break
                read += len(part)
                if read > m.size:
                    raise PackReadError(f"{m.name} holds more than its declared {m.size} bytes")
                yield part
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, ValueError, RuntimeError) as exc:
        raise PackReadError(f"{m.name} cannot be read (damaged or truncated zip): {exc}") from None


def read_all(z: zipfile.ZipFile, m: Member) -> tuple[bytes, str]:
    """(content, sha256 hex) of a member whose size was checked against its limit."""
    h = hashlib.sha256()
    parts = []
    for part in chunks(z, m):
        h.update(part)
        parts.append(part)
    return b"".join(parts), h.hexdigest()


def hash_only(z: zipfile.ZipFile, m: Member) -> str:
    h = hashlib.sha256()
    for part in chunks(z, m):
        h.update(part)
    return h.hexdigest()
