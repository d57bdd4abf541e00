"""The small JSON file the running daemon rewrites every few seconds in its data folder.

Written atomically (temporary file in the same folder, fsync, rename), so a reader sees the
old or the new version, never half of one. `camaudit status` reads it; it is bounded in
size when read, since anyone able to write the data folder could put anything there.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from camaudit.errors import CamauditError

STATUS_NAME = "status.json"
MAX_BYTES = 256 * 1024


class StatusError(CamauditError):
    """The status file or the data folder cannot be read."""


def write_status(data_dir: Path, doc: dict[str, Any]) -> Path:
    path = Path(data_dir) / STATUS_NAME
    fd, tmp = tempfile.mkstemp(prefix=".status.", suffix=".tmp", dir=data_dir)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(doc, f, sort_keys=True, separators=(",", ":"))
            f.flush()
            os.fchmod(f.fileno(), 0o640)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def read_status(data_dir: Path) -> dict[str, Any] | None:
    """The last status the daemon wrote; None when there is none (never started here)."""
    path = Path(data_dir) / STATUS_NAME
    try:
        with open(path, "rb") as f:
            raw = f.read(MAX_BYTES + 1)
    except FileNotFoundError:
        return None
    except PermissionError:
        raise StatusError(
            f"{path}: permission denied (run as root or as the camaudit user: sudo camaudit status)"
        ) from None
    except OSError as exc:
        raise StatusError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise StatusError(f"{path}: larger than {MAX_BYTES} bytes, not a camaudit status file")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StatusError(f"{path}: not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("v") != 1:
        raise StatusError(f"{path}: field 'v': not a version 1 camaudit status file")
    return doc
