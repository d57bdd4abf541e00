"""Record signatures checked on other cores, for verifying large journals.

Ed25519 verification is most of the cost of `camaudit verify`; the chain walk (parse,
hash, links) stays in the calling process, the per-record signatures go to worker
processes in batches, and the first bad one (lowest seq) is reported.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor

from camaudit.core.record import RecordError, check_sig_of

#: Records per batch sent to a worker.
BATCH = 2048


def first_bad_signature(public_key: bytes, items: list[tuple[int, str, str]]) -> int | None:
    """Lowest seq in `items` (seq, hash hex, sig hex) whose signature does not hold."""
    for seq, hash_hex, sig_hex in items:
        try:
            check_sig_of(hash_hex, sig_hex, public_key, what=f"seq {seq}")
        except RecordError:
            return seq
    return None


def _context() -> multiprocessing.context.BaseContext:
    """fork is cheap but only safe with no other thread running; else spawn."""
    methods = multiprocessing.get_all_start_methods()
    if threading.active_count() == 1 and "fork" in methods:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


class SignaturePool:
    """Feed (seq, hash, sig) in seq order; `finish()` gives the lowest bad seq, if any."""

    def __init__(self, public_key: bytes, workers: int, batch: int | None = None) -> None:
        self._key = public_key
        self._batch_size = batch or BATCH
        self._batch: list[tuple[int, str, str]] = []
        self._pending: deque[Future[int | None]] = deque()
        self._max_pending = 2 * workers  # bounded: the journal is streamed, not loaded
        self._bad: list[int] = []
        self._pool = ProcessPoolExecutor(max_workers=workers, mp_context=_context())

    @property
    def failed(self) -> bool:
        return bool(self._bad)

    def add(self, seq: int, hash_hex: str, sig_hex: str) -> None:
        self._batch.append((seq, hash_hex, sig_hex))
        if len(self._batch) >= self._batch_size:
            self._submit()

    def _submit(self) -> None:
        if self._batch:
            self._pending.append(self._pool.submit(first_bad_signature, self._key, self._batch))
            self._batch = []
        while len(self._pending) > self._max_pending:
            self._collect(self._pending.popleft())

    def _collect(self, fut: Future[int | None]) -> None:
        bad = fut.result()
        if bad is not None:
            self._bad.append(bad)

    def finish(self) -> int | None:
        try:
            self._submit()
            while self._pending:
                self._collect(self._pending.popleft())
        finally:
            self.close()
        return min(self._bad, default=None)

    def close(self) -> None:
        for fut in self._pending:
            fut.cancel()
        self._pool.shutdown(wait=True, cancel_futures=True)
