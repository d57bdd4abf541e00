"""Acks: the stored head sent back on `<p>/<device>/ack` (QoS1, not retained).

Not retained: a stale retained ack could clear a re-created journal's outbox; a device that
missed an ack re-sends and is re-acked. A device is acked at most every ACK_EVERY_S: under
load one ack then covers hundreds of events (per-batch acks cost the broker and the device
as much as the events themselves). A forked device gets no ack at all until an operator
resolves the fork, so neither copy of its journal prunes anything.

Two bookkeepings, one per linking mode: `ChainAcks` (memory: every chain head this process
holds) and `OwedAcks` (shared: only the heads THIS worker advanced)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

ACK_EVERY_S = 0.05  # a device's new head is acked at most this often (one ack covers many events)
REACK_EVERY_S = 0.5

SendAck = Callable[[str, int], None]


class AckedChain(Protocol):
    head_seq: int
    acked_seq: int
    last_ack: float
    fork_seq: int | None


class ChainAcks:
    """Memory linking: ack each device whose stored head moved (or that re-sent)."""

    def __init__(self, send: SendAck, stats: dict[str, int]) -> None:
        self._send = send
        self.stats = stats

    @staticmethod
    def mark_resent(chains: Mapping[str, AckedChain], devices: Iterable[str], now: float) -> None:
        for dev in devices:
            ch = chains[dev]
            if ch.acked_seq == ch.head_seq and now - ch.last_ack >= REACK_EVERY_S:
                ch.acked_seq = -1  # a re-sent event: the device missed our ack, send it again

    def send(self, chains: Mapping[str, AckedChain], now: float) -> None:
        """At most every ACK_EVERY_S: under load one ack covers a whole window of events."""
        for dev, ch in chains.items():
            if ch.fork_seq is not None:
                continue  # forked: neither copy may prune anything until an operator resolves it
            if ch.acked_seq == ch.head_seq or now - ch.last_ack < ACK_EVERY_S:
                continue
            ch.last_ack, ch.acked_seq = now, ch.head_seq
            self.stats["acks"] += 1
            self._send(dev, ch.head_seq)

    @staticmethod
    def wait_s(chains: Mapping[str, AckedChain], now: float) -> float:
        """How long the worker may wait for messages: until the next ack falls due."""
        due = [ch.last_ack for ch in chains.values() if ch.acked_seq != ch.head_seq]
        if not due:
            return 0.2
        return min(0.2, max(0.001, min(due) + ACK_EVERY_S - now))


class OwedAcks:
    """Shared linking: the heads this worker advanced (and so must ack), per device."""

    def __init__(self, send: SendAck, stats: dict[str, int]) -> None:
        self._send = send
        self.stats = stats
        self.owed: dict[str, int] = {}
        self.last_ack: dict[str, float] = {}
        self.last_reack: dict[str, float] = {}
        self.sent: deque[tuple[str, int]] = deque(maxlen=100_000)  # (device, seq), latest (tests)

    def owe(self, dev: str, head: int) -> None:
        self.owed[dev] = max(self.owed.get(dev, 0), head)

    def reack(self, dev: str, head: int, now: float) -> None:
        """The device re-sent what is stored: it missed an ack; tell it the stored head."""
        if now - self.last_reack.get(dev, 0.0) >= REACK_EVERY_S:
            self.last_reack[dev] = now
            self.owe(dev, head)
            self.last_ack.pop(dev, None)
            self.stats["reacks"] += 1

    def send(self, now: float, forked: Callable[[], set[str]]) -> None:
        """At most every ACK_EVERY_S per device; not to a device another worker found forked
        since (`forked` is read once per round, just before sending)."""
        due = [(dev, seq) for dev, seq in self.owed.items() if now - self.last_ack.get(dev, 0.0) >= ACK_EVERY_S]
        if not due:
            return
        forked_now = forked()
        for dev, seq in due:
            del self.owed[dev]
            if dev in forked_now:
                continue  # neither copy may prune anything until an operator resolves the fork
            self.last_ack[dev] = now
            self.stats["acks"] += 1
            self.sent.append((dev, seq))
            self._send(dev, seq)

    def wait_s(self, now: float) -> float:
        owed = [self.last_ack.get(dev, 0.0) for dev in self.owed]
        if not owed:
            return 0.2
        return min(0.2, max(0.001, min(owed) + ACK_EVERY_S - now))
