"""A child's log, bounded on disk: a thread copies the lines of its output pipe into a file
and, past `max_bytes`, moves that file to `<name>.1` (replacing the older one) and starts
afresh. HAProxy logs one line a connection it ends; a connection flood must not fill the
disk, and HAProxy itself must not wait for the disk: it writes to a non-blocking pipe and
drops (counts) a line the pipe has no room for."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import IO

MAX_LOG_BYTES = 8 * 1024 * 1024  # per file; at most twice that on disk


def _open_private(path: Path) -> IO[bytes]:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "ab")


class LogPump(threading.Thread):
    def __init__(self, stream: IO[bytes], path: Path, max_bytes: int = MAX_LOG_BYTES) -> None:
        super().__init__(name=f"log-{path.name}", daemon=True)
        self.stream = stream
        self.path = path
        self.max_bytes = max_bytes

    def run(self) -> None:
        out = _open_private(self.path)
        try:
            for line in iter(self.stream.readline, b""):
                if out.tell() + len(line) > self.max_bytes:
                    out.close()
                    os.replace(self.path, self.path.with_name(self.path.name + ".1"))
                    out = _open_private(self.path)
                out.write(line[: self.max_bytes])
                out.flush()
        except (OSError, ValueError):  # the pipe or the file went away with the hub
            pass
        finally:
            out.close()
            self.stream.close()
