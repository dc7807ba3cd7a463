"""BigQuery Standard SQL -> DuckDB through sqlglot, plus the fix-ups where its transpilation is wrong.

Models are written once, in BigQuery SQL. sqlglot translates them to C360DuckDB, a sqlglot dialect: DuckDB's,
whose generator writes a few expression types its own way. Each of those fix-ups corrects one case where the
translation changes meaning (or speed) on DuckDB, and tests/test_dialect.py runs both sides of each.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

import sqlglot
from sqlglot import exp, generator
from sqlglot.dialects.duckdb import DuckDB


class DialectError(ValueError):
    """A model uses SQL that cannot be run the same way on both engines."""


def _require_unnest_alias(tree: exp.Expression) -> None:
    # BigQuery leaves the element of an unaliased UNNEST unnamed (and the BigQuery emulator rejects it);
    # DuckDB names it "unnest". A model that relies on either name is not portable: demand an alias.
    for node in tree.find_all(exp.Unnest):
        if not node.args.get("alias") and not isinstance(node.parent, (exp.In,)):
            raise DialectError(f"UNNEST without an alias: {node.sql('bigquery')} — write UNNEST(...) AS name")


# --- DuckDB target: the dialect C360DuckDB, sqlglot's DuckDB plus the fix-ups. Each fix-up below is one entry of its
# generator's TRANSFORMS: how one expression type is written where sqlglot's own text would change its meaning
# (or its speed) on DuckDB; _duckdb_sql is sqlglot's own text, which a fix-up amends or falls back to.


def _duckdb_sql(self: generator.Generator, node: exp.Expression) -> str:
    """sqlglot's own DuckDB text for `node` (its TRANSFORMS entry, else its `<key>_sql` method, else a function)."""
    own = DuckDB.Generator.TRANSFORMS.get(type(node)) or getattr(DuckDB.Generator, f"{node.key}_sql", None)
    return own(self, node) if own is not None else self.function_fallback_sql(node)


def _cast_result_to(type_sql: str):
    """A TRANSFORMS entry: sqlglot's own text for the node, cast to `type_sql` unless the SQL casts it already."""
    to = exp.DataType.build(type_sql, dialect="duckdb")

    def sql(self: generator.Generator, node: exp.Expression) -> str:
        if isinstance(node.parent, exp.Cast):
            return _duckdb_sql(self, node)
        return self.sql(exp.cast(node.copy(), to.copy()))  # the copy's parent is the cast: sqlglot's own text

    return sql


# TIMESTAMP_MICROS returns a UTC TIMESTAMP in BigQuery; sqlglot emits MAKE_TIMESTAMP, a naive TIMESTAMP.
_timestamp_micros_keeps_utc = _cast_result_to("TIMESTAMPTZ")

# BigQuery DATE_SUB/DATE_ADD return a DATE; DuckDB's `date - INTERVAL` returns a TIMESTAMP, which then
# compares and groups differently. Cast the result back to DATE.
_date_arithmetic_stays_date = _cast_result_to("DATE")


def _countif_counts_zero(self: generator.Generator, node: exp.CountIf) -> str:
    # BigQuery COUNTIF counts rows where the condition is TRUE and is 0 when none is; DuckDB's COUNT_IF
    # returns NULL when every condition is NULL. COUNT(CASE WHEN cond THEN 1 END) means the same on both.
    return self.sql(exp.Count(this=exp.Case(ifs=[exp.If(this=node.this.copy(), true=exp.Literal.number(1))])))


def _farm_fingerprint_as_hash(self: generator.Generator, node: exp.FarmFingerprint) -> str:
    # DuckDB has no FARM_FINGERPRINT; its hash() is the 64-bit hash with the same role (an id for equality,
    # not a value to compare across engines). FARM_FINGERPRINT(TO_JSON_STRING(x)) hashes x itself: the same
    # equality, without serializing nested values to text.
    if len(node.expressions) != 1:
        return _duckdb_sql(self, node)
    arg = node.expressions[0]
    arg = arg.this if isinstance(arg, exp.JSONFormat) else arg
    return self.sql(exp.Anonymous(this="hash", expressions=[arg.copy()]))


def _numeric_is_decimal_38_9(self: generator.Generator, node: exp.DataType) -> str:
    # BigQuery NUMERIC is a decimal of precision 38, scale 9; sqlglot emits a bare DECIMAL, which DuckDB reads as
    # DECIMAL(18, 3): money would lose its fourth decimal and overflow at 10^15. Spell the type out.
    if node.this == exp.DataType.Type.DECIMAL and not node.expressions:
        node = exp.DataType.build("DECIMAL(38, 9)", dialect="duckdb")
    return _duckdb_sql(self, node)


