"""Verify a stream of event records as one chain: hashes, signatures, links, checkpoints.

Pure: events in, a report out. The device's `camaudit verify`, the hub and the offline
evidence-pack check all feed records through the same `ChainVerifier`, so the rules live
in one place. Records are consumed one at a time (nothing is kept but a small window of
recent hashes), so a 100k-event journal verifies in constant memory.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from camaudit.core.record import (
    GENESIS_PREV,
    Event,
    RecordError,
    check_hash,
    check_sig_of,
    check_signature,
)

#: How many recent (seq, hash) pairs are kept to check what a checkpoint vouches for.
HASH_WINDOW = 4096

HashLookup = Callable[[int], "str | None"]


@dataclass(frozen=True)
class ChainReport:
    """Outcome of a chain check. On failure the counts stop at the last good record."""

    ok: bool
    events: int
    checkpoints: int
    head_seq: int
    head_hash: str
    first_bad: str | None


class ChainVerifier:
    """Check records one by one, in seq order, starting after (start_seq, start_hash).

    `start_seq`/`start_hash` is the point the chain continues from: (0, GENESIS_PREV) for a
    full chain, or the last pruned record of a journal whose oldest part was pruned.
    `device`, when given, is the device every record must name. `hash_of` may resolve the
    hash of an already-verified record that fell out of the recent window (for checkpoints
    that vouch for a seq older than the last `window` records); without it such a
    checkpoint is reported as unverifiable.
    `check_signatures=False` leaves the per-record signature to the caller (a storage
    adapter checking them on other cores); checkpoint body signatures are still checked.
    Per record the rules run in this order: hash, device, link, checkpoint, signature; so
    a record's signature is judged only once everything else about it holds.
    After the first problem the verifier stops; `report()` names it in `first_bad`.
    """

    def __init__(
        self,
        public_key: bytes,
        *,
        device: str | None = None,
        start_seq: int = 0,
        start_hash: str = GENESIS_PREV,
        hash_of: HashLookup | None = None,
        window: int = HASH_WINDOW,
        check_signatures: bool = True,
    ) -> None:
        if len(public_key) != 32:
            raise ValueError("an Ed25519 public key is 32 bytes")
        self._key = public_key
        self._device = device
        self._start_seq = start_seq
        self._start_hash = start_hash
        self._hash_of = hash_of
        self._window = max(1, window)
        self._check_sigs = check_signatures
        self._last: Event | None = None
        self._recent: OrderedDict[int, str] = OrderedDict()
        self.events = 0
        self.checkpoints = 0
        self.first_bad: str | None = None

    @property
    def ok(self) -> bool:
        return self.first_bad is None

    @property
    def head(self) -> tuple[int, str]:
        if self._last is None:
            return self._start_seq, self._start_hash
        return self._last.seq, self._last.hash

    def fail(self, message: str) -> None:
        """Record a problem found outside the record itself (e.g. by a storage adapter)."""
        if self.first_bad is None:
            self.first_bad = message

    def add(self, ev: Event) -> bool:
        """Check one record against the chain so far. Returns False once the chain is bad."""
        if self.first_bad is not None:
            return False
        try:
            self._check(ev)
        except RecordError as exc:
            self.first_bad = str(exc)
            return False
        self._last = ev
        self._recent[ev.seq] = ev.hash
        if len(self._recent) > self._window:
            self._recent.popitem(last=False)
        self.events += 1
        if ev.type == "checkpoint":
            self.checkpoints += 1
        return True

    def report(self) -> ChainReport:
        seq, h = self.head
        return ChainReport(
            ok=self.ok,
            events=self.events,
            checkpoints=self.checkpoints,
            head_seq=seq,
            head_hash=h,
            first_bad=self.first_bad,
        )

    # -- rules -------------------------------------------------------------------------

    def _check(self, ev: Event) -> None:
        check_hash(ev)
        if self._device is not None and ev.device != self._device:
            raise RecordError(
                f"seq {ev.seq}: names device {ev.device!r}, not the chain's device {self._device!r}"
            )
        self._check_link(ev)
        if ev.type == "checkpoint":
            self._check_checkpoint(ev)
        if self._check_sigs:
            check_signature(ev, self._key)

    def _check_link(self, ev: Event) -> None:
        last = self._last
        if last is not None:
            if ev.device != last.device:
                raise RecordError(f"seq {ev.seq}: device changes mid-chain")
            prev_seq, prev_hash = last.seq, last.hash
        else:
            prev_seq, prev_hash = self._start_seq, self._start_hash
        if ev.seq != prev_seq + 1:
            if ev.seq <= prev_seq:
                raise RecordError(f"seq {ev.seq}: out of order after seq {prev_seq}")
            raise RecordError(f"seq {ev.seq}: gap after seq {prev_seq}")
        if ev.prev != prev_hash:
            if prev_seq == 0:
                raise RecordError(f"seq {ev.seq}: prev is not the genesis value")
            raise RecordError(f"seq {ev.seq}: prev does not match hash of seq {prev_seq}")

    def _known_hash(self, seq: int) -> str | None:
        if seq in self._recent:
            return self._recent[seq]
        if seq == self._start_seq:
            return self._start_hash
        if self._hash_of is not None and self._start_seq < seq:
            return self._hash_of(seq)
        return None

    def _check_checkpoint(self, ev: Event) -> None:
        body = ev.body
        cp_seq, cp_hash, cp_sig = body.get("seq"), body.get("hash"), body.get("sig")
        if (
            not isinstance(cp_seq, int)
            or isinstance(cp_seq, bool)
            or not isinstance(cp_hash, str)
            or not isinstance(cp_sig, str)
        ):
            raise RecordError(f"seq {ev.seq}: checkpoint body lacks seq/hash/sig")
        if cp_seq >= ev.seq or cp_seq < 0:
            raise RecordError(
                f"seq {ev.seq}: checkpoint vouches for seq {cp_seq}, not an earlier one"
            )
        known = self._known_hash(cp_seq)
        if known is None:
            raise RecordError(
                f"seq {ev.seq}: checkpoint vouches for seq {cp_seq}, which is not in the chain checked"
            )
        if known != cp_hash:
            raise RecordError(
                f"seq {ev.seq}: checkpoint hash does not match the chain at seq {cp_seq}"
            )
        check_sig_of(cp_hash, cp_sig, self._key, what=f"seq {ev.seq}: checkpoint")


def verify_chain(
    events: Iterable[Event],
    public_key: bytes,
    *,
    device: str | None = None,
    start: tuple[int, str] = (0, GENESIS_PREV),
    hash_of: HashLookup | None = None,
) -> ChainReport:
    """Verify records in seq order (see ChainVerifier); stops at the first problem."""
    v = ChainVerifier(
        public_key, device=device, start_seq=start[0], start_hash=start[1], hash_of=hash_of
    )
    for ev in events:
        if not v.add(ev):
            break
    return v.report()
