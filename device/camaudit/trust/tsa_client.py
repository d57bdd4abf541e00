"""Ask a time-stamp authority (RFC 3161 over HTTP) for a token over a record hash."""

from __future__ import annotations

import logging
import urllib.error
import urllib.request

from camaudit.trust.tsa import MAX_TOKEN_BYTES, TokenError, TokenFacts, build_request, check_answer

log = logging.getLogger(__name__)

CONTENT_TYPE = "application/timestamp-query"


def request_token(url: str, record_hash: str, *, timeout_s: float = 10.0) -> tuple[bytes, TokenFacts]:
    """POST a request for `record_hash` to `url`; (the DER response, what it says).

    TokenError when the authority cannot be reached, refuses, or answers for another hash
    or nonce. The answer is read up to MAX_TOKEN_BYTES."""
    if not url.startswith(("http://", "https://")):
        raise TokenError(f"time-stamp authority {url!r}: only http(s) URLs")
    body, nonce = build_request(record_hash)
    req = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": CONTENT_TYPE})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310 (http(s) checked)
            data = resp.read(MAX_TOKEN_BYTES + 1)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise TokenError(f"time-stamp authority {url}: {getattr(exc, 'reason', exc)}") from None
    try:
        got = check_answer(data, record_hash, nonce)
    except TokenError as exc:
        raise TokenError(f"time-stamp authority {url}: {exc}") from None
    log.info("time-stamp token from %s for hash %s...", url, record_hash[:16])
    return data, got
