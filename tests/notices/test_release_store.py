"""Release sessions: the CLI writes a real SQLite file, the daemon reads the active ones."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from camaudit.core.policy import Moment, Policy, Release
from camaudit.notices.command import release_cmd
from camaudit.notices.releases import (
    ReleaseError,
    active_releases,
    all_releases,
    db_path,
    release_changes,
    start_release,
    stop_release,
)

T0 = 1_790_000_000_000
MIN = 60_000


def test_no_store_means_no_release(tmp_path):
    assert active_releases(tmp_path / "nothing-here", T0) == []
    assert not (tmp_path / "nothing-here").exists()


def test_start_is_time_bounded_and_per_feed(tmp_path):
    r = start_release(tmp_path, "study-42", ["counter"], T0, minutes=30)
    assert r == Release("study-42", frozenset({"counter"}), T0, T0 + 30 * MIN)
    assert active_releases(tmp_path, T0) == [r]
    assert active_releases(tmp_path, T0 + 30 * MIN - 1) == [r]
    assert active_releases(tmp_path, T0 + 30 * MIN) == []  # end is exclusive
    assert active_releases(tmp_path, T0 - 1) == []
    p = Policy([])
    assert p.decide(Moment("counter", T0 + MIN, releases=active_releases(tmp_path, T0 + MIN))).basis == "release:study-42"
    assert p.decide(Moment("door", T0 + MIN, releases=active_releases(tmp_path, T0 + MIN))).reasons == ("no_notice",)


def test_stop_brings_the_end_forward(tmp_path):
    start_release(tmp_path, "shoot", ["counter", "door"], T0, minutes=60)
    stopped = stop_release(tmp_path, "shoot", T0 + 10 * MIN)
    assert [s.end_ms for s in stopped] == [T0 + 10 * MIN]
    assert active_releases(tmp_path, T0 + 10 * MIN) == []
    assert active_releases(tmp_path, T0 + 5 * MIN)[0].end_ms == T0 + 10 * MIN
    with pytest.raises(ReleaseError, match="no active release 'shoot'"):
        stop_release(tmp_path, "shoot", T0 + 11 * MIN)
    # the same reference may be used again once it has ended
    again = start_release(tmp_path, "shoot", ["door"], T0 + 20 * MIN, minutes=5)
    assert active_releases(tmp_path, T0 + 21 * MIN) == [again]
    assert len(all_releases(tmp_path)) == 2


@pytest.mark.parametrize(
    ("ref", "feeds", "minutes", "message"),
    [
        ("", ["counter"], 10, "reference"),
        ("x", [], 10, "at least one feed"),
        ("x", ["counter"], 0, "time-bounded"),
        ("x", ["counter"], 24 * 60 + 1, "time-bounded"),
    ],
)
def test_bad_starts(tmp_path, ref, feeds, minutes, message):
    with pytest.raises(ReleaseError, match=message):
        start_release(tmp_path, ref, feeds, T0, minutes)


def test_an_active_ref_cannot_be_started_twice(tmp_path):
    start_release(tmp_path, "s", ["counter"], T0, 10)
    with pytest.raises(ReleaseError, match="already active"):
        start_release(tmp_path, "s", ["door"], T0 + MIN, 10)


def test_reader_sees_writes_of_another_connection(tmp_path):
    """The daemon polls while the CLI writes: a plain second connection sees committed rows."""
    start_release(tmp_path, "a", ["counter"], T0, 10)
    con = sqlite3.connect(db_path(tmp_path))
    assert con.execute("SELECT count(*) FROM releases").fetchone()[0] == 1
    start_release(tmp_path, "b", ["door"], T0, 10)
    assert con.execute("SELECT count(*) FROM releases").fetchone()[0] == 2
    con.close()
    assert [r.ref for r in active_releases(tmp_path, T0 + 1)] == ["a", "b"]


def test_corrupt_store_is_a_release_error(tmp_path):
    db_path(tmp_path).write_bytes(b"this is not a database" * 100)
    with pytest.raises(ReleaseError, match="releases.db"):
        active_releases(tmp_path, T0)


def test_changes_between_polls_for_start_and_end_events():
    a = Release("a", frozenset({"counter"}), T0, T0 + 10 * MIN)
    b = Release("b", frozenset({"door"}), T0, T0 + 10 * MIN)
    a_stopped = Release("a", frozenset({"counter"}), T0, T0 + 2 * MIN)
    assert release_changes([], [a, b]) == ([a, b], [])
    assert release_changes([a, b], [b]) == ([], [a])
    assert release_changes([a], [a_stopped]) == ([], [])  # same session, end moved


CONFIG = """\
device: {{id: cafe-01, data_dir: {data}}}
feeds:
  counter: {{source: clip.mp4}}
  door: {{source: door.mp4}}
"""


def test_cli_start_list_stop(tmp_path):
    cfg = tmp_path / "venue.yaml"
    data = tmp_path / "data"
    cfg.write_text(CONFIG.format(data=data), encoding="utf-8")
    run = CliRunner().invoke
    res = run(release_cmd, ["start", "--feed", "counter", "--feed", "door", "--ref", "study-9", "--minutes", "15", "-c", str(cfg)])
    assert res.exit_code == 0, res.output + repr(res.exception)
    assert "release study-9 active on counter, door" in res.output
    import time

    now = int(time.time() * 1000)
    (r,) = active_releases(data, now)
    assert r.feeds == {"counter", "door"} and 14 * MIN < r.end_ms - now <= 15 * MIN
    res = run(release_cmd, ["list", "-c", str(cfg)])
    assert "study-9" in res.output and "active" in res.output
    res = run(release_cmd, ["start", "--feed", "cellar", "--ref", "x", "-c", str(cfg)])
    assert res.exit_code != 0 and "unknown feed 'cellar'" in str(res.exception)
    res = run(release_cmd, ["stop", "--ref", "study-9", "-c", str(cfg)])
    assert res.exit_code == 0 and "stopped" in res.output
    assert active_releases(data, int(time.time() * 1000) + 1) == []
