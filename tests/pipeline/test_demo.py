"""`make demo` runs `camaudit demo`: device + embedded broker + hub, all on 127.0.0.1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pipeline_helpers import camaudit

pytestmark = pytest.mark.integration


def test_demo_shows_alert_and_hub_stores_every_event(tmp_path: Path):
    proc = camaudit("demo", "--data-dir", str(tmp_path), "--no-serve")
    out = proc.stdout
    assert "ALERT: 2 identifiable faces filmed on 'corridor'" in out
    assert re.search(r"verify .*: OK, (\d+) events", out)
    m = re.search(r"hub: (\d+) of (\d+) events from demo-01 verified and stored, 0 rejected", out)
    assert m and m.group(1) == m.group(2), out
    assert "hub alert:" in out
    # the hub listened on loopback only
    assert re.search(r"broker mqtt://127\.0\.0\.1:\d+, web page http://127\.0\.0\.1:\d+", out)
