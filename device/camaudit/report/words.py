"""The report's sentences, shared by the HTML and PDF renderers (pure)."""

from __future__ import annotations

from camaudit.core.clock_sync import UNSYNCED_WORDS
from camaudit.report import notice_facts
from camaudit.report.model import CaptureItem, Clock, Report
from camaudit.report.notice_facts import STATE_WORDS as STATE_WORDS  # re-exported

NOTICE_FIELDS = (
    ("controller", "Controller"),
    ("purposes", "Purposes"),
    ("rights", "Rights"),
    ("contact", "Contact"),
    ("dpo", "Data protection officer"),
    ("full_notice", "Full notice"),
    ("impacts", "Impacts"),
    ("legitimate_interest", "Legitimate interest"),
    ("hours", "Recording hours (venue local time)"),
    ("retention_days", "Retention stated (days)"),
    ("covers", "Cameras (feeds) covered"),
    ("watch_feed", "Sign watched by feed"),
    ("languages", "Languages"),
)



def title(r: Report) -> str:
    return f"Camera audit report: device {r.device}"


def facts(r: Report) -> list[tuple[str, str]]:
    c = r.clock
    span = (
        f"{c.both(r.since) if r.since is not None else 'the first record'} to "
        f"{c.both(r.until) if r.until is not None else 'the last record'}"
    )
    zone = c.zone if c.tz.key == c.zone else f"{c.zone} (unknown here: times below are UTC)"
    out = [
        ("Device", r.device),
        ("Venue", r.venue or "not configured (device.venue is not set in the device's config)"),
        ("Controller", " / ".join(r.controllers) or "no notice registered in these records"),
        ("Venue time zone", zone),
        ("Span asked for", span + (f"; report limited to feed '{r.feed}'" if r.feed else "")),
        (
            "Records",
            f"seq {r.first_seq} to {r.last_seq} ({r.records} records), "
            f"{c.both(r.first_time)} to {c.both(r.last_time)}",
        ),
        ("Pack created", f"{c.both(r.created)}, manifest signed by the {r.signed_by}"),
        ("Device public key (Ed25519)", r.public_key),
    ]
    return out


def summary(r: Report) -> list[str]:
    v = r.verdict_counts()
    i = r.identifiable_counts()
    n = len(r.captures)
    lines = [
        f"{n} capture(s) in the span: {v['consented']} consented, {v['unconsented']} unconsented"
        + (f", {v['open']} still open" if v["open"] else "")
        + ".",
        f"{sum(i.values())} identifiable capture(s) (at least one face tall enough to identify "
        f"someone): {i['consented']} consented, {i['unconsented']} unconsented.",
    ]
    reasons: dict[str, int] = {}
    for c in r.captures:
        for w in c.reasons_words:
            reasons[w] = reasons.get(w, 0) + 1
    for w, k in sorted(reasons.items()):
        lines.append(f"{k} capture(s) filmed {w}.")
    # proved deletion (trust.retention): each signed deletion record the pack shows
    lines += [f"{d[0].upper()}{d[1:]}." for d in r.deletions]
    return lines


def verdict_text(c: CaptureItem) -> str:
    if c.verdict == "consented":
        return f"consented, basis {c.row.basis}" if c.row.basis else "consented"
    if c.verdict == "unconsented":
        return "unconsented: filmed " + "; ".join(c.reasons_words) if c.reasons_words else "unconsented"
    return "still open when the pack was made"


def notice_state_text(c: CaptureItem, r: Report | None = None) -> str:
    """The notices covering the capture's camera: state at its start and hours stated
    (report.notice_facts.words: the hub's capture page and `camaudit log` say the same)."""
    if not c.notices:
        return "no notice covers this camera"
    clock = r.clock if r is not None else Clock("UTC")
    return notice_facts.words(c.notices, clock.both, clock.zone)


def clock_text(c: CaptureItem) -> str:
    """"" for a capture stamped by a synchronised (or not recorded) clock."""
    if not c.clock_unsynced:
        return ""
    return (f"{UNSYNCED_WORDS}: recorded before the device's clock was set by the network; "
            "its times may be wrong (the order of the records holds)")


def evidence_text(r: Report, digest: str) -> str:
    if digest in r.missing_evidence:
        if r.evidence_on_device:
            return f"sha256:{digest} (kept on the device; a device export carries it)"
        return f"sha256:{digest} (missing from the device: deleted or damaged)"
    return f"sha256:{digest}"


def how_to_verify(r: Report) -> list[str]:
    return [
        "Every record was signed by the device when it was written (Ed25519 over its SHA-256 "
        "hash) and names the hash of the record before it, so no record can be changed, "
        "removed or inserted without breaking the chain.",
        "Evidence frames are whole camera frames in which every face was blurred on the "
        "device before the frame was written; each is named by its SHA-256, which the signed "
        "records carry. The appliance does no face recognition.",
        "This report, report.html and captures.csv are derived from the records in "
        "events.jsonl; the notice texts shown are the ones the device journalled "
        "(notice.registered), not today's configuration.",
        "To check the pack offline: camaudit verify PACK.zip --pubkey "
        + (r.public_key or "HEX")
        + " (use the key you know for this device, e.g. the one the auditing hub enrolled). "
        "It checks every file against manifest.json, the manifest signature, every record's "
        "hash, signature and link, and every evidence frame's hash.",
    ] + _pdf_signature(r)


def _pdf_signature(r: Report) -> list[str]:
    if not r.pdf_cert:
        return []
    return [
        "report.pdf carries a PDF signature made under the key that signed this pack; the "
        f"signing certificate's SHA-256 fingerprint is {r.pdf_cert}. Any PDF reader that "
        "checks signatures (pdfsig, Adobe Acrobat) shows whether the document changed after "
        "signing; camaudit verify also checks that the certificate comes from the pinned key.",
    ]


LIMITS_TITLE = "What this shows and what it cannot show"


def what_it_shows(r: Report) -> list[str]:
    from camaudit.report.limits import limits, observe

    seen = r.seen if r.seen is not None else observe((), r.feed)
    cams = ", ".join(seen.feeds)
    feed_words = f"camera '{r.feed}'" if r.feed else (f"camera(s) {cams}" if cams else "the device's cameras")
    return limits(seen, feed_words)