def _safe_parse_date_is_null(self: generator.Generator, node: exp.SafeFunc) -> str:
    # BigQuery SAFE.PARSE_DATE returns NULL for a string that is not a date; sqlglot emits SAFE.CAST(STRPTIME(..)),
    # which DuckDB cannot run. TRY_STRPTIME is DuckDB's NULL-on-failure parse.
    if not isinstance(node.this, exp.StrToDate):
        return _duckdb_sql(self, node)
    parsed = exp.Anonymous(this="TRY_STRPTIME", expressions=[node.this.this.copy(), node.this.args["format"].copy()])
    return self.sql(exp.cast(parsed, exp.DataType.build("DATE")))


class ListLookup(exp.Expression):
    """The first `value` over the elements `variable` of the list `this` for which `condition` holds (NULL when
    none does), as C360DuckDB writes it: list_transform(list_filter(this, cond), value)[1] (_list_lookup_sql)."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True, "variable": True, "condition": True, "value": True}


def _list_lookup_sql(self: generator.Generator, node: ListLookup) -> str:
    v = self.sql(node, "variable")
    return (f"list_transform(list_filter({self.sql(node, 'this')}, lambda {v}: {self.sql(node, 'condition')}), "
            f"lambda {v}: {self.sql(node, 'value')})[1]")


def _unnest_lookups_as_lists(tree: exp.Expression) -> exp.Expression:
    # A GA4 param lookup, `(SELECT f(p) FROM UNNEST(arr) AS p WHERE cond(p) LIMIT 1)`, is a correlated
    # subquery per row on DuckDB (about 60 us a row each); the same first-match semantics as a list
    # expression, list_transform(list_filter(arr, cond), f)[1], is vectorized and 20-50x faster.
    # A lookup becomes a ListLookup node (its parts as they are; a lookup inside one is left a subquery).
    def fix(node: exp.Expression) -> exp.Expression:
        sel = node.this if isinstance(node, exp.Subquery) else None
        if not isinstance(sel, exp.Select) or len(sel.expressions) != 1:
            return node
        source = sel.args.get("from_") or sel.args.get("from")
        unnest = source.this if source is not None else None
        limit = sel.args.get("limit")
        alias = unnest.args.get("alias") if isinstance(unnest, exp.Unnest) else None
        if (alias is None or len(alias.columns) != 1 or len(unnest.expressions) != 1 or sel.args.get("joins")
                or sel.args.get("group") or sel.args.get("where") is None or sel.find(exp.AggFunc)
                or (limit is not None and limit.expression.sql() != "1")):
            return node
        value = sel.expressions[0].unalias() if isinstance(sel.expressions[0], exp.Alias) else sel.expressions[0]
        return ListLookup(this=unnest.expressions[0].copy(), variable=exp.to_identifier(alias.columns[0].name),
                          condition=sel.args["where"].this.copy(), value=value.copy())

    return tree.transform(fix, copy=False)


class C360DuckDB(DuckDB):
    """DuckDB as the models' BigQuery SQL is run on it: sqlglot's DuckDB dialect with the fix-ups above."""

    class Generator(DuckDB.Generator):
        TRANSFORMS: ClassVar[dict[type[exp.Expression], Callable[..., str]]] = {
            **DuckDB.Generator.TRANSFORMS,
            exp.UnixToTime: _timestamp_micros_keeps_utc,
            exp.DateSub: _date_arithmetic_stays_date,
            exp.DateAdd: _date_arithmetic_stays_date,
            exp.CountIf: _countif_counts_zero,
            exp.FarmFingerprint: _farm_fingerprint_as_hash,
            exp.SafeFunc: _safe_parse_date_is_null,
            exp.DataType: _numeric_is_decimal_38_9,
            ListLookup: _list_lookup_sql,
        }

        def preprocess(self, expression: exp.Expression) -> exp.Expression:
            """The tree rewrites before writing it out: param lookups as ListLookup nodes, then sqlglot's own."""
            return super().preprocess(_unnest_lookups_as_lists(expression))


def parse(sql: str) -> list[exp.Expression]:
    """Parse BigQuery SQL (one or more statements), rejecting constructs that are not portable."""
    trees = [t for t in sqlglot.parse(sql, read="bigquery") if t is not None]
    for tree in trees:
        _require_unnest_alias(tree)
    return trees


def cache_dir() -> Path | None:
    """Where translations are kept between runs: $C360_SQL_CACHE, else ~/.cache/c360/sql ('' turns it off)."""
    configured = os.environ.get("C360_SQL_CACHE")
    if configured is not None:
        return Path(configured) if configured else None
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "c360" / "sql"


@lru_cache(maxsize=1)
def _translator_version() -> str:
    """What a translation depends on besides the SQL: sqlglot's version and this module's fix-ups."""
    return f"{sqlglot.__version__}:{hashlib.sha256(Path(__file__).read_bytes()).hexdigest()}"


_VERSION_FOLDER = re.compile(r"^v[0-9a-f]{16}$")
UNUSED_FOR = 7 * 24 * 3600  # seconds after which another version's translations are removed


