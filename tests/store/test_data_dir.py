"""An unusable data_dir is a one-line error naming it, never a traceback (issue 12)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _run(cfg: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "camaudit.cli", "run", "--config", str(cfg)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


def test_data_dir_under_a_file_is_one_line(tmp_path: Path, shared_data: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    clip = shared_data / "videos" / "NOFACE_opencv_tree.avi"
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"device: {{id: dd-01, data_dir: '{blocker}/data'}}\nfeeds:\n  cam: {{source: '{clip}'}}\n")
    proc = _run(cfg)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == f"camaudit: error: data_dir {blocker}/data: cannot create it: Not a directory"
