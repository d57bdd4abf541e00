"""Time-stamp tokens kept next to a journal: `<data_dir>/timestamps/<seq>.<id>.tsr` (DER).

`<seq>` is the record whose hash the token stamps (ten digits, so names sort by seq);
`<id>` is the first 16 hex digits of the token's SHA-256, so two authorities' tokens for
one record sit side by side. Packs carry the same names under `timestamps/`."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from camaudit.errors import JournalError

DIR = "timestamps"
NAME = re.compile(r"^(\d{10})\.([0-9a-f]{16})\.tsr$")


def token_name(seq: int, der: bytes) -> str:
    return f"{seq:010d}.{hashlib.sha256(der).hexdigest()[:16]}.tsr"


def seq_of(name: str) -> int | None:
    m = NAME.match(Path(name).name)
    return int(m.group(1)) if m else None


def save_token(folder: Path, seq: int, der: bytes) -> Path:
    """Write one token durably (temp file, fsync, rename); returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / token_name(seq, der)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            f.write(der)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise JournalError(f"time-stamp token {path}: cannot write: {exc.strerror or exc}") from None
    return path


def tokens_between(folder: Path, lo: int, hi: int) -> dict[str, bytes]:
    """name -> DER of every stored token over a record with lo <= seq <= hi."""
    out: dict[str, bytes] = {}
    if not folder.is_dir():
        return out
    for p in sorted(folder.iterdir()):
        seq = seq_of(p.name)
        if seq is not None and lo <= seq <= hi:
            try:
                out[p.name] = p.read_bytes()
            except OSError:
                continue  # unreadable: not carried (verify would not vouch for it anyway)
    return out


def last_stamped(folder: Path) -> int:
    """The highest seq a stored token stamps (0: none)."""
    if not folder.is_dir():
        return 0
    return max((s for p in folder.iterdir() if (s := seq_of(p.name)) is not None), default=0)
