from pathlib import Path

import pytest

from camaudit.config import load_config, parse_config
from camaudit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("path", sorted((ROOT / "config").glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_config_is_valid(path: Path):
    cfg = load_config(path)
    assert cfg.feeds


def test_defaults_fill_in():
    cfg = parse_config("feeds: {cam: {source: x.mp4}}")
    assert cfg.detector.min_face_px == 28
    # the config's default is the pure core's default (core/identify.py IdentifyRule)
    from camaudit.core.identify import IdentifyRule

    assert cfg.detector.min_face_px == IdentifyRule().min_face_px
    assert cfg.detector.model == "yunet-int8-640"
    assert cfg.feeds["cam"].evidence == "none"


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as ei:
        parse_config(text, "venue.yaml")
    return str(ei.value).splitlines()


def test_unknown_key_names_file_line_and_key():
    text = "device: {id: cafe-01}\nfeeds:\n  counter:\n    source: a.mp4\n    fsp: 5\n"
    assert errors_of(text) == [
        "venue.yaml:5: feeds.counter.fsp: unknown key (check spelling; see `camaudit config-schema`)"
    ]


def test_one_line_per_problem():
    text = "detector:\n  min_score: 3\n  threads: 0\nfeeds:\n  a: {source: x}\n"
    lines = errors_of(text)
    assert len(lines) == 2
    assert lines[0].startswith("venue.yaml:2: detector.min_score:")
    assert lines[1].startswith("venue.yaml:3: detector.threads:")


def test_missing_required_key():
    assert errors_of("device: {id: x}\n") == ["venue.yaml:1: feeds: required key is missing"]


def test_bad_yaml_names_line():
    (line,) = errors_of("feeds:\n  a: {source: x\n  b: 1\n")
    assert line.startswith("venue.yaml:") and "invalid YAML" in line


def test_zone_outside_frame_rejected():
    text = "feeds:\n  a:\n    source: x\n    privacy_zones: [[[0, 0], [1.5, 0], [1, 1]]]\n"
    (line,) = errors_of(text)
    assert line.startswith("venue.yaml:4: feeds.a.privacy_zones:") and "outside 0..1" in line


def test_bad_device_id():
    (line,) = errors_of("device: {id: 'cafe 01/#'}\nfeeds: {a: {source: x}}\n")
    assert line.startswith("venue.yaml:1: device.id:")


def test_missing_file(tmp_path: Path):
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "nope.yaml")


def test_references_to_unknown_feeds_are_errors():
    notice = (
        "notices:\n  sign:\n    controller: c\n    purposes: [p]\n    rights: r\n    contact: c\n"
        "    full_notice: f\n    covers: [cam]\n    watch: {feed: door, region: [0, 0, 1, 1]}\n"
    )
    (line,) = errors_of("feeds: {cam: {source: x}}\n" + notice)
    assert "notices.sign.watch.feed: unknown feed 'door'" in line


CROSS = """\
device: {id: cafe-01}
feeds:
  counter: {source: a.mp4}
  door: {source: b.mp4}
notices:
  sign:
    controller: c
    purposes: [p]
    rights: r
    contact: c
    full_notice: f
    covers:
      - counter
      - countr
    watch: {feed: dor, region: [0, 0, 1, 1]}
releases:
  - ref: s1
    feeds: [cellar]
    start: 2026-05-01T09:00:00+02:00
    end: 2026-05-01T10:00:00+02:00
"""


def test_every_unknown_feed_reported_at_once_at_its_own_line():
    lines = errors_of(CROSS)
    assert [ln.split(": ", 2)[:2] for ln in lines] == [
        ["venue.yaml:14", "notices.sign.covers"],
        ["venue.yaml:15", "notices.sign.watch.feed"],
        ["venue.yaml:18", "releases.0.feeds"],
    ]
    assert "unknown feed 'countr'" in lines[0] and "configured feeds: counter, door" in lines[0]
    assert "the camera that should see this sign" in lines[1]
    assert "unknown feed 'cellar'" in lines[2]


def test_cross_field_errors_listed_with_field_errors():
    """A field error elsewhere (here device.id) must not hide the unknown feeds."""
    lines = errors_of(CROSS.replace("id: cafe-01", "id: 'bad id'").replace("door: {source: b.mp4}", "door: {source: b.mp4, fps: -1}"))
    keys = [ln.split(": ", 2)[1] for ln in lines]
    assert keys == ["device.id", "feeds.door.fps", "notices.sign.covers", "notices.sign.watch.feed",
                    "releases.0.feeds"]
    assert len(set(lines)) == len(lines)


def test_bad_feed_name_is_reported_at_its_line():
    (line,) = errors_of("feeds:\n  a: {source: x}\n  'b c': {source: y}\n")
    assert line.startswith("venue.yaml:3: feeds.b c: feed name 'b c'")


def test_config_model_api_reports_all_references():
    from pydantic import ValidationError

    from camaudit.config import Config

    with pytest.raises(ValidationError) as ei:
        Config.model_validate({"feeds": {"a": {"source": "x"}},
                               "releases": [{"ref": "r", "feeds": ["b", "c"],
                                             "start": "2026-05-01T09:00:00Z",
                                             "end": "2026-05-01T10:00:00Z"}]})
    text = str(ei.value)
    assert "unknown feed 'b'" in text and "unknown feed 'c'" in text


def test_a_value_of_the_wrong_form_is_explained_in_words():
    (line,) = errors_of("device: {id: 'cafe 01'}\nfeeds: {a: {source: x}}\n")
    assert line == ("venue.yaml:1: device.id: 'cafe 01' is not allowed here: Device id: letters, digits, "
                    "'_', '.', '-' (it names MQTT topics).")
    (line,) = errors_of("feeds: {a: {source: x}}\nreleases:\n  - {ref: 'a b', feeds: [a], "
                        "start: '2026-05-01T09:00:00Z', end: '2026-05-01T10:00:00Z'}\n")
    assert line.startswith("venue.yaml:3: releases.0.ref: 'a b' is not allowed here: Reference")
    assert "letters" in line
