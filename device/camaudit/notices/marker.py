"""The QR marker on a printed sign: notice id + a short hash of the notice's printed content.

What the QR holds (`qr_text`): when the notice's `full_notice` is a web address, that
address with the marker as its fragment, ``https://example.org/cctv#CA1:ENTRANCE:0A1B...``,
so a passer-by's phone opens the full notice (browsers do not send the fragment to the
server) while the watcher still reads the marker; otherwise the bare marker. A notice with a
`public_page` (its page on the hub, docs/public-page.md) points the QR there instead. The watcher
accepts exactly the printed text (or the bare marker of older prints): a sign whose QR
sends phones to another address does not count.

Payload: ``CA1:<NOTICE ID>:<HASH>`` (upper case, so the QR uses its compact alphanumeric
mode and stays at version 1-2 with large modules) where HASH is the first 12 hex digits of the
SHA-256 of the canonical JSON of everything printed on the sign (id, controller, purposes,
rights, contact, full notice, impacts, legitimate interest, DPO, hours, retention, languages,
translations). A sign printed for another text or another venue therefore does not match;
changing what the notice covers or how it is watched does not require a reprint.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from camaudit.config.notices import NoticeConfig
from camaudit.core.record import canonical_json

PREFIX = "CA1:"
HASH_HEX = 12
PRINTED_FIELDS = (
    "controller",
    "purposes",
    "rights",
    "contact",
    "full_notice",
    "impacts",
    "legitimate_interest",
    "dpo",
    "hours",
    "retention_days",
    "languages",
    "translations",
)


def notice_hash(notice_id: str, notice: NoticeConfig) -> str:
    content = notice.model_dump(mode="json", include=set(PRINTED_FIELDS))
    content["id"] = notice_id
    return hashlib.sha256(canonical_json(content)).hexdigest()[:HASH_HEX]


def marker_payload(notice_id: str, notice: NoticeConfig) -> str:
    return f"{PREFIX}{notice_id}:{notice_hash(notice_id, notice)}".upper()


def qr_text(notice_id: str, notice: NoticeConfig) -> str:
    """The text encoded in the sign's QR code (see the module doc): the notice's hub public
    page when `public_page` is configured, else its full notice."""
    return qr_texts(notice_id, notice)[0]


def qr_texts(notice_id: str, notice: NoticeConfig) -> list[str]:
    """Every QR text a posted sign of this notice may carry, the one printed now first: the
    public page's address (when configured) and the full notice's, each with the marker as
    its fragment, else the bare marker. A sign printed before `public_page` was set still
    counts."""
    marker = marker_payload(notice_id, notice)
    out = []
    for url in (notice.public_page, notice.full_notice):
        url = (url or "").strip()
        if _is_web_address(url):
            out.append(f"{url.split('#', 1)[0]}#{marker}")
    return out or [marker]


def _is_web_address(text: str) -> bool:
    low = text.lower()
    return (low.startswith("https://") or low.startswith("http://")) and " " not in text and len(text) > 8


def marker_text(text: str) -> str:
    """The marker part of a decoded QR text: the fragment of a web address, else the text
    itself (stripped, upper case)."""
    text = text.strip()
    if _is_web_address(text) and "#" in text:
        text = text.rsplit("#", 1)[1]
    return text.upper()


@dataclass(frozen=True)
class Marker:
    notice_id: str  # upper case, as printed
    hash: str  # lower-case hex

    def matches(self, notice_id: str, notice: NoticeConfig) -> bool:
        """Same notice id (case-insensitive) and same printed content."""
        return self.notice_id == notice_id.upper() and self.hash == notice_hash(notice_id, notice)


def parse_payload(text: str) -> Marker | None:
    """A decoded QR text -> Marker, or None when it is not a camaudit notice marker."""
    text = marker_text(text)
    if not text.startswith(PREFIX):
        return None
    rest = text[len(PREFIX) :]
    notice_id, sep, h = rest.rpartition(":")
    if not sep or not notice_id or len(h) != HASH_HEX:
        return None
    try:
        int(h, 16)
    except ValueError:
        return None
    return Marker(notice_id, h.lower())
