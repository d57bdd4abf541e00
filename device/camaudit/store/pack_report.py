"""The files of an evidence pack that are derived from its records (report.md today).

`derived_files(records, meta)` is the one place that makes them: `camaudit export` writes
what it returns, and `camaudit verify` makes them again from the pack's records and signed
metadata and names any file that differs. So every derived file must be a pure,
deterministic function of the records and `PackMeta` (no clock, no locale, no time zone:
times are UTC).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from camaudit.core.record import Event
from camaudit.store.captures import CaptureRow

REPORT = "report.md"

# The version of the report rendering, written into every pack's signed manifest
# ("reports"). Bump it whenever the same records would give other report bytes (wording,
# layout, a new section): `camaudit verify` re-derives and compares the report files only
# for a pack of its own rendering; a pack made by another rendering (an older camaudit)
# still has its records, signatures and frames checked, but its report files are named as
# not re-derived and verify exits EXIT_REPORTS_UNCHECKED instead of a plain OK.
# tests/store/test_report_rendering.py pins the rendering of fixed records to this number.
REPORTS = 3


@dataclass(frozen=True)
class PackMeta:
    """What the pack's signed manifest and device.json say, besides the records."""

    device: str
    public_key: str
    created_ms: int
    signed_by: str  # "device" | "hub"
    since_ms: int | None
    until_ms: int | None
    feed: str | None
    frames: Collection[str] = ()  # sha256 hex of the evidence frames the pack carries
    pdf_cert: str | None = None  # fingerprint of report.pdf's signing certificate (trust.pdf_sign)
    deletion: Mapping[str, Any] | None = None  # body of device.json's deletion record


def evidence_refs(ev: Event) -> list[str]:
    """The sha256 hex digests an event's body references as "sha256:<hex>"."""
    out = []
    for ref in ev.body.get("evidence") or ():
        if isinstance(ref, str) and ref.startswith("sha256:") and len(ref) == 71:
            out.append(ref[7:])
    return out


def latest_captures(events: Sequence[Event], feed: str | None) -> list[CaptureRow]:
    """One row per capture of `feed` (all feeds: None), from its latest event."""
    latest: dict[tuple[str | None, str], Event] = {}
    for ev in events:
        wanted = feed is None or ev.feed == feed
        if wanted and ev.type.startswith("capture.") and "capture" in ev.body:
            latest[(ev.feed, str(ev.body["capture"]))] = ev
    rows = [CaptureRow.from_event(ev) for ev in latest.values()]
    rows.sort(key=lambda r: (r.start if r.start is not None else r.ts, r.seq))
    return rows


def scoped_refs(events: Sequence[Event], feed: str | None, since: int | None, until: int | None) -> list[str]:
    """The evidence digests a pack asked for `feed` and [since, until] carries, in order of
    first mention: those of the captures of that feed in that span (issue 22.8: a complaint
    about one camera carries only that camera's frames); other records stay for the chain,
    their frames do not."""
    wanted = {(r.feed, r.capture) for r in latest_captures(events, feed) if _overlaps(r, since, until)}
    out: list[str] = []
    for ev in events:
        if "capture" in ev.body and ev.type.startswith("capture."):
            keep = (ev.feed, str(ev.body["capture"])) in wanted
        else:
            keep = (feed is None or ev.feed == feed) and (since is None or ev.ts >= since) and (
                until is None or ev.ts <= until)
        if keep:
            out += [d for d in evidence_refs(ev) if d not in out]
    return out


def _overlaps(row: CaptureRow, since: int | None, until: int | None) -> bool:
    start = row.start if row.start is not None else row.ts
    end = row.end if row.end is not None else start
    return (since is None or end >= since) and (until is None or start <= until)


def missing_frames(events: Sequence[Event], frames: Collection[str], meta: PackMeta | None = None) -> list[str]:
    """Digests of the pack's scope (its feed and span; all with no `meta`) that it does not
    carry, in order of first mention."""
    scope = scoped_refs(events, meta.feed, meta.since_ms, meta.until_ms) if meta else [
        d for ev in events for d in evidence_refs(ev)]
    out: list[str] = []
    for d in scope:
        if d not in frames and d not in out:
            out.append(d)
    return out


