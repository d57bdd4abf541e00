"""Alert text (pure): what a venue manager reads when a capture is not consented."""

from __future__ import annotations

from camaudit.core.policy import (
    NO_NOTICE,
    NOTICE_MISSING,
    OUTSIDE_HOURS,
    PRIVACY_ZONE,
    Verdict,
)

REASON_WORDS = {
    NO_NOTICE: "with no privacy notice registered for this camera",
    NOTICE_MISSING: "while the privacy notice was not seen posted",
    OUTSIDE_HOURS: "outside the recording hours the notice states",
    PRIVACY_ZONE: "inside a privacy zone where filming is never acceptable",
}


def reason_words(reason: str) -> str:
    return REASON_WORDS.get(reason, reason.replace("_", " "))


def _join(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def alert_text(verdict: Verdict, feed: str, identifiable_tracks: int) -> str:
    """One sentence, e.g. "3 identifiable faces filmed on 'counter' while the privacy notice
    was not seen posted and outside the recording hours the notice states."."""
    n = identifiable_tracks
    who = f"{n} identifiable face{'s' if n != 1 else ''}" if n > 0 else "Faces"
    if verdict.consented:
        basis = verdict.basis or "a valid basis"
        return f"{who} filmed on '{feed}', consented ({basis})."
    why = _join([reason_words(r) for r in verdict.reasons]) or "without a recorded basis"
    return f"{who} filmed on '{feed}' {why}."
