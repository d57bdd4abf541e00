"""core.chain.verify_chain on records in memory (what the hub and evidence packs reuse)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from camaudit.core.chain import HASH_WINDOW, ChainVerifier, verify_chain
from camaudit.core.record import GENESIS_PREV, Event, checkpoint_body, seal

KEY = Ed25519PrivateKey.generate()
PUB = KEY.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def chain(
    n: int, *, device: str = "cafe-01", checkpoint_at: dict[int, int] | None = None
) -> list[Event]:
    """n records; checkpoint_at maps a seq to the earlier seq its checkpoint vouches for."""
    out: list[Event] = []
    prev = GENESIS_PREV
    for seq in range(1, n + 1):
        if checkpoint_at and seq in checkpoint_at:
            target = checkpoint_at[seq]
            h = out[target - 1].hash if target else GENESIS_PREV
            ev = seal(
                device=device,
                seq=seq,
                ts=seq,
                type="checkpoint",
                feed=None,
                body=checkpoint_body(target, h, KEY.sign),
                prev=prev,
                sign=KEY.sign,
            )
        else:
            ev = seal(
                device=device,
                seq=seq,
                ts=seq,
                type="feed.up",
                feed="f",
                body={"i": seq},
                prev=prev,
                sign=KEY.sign,
            )
        out.append(ev)
        prev = ev.hash
    return out


def test_good_chain() -> None:
    evs = chain(20, checkpoint_at={10: 9, 20: 3})
    r = verify_chain(evs, PUB, device="cafe-01")
    assert r.ok and r.events == 20 and r.checkpoints == 2
    assert (r.head_seq, r.head_hash) == (20, evs[-1].hash)


def test_continues_from_a_start_point() -> None:
    evs = chain(10)
    r = verify_chain(evs[4:], PUB, start=(4, evs[3].hash))
    assert r.ok and r.events == 6
    bad = verify_chain(evs[4:], PUB)
    assert bad.first_bad == "seq 5: gap after seq 0"


def test_wrong_device_and_device_change() -> None:
    evs = chain(3)
    assert verify_chain(evs, PUB, device="door-02").first_bad == (
        "seq 1: names device 'cafe-01', not the chain's device 'door-02'"
    )
    other = chain(3, device="door-02")
    r = verify_chain([evs[0], other[1]], PUB)
    assert r.first_bad == "seq 2: device changes mid-chain"


def test_duplicate_record_is_out_of_order() -> None:
    evs = chain(3)
    r = verify_chain([evs[0], evs[1], evs[1]], PUB)
    assert r.first_bad == "seq 2: out of order after seq 2" and r.head_seq == 2


def _run(v: ChainVerifier, evs: list[Event]) -> None:
    for ev in evs:
        if not v.add(ev):
            break


def test_old_checkpoint_target_needs_a_lookup() -> None:
    evs = chain(20, checkpoint_at={20: 2})
    v = ChainVerifier(PUB, window=8)
    _run(v, evs)
    assert v.first_bad == "seq 20: checkpoint vouches for seq 2, which is not in the chain checked"
    v = ChainVerifier(PUB, window=8, hash_of=lambda s: evs[s - 1].hash)
    _run(v, evs)
    assert v.ok and v.report().checkpoints == 1
    assert HASH_WINDOW >= 1000  # the default covers far more than a checkpoint interval
    assert verify_chain(evs, PUB).ok


def test_malformed_checkpoint_body() -> None:
    evs = chain(2)
    cp = seal(
        device="cafe-01",
        seq=3,
        ts=3,
        type="checkpoint",
        feed=None,
        body={"seq": 2},
        prev=evs[-1].hash,
        sign=KEY.sign,
    )
    assert verify_chain([*evs, cp], PUB).first_bad == "seq 3: checkpoint body lacks seq/hash/sig"


def test_verifier_stops_at_the_first_problem() -> None:
    evs = chain(5)
    v = ChainVerifier(PUB)
    v.fail("seq 1: injected by the adapter")
    assert not v.add(evs[0])
    assert v.report().first_bad == "seq 1: injected by the adapter"
    with pytest.raises(ValueError):
        ChainVerifier(b"short")
