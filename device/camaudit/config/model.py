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
from camaudit.config.references import ReferenceProblems, reference_problems
from camaudit.config.releases import ReleaseConfig
from camaudit.config.timestamps import TimestampsConfig


class Config(Section):
    device: DeviceConfig = Field(default_factory=DeviceConfig)
    detector: DetectorConfig = Field(default_factory=DetectorConfig)
    capture: CaptureConfig = Field(default_factory=CaptureConfig)
    feeds: dict[str, FeedConfig] = Field(min_length=1)
    notices: dict[str, NoticeConfig] = Field(default_factory=dict)
    releases: list[ReleaseConfig] = Field(default_factory=list)
    mqtt: MqttConfig | None = Field(default=None, description="Omit to run without publishing.")
    timestamps: TimestampsConfig = Field(default_factory=TimestampsConfig)

    @model_validator(mode="after")
    def _references_exist(self) -> Config:
        data = {
            "feeds": dict(self.feeds),
            "notices": {
                nid: {"covers": n.covers, "watch": {"feed": n.watch.feed} if n.watch else None}
                for nid, n in self.notices.items()
            },
            "releases": [{"feeds": r.feeds} for r in self.releases],
        }
        problems = reference_problems(data)
        if problems:
            raise ReferenceProblems(problems)
        return self
