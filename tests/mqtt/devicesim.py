"""A small device for tests: Journal + Publisher appending synthetic capture events.

Run as a process (`python devicesim.py JOURNAL DEVICE URL COUNT RATE [ACK_TIMEOUT USER PASSWORD_FILE]`) so tests can SIGKILL
it mid-stream: it appends until the journal head reaches COUNT (continuing after a
restart), prints `appended <seq>` now and then, waits until the hub acked everything,
prints `done`, and exits 0.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from camaudit.config.mqtt import MqttConfig
from camaudit.mqtt.publisher import Publisher
from camaudit.store.journal import Journal


def capture_body(i: int) -> dict[str, object]:
    unconsented = i % 3 == 0
    return {
        "capture": f"c-{i:06d}",
        "start": 1795651200000 + i * 1000,
        "end": 1795651200000 + i * 1000 + 900,
        "frames": 10,
        "max_faces": 1 + i % 4,
        "identifiable_tracks": i % 3,
        "verdict": "unconsented" if unconsented else "consented",
        "reasons": ["notice_missing"] if unconsented else [],
        "basis": None if unconsented else "notice:entrance-sign",
    }


def append_captures(journal: Journal, upto: int, rate: float, pub: Publisher | None = None,
                    report=None) -> None:
    """Append capture.end events until the journal head reaches `upto` (at ~`rate`/s)."""
    t0 = time.monotonic()
    n = 0
    while journal.head[0] < upto:
        seq = journal.head[0] + 1
        journal.append("capture.end", "counter", capture_body(seq), int(time.time() * 1000))
        if pub is not None:
            pub.notify()
        n += 1
        if report is not None and n % 50 == 0:
            report(journal.head[0])
        if rate > 0:
            delay = t0 + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)


def main() -> int:
    path, device, url, count, rate = sys.argv[1:6]
    ack_timeout = float(sys.argv[6]) if len(sys.argv) > 6 else 2.0
    username = sys.argv[7] if len(sys.argv) > 8 else None
    password_file = sys.argv[8] if len(sys.argv) > 8 else None
    journal = Journal.open(Path(path), device, checkpoint_every=100)
    cfg = MqttConfig(url=url, ack_timeout_s=ack_timeout, username=username, password_file=password_file)
    pub = Publisher(cfg, journal, feeds=["counter"])
    pub.start()

    def report(seq: int) -> None:
        print(f"appended {seq}", flush=True)

    append_captures(journal, int(count), float(rate), pub, report)
    print(f"appended {journal.head[0]}", flush=True)
    while journal.outbox_size():
        time.sleep(0.1)
    print("done", flush=True)
    pub.stop()
    journal.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
