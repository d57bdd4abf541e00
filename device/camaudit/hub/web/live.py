"""Fan verified alerts out to the web page's server-sent-event streams (thread -> asyncio)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

log = logging.getLogger(__name__)


class LiveAlerts:
    """The collector thread calls publish(); each SSE client reads from its own asyncio queue."""

    def __init__(self, max_queue: int = 1000) -> None:
        self._lock = threading.Lock()
        self._clients: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[dict[str, Any] | None]]] = set()
        self._max = max_queue
        self._listeners: list[Callable[[list[dict[str, Any]]], None]] = []
        self.closed = False

    def add_listener(self, fn: Callable[[list[dict[str, Any]]], None]) -> None:
        """Also call `fn(alerts)` (from the collector thread) for every batch of new alerts."""
        with self._lock:
            self._listeners.append(fn)

    def publish(self, alerts: list[dict[str, Any]]) -> None:
        with self._lock:
            clients = list(self._clients)
            listeners = list(self._listeners)
        for fn in listeners:
            try:
                fn(alerts)
            except Exception:
                log.exception("alert listener failed")
        for loop, q in clients:
            for a in alerts:
                with contextlib.suppress(RuntimeError):  # loop closed
                    loop.call_soon_threadsafe(_put, q, a)

    def close(self) -> None:
        """End every stream (so the web server can shut down)."""
        self.closed = True
        with self._lock:
            clients = list(self._clients)
        for loop, q in clients:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(_put, q, None)

    async def stream(self, heartbeat_s: float = 15.0) -> AsyncIterator[str]:
        """SSE text: `event: alert` frames, and comment heartbeats."""
        loop = asyncio.get_running_loop()
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(self._max)
        entry = (loop, q)
        with self._lock:
            self._clients.add(entry)
        try:
            yield ": connected\n\n"
            while not self.closed:
                try:
                    item = await asyncio.wait_for(q.get(), heartbeat_s)
                except TimeoutError:
                    yield ": ping\n\n"
                    continue
                if item is None:
                    break
                yield f"event: alert\ndata: {json.dumps(item, sort_keys=True)}\n\n"
        finally:
            with self._lock:
                self._clients.discard(entry)


def _put(q: asyncio.Queue[dict[str, Any] | None], item: dict[str, Any] | None) -> None:
    try:
        q.put_nowait(item)
    except asyncio.QueueFull:
        log.warning("an SSE client is too slow; dropping a live alert (it stays in the list)")
