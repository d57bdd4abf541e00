"""The human-readable report of an evidence pack (Markdown; times in UTC and local time)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime

from camaudit.core.record import Event
from camaudit.store.captures import CaptureRow


def _utc(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _local(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


def render_report(
    *,
    device: str,
    public_key: str,
    events: Sequence[Event],
    captures: Sequence[CaptureRow],
    feed: str | None,
    since_ms: int | None,
    until_ms: int | None,
    missing_evidence: Sequence[str],
    created_ms: int,
    signed_by: str = "device",
    evidence_on_device: bool = False,
) -> str:
    """The report.md of a pack: what was captured, what people were told, how to check it."""
    verdicts = Counter(r.verdict or "open" for r in captures)
    reasons = Counter(reason for r in captures for reason in r.reasons)
    types = Counter(ev.type for ev in events)
    first, last = events[0], events[-1]
    lines = [
        f"# Evidence pack: camera audit of device `{device}`",
        "",
        f"- Created: {_utc(created_ms)}, manifest signed by the {signed_by}",
        f"- Device public key (Ed25519): `{public_key}`",
        f"- Records: seq {first.seq} to {last.seq} ({len(events)} records), "
        f"{_utc(first.ts)} to {_utc(last.ts)}",
        f"- Span asked for: {_utc(since_ms) if since_ms is not None else 'the start'} to "
        f"{_utc(until_ms) if until_ms is not None else 'the end'}"
        + (f"; report limited to feed `{feed}`" if feed else ""),
        "",
        "## Captures",
        "",
    ]
    if not captures:
        lines.append("No capture in this span.")
    else:
        summary = ", ".join(f"{n} {v}" for v, n in sorted(verdicts.items()))
        lines.append(f"{len(captures)} capture(s): {summary}.")
        if reasons:
            lines.append(
                "Reasons: " + ", ".join(f"{r} ({n})" for r, n in sorted(reasons.items())) + "."
            )
        lines += [
            "",
            "| capture | feed | start (UTC) | end (UTC) | max faces | identifiable tracks | verdict | reasons / basis | evidence frames |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for r in captures:
            lines.append(
                f"| {r.capture} | {r.feed or '-'} | {_utc(r.start)} | "
                f"{_utc(r.end) if r.state == 'closed' else 'open'} | {r.max_faces} | "
                f"{r.identifiable_tracks} | {r.verdict or '-'} | "
                f"{', '.join(r.reasons) or r.basis or '-'} | {len(r.evidence)} |"
            )
    lines += ["", "## Records by type", ""]
    lines += [f"- {t}: {n}" for t, n in sorted(types.items())]
    if missing_evidence and evidence_on_device:
        lines += [
            "",
            "## Evidence frames",
            "",
            "The records reference blurred evidence frames that stay on the device (the hub "
            "never receives frames); an export made on the device carries them:",
            "",
        ]
        lines += [f"- sha256:{d}" for d in missing_evidence]
    elif missing_evidence:
        lines += [
            "",
            "## Missing evidence frames",
            "",
            "These frames are referenced by signed records but were not on the device "
            "(deleted, or damaged on disk), so they are not in this pack:",
            "",
        ]
        lines += [f"- sha256:{d}" for d in missing_evidence]
    lines += [
        "",
        "## What this pack is, and how to check it",
        "",
        "Every record was signed by the device when it was written (Ed25519 over its "
        "SHA-256 hash) and names the hash of the record before it, so a record cannot be "
        "changed, removed or inserted without breaking the chain. Evidence frames are "
        "whole camera frames with every detected face blurred on the device before it was "
        "written; each is named by its SHA-256, which the signed records carry. No face "
        "image is ever stored or sent unblurred, and the appliance does no recognition.",
        "",
        "To check this pack offline: `camaudit verify PACK.zip` (add `--pubkey HEX` to "
        "require the key you know for this device, e.g. the one the auditing hub "
        "enrolled). It checks every file against manifest.json, the manifest signature, "
        "every record's hash, signature and link, and every evidence frame's hash.",
        "",
        f"First local time in the span: {_local(first.ts)}.",
        "",
    ]
    return "\n".join(lines)
