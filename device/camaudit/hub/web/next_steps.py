"""What an operator does next, for each reason an alert or an unconsented capture gives
(pure: reasons in, words out). Shown on the hub's alerts list and capture pages, and in
docs/hub.md ("The operator's workflow on the hub")."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

MANAGER = "the venue's manager"
DPO = "the data-protection contact named on the notice"
CAMERAS = "whoever looks after the cameras"
HUB_OPERATOR = "the hub's operator (whoever installed the devices)"


@dataclass(frozen=True)
class Step:
    reason: str
    do: str  # what to do, in words
    tell: tuple[str, ...]  # who to tell


STEPS: dict[str, Step] = {s.reason: s for s in (
    Step("no_notice", "Post a privacy notice covering this camera (print one with `camaudit notice print`, "
         "register it under `notices:` with this feed in its `covers`), or stop recording on this camera.",
         (MANAGER, DPO)),
    Step("notice_missing", "Put the sign back or uncover it where its watching camera can see it; then check "
         "the watching camera (is it pointed at the sign, is its view clear, is it up?).", (MANAGER,)),
    Step("outside_hours", "Fix the hours: make the hours on the notice (and in the device's config) match when "
         "the camera records, or stop recording outside the hours the notice states.", (MANAGER, DPO)),
    Step("privacy_zone", "Re-aim or mask the camera so the privacy zone is not filmed, and check why people "
         "were filmed there; capture there is never acceptable.", (MANAGER, DPO)),
    Step("camera_covered", "Check the camera: remove what covers the lens (tape, a sheet, a hand) or bring its "
         "light back; captures meanwhile are unknown, not absent.", (CAMERAS, MANAGER)),
    Step("camera_moved", "Check the camera: turn it back to its scene; if it was moved on purpose run "
         "`camaudit relearn` on the device; captures meanwhile are unknown, not absent.", (CAMERAS, MANAGER)),
    Step("camera_blurred", "Check the camera: clean, de-fog or refocus the lens; captures meanwhile are "
         "unknown, not absent.", (CAMERAS, MANAGER)),
    Step("fork", "Two devices sign as one (a cloned SD card?): find the second one, give it a new id and "
         "key, then run `camaudit hub resolve-fork DEVICE --keep stored` (or `--keep quarantined` when the "
         "hub's copy came from the clone); acks to the device stay stopped until then.", (HUB_OPERATOR,)),
)}

FALLBACK = Step("other", "Look at the capture's records below and at the device (`camaudit status`).", (MANAGER,))


def next_steps(reasons: Iterable[str]) -> list[Step]:
    """One step per distinct reason, in order; an unknown reason gets the general step once."""
    out: list[Step] = []
    for r in reasons:
        step = STEPS.get(str(r), FALLBACK)
        if step not in out:
            out.append(step)
    return out


def tell_words(steps: Iterable[Step]) -> str:
    """`Tell: the venue's manager, the data-protection contact named on the notice.`"""
    who: list[str] = []
    for s in steps:
        who += [t for t in s.tell if t not in who]
    return f"Tell: {', '.join(who)}." if who else ""


def with_steps(alert: Mapping[str, Any]) -> dict[str, Any]:
    """The alert with `steps` (what to do, one per reason) and `tell` (whom to tell)."""
    steps = next_steps(alert.get("reasons") or [])
    return {**alert, "steps": [s.do for s in steps], "tell": tell_words(steps)}


def publishing_steps(publish: Callable[[list[dict[str, Any]]], None]) -> Callable[[list[dict[str, Any]]], None]:
    """`publish` (the live page's) given alerts that carry their next steps."""
    return lambda alerts: publish([with_steps(a) for a in alerts])
