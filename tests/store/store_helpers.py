"""Helpers for the journal tests: capture bodies and raw access to a journal file."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

T0 = 1_795_651_200_000  # 2026-11-26 00:00:00 UTC, in ms


def capture_body(
    cid: str = "c-000001", *, frames: int = 1, start: int = T0, end: int | None = None
) -> dict[str, Any]:
    return {
        "capture": cid,
        "start": start,
        "end": end,
        "frames": frames,
        "max_faces": 2,
        "distinct_tracks": 3,
        "identifiable_tracks": 1,
        "face_px": {"min": 18, "median": 41, "max": 96},
        "verdict": "unconsented",
        "reasons": ["no_notice"],
        "basis": None,
        "evidence": [],
    }


@contextmanager
def raw(path: Path) -> Iterator[sqlite3.Connection]:
    """A plain read-write connection, as an attacker with file access would have."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    try:
        yield conn
    finally:
        conn.close()


def clone(template: Path, dest_dir: Path) -> Path:
    """Copy a closed journal and its key (mode kept) into dest_dir; returns the new db path."""
    for name in (template.name, "device.key"):
        shutil.copy2(template.parent / name, dest_dir / name)
    return dest_dir / template.name


def run_verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`camaudit verify ARGS` run in-process: (exit code, stdout, stderr)."""
    from camaudit.cli import main

    try:
        main(["verify", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err
