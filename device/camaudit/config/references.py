"""Cross-field checks of a config: every feed a notice or release names must exist.

Works on the raw YAML data (any shape: what is not a mapping or list is skipped, the
field validators report it) so that check-config can list these problems next to every
other one, each at the line of the offending name, all at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One cross-field problem: `at` locates its line, `key` is the dotted key shown."""

    at: KeyPath
    key: str
    message: str


class ReferenceProblems(ValueError):
    """Raised by Config's validator; carries every problem (the loader prints each)."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p.key}: {p.message}" for p in problems))


def _known(feeds: list[str]) -> str:
    return ", ".join(feeds) if feeds else "none"


def _feed_name_ok(name: str) -> bool:
    return name.replace("_", "").replace("-", "").isalnum()


def reference_problems(data: Any) -> list[Problem]:
    """Every unknown feed named in notices.*.covers, notices.*.watch.feed, releases.*.feeds,
    and every feed name that is not usable (letters, digits, '_', '-')."""
    if not isinstance(data, Mapping):
        return []
    raw_feeds = data.get("feeds")
    feeds = [str(f) for f in raw_feeds] if isinstance(raw_feeds, Mapping) else []
    known = set(feeds)
    out: list[Problem] = []
    for name in feeds:
        if not _feed_name_ok(name):
            out.append(Problem(("feeds", name), f"feeds.{name}",
                               f"feed name {name!r}: use letters, digits, '_' or '-'"))
    if not isinstance(raw_feeds, Mapping):
        return out  # a missing or broken feeds section is reported on its own
    notices = data.get("notices")
    if isinstance(notices, Mapping):
        for nid, notice in notices.items():
            if not isinstance(notice, Mapping):
                continue
            covers = notice.get("covers")
            if isinstance(covers, list):
                for i, feed in enumerate(covers):
                    if isinstance(feed, str) and feed not in known:
                        out.append(Problem(
                            ("notices", nid, "covers", i), f"notices.{nid}.covers",
                            f"unknown feed {feed!r}: this notice says it covers a camera feed that "
                            f"is not configured under `feeds:` (configured feeds: {_known(feeds)})"))
            watch = notice.get("watch")
            if isinstance(watch, Mapping):
                feed = watch.get("feed")
                if isinstance(feed, str) and feed not in known:
                    out.append(Problem(
                        ("notices", nid, "watch", "feed"), f"notices.{nid}.watch.feed",
                        f"unknown feed {feed!r}: the camera that should see this sign is not "
                        f"configured under `feeds:` (configured feeds: {_known(feeds)})"))
    releases = data.get("releases")
    if isinstance(releases, list):
        for r, rel in enumerate(releases):
            if not isinstance(rel, Mapping) or not isinstance(rel.get("feeds"), list):
                continue
            for i, feed in enumerate(rel["feeds"]):
                if isinstance(feed, str) and feed not in known:
                    out.append(Problem(
                        ("releases", r, "feeds", i), f"releases.{r}.feeds",
                        f"unknown feed {feed!r}: this release session names a camera feed that "
                        f"is not configured under `feeds:` (configured feeds: {_known(feeds)})"))
    return out
