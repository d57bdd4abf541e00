"""One small SQL connection interface for the hub's stores: SQLite (default) or PostgreSQL.

Every hub store writes its SQL once, in the subset both databases share, with `?`
placeholders (or `:name` with a mapping); the PostgreSQL side turns them into psycopg's
`%s` / `%(name)s`. Where the two differ, a store asks `sql.dialect` or uses the helpers
here (`json_text`, `greatest`, `least`, `blob`). Upserts use `INSERT ... ON CONFLICT`,
which both speak (SQLite >= 3.24).

`transaction()` is the one way to write several statements atomically: SQLite takes the
write lock at BEGIN (`BEGIN IMMEDIATE`), PostgreSQL runs READ COMMITTED and a store that
must serialise per device locks that device's row with `lock_row` (`SELECT ... FOR
UPDATE`; SQLite already holds the whole-database lock). psycopg is imported only when a
`postgresql://` URL is opened, so the package imports anywhere.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sqlite3
import stat
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from camaudit.errors import CamauditError

log = logging.getLogger(__name__)

Params = Sequence[Any] | Mapping[str, Any]
Dialect = Literal["sqlite", "postgresql"]


class SqlError(CamauditError):
    """The hub's database cannot be opened or used. `transient`: the transaction was
    rolled back by a conflict with another writer (PostgreSQL deadlock or serialization
    failure, SQLite still locked after its busy timeout) and may simply be run again."""

    def __init__(self, message: str, *, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


class Cursor(Protocol):
    rowcount: int
    description: Any

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Sql:
    """A connection shared by the threads of one process (every call takes its lock)."""

    dialect: Dialect
    where: str  # what to name in messages: a file path or a URL without its password

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._in_tx = False

    # -- implemented per dialect --
    def _execute(self, sql: str, params: Params) -> Cursor:
        raise NotImplementedError

    def _executemany(self, sql: str, rows: Iterable[Params]) -> None:
        raise NotImplementedError

    def _begin(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    # -- shared --
    def execute(self, sql: str, params: Params = ()) -> Cursor:
        with self.lock:
            return self._execute(sql, params)

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        with self.lock:
            self._executemany(sql, rows)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Sql]:
        """BEGIN ... COMMIT, ROLLBACK on any exception. Not re-entrant."""
        with self.lock:
            if self._in_tx:
                raise SqlError(f"{self.where}: nested transaction")
            self._begin()
            self._in_tx = True
            try:
                yield self
            except BaseException:
                self._in_tx = False
                with contextlib.suppress(Exception):
                    self._execute("ROLLBACK", ())
                raise
            self._in_tx = False
            self._execute("COMMIT", ())

    def lock_row(self, table: str, key_col: str, key: Any) -> Any:
        """Inside a transaction: read and lock one row (PostgreSQL FOR UPDATE; SQLite's
        BEGIN IMMEDIATE already holds the write lock). Returns the row or None."""
        tail = " FOR UPDATE" if self.dialect == "postgresql" else ""
        return self._execute(f"SELECT * FROM {table} WHERE {key_col} = ?{tail}", (key,)).fetchone()

    # -- dialect helpers (SQL text; arguments are SQL, never user input) --
    def json_text(self, column: str, *path: str) -> str:
        """The text at `path` inside a JSON text column."""
        if self.dialect == "postgresql":
            return f"({column}::jsonb #>> '{{{','.join(path)}}}')"
        return f"json_extract({column}, '$.{'.'.join(path)}')"

    def greatest(self, a: str, b: str) -> str:
        return f"GREATEST({a}, {b})" if self.dialect == "postgresql" else f"MAX({a}, {b})"

    def least(self, a: str, b: str) -> str:
        return f"LEAST({a}, {b})" if self.dialect == "postgresql" else f"MIN({a}, {b})"

    @property
    def blob(self) -> str:
        return "BYTEA" if self.dialect == "postgresql" else "BLOB"

    @property
    def bigint(self) -> str:
        return "BIGINT" if self.dialect == "postgresql" else "INTEGER"


def _locked(exc: sqlite3.Error) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc)


def _private_file(path: Path, *, create: bool = True) -> None:
    """`path` readable by its owner only (0600): created so when missing (an empty file is
    an empty SQLite database; SQLite gives its -wal and -shm the database file's mode),
    tightened when this user owns it and others could read it (a store made by an older hub)."""
    if create:
        try:
            os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            return
        except FileExistsError:
            pass
    try:
        st = path.stat()
    except FileNotFoundError:
        return
    if stat.S_ISREG(st.st_mode) and st.st_uid == os.getuid() and st.st_mode & 0o077:
        path.chmod(0o600)


class SqliteSql(Sql):
    dialect: Dialect = "sqlite"

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = Path(path)
        self.where = str(self.path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _private_file(self.path)
            conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA busy_timeout = 10000")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            for p in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm")):
                _private_file(p, create=False)
        except (sqlite3.Error, OSError) as exc:
            raise SqlError(f"hub store {self.path}: {exc}") from None
        self.conn = conn

    def _execute(self, sql: str, params: Params) -> Cursor:
        try:
            return self.conn.execute(sql, params)  # type: ignore[return-value]
        except sqlite3.Error as exc:
            raise SqlError(f"hub store {self.where}: {exc}", transient=_locked(exc)) from None

    def _executemany(self, sql: str, rows: Iterable[Params]) -> None:
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise SqlError(f"hub store {self.where}: {exc}", transient=_locked(exc)) from None

    def _begin(self) -> None:
        self._execute("BEGIN IMMEDIATE", ())

    def close(self) -> None:
        with self.lock:
            self.conn.close()


_PLACEHOLDER = re.compile(r"'(?:[^']|'')*'|\?|(?<!:):([A-Za-z_][A-Za-z0-9_]*)|%")


def to_psycopg(sql: str) -> str:
    """`?` -> `%s`, `:name` -> `%(name)s`, a literal `%` -> `%%`; quoted strings untouched
    (`::type` casts are left alone)."""

    def sub(m: re.Match[str]) -> str:
        tok = m.group(0)
        if tok.startswith("'"):
            return tok.replace("%", "%%")
        if tok == "?":
            return "%s"
        if tok == "%":
            return "%%"
        return f"%({m.group(1)})s"

    return _PLACEHOLDER.sub(sub, sql)


# A libpq `key=value` connection string ("host=h dbname=x password=p"): never a hub store
# (it would become a SQLite file named after it, password and all); named here to refuse it.
_DSN_KEY = re.compile(r"(?i)(?:^|\s)(?:host|hostaddr|port|dbname|user|password|passfile|service|sslmode)\s*=")
_DSN_PASSWORD = re.compile(r"(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S*)")


def dsn_like(target: str) -> bool:
    """`target` reads as a libpq key=value connection string, not a file path or a URL."""
    return "://" not in target and bool(_DSN_KEY.search(target))


def redact(url: str) -> str:
    """A database URL fit for a message: its password replaced by *** (in the user part,
    up to the last `@`, whatever it contains; and a `password=` query parameter); in a
    libpq key=value string, the value of `password=`."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return _DSN_PASSWORD.sub(r"\1***", url) if dsn_like(url) else url
    at = rest.rfind("@")
    if at >= 0 and ":" in rest[:at]:
        rest = rest[:at].split(":", 1)[0] + ":***" + rest[at:]
    return scheme + sep + re.sub(r"(?i)([?&]password=)[^&]*", r"\1***", rest)


class PostgresSql(Sql):
    """A psycopg 3 connection in autocommit mode (BEGIN/COMMIT explicit). A lost connection
    (server restart, network) fails the call that meets it with one SqlError line; the next
    call reconnects. A BEGIN or a lone SELECT that meets a dead connection reconnects and
    runs again at once (neither has changed anything)."""

    dialect: Dialect = "postgresql"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.where = redact(url)
        self._url = url
        try:
            import psycopg
        except ImportError:
            raise SqlError("a postgresql:// hub store needs psycopg 3: pip install 'psycopg[binary]'") from None
        self._psycopg = psycopg
        self.conn = self._connect()
        self._cache: dict[str, str] = {}

    def _connect(self) -> Any:
        psycopg = self._psycopg
        try:
            return psycopg.connect(self._url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise self._error(exc) from None

    def _error(self, exc: Exception) -> SqlError:
        text = str(exc).strip()
        first = text.splitlines()[0] if text else type(exc).__name__
        errors = self._psycopg.errors
        transient = isinstance(exc, errors.DeadlockDetected | errors.SerializationFailure)
        return SqlError(f"hub store {self.where}: {first.replace(self._url, self.where)}", transient=transient)

    def _live(self) -> Any:
        """The connection, reopened if the last one was lost (never inside a transaction)."""
        if self.conn.closed:
            if self._in_tx:
                raise SqlError(f"hub store {self.where}: connection lost inside a transaction")
            log.warning("hub store %s: connection lost; reconnecting", self.where)
            self.conn = self._connect()
        return self.conn

    def _sql(self, sql: str) -> str:
        out = self._cache.get(sql)
        if out is None:
            out = self._cache[sql] = to_psycopg(sql)
        return out

    def _run(self, fn: Any, *, retry: bool) -> Any:
        psycopg = self._psycopg
        try:
            return fn(self._live())
        except psycopg.OperationalError as exc:
            if not (retry and self.conn.closed and not self._in_tx):
                raise self._error(exc) from None
        except psycopg.Error as exc:
            raise self._error(exc) from None
        try:
            return fn(self._live())
        except psycopg.Error as exc:
            raise self._error(exc) from None

    def _execute(self, sql: str, params: Params) -> Cursor:
        text = self._sql(sql)  # always with params: %% unescaped
        read_only = sql.lstrip()[:6].upper() == "SELECT" and not self._in_tx
        return self._run(lambda c: c.execute(text, params), retry=read_only)  # type: ignore[no-any-return]

    def _executemany(self, sql: str, rows: Iterable[Params]) -> None:
        text, batch = self._sql(sql), list(rows)

        def many(c: Any) -> None:
            with c.cursor() as cur:
                cur.executemany(text, batch)

        self._run(many, retry=False)

    def _begin(self) -> None:
        self._run(lambda c: c.execute("BEGIN"), retry=True)

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def open_sql(target: Path | str) -> Sql:
    """A `postgresql://` (or `postgres://`) URL opens PostgreSQL; anything else is a SQLite file."""
    text = str(target)
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresSql(text)
    if dsn_like(text):
        raise SqlError(DSN_REFUSED.format(redact(text)))
    return SqliteSql(target)


DSN_REFUSED = ("hub store {}: a libpq key=value string is not a hub store (it would become a file "
               "named after it); give postgresql://USER@HOST:PORT/DBNAME (password in ~/.pgpass) "
               "or a SQLite file path")
