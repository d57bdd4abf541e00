"""`device:` section: who this appliance is and where it keeps its journal."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator, model_validator

from camaudit.config.base import Section


class DeviceConfig(Section):
    id: str = Field(
        default="camaudit-01",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
        description="Device id: letters, digits, '_', '.', '-' (it names MQTT topics).",
    )
    data_dir: Path = Field(
        default=Path("/var/lib/camaudit"),
        description="Journal database, device key and evidence frames live here.",
    )
    venue: str | None = Field(
        default=None, description="The venue's name and address, as reports and letters show it."
    )
    timezone: str = Field(
        default="UTC", description="IANA time zone of the venue (notice hours are local time)."
    )
    retention_days: int = Field(default=30, ge=1, description="Prune acknowledged events older than this (unless `retention` names a profile).")
    retention: str | None = Field(
        default=None,
        description=(
            "A retention profile instead of retention_days: edpb-72h, at-72h, de-48h, "
            "fr-1month, es-1month, uk-31d (docs/trusted-evidence.md gives each one's source)."
        ),
    )
    checkpoint_every: int = Field(default=100, ge=1, description="Signed checkpoint every N events.")
    checkpoint_s: int = Field(default=300, ge=1, description="... or every T seconds, whichever first.")

    @field_validator("retention")
    @classmethod
    def _known_profile(cls, v: str | None) -> str | None:
        from camaudit.trust.retention import PRESETS

        if v is not None and v not in PRESETS:
            raise ValueError(f"unknown retention profile {v!r}; known: {', '.join(PRESETS)}")
        return v

    @model_validator(mode="after")
    def _one_period(self) -> DeviceConfig:
        # the profile replaces retention_days; a non-default retention_days beside it is a
        # contradiction (the loader re-validates dumps, so "was it given" cannot be asked)
        if self.retention is not None and self.retention_days != 30:
            raise ValueError("give retention (a profile) or retention_days, not both")
        return self
