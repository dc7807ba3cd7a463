"""The fix-up layer: each case where sqlglot's BigQuery -> DuckDB translation changes meaning, run on DuckDB."""
from __future__ import annotations

import duckdb
import pytest

from c360.dialect import DialectError, to_duckdb


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("SET TimeZone='UTC'")
    yield c
    c.close()


def test_date_sub_returns_a_date_as_in_bigquery(con):
    sql = to_duckdb("SELECT DATE_SUB(DATE '2024-03-10', INTERVAL 3 DAY) AS d, DATE_ADD(DATE '2024-03-10', INTERVAL 1 DAY) AS e")
    assert con.execute(f"SELECT typeof(d), typeof(e), d, e FROM ({sql})").fetchone()[:2] == ("DATE", "DATE")
    assert [str(v) for v in con.execute(sql).fetchone()] == ["2024-03-07", "2024-03-11"]


def test_date_sub_compares_inclusively_with_dates(con):
    # a window boundary: 2024-03-07 BETWEEN DATE_SUB('2024-03-10', 3) AND '2024-03-10' must hold
    sql = to_duckdb("SELECT DATE '2024-03-07' BETWEEN DATE_SUB(DATE '2024-03-10', INTERVAL 3 DAY) AND DATE '2024-03-10' AS inside")
    assert con.execute(sql).fetchone()[0] is True


def test_timestamp_micros_keeps_utc(con):
    sql = to_duckdb("SELECT TIMESTAMP_MICROS(1709251199000000) AS t")
    typ, value = con.execute(f"SELECT typeof(t), CAST(t AS VARCHAR) FROM ({sql})").fetchone()
    assert typ == "TIMESTAMP WITH TIME ZONE"
    assert value == "2024-02-29 23:59:59+00"


def test_unnest_without_alias_is_rejected():
    with pytest.raises(DialectError, match="UNNEST without an alias"):
        to_duckdb("SELECT (SELECT value.string_value FROM UNNEST(event_params) WHERE key = 'x') FROM t")


def test_aliased_unnest_reads_struct_fields(con):
    con.execute("CREATE TABLE t AS SELECT [{'key': 'a', 'v': 1}, {'key': 'b', 'v': 2}] AS params")
    sql = to_duckdb("SELECT (SELECT p.v FROM UNNEST(params) AS p WHERE p.key = 'b' LIMIT 1) AS v FROM t")
    assert con.execute(sql).fetchone()[0] == 2


def test_in_unnest_of_a_parameter(con):
    sql = to_duckdb("SELECT 'closedwon' IN UNNEST(@won) AS a, 'open' IN UNNEST(@won) AS b")
    assert con.execute(sql, {"won": ["closedwon"]}).fetchone() == (True, False)


def test_countif_is_zero_when_every_condition_is_null(con):
    sql = to_duckdb("SELECT COUNTIF(x > 1) AS n FROM (SELECT CAST(NULL AS INT64) AS x UNION ALL SELECT NULL)")
    assert con.execute(sql).fetchone()[0] == 0
    sql = to_duckdb("SELECT COUNTIF(x > 1) AS n FROM (SELECT 2 AS x UNION ALL SELECT 1 UNION ALL SELECT NULL)")
    assert con.execute(sql).fetchone()[0] == 1
