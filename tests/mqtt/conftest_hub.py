"""Fixtures shared by tests/mqtt and tests/hub: a real mosquitto per test, hubs that stop themselves."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from brokers import Mosquitto, require_mosquitto

from camaudit.config.hub import HubConfig
from camaudit.hub.run import HubHandle, start_hub


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    require_mosquitto()
    m = Mosquitto(tmp_path / "mosquitto").start()
    yield m
    m.stop()


@pytest.fixture
def hubs(tmp_path: Path) -> Iterator[list[HubHandle]]:
    """Collects started hubs and stops them at the end (call `start(**cfg)`)."""
    started: list[HubHandle] = []
    yield started
    for h in started:
        h.stop()


def hub_config(tmp_path: Path, **kw: object) -> HubConfig:
    base: dict[str, object] = {
        "data_dir": tmp_path / "hub",
        "broker_listen": "127.0.0.1:0",
        "listen": "127.0.0.1:0",
        "web": False,
    }
    base.update(kw)
    return HubConfig.model_validate(base)


@pytest.fixture
def make_hub(tmp_path: Path, hubs: list[HubHandle]):
    def make(**kw: object) -> HubHandle:
        h = start_hub(hub_config(tmp_path, **kw))
        hubs.append(h)
        return h

    return make
