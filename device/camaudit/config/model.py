"""The whole config file: one section per module, unknown keys rejected."""

from __future__ import annotations

from pydantic import Field, model_validator

from camaudit.config.base import Section
from camaudit.config.capture import CaptureConfig
from camaudit.config.detector import DetectorConfig
from camaudit.config.device import DeviceConfig
from camaudit.config.feeds import FeedConfig
from camaudit.config.mqtt import MqttConfig
from camaudit.config.notices import NoticeConfig
from camaudit.config.releases import ReleaseConfig


class Config(Section):
    device: DeviceConfig = Field(default_factory=DeviceConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    capture: CaptureConfig = Field(default_factory=CaptureConfig)
    feeds: dict[str, FeedConfig] = Field(min_length=1)
    notices: dict[str, NoticeConfig] = Field(default_factory=dict)
    releases: list[ReleaseConfig] = Field(default_factory=list)
    mqtt: MqttConfig | None = Field(default=None, description="Omit to run without publishing.")

    @model_validator(mode="after")
    def _references_exist(self) -> Config:
        for name in self.feeds:
            if not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"feed name {name!r}: use letters, digits, '_' or '-'")
        for nid, notice in self.notices.items():
            for feed in notice.covers:
                if feed not in self.feeds:
                    raise ValueError(f"notices.{nid}.covers: unknown feed {feed!r}")
            if notice.watch is not None and notice.watch.feed not in self.feeds:
                raise ValueError(f"notices.{nid}.watch.feed: unknown feed {notice.watch.feed!r}")
        for i, rel in enumerate(self.releases):
            for feed in rel.feeds:
                if feed not in self.feeds:
                    raise ValueError(f"releases.{i}.feeds: unknown feed {feed!r}")
        return self
