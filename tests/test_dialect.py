"""The fix-up layer: each case where sqlglot's BigQuery -> DuckDB translation changes meaning, run on DuckDB."""
from __future__ import annotations

import os
import time

import duckdb
import pytest
from sqlglot import exp

from c360.warehouse import dialect
from c360.warehouse.dialect import DialectError, to_duckdb


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


def test_param_lookup_as_a_list_expression_matches_the_correlated_subquery(con):
    # The fix-up turns (SELECT f(p) FROM UNNEST(arr) AS p WHERE cond LIMIT 1) into list functions for speed;
    # on random GA4-like params (missing keys, values in either typed field, null values) both must agree.
    # (GA4 never repeats a key within one event; with a repeated key, LIMIT 1 without ORDER BY may pick
    # either, while the list form always takes the first in array order: see the next test.)
    import random

    import sqlglot

    from c360.sources.flatten import ga4_param

    rng = random.Random(11)
    rows = []
    for i in range(400):
        params = []
        for key in rng.sample(["ga_session_id", "page_location", "session_engaged", "other"], rng.randint(0, 4)):
            value = rng.choice([f"{{'string_value': '{rng.randint(0, 9)}', 'int_value': NULL}}",
                                f"{{'string_value': NULL, 'int_value': {rng.randint(0, 9)}}}",
                                "{'string_value': 'x', 'int_value': NULL}",
                                "{'string_value': NULL, 'int_value': NULL}"])
            params.append(f"{{'key': '{key}', 'value': {value}}}")
        rows.append(f"({i}, [{', '.join(params)}]::STRUCT(key VARCHAR, value STRUCT(string_value VARCHAR, "
                    "int_value BIGINT, float_value DOUBLE, double_value DOUBLE))[])")
    con.execute(f"CREATE TABLE ev AS SELECT * FROM (VALUES {', '.join(rows)}) v(id, event_params)")
    query = (f"SELECT id, {ga4_param('ga_session_id', 'int')} AS sid, {ga4_param('page_location')} AS page, "
             f"{ga4_param('session_engaged', 'int')} = 1 AS engaged FROM ev ORDER BY id")
    fast = to_duckdb(query)
    assert "list_filter" in fast
    plain = sqlglot.transpile(query, read="bigquery", write="duckdb")[0]
    assert con.execute(fast).fetchall() == con.execute(plain).fetchall()


def test_param_lookup_with_a_repeated_key_takes_the_first_in_array_order(con):
    con.execute("CREATE TABLE ev AS SELECT [{'key': 'k', 'v': NULL}, {'key': 'k', 'v': 'second'}, "
                "{'key': 'k', 'v': 'third'}] AS params")
    sql = to_duckdb("SELECT (SELECT p.v FROM UNNEST(params) AS p WHERE p.key = 'k' LIMIT 1) AS v FROM ev")
    assert con.execute(sql).fetchone()[0] is None


def test_param_lookup_inside_other_expressions_and_a_column_named_like_a_placeholder(con):
    # A lookup is a ListLookup node written where it stands (an operand, a function argument); a column of the
    # model is never mistaken for one (the former text placeholders, c360_list_lookup_N, were substituted by name).
    con.execute("CREATE TABLE t AS SELECT [{'key': 'a', 'v': 1}, {'key': 'b', 'v': 2}] AS params, "
                "10 AS c360_list_lookup_0, 20 AS c360_list_lookup_1")
    lookup = "(SELECT p.v FROM UNNEST(params) AS p WHERE p.key = '{}' LIMIT 1)"
    sql = to_duckdb(f"SELECT c360_list_lookup_0, COALESCE({lookup.format('x')}, {lookup.format('a')}) + 100 AS a, "
                    f"{lookup.format('b')} = 2 AS b_is_2, c360_list_lookup_1 * {lookup.format('b')} AS m FROM t")
    assert sql.count("list_filter") == 4 and "c360_list_lookup_0, " in sql and "c360_list_lookup_1 * " in sql
    assert con.execute(sql).fetchone() == (10, 101, True, 40)


def test_the_fix_ups_are_a_sqlglot_dialect():
    import sqlglot

    sql = ("SELECT COUNTIF(x > 1) AS n, DATE_SUB(d, INTERVAL 1 DAY) AS d1, "
           "(SELECT p.v FROM UNNEST(params) AS p WHERE p.key = 'k' LIMIT 1) AS v FROM t")
    assert sqlglot.transpile(sql, read="bigquery", write=dialect.C360DuckDB) == [to_duckdb(sql)]
    with pytest.raises(ValueError, match="ListLookup"):  # sqlglot's own DuckDB has no text for the node
        dialect.ListLookup(this=exp.column("arr"), variable=exp.to_identifier("p"), condition=exp.true(),
                           value=exp.column("v", "p")).sql("duckdb")


def test_farm_fingerprint_becomes_an_equality_hash(con):
    con.execute("CREATE TABLE t AS SELECT * FROM (VALUES (1, [1, 2]), (2, [1, 2]), (3, [2, 1])) v(k, arr)")
    sql = to_duckdb("SELECT k, FARM_FINGERPRINT(TO_JSON_STRING(STRUCT(arr))) AS fp FROM t ORDER BY k")
    fps = [fp for _, fp in con.execute(sql).fetchall()]
    assert fps[0] == fps[1] != fps[2]


