"""The report's "What this shows and what it cannot show" section (issue 22.8), pure.

Everything here is derived from the records (which feeds, their outages, the model the
device named, witness records, media-time feeds) plus the detector's measured accuracy.
Those numbers are copied from models/accuracy_wider_dev.json (the run models/MODEL.md
reports; tests/report/test_report_limits.py checks they match it) so that a pack
regenerates its report the same way on any machine, without the models folder.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from camaudit.core.record import Event

# models/accuracy_wider_dev.json: 323 images, 3,310 valid faces of the WIDER FACE hard subset
# (../shared/data/wider_dev), 640 px long side. model name -> (precision, score threshold,
# recall of faces 16-24 / 24-32 / 32-48 / 48-96 / >=96 px tall)
BENCH_SET = "323 WIDER FACE validation images (3,310 faces, hard subset), models/MODEL.md"
MEASURED: dict[str, tuple[float, float, tuple[float, float, float, float, float]]] = {
    "yunet-int8-640": (0.92, 0.6, (0.77, 0.82, 0.87, 0.90, 0.88)),
    "yunet-fp32-640": (0.92, 0.6, (0.78, 0.81, 0.87, 0.91, 0.89)),
    "yunet-int8-320": (0.89, 0.6, (0.33, 0.67, 0.76, 0.83, 0.88)),
    "yunet-int8-1024": (0.93, 0.6, (0.83, 0.88, 0.90, 0.90, 0.93)),
    "accurate": (0.91, 0.6, (0.83, 0.88, 0.90, 0.92, 0.96)),
    "centerface-int8": (0.95, 0.4, (0.75, 0.87, 0.92, 0.93, 0.95)),
}
HEIGHTS = ("16-24", "24-32", "32-48", "48-96", ">=96")


@dataclass(frozen=True)
class Seen:
    """What the records say about the audit's own coverage."""

    feeds: tuple[str, ...]  # the cameras the report is about
    models: tuple[str, ...]  # detector models the device named (device.online)
    feed_down: int  # feed.down records of those feeds
    restarts: int  # device.online records (each one a start of the device)
    witnesses: int  # hub countersignatures in the records
    media_time_feeds: tuple[str, ...]  # feeds whose times are a video file's (clip_ts)


def observe(records: Sequence[Event], feed: str | None) -> Seen:
    feeds: set[str] = set()
    models: list[str] = []
    down = restarts = witnesses = 0
    media: set[str] = set()
    for ev in records:
        if ev.type == "device.online":
            restarts += 1
            m = ev.body.get("model")
            if isinstance(m, str) and m not in models:
                models.append(m)
            listed = ev.body.get("feeds")
            if feed is None and isinstance(listed, list):
                feeds.update(str(f) for f in listed)
        elif ev.type == "witness":
            witnesses += 1
        if ev.feed is None or (feed is not None and ev.feed != feed):
            continue
        feeds.add(ev.feed)
        if ev.type == "feed.down":
            down += 1
        if "clip_ts" in ev.body:
            media.add(ev.feed)
    if feed is not None:
        feeds = {feed}
    return Seen(tuple(sorted(feeds)), tuple(models), down, restarts, witnesses, tuple(sorted(media)))


def _model_line(model: str) -> str:
    m = MEASURED.get(model)
    if m is None:
        return (f"The face detector ({model}) has no accuracy measurement in models/MODEL.md: "
                "how many faces it misses is not known.")
    precision, thr, recall = m
    by_height = ", ".join(f"{r:.2f} of faces {h} px tall" for h, r in zip(HEIGHTS, recall, strict=True))
    worst = round(100 * (1 - min(recall[2:])))
    return (f"The face detector ({model}, score threshold {thr:g}) does not find every face. "
            f"Measured on {BENCH_SET}: it found {by_height}; {precision:.2f} of what it "
            f"reported were faces. So in a single frame it misses up to {worst} in 100 faces "
            "32 px or taller, and more of smaller ones; a capture and its counts are only "
            "what it found.")


def limits(seen: Seen, feed_words: str) -> list[str]:
    """The section's paragraphs. `feed_words`: how the report names its span's cameras."""
    out = [
        f"What it shows: what the device's detector found in the frames of {feed_words}, "
        "the verdict the device gave each capture when it happened, and the states of the "
        "posted notices it watched, all as signed records that cannot be changed unseen.",
        "What the camera did not see is not here: people outside its field of view, hidden "
        "behind others or turned away, and anything while a feed was down or the device was "
        f"off. These records hold {seen.feed_down} feed.down record(s) for the camera(s) "
        f"concerned and {seen.restarts} device start(s); between a feed.down and the next "
        "frame nothing was counted. A missing capture is not proof that nobody was filmed.",
        "It does not identify anyone: there is no recognition, so it cannot show whether a "
        "given person was there, only that faces of identifiable size were (or were not) "
        "in view at those times.",
    ]
    out += [_model_line(m) for m in seen.models] or [
        "The records do not name the detector model (no device.online record in this span): "
        "its measured limits are in models/MODEL.md."]
    clock = ("Clock: times are the device's own clock, written into each signed record; "
             "no trusted time stamp (RFC 3161) is in this pack, so the times are as good as "
             "the device's clock setting (network time on a Raspberry Pi, which has no "
             "battery clock). ")
    clock += (f"{seen.witnesses} hub witness record(s) show the hub held these records by "
              "the time it countersigned them." if seen.witnesses else
              "No hub witness record is in this span.")
    if seen.media_time_feeds:
        clock += (" Feed(s) " + ", ".join(seen.media_time_feeds) + " read a video file: "
                  "their times are the file's own media times, not the moment it was filmed.")
    out.append(clock)
    return out
