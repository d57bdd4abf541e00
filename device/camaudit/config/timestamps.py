"""`timestamps:` section: RFC 3161 time-stamp authorities the device asks for tokens over
its checkpoints (none by default: nothing is sent anywhere unless listed here)."""

from __future__ import annotations

from pydantic import Field, field_validator

from camaudit.config.base import Section


class TimestampsConfig(Section):
    urls: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="Time-stamp authority URLs (http/https, RFC 3161); each stamps every new checkpoint.",
    )
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="Per request.")
    every_s: int = Field(default=300, ge=10, description="How often the latest checkpoint is stamped.")

    @field_validator("urls")
    @classmethod
    def _http(cls, urls: list[str]) -> list[str]:
        for u in urls:
            if not u.startswith(("http://", "https://")) or any(c.isspace() for c in u):
                raise ValueError(f"{u!r}: a time-stamp authority URL is http:// or https://")
        return urls
