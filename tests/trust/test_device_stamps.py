"""The running device asks the configured authority for a token over its checkpoints
(here a local `openssl ts` authority on 127.0.0.1); its export carries the token and
verify checks it offline against the pinned authority certificate."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest
from pipeline_helpers import camaudit
from tsa_peer import make_authority, serve

pytestmark = pytest.mark.integration


def test_device_run_stamps_its_final_checkpoint(shared_data: Path, tmp_path: Path) -> None:
    authority = make_authority(tmp_path / "tsa", "Venue Test TSA")
    clip = shared_data / "videos" / "NOFACE_opencv_tree.avi"
    data = tmp_path / "data"
    with serve(authority) as url:
        cfg = tmp_path / "c.yaml"
        cfg.write_text(
            f"device: {{id: stamp-01, data_dir: {data}, retention: uk-31d}}\n"
            f"timestamps: {{urls: ['{url}'], timeout_s: 20}}\n"
            f"feeds:\n  cam: {{source: '{clip}'}}\n"
        )
        camaudit("run", "--config", str(cfg), "--db", str(data / "journal.db"))
    tokens = sorted((data / "timestamps").glob("*.tsr"))
    assert tokens, "no token stored"
    pack = tmp_path / "pack.zip"
    camaudit("export", "--db", str(data / "journal.db"), "--out", str(pack))
    assert any(n.startswith("timestamps/") for n in zipfile.ZipFile(pack).namelist())
    # the authority is stopped: the check is offline
    out = camaudit("verify", str(pack), "--tsa-cert", str(authority.ca), check=False)
    assert out.returncode == 3, out.stdout + out.stderr  # no --pubkey: consistent, origin unproven
    stamped = int(tokens[-1].name.split(".")[0])
    assert f"records up to seq {stamped} existed by {time.strftime('%Y-%m-%d', time.gmtime())}" in out.stdout
    assert "(CN=Venue Test TSA)" in out.stdout
