"""`device:` section: who this appliance is and where it keeps its journal."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

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
    retention_days: int = Field(default=30, ge=1, description="Prune acknowledged events older than this.")
    checkpoint_every: int = Field(default=100, ge=1, description="Signed checkpoint every N events.")
    checkpoint_s: int = Field(default=300, ge=1, description="... or every T seconds, whichever first.")
