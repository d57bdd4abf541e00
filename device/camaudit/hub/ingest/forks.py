"""Forks: a validly signed record that disagrees with the stored chain (same seq, other
hash; or a prev that is not the stored hash). Every version is quarantined, the operator is
alerted (web page, MQTT `<p>/hub/alerts` retained, `camaudit alerts`), and the device gets no
more acks until an operator resolves it (`camaudit hub resolve-fork`).

Shared linking finds forks inside its store transaction (linkstore.py `_quarantine`); the
alert side is here for both modes."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from camaudit.core.record import Event
from camaudit.hub.ingest.batch import Batch
from camaudit.hub.store.hub_store import fork_alert
from camaudit.mqtt import topics

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
    """The retained operator alert on `<p>/hub/alerts`: set on a new fork, cleared (empty
    retained message) once no fork is left open."""

    def __init__(self, publish: Callable[..., None], prefix: str) -> None:
        self._publish = publish
        self.p = prefix

    def raise_(self, fork: dict[str, Any]) -> dict[str, Any]:
        alert = fork_alert(fork)
        self._publish(topics.alerts(self.p, "hub"), json.dumps(alert).encode(), retain=True)
        return alert

    def clear(self) -> None:
        self._publish(topics.alerts(self.p, "hub"), b"", retain=True)
