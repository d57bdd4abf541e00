"""`public:` section of the hub config: the public notice pages (docs/public-page.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from camaudit.config.base import Section


class PublicCamera(Section):
    """One camera's OpenStreetMap facts (the hub cannot see them in the records)."""

    surveillance: Literal["public", "outdoor", "indoor"] = Field(
        default="public", description="OSM `surveillance=`: what the camera films.")
    zone: str | None = Field(default=None, max_length=64,
                             description="OSM `surveillance:zone=` (town, parking, shop, ...).")
    direction: int | None = Field(default=None, ge=0, le=359,
                                  description="OSM `camera:direction=`: degrees from north it looks to.")
    mount: str | None = Field(default=None, max_length=32, description="OSM `camera:mount=` (wall, pole, ceiling).")


class PublicConfig(Section):
    url: str | None = Field(
        default=None, description="The hub's public address (https://hub.example.org); the notice pages "
        "are at URL/public/DEVICE/NOTICE. Without it, links are made from the request's address.")
    operator: str | None = Field(default=None, max_length=200,
                                 description="OSM `operator=` (default: the notice's controller).")
    cameras: dict[str, PublicCamera] = Field(
        default_factory=dict, description="Per camera, keyed 'DEVICE/FEED': its OSM facts.")

    @field_validator("url")
    @classmethod
    def _web(cls, v: str | None) -> str | None:
        if v is not None and not (v.startswith(("https://", "http://")) and " " not in v):
            raise ValueError("public.url must be an http(s):// address")
        return v.rstrip("/") if v else v
