"""One interface, two ways to link a device's verified events to its stored chain.

- `memory` (link_memory.MemoryLinker): the single hub; chain heads in this process.
- `shared` (link_shared.SharedLinker over linkstore.LinkStore): hub workers on one store,
  each device's batch linked in one store transaction.

The collector calls, per batch: `take` for every verified event, `commit` (store), then
`settle` (fork alerts), and `send` (acks, replay requests); between batches `idle` and
`maintain`; after (re)subscribing `resend_all`."""

from __future__ import annotations

from typing import Literal, Protocol

from camaudit.core.record import Event
from camaudit.hub.ingest.batch import Batch

Mode = Literal["memory", "shared"]


class Linker(Protocol):
    mode: Mode
    lag_ms: int  # how long the oldest message of the batch being linked waited (heartbeat)

    def take(self, topic: str, ev: Event, text: str, received: int, b: Batch) -> None:
        """One verified event of this batch (from `topic`)."""

    def forget(self, device: str | None) -> None:
        """Drop what is held of `device`'s chain (None: of every chain) after an error."""

    def commit(self, b: Batch, oldest_ms: int) -> None:
        """Link and store what the batch took; count its rejects."""

    def settle(self, b: Batch) -> None:
        """Alerts for forks the batch found."""

    def send(self, b: Batch) -> None:
        """Acks and replay requests the batch calls for."""

    def idle(self, now: float) -> None:
        """No message for a while: acks that fell due, replays still wanted."""

    def maintain(self, now: float) -> None:
        """Periodic upkeep (shared: the gap sweep)."""

    def resend_all(self) -> None:
        """Just (re)subscribed: ask every enrolled device to re-send from its stored head."""

    def wait_s(self) -> float:
        """How long the worker may wait for messages: until the next ack falls due."""