def test_safe_parse_date_is_null_for_a_string_that_is_not_a_date(con):
    # BigQuery: SAFE.PARSE_DATE returns NULL instead of failing the query (the loader counts such rows as bad)
    sql = to_duckdb("SELECT SAFE.PARSE_DATE('%Y%m%d', d) AS x FROM (SELECT d FROM UNNEST(['20240301', '2024-03-01', "
                    "'20241301', '']) AS d WITH OFFSET AS i ORDER BY i)")
    assert [str(v) if v else v for (v,) in con.execute(sql).fetchall()] == ["2024-03-01", None, None, None]


@pytest.fixture
def sql_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("C360_SQL_CACHE", str(tmp_path / "cache"))
    dialect.to_duckdb.cache_clear()
    dialect._version_folder.cache_clear()
    yield tmp_path / "cache"
    dialect.to_duckdb.cache_clear()
    dialect._version_folder.cache_clear()


def test_a_translation_is_kept_on_disk_and_reused_by_the_next_process(sql_cache):
    sql = "SELECT DATE_SUB(DATE '2024-03-10', INTERVAL 3 DAY) AS d"
    fresh = to_duckdb(sql)
    [kept] = list(sql_cache.rglob("*.sql"))
    assert kept.read_text() == fresh == dialect._translate(sql)
    kept.write_text("SELECT 42 AS d")  # what a later process finds there is what it runs
    dialect.to_duckdb.cache_clear()
    assert to_duckdb(sql) == "SELECT 42 AS d"
    assert to_duckdb(sql + " ") != "SELECT 42 AS d"  # another text, another entry


def _age(folder, days: float) -> None:
    """Make a cache folder look last used `days` ago."""
    then = time.time() - days * 24 * 3600
    os.utime(folder, (then, then))


def test_a_new_sqlglot_or_fix_up_layer_translates_afresh_and_drops_old_translations_unused_for_a_week(
        sql_cache, monkeypatch):
    sql = "SELECT COUNTIF(x > 1) AS n FROM t"
    to_duckdb(sql)
    [kept] = list(sql_cache.rglob("*.sql"))
    kept.write_text("SELECT 42 AS n")
    old_folder = kept.parents[1]

    def new_process(version: str) -> None:
        dialect.to_duckdb.cache_clear()
        dialect._version_folder.cache_clear()
        monkeypatch.setattr(dialect, "_translator_version", lambda: version)

    new_process("sqlglot 99:another dialect.py")
    assert to_duckdb(sql) == dialect._translate(sql)  # translated afresh, not the old version's text
    assert kept.exists()  # used moments ago (another checkout may still run that version): kept
    _age(old_folder, 6)
    new_process("sqlglot 99:another dialect.py")
    to_duckdb(sql)
    assert kept.exists()
    _age(old_folder, 8)
    new_process("sqlglot 99:another dialect.py")
    to_duckdb(sql)
    assert not kept.exists() and len(list(sql_cache.rglob("*.sql"))) == 1


def test_pruning_removes_only_the_caches_own_version_folders(sql_cache, monkeypatch):
    # C360_SQL_CACHE may point at a folder shared with other things: only `v<16 hex>` folders are c360's
    (sql_cache / "someone_elses_project").mkdir(parents=True)
    (sql_cache / "v0123456789abcdef").mkdir()  # an older translator's folder, unused for a month
    _age(sql_cache / "someone_elses_project", 30)
    _age(sql_cache / "v0123456789abcdef", 30)
    to_duckdb("SELECT 1 AS one")
    left = sorted(p.name for p in sql_cache.iterdir())
    assert "someone_elses_project" in left and "v0123456789abcdef" not in left and len(left) == 2


def test_an_empty_cache_setting_keeps_nothing_on_disk(tmp_path, monkeypatch):
    monkeypatch.setenv("C360_SQL_CACHE", "")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    dialect.to_duckdb.cache_clear()
    dialect._version_folder.cache_clear()
    try:
        assert to_duckdb("SELECT 1 AS one") == "SELECT 1 AS one"
        assert not list(tmp_path.rglob("*.sql"))
    finally:
        dialect.to_duckdb.cache_clear()


def test_numeric_is_a_decimal_of_precision_38_and_scale_9_as_in_bigquery(con):
    # DuckDB reads a bare DECIMAL as DECIMAL(18, 3): 1.0005 would become 1.001 and 10^15 would overflow
    sql = to_duckdb("SELECT CAST('1.0005' AS NUMERIC) AS a, CAST('99999999999999999999999999999.999999999' AS NUMERIC) AS b")
    assert con.execute(f"SELECT typeof(a) FROM ({sql})").fetchone()[0] == "DECIMAL(38,9)"
    assert [str(v) for v in con.execute(sql).fetchone()] == ["1.000500000", "99999999999999999999999999999.999999999"]
