"""Device text quoted as such in a person's own letter (pure).

A device signs its venue, its name, its capture ids and the notice's controller and
contact; whoever holds its key or wrote its config chooses those words. In a letter the
requester signs, that text is never allowed to read as the requester's words: it is put on
one line (control, format and bidirectional characters and line breaks removed), bounded
to QUOTE_MAX characters with an ellipsis, and set inside «» quotation marks; the letter
says once that text in «» is quoted as the device signed it.
"""

from __future__ import annotations

import unicodedata

QUOTE_MAX = 120
OPEN, CLOSE = "«", "»"


def one_line(value: object, limit: int = QUOTE_MAX) -> str:
    """`value` as one line of at most `limit` characters (an ellipsis marks a cut)."""
    text = str(value)[: limit * 8]
    out = "".join(" " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co") else ch
                  for ch in text)
    out = " ".join(out.replace(OPEN, "\"").replace(CLOSE, "\"").split())
    return out if len(out) <= limit else out[: limit - 1].rstrip() + "…"


def quoted(value: object, limit: int = QUOTE_MAX) -> str:
    """`value` as a bounded one-line quotation: «…»."""
    return f"{OPEN}{one_line(value, limit)}{CLOSE}"
