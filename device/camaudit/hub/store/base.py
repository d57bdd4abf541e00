"""The connection every part of HubStore shares: opened, migrated, locked per call."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from camaudit.hub.store.records import HubError, is_url
from camaudit.hub.store.schema import migrate
from camaudit.hub.store.sql import Sql, SqlError, open_sql


class SqlStore:
    """A store shared by the threads of one process (its connection takes one lock per
    call); other processes open their own."""

    def __init__(self, target: Path | str, *, must_exist: bool = False) -> None:
        """`target`: a SQLite file or a `postgresql://` URL. `must_exist`: a SQLite file
        that is not there is an error (readers: export, subject check) instead of a new store."""
        self.path: Path | None = None if is_url(target) else Path(target)
        if must_exist and self.path is not None and not self.path.is_file():
            raise HubError(f"no hub store at {self.path}")
        try:
            self.sql = open_sql(target)
        except SqlError as exc:
            raise HubError(str(exc)) from None
        self.where = self.sql.where
        try:
            migrate(self.sql)
        except SqlError as exc:
            self.sql.close()
            raise HubError(str(exc)) from None

    @contextlib.contextmanager
    def _db(self) -> Iterator[Sql]:
        """The connection, under its lock; a database failure becomes one HubError line."""
        with self.sql.lock:
            try:
                yield self.sql
            except SqlError as exc:
                raise HubError(str(exc)) from None

    def close(self) -> None:
        self.sql.close()
