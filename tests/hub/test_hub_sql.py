"""The hub's SQL interface behaves the same on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import pytest

from camaudit.hub.store.sql import SqlError, open_sql, redact, to_psycopg


@pytest.fixture(params=["sqlite", "postgresql"])
def sql(request, tmp_path):
    target = tmp_path / "t.db" if request.param == "sqlite" else request.getfixturevalue("pg_url")
    s = open_sql(target)
    yield s
    s.close()


def test_same_sql_both_dialects(sql):
    sql.execute(f"CREATE TABLE t (k TEXT PRIMARY KEY, n {sql.bigint}, j TEXT, b {sql.blob})")
    with sql.transaction():
        sql.execute("INSERT INTO t (k, n, j, b) VALUES (?, ?, ?, ?)",
                    ("a", 2**40, '{"body": {"notice": "50% off?"}}', b"\x00\xff"))
        assert sql.lock_row("t", "k", "a")[1] == 2**40
    sql.execute("INSERT INTO t (k, n) VALUES (:k, :n) ON CONFLICT(k) DO UPDATE SET "
                f"n = {sql.greatest('t.n', 'excluded.n')}", {"k": "a", "n": 5})
    row = sql.execute(f"SELECT n, {sql.json_text('j', 'body', 'notice')}, b, 'x%y?' FROM t WHERE k LIKE ?",
                      ("a%",)).fetchone()
    assert (row[0], row[1], bytes(row[2]), row[3]) == (2**40, "50% off?", b"\x00\xff", "x%y?")


def test_transaction_rolls_back_on_error(sql):
    sql.execute("CREATE TABLE t (k TEXT PRIMARY KEY)")
    with pytest.raises(RuntimeError), sql.transaction():
        sql.execute("INSERT INTO t (k) VALUES (?)", ("a",))
        raise RuntimeError("boom")
    assert sql.execute("SELECT COUNT(*) FROM t").fetchone()[0] == 0
    with pytest.raises(SqlError, match="nested"), sql.transaction(), sql.transaction():
        pass


def test_placeholders_outside_quotes_only():
    assert to_psycopg("SELECT '?:x%' , x::jsonb FROM t WHERE a = ? AND b = :b") == \
        "SELECT '?:x%%' , x::jsonb FROM t WHERE a = %s AND b = %(b)s"


def test_unreachable_postgres_is_one_clear_error():
    with pytest.raises(SqlError) as err:
        open_sql("postgresql://u:hunter2@127.0.0.1:1/db")
    assert "hunter2" not in str(err.value) and "postgresql://u:***@127.0.0.1:1/db" in str(err.value)
    assert redact("postgresql://h/db") == "postgresql://h/db"
