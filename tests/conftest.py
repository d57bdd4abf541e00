"""Shared test fixtures: where the real data lives, and temp dirs."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (ROOT / ".." / "shared" / "data").resolve()
VIDEOS = SHARED_DATA / "videos"
WIDER = SHARED_DATA / "wider_dev"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (present in CI); tests that need it skip with a reason elsewhere."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not found at {SHARED_DATA}")
    return SHARED_DATA


from pgserver import hub_db, pg_server, pg_url  # noqa: E402,F401  (a real PostgreSQL, started on demand)
