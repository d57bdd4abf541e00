"""Forks: a validly signed record that disagrees with the stored chain (same seq, other
hash; or a prev that is not the stored hash). Every version is quarantined, the operator is
alerted (web page, MQTT `<p>/hub/alerts` retained, `camaudit alerts`), and the device gets no
more acks until an operator resolves it (`camaudit hub resolve-fork`).

Shared linking finds forks inside its store transaction (linkstore.py `_quarantine`); the
alert side is here for both modes."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from camaudit.core.record import Event
from camaudit.hub.ingest.batch import Batch
from camaudit.hub.store.hub_store import fork_alert

log = logging.getLogger(__name__)


def quarantine(b: Batch, ev: Event, text: str, received: int, why: str, fork_seq: int | None) -> int:
    """Count and quarantine `ev`; return the device's fork seq (the lowest forked seq).
    The first fork of a device (or one earlier than known) is marked for an alert."""
    b.reject("fork", f"{ev.device} seq {ev.seq}: {why}")
    b.quarantine.append((ev, text, received, why))
    if fork_seq is None or ev.seq < fork_seq:
        b.forked.add(ev.device)
        log.error("FORK: device %s has two validly signed versions from seq %d (%s); "
                  "acks stopped until `camaudit hub resolve-fork %s`", ev.device, ev.seq, why,
                  ev.device)
    return ev.seq if fork_seq is None else min(fork_seq, ev.seq)


class ForkAlerts:
    """Fork alerts for the operator. The retained `<p>/hub/alerts` message holds EVERY open
    alert (all open forks, the recent device alerts no operator acknowledged), republished by
    `publish_open` after each batch that raised one and when a fork is resolved."""

    def __init__(self, publish_open: Callable[[], None]) -> None:
        self._publish_open = publish_open

    def raise_(self, fork: dict[str, Any]) -> dict[str, Any]:
        return fork_alert(fork)  # published with the others once the batch is stored

    def clear(self) -> None:
        self._publish_open()
