"""`notices:` section: the posted signs that make capture lawful (first layer, EDPB 3/2019).

Required (a notice without one is a config error naming it): controller, purposes, rights,
contact, full_notice (where the second layer is), covers (the feeds it covers).
Optional first-layer fields: impacts, legitimate_interest, dpo, hours, retention_days.
The texts are written in `languages[0]`; `translations` gives them in the other languages.
`watch` says which feed sees the posted sign and where: without it the device cannot see
the sign, and captures on the covered feeds are reported `notice_missing`.
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from camaudit.config.base import Section
from camaudit.core.policy import HoursError, parse_hours
from camaudit.notices.labels import SUPPORTED_LANGUAGES


class WatchConfig(Section):
    feed: str = Field(description="The feed whose camera sees the posted sign.")
    region: tuple[float, float, float, float] = Field(
        default=(0.0, 0.0, 1.0, 1.0),
        description="[x0, y0, x1, y1] of that feed's frame around the sign, relative 0..1; draw it about twice the sign's size (see `camaudit snapshot`).",
    )
    check_s: float = Field(default=10.0, gt=0, description="Look for the sign this often.")
    grace_s: float = Field(
        default=60.0, ge=0, description="MISSING only after this long without seeing it."
    )

    @field_validator("region")
    @classmethod
    def _region_valid(cls, r: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = r
        if not all(0.0 <= v <= 1.0 for v in r):
            raise ValueError("region values must be within 0..1 (relative to the frame)")
        if not (x0 < x1 and y0 < y1):
            raise ValueError("region must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1")
        return r


class NoticeText(Section):
    """The notice's own texts in one more language (missing ones print in languages[0])."""

    controller: str | None = None
    purposes: list[str] | None = None
    rights: str | None = None
    impacts: str | None = None
    legitimate_interest: str | None = None


class NoticeConfig(Section):
    controller: str = Field(min_length=1, description="Who is responsible (name, address).")
    purposes: list[str] = Field(min_length=1)
    rights: str = Field(min_length=1, description="The data subjects' rights and how to use them.")
    contact: str = Field(min_length=1)
    full_notice: str = Field(min_length=1, description="Where the full (second-layer) notice is.")
    covers: list[str] = Field(min_length=1, description="Feeds this notice covers.")
    languages: list[str] = Field(
        default_factory=lambda: ["en"],
        min_length=1,
        description=f"Sign languages, first = language of the texts; one of {', '.join(SUPPORTED_LANGUAGES)}.",
    )
    impacts: str | None = Field(default=None, description="The greatest impacts of the processing.")
    legitimate_interest: str | None = Field(default=None, description="Where relied on.")
    dpo: str | None = Field(default=None, description="Data protection officer's contact.")
    hours: dict[str, str] | None = Field(
        default=None,
        description="Stated recording hours, venue local time, e.g. {mon-fri: '07:00-19:00'}; omit for always.",
    )
    retention_days: int | None = Field(default=None, ge=0, description="Retention the notice states.")
    translations: dict[str, NoticeText] = Field(default_factory=dict)
    watch: WatchConfig | None = None
    public_page: str | None = Field(
        default=None,
        description="This notice's public page on the hub (https://HUB/public/DEVICE/NOTICE): the sign's QR "
        "then leads there instead of full_notice (docs/public-page.md). Not part of the printed hash.",
    )

    @field_validator("public_page")
    @classmethod
    def _page_is_web(cls, v: str | None) -> str | None:
        if v is not None and not (v.startswith(("https://", "http://")) and " " not in v and "#" not in v):
            raise ValueError("public_page must be an http(s):// address without '#'")
        return v

    @field_validator("purposes")
    @classmethod
    def _purposes_nonempty(cls, v: list[str]) -> list[str]:
        if any(not p.strip() for p in v):
            raise ValueError("a purpose is empty")
        return v

    @field_validator("languages")
    @classmethod
    def _languages_known(cls, v: list[str]) -> list[str]:
        for lang in v:
            if lang not in SUPPORTED_LANGUAGES:
                raise ValueError(
                    f"language {lang!r} has no sign wording; use one of {', '.join(SUPPORTED_LANGUAGES)}"
                )
        if len(set(v)) != len(v):
            raise ValueError("a language is listed twice")
        return v

    @field_validator("hours")
    @classmethod
    def _hours_parse(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        if v is not None:
            try:
                parse_hours(v)
            except HoursError as exc:
                raise ValueError(str(exc)) from None
        return v

    @model_validator(mode="after")
    def _translations_match(self) -> NoticeConfig:
        for lang in self.translations:
            if lang not in self.languages[1:]:
                raise ValueError(
                    f"translations.{lang}: not one of the other languages {self.languages[1:]}"
                )
        return self
