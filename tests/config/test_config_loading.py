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
    assert cfg.detector.min_face_px == 32
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