def derived_files(
    records: Sequence[Event], meta: PackMeta, frames: Mapping[str, bytes] | None = None
) -> dict[str, bytes]:
    """Every pack file derived from the records: name -> exact bytes.

    `frames` (sha256 hex -> JPEG bytes of the evidence frames the pack carries) are shown
    inline in report.html and report.pdf when they fit store.pack_limits.frames_inline;
    past that, or with `frames=None` (a checker that did not hold them because they do not
    fit), both reports name each frame of `meta.frames` by its path in the pack instead.
    Either way all four files are made, so verify compares every one."""
    from camaudit.report.files import report_files
    from camaudit.store.pack_limits import frames_inline

    if frames is not None and not frames_inline(sum(len(v) for v in frames.values())):
        frames = None
    missing = missing_frames(records, frozenset(meta.frames), meta)
    rendered = report_files(
        records,
        {
            "device": meta.device,
            "public_key": meta.public_key,
            "created": meta.created_ms,
            "signed_by": meta.signed_by,
            "feed": meta.feed,
            "since": meta.since_ms,
            "until": meta.until_ms,
            "missing_evidence": missing,
            "evidence_on_device": meta.signed_by == "hub",
            "pdf_cert": meta.pdf_cert,
            "deletions": deletions_of(records, meta.deletion),
        },
        frames or {},
        inline=frames is not None,
        linked=frozenset(meta.frames) if frames is None else (),
    )
    report = render_report(
        device=meta.device,
        public_key=meta.public_key,
        events=records,
        captures=latest_captures(records, meta.feed),
        feed=meta.feed,
        since_ms=meta.since_ms,
        until_ms=meta.until_ms,
        missing_evidence=missing,
        created_ms=meta.created_ms,
        signed_by=meta.signed_by,
        evidence_on_device=meta.signed_by == "hub",
        pdf_cert=meta.pdf_cert,
        deletions=deletions_of(records, meta.deletion),
    )
    return {REPORT: report.encode("utf-8"), **rendered}


def deletions_of(records: Sequence[Event], first: Mapping[str, Any] | None) -> list[str]:
    """In words, every deletion the pack shows: the one its records continue after
    (device.json) and those journalled among its records, oldest first, each once."""
    from camaudit.trust.retention import PRUNED, deletion_statement

    bodies: list[Mapping[str, Any]] = [first] if first is not None else []
    bodies += [ev.body for ev in records if ev.type == PRUNED and ev.body != first]
    return [deletion_statement(b) for b in bodies]


def _utc(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


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
    pdf_cert: str | None = None,
    deletions: Sequence[str] = (),
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
    if deletions:
        lines += ["", "## Deleted records", ""]
        lines += [f"- {d[0].upper()}{d[1:]}." for d in deletions]
        lines += [
            "",
            "Each deletion is a record signed by the device when it pruned its journal; "
            "`camaudit verify` accepts records that start after seq 1 only with the record "
            "of the deletion before them.",
        ]
    lines += ["", "## Records by type", ""]
    lines += [f"- {t}: {n}" for t, n in sorted(types.items())]
    if missing_evidence and evidence_on_device:
        lines += [
            "",
            "## Evidence frames",
            "",
            "The records reference blurred evidence frames the hub did not receive (their "
            "feed does not send evidence to the hub, the default, or they had not arrived); "
            "they stay on the device, and an export made there carries them:",
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
        "changed, removed or inserted without breaking the chain. This report is derived "
        "from the records: `camaudit verify` makes it again and names any difference. "
        "Evidence frames are whole camera frames made safe on the device before they were "
        "written: the whole frame pixelated coarsely (48 blocks on its longer side) and "
        "every detected face filled flat, so a face the detector missed is not kept in "
        "clear either (PRIVACY.md gives what was measured); each is named by its SHA-256, "
        "which the signed records carry. The appliance does no recognition.",
        "",
        "To check this pack offline: `camaudit verify PACK.zip --pubkey DEVICE_KEY` "
        "(a pack signed by the device), or `--hub-key HUB_KEY` (a pack signed by the "
        "auditing hub), with a key you obtained yourself, not from this pack: "
        f"{'the hub' if signed_by == 'hub' else 'the device'} signed this one. Without a "
        "pinned key verify only shows the pack is internally consistent (exit 3), not "
        "where it comes from. It checks every file against manifest.json, the manifest "
        "signature, every record's hash, signature and link, every evidence frame's hash, "
        "and this report.",
        "",
    ]
    if pdf_cert:
        lines += [
            "report.pdf carries a PDF signature made under the key that signed this pack "
            f"(signing certificate SHA-256 fingerprint {pdf_cert}); `pdfsig report.pdf` or "
            "Adobe Acrobat show whether it changed after signing.",
            "",
        ]
    lines += [
        "All times are UTC.",
        "",
    ]
    return "\n".join(lines)
