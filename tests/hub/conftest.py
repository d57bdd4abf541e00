"""Hub tests reuse the broker helpers and fixtures of tests/mqtt."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mqtt"))

from brokers import Mosquitto, require_mosquitto  # noqa: E402,F401
from conftest_hub import hub_config, hubs, make_hub, mosquitto  # noqa: E402,F401
