"""The demo's venue: four camera feeds that tell the product's story on the bundled clips.

Each feed is one act, made at demo time from real frames (two Intel sample clips, CC-BY-4.0)
with camaudit's own printed notice composited on the wall:

- ``entrance``: the entrance sign is posted and seen -> consented (basis ``notice:entrance-sign``);
- ``counter``: the counter sign is covered by a grey sheet -> unconsented (``notice_missing``)
  and an alert;
- ``studio``: no notice, but a release session (written releases) is declared for it ->
  consented (basis ``release:photo-shoot``);
- ``terrace``: its sign is posted, but the hours it states exclude the moment the demo runs
  -> unconsented (``outside_hours``) and an alert.

The hours of the terrace sign are chosen from the clock when the demo starts (a one-hour
window starting three hours later in the venue's zone), so the act holds whenever it runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import cv2
import numpy as np

DATA = Path(__file__).resolve().parent / "data"
HEADPOSE = DATA / "demo_headpose.gif"
CORRIDOR = DATA / "demo_corridor.gif"

DEVICE_ID = "demo-01"
TIMEZONE = "Europe/Paris"
FRAME_SIZE = (960, 540)  # the clips are 480x270: upscaled so the sign reads at ~170 px wide
CLIP_FPS = 12.5
SIGN_WIDTH = 170  # px in the frame: it reads here (sharp, frontal, tested); docs/notices.md gives 220 for real signs
RELEASE_REF = "photo-shoot"
RELEASE_MINUTES = 30.0

CONTROLLER = "Demo Café Ltd, 1 Main St, Paris"
NOTICE_TEXT: dict[str, Any] = {
    "controller": CONTROLLER,
    "purposes": ["security of the premises"],
    "rights": "access, erasure, objection: ask the contact below",
    "contact": "dpo@demo-cafe.example",
    "full_notice": "https://demo-cafe.example/cctv",
}


@dataclass(frozen=True)
class Act:
    feed: str
    clip: Path  # bundled source clip
    sign: str | None  # notice id composited on the wall, or None
    covered: bool  # the sign is taped over (grey)
    centre: tuple[int, int]  # sign centre in the upscaled frame (on a bare wall)
    expect: str  # what the act shows, printed before the run
    verdict: str  # the verdict the act must end with
    why: str  # its basis (consented) or one of its reasons (unconsented)


ACTS = (
    Act("entrance", HEADPOSE, "entrance-sign", False, (455, 150),
        "sign posted and seen: consented by the notice",
        "consented", "notice:entrance-sign"),
    Act("counter", CORRIDOR, "counter-sign", True, (210, 260),
        "sign covered: unconsented (notice missing), alert",
        "unconsented", "notice_missing"),
    Act("studio", HEADPOSE, None, False, (0, 0),
        "no sign, a release session declared: consented by the release",
        "consented", f"release:{RELEASE_REF}"),
    Act("terrace", CORRIDOR, "terrace-sign", False, (210, 260),
        "sign posted, outside the hours it states: unconsented, alert",
        "unconsented", "outside_hours"),
)


def closed_hours(now: datetime) -> str:
    """A daily one-hour window starting three hours after `now` (local): it excludes `now`."""
    start = (now.hour + 3) % 24
    return f"{start:02d}:00-{(start + 1) % 24:02d}:00" if start != 23 else "23:00-24:00"


def notices(now_local: datetime) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for act in ACTS:
        if act.sign is None:
            continue
        n: dict[str, Any] = {**NOTICE_TEXT, "covers": [act.feed]}
        if act.feed == "terrace":
            n["hours"] = {"daily": closed_hours(now_local)}
        out[act.sign] = n
    return out


def _frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out: list[np.ndarray] = []
    try:
        while True:
            ok, f = cap.read()
            if not ok:
                break
            out.append(cv2.resize(f, FRAME_SIZE, interpolation=cv2.INTER_CUBIC))
    finally:
        cap.release()
    if not out:
        from camaudit.errors import CamauditError

        raise CamauditError(f"{path}: the bundled demo clip cannot be read")
    return out


def build(story_dir: Path, now_ms: int) -> dict[str, Any]:
    """Write the four act clips into `story_dir`; returns the feeds and notices config sections
    (with the sign watch regions) for a demo run starting at `now_ms`."""
    from camaudit.config.notices import NoticeConfig
    from camaudit.notices.composite import composite_sign, perspective_quad, quad_bbox
    from camaudit.notices.sign import render_sign

    story_dir.mkdir(parents=True, exist_ok=True)
    now_local = datetime.fromtimestamp(now_ms / 1000, ZoneInfo(TIMEZONE))
    notice_cfg = notices(now_local)
    frames = {p: _frames(p) for p in {a.clip for a in ACTS}}
    feeds: dict[str, Any] = {}
    for act in ACTS:
        clip = story_dir / f"{act.feed}.avi"
        imgs = frames[act.clip]
        if act.sign is not None:
            quad = perspective_quad(*act.centre, SIGN_WIDTH, yaw_deg=10)
            sign = render_sign(act.sign, NoticeConfig.model_validate(notice_cfg[act.sign]), 600)
            if act.covered:
                sign = np.full_like(sign, 128)
            imgs = [composite_sign(f, sign, quad) for f in imgs]
            region = quad_bbox(quad, (FRAME_SIZE[1], FRAME_SIZE[0], 3))
            notice_cfg[act.sign]["watch"] = {
                "feed": act.feed,
                "region": [round(float(v), 4) for v in region],
                "check_s": 0.5,
                "grace_s": 1.0,
            }
        if act.feed == "studio":
            imgs = [cv2.flip(f, 1) for f in imgs]  # the same two people, another room
        w = cv2.VideoWriter(str(clip), cv2.VideoWriter.fourcc(*"MJPG"), CLIP_FPS, FRAME_SIZE)
        try:
            for f in imgs:
                w.write(f)
        finally:
            w.release()
        feeds[act.feed] = {"source": str(clip), "pace": False, "evidence": "blurred"}
    return {"feeds": feeds, "notices": notice_cfg}


def declare_release(device_dir: Path, now_ms: int) -> None:
    """The studio's release session: written releases signed by everyone in the room."""
    from camaudit.notices.releases import start_release

    start_release(device_dir, RELEASE_REF, ["studio"], now_ms, RELEASE_MINUTES)
