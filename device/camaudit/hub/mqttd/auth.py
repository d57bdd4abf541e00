"""User names and passwords from the hub's password file (`user:<argon2 hash>` lines).

The file is re-read when it changes (so `camaudit hub adduser` takes effect without a
broker restart). argon2 is slow on purpose (tens of ms): a successful (user, password) is
remembered in memory, keyed to the hash it matched, so reconnects cost a dict look-up;
failures are never cached.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class PasswordFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._users: dict[str, str] = {}
        self._stamp: tuple[int, int, int] | None = None
        self._ok: dict[tuple[str, bytes], str] = {}  # (user, password) -> hash it matched
        self._lock = threading.Lock()  # verify() runs in executor threads
        self._hasher: Any = None

    def _reload(self) -> None:
        try:
            st = os.stat(self.path)
        except OSError as exc:
            if self._stamp != (0, 0, 0):
                log.warning("password file %s unreadable (%s): refusing every client", self.path, exc)
            self._users, self._stamp = {}, (0, 0, 0)
            return
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if stamp == self._stamp:
            return
        users = {}
        for line in self.path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line and not line.startswith("#") and ":" in line:
                user, _, hashed = line.partition(":")
                users[user] = hashed
        self._users, self._stamp = users, stamp

    def cached(self, user: str, password: bytes) -> bool | None:
        """True if this (user, password) already verified against the current hash; False
        for an unknown user; None when argon2 has to decide (call `verify`, off the loop)."""
        with self._lock:
            self._reload()
            hashed = self._users.get(user)
        if hashed is None:
            return False
        return True if self._ok.get((user, password)) == hashed else None

    def verify(self, user: str, password: bytes) -> bool:
        """argon2 check (slow: run it in a thread)."""
        with self._lock:
            self._reload()
            hashed = self._users.get(user)
            if self._hasher is None:
                from pwdlib import PasswordHash
                from pwdlib.hashers.argon2 import Argon2Hasher

                self._hasher = PasswordHash((Argon2Hasher(),))
        if hashed is None:
            return False
        try:
            ok = bool(self._hasher.verify(password.decode("utf-8"), hashed))
        except Exception:  # undecodable password, malformed hash: a refusal either way
            ok = False
        if ok:
            with self._lock:
                self._ok[(user, password)] = hashed
        return ok
