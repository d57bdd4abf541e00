"""`releases:` section: declared sessions covered by written releases (e.g. a research shoot
where every participant signed, BIPA-style). During one, captures on its feeds are consented
with basis `release:<ref>` (privacy zones still apply). Times need a UTC offset.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator, model_validator

from camaudit.config.base import Section
from camaudit.core.policy import Release


class ReleaseConfig(Section):
    ref: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$",
        description="Reference of the signed releases (e.g. a study or shoot id): up to 64 letters, "
        "digits, '_', '.', ':', '/' or '-'.",
    )
    feeds: list[str] = Field(min_length=1, description="Feeds the session covers.")
    start: datetime = Field(description="Start, ISO 8601 with UTC offset, e.g. 2026-05-01T09:00:00+02:00.")
    end: datetime = Field(description="End (exclusive), same form.")

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None or v.utcoffset() is None:
            raise ValueError("give a UTC offset (e.g. +02:00 or Z) so the time is unambiguous")
        return v

    @model_validator(mode="after")
    def _ordered(self) -> ReleaseConfig:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    def to_release(self) -> Release:
        return Release(
            ref=self.ref,
            feeds=frozenset(self.feeds),
            start_ms=round(self.start.timestamp() * 1000),
            end_ms=round(self.end.timestamp() * 1000),
        )
