"""Retention profiles and the signed record of a deletion (`retention.pruned`).

Pure: presets are values, the record body is made from values, the checks take records.

A profile names a stated maximum storage period and where it is stated. The device (and
the hub) prune acknowledged records older than the period and journal, in the same
transaction, one `retention.pruned` record:

    {"policy": "de-48h", "period_ms": 172800000, "before": <cutoff, UTC ms>,
     "on": <when, UTC ms>, "events": <records removed this run>,
     "frames": <evidence frames removed this run, null if not counted>,
     "first_seq": <first record removed this run>, "kept": {"seq": N, "hash": "<hash of N>"}}

`kept` is the chain point the journal continues from (the last removed record): a chain
that starts after seq N with that hash is a pruned chain, and it is accepted only with a
deletion record naming that point. A record's counts are of its own run; a journal keeps
at least its newest deletion record (it is written after the records it removes).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
PRUNED = "retention.pruned"


@dataclass(frozen=True)
class Preset:
    name: str
    period_ms: int
    rule: str  # the stated period in words
    source: str  # where it is stated


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "edpb-72h", 72 * HOUR_MS,
            "a few days; beyond 72 hours the controller must justify the longer storage",
            "EDPB Guidelines 3/2019 on processing of personal data through video devices, "
            "version 2.0 (29 January 2020), paragraph 121",
        ),
        Preset(
            "at-72h", 72 * HOUR_MS,
            "image recordings are deleted after 72 hours unless a longer period is justified",
            "Austria, Datenschutzgesetz (DSG) section 13(3)",
        ),
        Preset(
            "de-48h", 48 * HOUR_MS,
            "deletion as a rule within 48 hours",
            "Germany, Datenschutzkonferenz (DSK), Orientierungshilfe Videoüberwachung durch "
            "nicht-öffentliche Stellen (17 July 2020)",
        ),
        Preset(
            "fr-1month", 30 * DAY_MS,
            "at most one month (taken as 30 days)",
            "France, Code de la sécurité intérieure article L252-5; CNIL guidance on "
            "video surveillance (vidéoprotection) in shops and workplaces",
        ),
        Preset(
            "es-1month", 30 * DAY_MS,
            "deleted within at most one month of capture (taken as 30 days)",
            "Spain, Ley Orgánica 3/2018 (LOPDGDD) article 22.3",
        ),
        Preset(
            "uk-31d", 31 * DAY_MS,
            "no fixed period in law (no longer than necessary); 31 days is common practice",
            "UK GDPR Article 5(1)(e); ICO guidance on video surveillance (no fixed period)",
        ),
    )
}


def policy_period(preset: str | None, retention_days: int) -> tuple[str, int]:
    """(policy name as records state it, period in ms): a preset, or `retention_days`."""
    if preset is not None:
        p = PRESETS[preset]
        return p.name, p.period_ms
    return f"retention_days={retention_days}", retention_days * DAY_MS


def deletion_body(
    *,
    policy: str,
    period_ms: int | None,
    before_ms: int | None,
    on_ms: int | None,
    events: int,
    frames: int | None,
    first_seq: int,
    kept_seq: int,
    kept_hash: str,
) -> dict[str, Any]:
    return {
        "policy": policy,
        "period_ms": period_ms,
        "before": before_ms,
        "on": on_ms,
        "events": events,
        "frames": frames,
        "first_seq": first_seq,
        "kept": {"seq": kept_seq, "hash": kept_hash},
    }


def names_point(body: Mapping[str, Any], seq: int, h: str) -> bool:
    kept = body.get("kept")
    return isinstance(kept, Mapping) and kept.get("seq") == seq and kept.get("hash") == h


def deletion_for(records: Iterable[tuple[str, Mapping[str, Any]]], seq: int, h: str) -> Mapping[str, Any] | None:
    """The body of the deletion record among (type, body) pairs that names the chain point
    (seq, hash) as kept; None if none does."""
    for type_, body in records:
        if type_ == PRUNED and names_point(body, seq, h):
            return body
    return None


def _utc(ms: Any) -> str:
    if not isinstance(ms, int) or isinstance(ms, bool):
        return "an unrecorded time"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def deletion_statement(body: Mapping[str, Any]) -> str:
    """"records before T were deleted on D under policy P" and the counts, in words."""
    frames = body.get("frames")
    raw = body.get("kept")
    kept: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    counted = f"{body.get('events')} record(s)" + (
        f" and {frames} evidence frame(s)" if isinstance(frames, int) else ""
    )
    return (
        f"records before {_utc(body.get('before'))} were deleted on {_utc(body.get('on'))} under "
        f"policy {body.get('policy')}: {counted} removed, up to seq {kept.get('seq')}"
    )
