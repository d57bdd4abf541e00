"""The time check of a pack's records: every token under `timestamps/`, and the time rules.

Pure: the records' (seq, ts, hash), the tokens' bytes and the pinned authority
certificates in; the proofs out, or VerifyError naming the first problem."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from camaudit.errors import VerifyError
from camaudit.trust.timeline import Proof, check_against, check_order
from camaudit.trust.tsa import TokenError, facts, imprint_of, verify_token

PREFIX = "timestamps/"


@dataclass(frozen=True)
class TimeCheck:
    proofs: tuple[Proof, ...]  # checked against a pinned authority
    unchecked: int  # tokens present but no authority pinned (--tsa-cert)
    pinned: bool = False

    def lines(self) -> list[str]:
        out = [p.statement() for p in self.proofs]
        if self.pinned and not self.proofs:
            out.append("no time-stamp token in this pack: its times are its writer's own clock")
        if self.unchecked:
            out.append(
                f"{self.unchecked} time-stamp token(s) not checked: pin the authority's "
                "certificate with --tsa-cert"
            )
        return out


def check_pack_times(
    records: Sequence[tuple[int, int, str]],
    tokens: Mapping[str, bytes],
    pinned: Sequence[object] | None,
) -> TimeCheck:
    """`records`: (seq, ts, hash) in chain order; `tokens`: pack name -> DER response;
    `pinned`: authority certificates (None: tokens are matched to records, not trusted)."""
    times = [(s, t) for s, t, _ in records]
    bad = check_order(times)
    if bad:
        raise VerifyError(f"events.jsonl: {bad}")
    by_imprint = {imprint_of(h): s for s, _, h in records}
    proofs: list[Proof] = []
    for name, der in sorted(tokens.items()):
        try:
            f = verify_token(der, pinned) if pinned else facts(der)
        except TokenError as exc:
            raise VerifyError(f"{name}: {exc}") from None
        seq = by_imprint.get(f.imprint)
        if seq is None:
            raise VerifyError(f"{name}: the token stamps a hash that is no record of this pack")
        if pinned:
            proofs.append(Proof(seq=seq, time_ms=f.time_ms, authority=f.authority))
    bad = check_against(times, proofs)
    if bad:
        raise VerifyError(f"events.jsonl: {bad}")
    return TimeCheck(proofs=tuple(sorted(proofs, key=lambda p: p.seq)),
                     unchecked=0 if pinned else len(tokens), pinned=bool(pinned))
