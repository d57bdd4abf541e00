"""Notice, release and policy config: required fields named in errors, hours validated at
load time, the policy built from a config."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from camaudit.config import parse_config
from camaudit.core.policy import Moment
from camaudit.core.types import Detection
from camaudit.errors import ConfigError
from camaudit.pipeline.policy import policy_from_config

BASE = """\
device: {id: cafe-01, timezone: Europe/Berlin}
feeds:
  counter:
    source: clip.mp4
    privacy_zones: [[[0.8, 0.0], [1.0, 0.0], [1.0, 0.4], [0.8, 0.4]]]
  door: {source: door.mp4}
notices:
  entrance:
    controller: "Example Café Ltd, 1 Main St"
    purposes: ["security of the premises"]
    rights: "access, erasure, objection: ask the contact below"
    contact: "dpo@example.org"
    full_notice: "https://example.org/cctv"
    covers: [counter]
    hours: {mon-fri: "07:00-19:00", sat: "09:00-17:00"}
    retention_days: 30
    languages: [en, de]
    translations: {de: {purposes: ["Sicherheit der Räumlichkeiten"]}}
    watch: {feed: door, region: [0.1, 0.2, 0.5, 0.7], check_s: 10, grace_s: 60}
releases:
  - {ref: shoot-1, feeds: [door], start: "2026-05-01T09:00:00+02:00", end: "2026-05-01T12:00:00+02:00"}
"""


def ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)


def test_full_notice_config_loads():
    cfg = parse_config(BASE, "venue.yaml")
    n = cfg.notices["entrance"]
    assert n.watch is not None and n.watch.feed == "door" and n.watch.region == (0.1, 0.2, 0.5, 0.7)
    assert n.hours == {"mon-fri": "07:00-19:00", "sat": "09:00-17:00"}
    assert n.languages == ["en", "de"]
    assert cfg.releases[0].to_release().start_ms == ms(2026, 5, 1, 7, 0)


@pytest.mark.parametrize("field", ["controller", "purposes", "rights", "contact", "full_notice", "covers"])
def test_missing_required_field_is_named(field):
    lines = [ln for ln in BASE.splitlines() if not ln.strip().startswith(f"{field}:")]
    with pytest.raises(ConfigError) as err:
        parse_config("\n".join(lines), "venue.yaml")
    msg = str(err.value)
    assert f"notices.entrance.{field}: required key is missing" in msg
    assert msg.startswith("venue.yaml:")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ('hours: {mon-fri: "07:00-19:00", sat: "09:00-17:00"}', 'hours: {mon-fry: "07:00-19:00"}', "notices.entrance.hours"),
        ('hours: {mon-fri: "07:00-19:00", sat: "09:00-17:00"}', 'hours: {mon: "07:00-25:00"}', "not a valid time"),
        ("languages: [en, de]", "languages: [en, xx]", "language 'xx' has no sign wording"),
        ("translations: {de:", "translations: {fr:", "translations.fr"),
        ("region: [0.1, 0.2, 0.5, 0.7]", "region: [0.5, 0.2, 0.1, 0.7]", "notices.entrance.watch.region"),
        ("region: [0.1, 0.2, 0.5, 0.7]", "region: [0.1, 0.2, 1.5, 0.7]", "within 0..1"),
        ("grace_s: 60", "grace_s: -1", "notices.entrance.watch.grace_s"),
        ('purposes: ["security of the premises"]', "purposes: []", "notices.entrance.purposes"),
        ('controller: "Example Café Ltd, 1 Main St"', 'controller: ""', "notices.entrance.controller"),
        ("retention_days: 30", "retention_days: -3", "notices.entrance.retention_days"),
        ('start: "2026-05-01T09:00:00+02:00"', 'start: "2026-05-01T09:00:00"', "UTC offset"),
        ('end: "2026-05-01T12:00:00+02:00"', 'end: "2026-05-01T08:00:00+02:00"', "end must be after start"),
        ("{ref: shoot-1,", "{ref: 'bad ref',", "releases.0.ref"),
    ],
)
def test_bad_values_are_config_errors_naming_the_key(old, new, expected):
    assert old in BASE
    with pytest.raises(ConfigError, match=expected.replace(".", r"\.").replace("(", r"\(")):
        parse_config(BASE.replace(old, new), "venue.yaml")


def test_hours_error_points_at_the_line():
    text = BASE.replace('hours: {mon-fri: "07:00-19:00", sat: "09:00-17:00"}', 'hours: {mon-fry: "07:00-19:00"}')
    with pytest.raises(ConfigError) as err:
        parse_config(text, "venue.yaml")
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "mon-fry" in ln)
    assert f"venue.yaml:{line}:" in str(err.value)


def test_policy_from_config_uses_venue_time_zone_zones_and_releases():
    p = policy_from_config(parse_config(BASE))
    face = Detection(100, 100, 50, 50, 0.9)
    in_zone = Detection(1700, 50, 60, 60, 0.9)
    wed_0630_utc = ms(2026, 6, 10, 4, 30)  # 06:30 CEST: before the 07:00 opening in Berlin
    wed_0530_utc = ms(2026, 6, 10, 5, 30)  # 07:30 CEST: open
    seen = {"entrance": "VISIBLE"}
    assert p.decide(Moment("counter", wed_0630_utc, [face], (1920, 1080), seen)).reasons == ("outside_hours",)
    assert p.decide(Moment("counter", wed_0530_utc, [face], (1920, 1080), seen)).basis == "notice:entrance"
    assert p.decide(Moment("counter", wed_0530_utc, [in_zone], (1920, 1080), seen)).reasons == ("privacy_zone",)
    assert p.decide(Moment("door", ms(2026, 5, 1, 8, 0), [face], (640, 360))).basis == "release:shoot-1"
    assert p.decide(Moment("door", ms(2026, 5, 1, 10, 0), [face], (640, 360))).reasons == ("no_notice",)


def test_unknown_venue_time_zone_fails_when_the_policy_is_built():
    cfg = parse_config(BASE.replace("timezone: Europe/Berlin", "timezone: Europe/Atlantis"))
    with pytest.raises(ConfigError, match="device.timezone: unknown time zone 'Europe/Atlantis'"):
        policy_from_config(cfg)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("watch: {feed: door,", "watch: {feed: backdoor,", "notices.entrance.watch.feed: unknown feed 'backdoor'"),
        ("{ref: shoot-1, feeds: [door]", "{ref: shoot-1, feeds: [cellar]", "releases.0.feeds: unknown feed 'cellar'"),
    ],
)
def test_unknown_feed_references_fail_when_the_policy_is_built(old, new, expected):
    with pytest.raises(ConfigError, match=expected):
        policy_from_config(parse_config(BASE.replace(old, new)))
