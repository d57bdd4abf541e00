"""Fixtures for MQTT tests (defined in conftest_hub.py, shared with tests/hub)."""

from __future__ import annotations

from conftest_hub import hub_config, hubs, make_hub, mosquitto  # noqa: F401
