"""A real PostgreSQL for tests: Debian's postgresql, started by the test run.

One server per test session (initdb in a temp folder, a free 127.0.0.1 port, its socket
in that folder, trust auth for the local test user), stopped at the end of the session;
each test that asks for `pg_url` gets a database of its own. Run as root (CI), the server
runs as the `postgres` system user, as PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PgServer:
    def __init__(self, root: Path) -> None:
        if not PG_BINS:
            raise RuntimeError("PostgreSQL is not installed (apt-get install postgresql; `make test` does)")
        self.bin = PG_BINS[0]
        self.root = root
        self.data = root / "data"
        self.port = _free_port()
        self.user = "camaudit"
        self._as: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(root, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", self.user, "-E", "UTF8",
                  "--no-instructions")
        opts = (f"-p {self.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                "-c max_connections=200 -c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(self.data), "-o", opts, "-l", str(root / "server.log"),
                  "-w", "-t", "60", "start")
        self._n = itertools.count(1)

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._as, str(self.bin / tool), *args], check=True, capture_output=True,
                       timeout=120, cwd=self.root)

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{db}"

    def new_database(self) -> str:
        import psycopg

        name = f"t{next(self._n)}"
        with psycopg.connect(self.url(), autocommit=True) as c:
            c.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def restart(self) -> None:
        """Restart the server (fast shutdown: every client connection is cut), same port."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-l", str(self.root / "server.log"), "-w",
                  "-t", "60", "restart")

    def stop(self) -> None:
        subprocess.run([*self._as, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                        "-w", "stop"], capture_output=True, timeout=60, cwd=self.root)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    root = Path(tempfile.mkdtemp(prefix="camaudit-pg-"))
    root.chmod(0o755)
    server = PgServer(root)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture()
def pg_url(pg_server: PgServer) -> str:
    """A fresh, empty database on the session's PostgreSQL server."""
    return pg_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def hub_db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A hub store target, once per backend: a SQLite file in the test's folder (the hub's
    default, DATA_DIR/hub.db for make_hub) or a fresh PostgreSQL database (URL)."""
    if request.param == "sqlite":
        return str(tmp_path / "hub" / "hub.db")
    return str(request.getfixturevalue("pg_url"))
