"""The pure time rules (trust.timeline): backwards tolerance, records against tokens."""

from __future__ import annotations

from camaudit.trust.timeline import Proof, check_against, check_order
from camaudit.trust.tsa import CLOCK_TOLERANCE_MS

T = 1_795_651_200_000
TOL = CLOCK_TOLERANCE_MS


def test_backwards_at_the_tolerance_passes_and_past_it_fails() -> None:
    assert check_order([(1, T), (2, T - TOL), (3, T + 1)]) is None
    bad = check_order([(1, T), (2, T + 10), (3, T + 10 - TOL - 1)])
    assert bad is not None and bad.startswith("seq 3 is dated") and "before seq 2" in bad
    # measured against the latest time so far, not only the record before
    bad = check_order([(1, T), (2, T - TOL), (3, T - 2 * TOL)])
    assert bad is not None and "before seq 1" in bad


def test_a_token_bounds_every_record_up_to_its_seq_and_no_later_one() -> None:
    proofs = [Proof(5, T, "CN=A"), Proof(9, T + 60_000, "CN=B")]
    assert check_against([(s, T + TOL) for s in range(1, 6)], proofs) is None
    bad = check_against([(1, T), (3, T + TOL + 1)], proofs)
    assert bad is not None and "seq 3" in bad and "records up to seq 5" in bad and "(CN=A)" in bad
    # seq 6..9 are bounded by the later token only; seq 10 by none
    assert check_against([(7, T + 60_000 + TOL), (10, T + 10**9)], proofs) is None
    # an earlier time on a later token bounds the records before it too
    assert check_against([(2, T - 1000 + TOL + 1)], [Proof(5, T, "A"), Proof(9, T - 1000, "B")]) is not None
    assert check_against([(1, T + 10**9)], []) is None
