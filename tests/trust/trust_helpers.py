"""Helpers shared by the trust tests."""

from __future__ import annotations

import pytest

from camaudit.cli import main


def verify(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    """`camaudit verify ARGS` run in-process: (exit code, stdout + stderr)."""
    try:
        main(["verify", *args])
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out + out.err
