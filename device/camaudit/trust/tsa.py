"""RFC 3161 time-stamp tokens over chain heads: request bytes, parsing, offline checking.

What is stamped: the 32 bytes of a record's hash (the SHA-256 of its canonical form, hex
in the record); the token's message imprint is SHA-256 of those 32 bytes. A token over
the hash of record N proves that record N, and so every record before it in the chain
(each names its predecessor's hash), existed no later than the token's time.

The protocol is rfc3161-client's (request builder, response parser, CMS check against
pinned roots); nothing here parses ASN.1 by hand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC

from camaudit.errors import VerifyError

#: How far a record's own time may run past a token covering it, and how far times may run
#: backwards inside one chain: clocks of a device and an authority that are each within a
#: few minutes of UTC (NTP steps, a TSA's stated accuracy). Larger differences fail verify.
CLOCK_TOLERANCE_MS = 5 * 60 * 1000

#: A response larger than this is refused (a real one is a few KiB).
MAX_TOKEN_BYTES = 64 * 1024


class TokenError(VerifyError):
    """A time-stamp token that is unreadable, not granted, or not signed by a pinned authority."""


@dataclass(frozen=True)
class TokenFacts:
    """What a token says: the imprint (hex SHA-256 of the stamped bytes), its time (UTC ms)
    and the authority that signed it (the signing certificate's subject)."""

    imprint: str
    time_ms: int
    authority: str
    serial: int


def message_of(record_hash: str) -> bytes:
    """The bytes stamped for a record: its hash (64 hex digits) as 32 raw bytes."""
    try:
        raw = bytes.fromhex(record_hash)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError(f"not a record hash: {record_hash[:80]!r}")
    return raw


def imprint_of(record_hash: str) -> str:
    """The message imprint (hex) a token over `record_hash` carries."""
    return hashlib.sha256(message_of(record_hash)).hexdigest()


def build_request(record_hash: str) -> tuple[bytes, int | None]:
    """(DER TimeStampReq over the record hash, SHA-256, with a nonce and the signer's
    certificate asked for; the nonce to check the answer against)."""
    from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

    req = (
        TimestampRequestBuilder()
        .data(message_of(record_hash))
        .hash_algorithm(HashAlgorithm.SHA256)
        .nonce(nonce=True)
        .cert_request(cert_request=True)
        .build()
    )
    return req.as_bytes(), req.nonce


def _decode(tsr: bytes):  # type: ignore[no-untyped-def]
    from rfc3161_client import PKIStatus, decode_timestamp_response

    if len(tsr) > MAX_TOKEN_BYTES:
        raise TokenError(f"time-stamp token of {len(tsr)} bytes (more than {MAX_TOKEN_BYTES})")
    try:
        resp = decode_timestamp_response(tsr)
    except Exception as exc:  # the parser raises ValueError and its own errors
        raise TokenError(f"not a time-stamp response: {exc}") from None
    if PKIStatus(resp.status) not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TokenError(f"the authority refused: status {resp.status} {resp.status_string}")
    return resp


def facts(tsr: bytes) -> TokenFacts:
    """What the token at `tsr` (a DER TimeStampResp) claims, NOT checked against any key."""
    resp = _decode(tsr)
    try:
        info = resp.tst_info
        gen = info.gen_time
        if gen.tzinfo is None:
            gen = gen.replace(tzinfo=UTC)
        imprint = info.message_imprint.message.hex()
        serial = int(info.serial_number)
        authority = _authority(resp)
    except Exception as exc:
        raise TokenError(f"unreadable time-stamp token: {exc}") from None
    return TokenFacts(imprint=imprint, time_ms=int(gen.timestamp() * 1000), authority=authority, serial=serial)


def _authority(resp) -> str:  # type: ignore[no-untyped-def]
    from cryptography import x509

    infos = list(resp.signed_data.signer_infos)
    if len(infos) == 1:
        si = infos[0]
        for der in resp.signed_data.certificates:
            cert = x509.load_der_x509_certificate(der)
            if cert.issuer == si.issuer and cert.serial_number == si.serial_number:
                return cert.subject.rfc4514_string()
        return f"issuer {si.issuer.rfc4514_string()}, serial {si.serial_number}"
    return "unknown signer"


def check_answer(tsr: bytes, record_hash: str, nonce: int | None) -> TokenFacts:
    """An authority's answer to our request: granted, over our hash, with our nonce."""
    f = facts(tsr)
    if f.imprint != imprint_of(record_hash):
        raise TokenError("the authority stamped another hash than the one asked for")
    if nonce is not None and _decode(tsr).tst_info.nonce != nonce:
        raise TokenError("the authority's answer carries another nonce (a replayed answer?)")
    return f


def load_certs(data: bytes, name: str = "certificate") -> list[object]:
    """Every X.509 certificate in `data` (PEM, one or several, or one DER)."""
    from cryptography import x509

    try:
        if b"-----BEGIN" in data:
            return list(x509.load_pem_x509_certificates(data))
        return [x509.load_der_x509_certificate(data)]
    except ValueError as exc:
        raise VerifyError(f"{name}: not an X.509 certificate (PEM or DER): {exc}") from None


def verify_token(tsr: bytes, pinned: Sequence[object]) -> TokenFacts:
    """Check the token offline: the authority's signature over it chains to one of the
    `pinned` certificates (an authority's root, or its own time-stamping certificate),
    valid at the token's time, with the critical timeStamping key usage. TokenError if not."""
    from rfc3161_client import VerificationError, VerifierBuilder

    f = facts(tsr)
    resp = _decode(tsr)
    if not pinned:
        raise TokenError("no authority certificate pinned")
    builder = VerifierBuilder()
    for cert in pinned:
        builder = builder.add_root_certificate(cert)  # type: ignore[arg-type]
    try:
        builder.build().verify(resp, bytes.fromhex(f.imprint))
    except (VerificationError, ValueError) as exc:
        raise TokenError(f"token of {f.authority}: not signed by a pinned authority ({exc})") from None
    return f
