"""`camaudit run` on a real clip must not load what only reports, packs, the hub or the
benches need: each such package costs the device resident memory (issue 21 item 7,
docs/tracks.md "Peak memory")."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

VIDEOS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "videos"

HEAVY = {
    "matplotlib", "reportlab", "pyhanko", "PIL", "jinja2", "fastapi", "starlette", "uvicorn",
    "segno", "onnx", "onnxruntime", "psycopg", "playwright", "mkdocs", "httpx", "pandas", "scipy",
    "sqlite_utils", "pluggy", "dateutil",
}


def test_camaudit_run_imports_no_heavy_package(tmp_path: Path):
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    clip = VIDEOS / "intel_head-pose-face-detection-female-and-male.gif"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "camaudit.cli", "run", "--source", str(clip),
         "--db", str(tmp_path / "j.db"), "--no-pace"],
        capture_output=True, text=True, timeout=240, env=env, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    # -X importtime writes one "import time: self | cumulative | name" line per module
    loaded = {line.rsplit("|", 1)[1].strip().split(".")[0]
              for line in proc.stderr.splitlines() if line.startswith("import time:") and "|" in line}
    assert {"camaudit", "cv2", "numpy"} <= loaded  # the run really happened and was traced
    assert loaded & HEAVY == set()