@lru_cache(maxsize=8)
def _version_folder(folder: Path) -> Path:
    """This translator's folder of the cache (`v` + 16 hex digits), marked used now (its modification time);
    the folders of other versions unused for UNUSED_FOR are removed (once per process), so the cache does not
    keep every version ever run, while two checkouts of different versions sharing a home keep theirs.
    Nothing else in `folder` is touched."""
    mine = folder / f"v{hashlib.sha256(_translator_version().encode()).hexdigest()[:16]}"
    try:
        mine.mkdir(parents=True, exist_ok=True)
        os.utime(mine)
        now = time.time()
        for other in folder.iterdir():
            if (other.is_dir() and other != mine and _VERSION_FOLDER.match(other.name)
                    and now - other.stat().st_mtime > UNUSED_FOR):
                shutil.rmtree(other, ignore_errors=True)
    except OSError:
        pass
    return mine


@lru_cache(maxsize=1024)
def to_duckdb(sql: str) -> str:
    """Translate BigQuery SQL to DuckDB SQL, with the fix-ups applied.

    sqlglot takes 5-20 ms a statement, a third of a run on the fixtures, and a model's SQL is the same text
    run after run, so translations are kept in memory and on disk (cache_dir()): one folder per sqlglot
    version and source of this module, one file per SQL text. A changed model, fix-up or sqlglot is
    translated afresh; the folders of other versions are removed once unused for a week.

    Example:
        >>> to_duckdb("SELECT DATE_SUB(d, INTERVAL 3 DAY) AS d3 FROM t")
        "SELECT CAST(d - INTERVAL '3' DAY AS DATE) AS d3 FROM t"
    """
    folder = cache_dir()
    if folder is None:
        return _translate(sql)
    key = hashlib.sha256(sql.encode()).hexdigest()
    path = _version_folder(folder) / key[:2] / f"{key}.sql"
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        pass
    text = _translate(sql)
    try:  # best effort: a read-only home only makes runs slower
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)  # readers see the whole translation or none
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    except OSError:
        pass
    return text


def _translate(sql: str) -> str:
    """to_duckdb without the caches: parse as BigQuery (portability rules included), write as C360DuckDB."""
    return ";\n".join(tree.sql(dialect=C360DuckDB) for tree in parse(sql))


# --- BigQuery target. Real BigQuery gets the models as they are written. The local BigQuery emulator the
# offline tests use (local-bigquery, on DuckDB) deviates from BigQuery in a few places; each fix-up below is
# applied only when the engine talks to the emulator (BIGQUERY_EMULATOR_HOST) and keeps BigQuery's meaning.


def _emulator_wildcards_keep_duplicates(tree: exp.Expression, list_tables) -> exp.Expression:
    # EMULATOR ONLY. A wildcard table (`dataset.events_*`) is the UNION ALL of the matching tables, each row
    # with its `_TABLE_SUFFIX`; `SELECT *` over it leaves `_TABLE_SUFFIX` out. local-bigquery 0.4.0 expands
    # it with UNION (distinct), which silently drops exact duplicate rows (a GA4 export can hold them; the
    # base model counts them). Expand it here with UNION ALL instead, over the tables the emulator lists.
    def fix(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Table) or not node.name.endswith("*"):
            return node
        prefix = node.name[:-1]
        names = sorted(t for t in list_tables(node.catalog, node.db) if t.startswith(prefix))
        if not names:
            raise DialectError(f"{node.sql('bigquery')} does not match any table")
        selects = [
            exp.select("*", exp.alias_(exp.Literal.string(t[len(prefix):]), "_TABLE_SUFFIX"))
            .from_(exp.table_(t, db=node.db or None, catalog=node.catalog or None, quoted=True))
            for t in names
        ]
        union = selects[0]
        for select in selects[1:]:
            union = exp.union(union, select, distinct=False)
        outer = node.find_ancestor(exp.Select)
        if outer is not None:
            for star in outer.expressions:
                if isinstance(star, exp.Star) and not star.args.get("except_"):
                    star.set("except_", [exp.column("_TABLE_SUFFIX")])
        alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(f"{prefix}wildcard"))
        return exp.Subquery(this=union, alias=alias)

    return tree.transform(fix)


def to_bigquery(sql: str, emulator: bool = False, list_tables=None) -> str:
    """The SQL to send to BigQuery: the model as written. With `emulator`, the fix-ups for the local BigQuery
    emulator's deviations from real BigQuery (tests only; none is ever applied against real BigQuery).

    Args:
        sql: BigQuery SQL.
        emulator: the target is the local emulator.
        list_tables: list_tables(project, dataset) -> table names (to expand wildcard tables on the emulator).
    """
    if not emulator or "*`" not in sql and not re.search(r"[A-Za-z0-9_]\*", sql):
        return sql
    trees = parse(sql)
    if not any(t.name.endswith("*") for tree in trees for t in tree.find_all(exp.Table)):
        return sql
    if list_tables is None:
        raise DialectError("expanding a wildcard table for the emulator needs list_tables")
    return ";\n".join(_emulator_wildcards_keep_duplicates(tree, list_tables).sql(dialect="bigquery")
                       for tree in trees)
