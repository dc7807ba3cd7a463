"""BigQuery Standard SQL -> DuckDB through sqlglot, plus the fix-ups where its transpilation is wrong.

Models are written once, in BigQuery SQL. sqlglot translates them; each fix-up below corrects one case
where the translation changes meaning on DuckDB, and tests/test_dialect.py runs both sides of each.
"""
from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from functools import lru_cache
from pathlib import Path

import sqlglot
from sqlglot import exp


class DialectError(ValueError):
    """A model uses SQL that cannot be run the same way on both engines."""


def _require_unnest_alias(tree: exp.Expression) -> None:
    # BigQuery leaves the element of an unaliased UNNEST unnamed (and the BigQuery emulator rejects it);
    # DuckDB names it "unnest". A model that relies on either name is not portable: demand an alias.
    for node in tree.find_all(exp.Unnest):
        if not node.args.get("alias") and not isinstance(node.parent, (exp.In,)):
            raise DialectError(f"UNNEST without an alias: {node.sql('bigquery')} — write UNNEST(...) AS name")


def _timestamp_micros_keeps_utc(tree: exp.Expression) -> exp.Expression:
    # TIMESTAMP_MICROS returns a UTC TIMESTAMP in BigQuery; sqlglot emits MAKE_TIMESTAMP, a naive TIMESTAMP.
    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.UnixToTime) and not isinstance(node.parent, exp.Cast):
            return exp.cast(node.copy(), exp.DataType.build("TIMESTAMPTZ", dialect="duckdb"))
        return node

    return tree.transform(fix)


def _date_arithmetic_stays_date(tree: exp.Expression) -> exp.Expression:
    # BigQuery DATE_SUB/DATE_ADD return a DATE; DuckDB's `date - INTERVAL` returns a TIMESTAMP, which then
    # compares and groups differently. Cast the result back to DATE.
    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, (exp.DateSub, exp.DateAdd)) and not isinstance(node.parent, exp.Cast):
            return exp.cast(node.copy(), exp.DataType.build("DATE"))
        return node

    return tree.transform(fix)


def _countif_counts_zero(tree: exp.Expression) -> exp.Expression:
    # BigQuery COUNTIF counts rows where the condition is TRUE and is 0 when none is; DuckDB's COUNT_IF
    # returns NULL when every condition is NULL. COUNT(CASE WHEN cond THEN 1 END) means the same on both.
    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.CountIf):
            cond = node.this.copy()
            return exp.Count(this=exp.Case(ifs=[exp.If(this=cond, true=exp.Literal.number(1))]))
        return node

    return tree.transform(fix)


def _farm_fingerprint_as_hash(tree: exp.Expression) -> exp.Expression:
    # DuckDB has no FARM_FINGERPRINT; its hash() is the 64-bit hash with the same role (an id for equality,
    # not a value to compare across engines). FARM_FINGERPRINT(TO_JSON_STRING(x)) hashes x itself: the same
    # equality, without serializing nested values to text.
    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.FarmFingerprint) and len(node.expressions) == 1:
            arg = node.expressions[0]
            arg = arg.this if isinstance(arg, exp.JSONFormat) else arg
            return exp.Anonymous(this="hash", expressions=[arg.copy()])
        return node

    return tree.transform(fix)


def _numeric_is_decimal_38_9(tree: exp.Expression) -> exp.Expression:
    # BigQuery NUMERIC is a decimal of precision 38, scale 9; sqlglot emits a bare DECIMAL, which DuckDB reads as
    # DECIMAL(18, 3): money would lose its fourth decimal and overflow at 10^15. Spell the type out.
    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.DataType) and node.this == exp.DataType.Type.DECIMAL and not node.expressions:
            return exp.DataType.build("DECIMAL(38, 9)", dialect="duckdb")
        return node

    return tree.transform(fix)


def _safe_parse_date_is_null(tree: exp.Expression) -> exp.Expression:
    # BigQuery SAFE.PARSE_DATE returns NULL for a string that is not a date; sqlglot emits SAFE.CAST(STRPTIME(..)),
    # which DuckDB cannot run. TRY_STRPTIME is DuckDB's NULL-on-failure parse.
    def fix(node: exp.Expression) -> exp.Expression:
        if isinstance(node, exp.SafeFunc) and isinstance(node.this, exp.StrToDate):
            parsed = exp.Anonymous(this="TRY_STRPTIME", expressions=[node.this.this.copy(),
                                                                     node.this.args["format"].copy()])
            return exp.cast(parsed, exp.DataType.build("DATE"))
        return node

    return tree.transform(fix)


def _unnest_lookups_as_lists(tree: exp.Expression, snippets: dict[str, str]) -> exp.Expression:
    # A GA4 param lookup, `(SELECT f(p) FROM UNNEST(arr) AS p WHERE cond(p) LIMIT 1)`, is a correlated
    # subquery per row on DuckDB (about 60 us a row each); the same first-match semantics as a list
    # expression, list_transform(list_filter(arr, cond), f)[1], is vectorized and 20-50x faster.
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
        name = alias.columns[0].name
        value = sel.expressions[0].unalias() if isinstance(sel.expressions[0], exp.Alias) else sel.expressions[0]
        key = f"c360_list_lookup_{len(snippets)}"
        snippets[key] = (f"list_transform(list_filter({unnest.expressions[0].sql('duckdb')}, lambda {name}: "
                         f"{sel.args['where'].this.sql('duckdb')}), lambda {name}: {value.sql('duckdb')})[1]")
        return exp.column(key)

    return tree.transform(fix)


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
    out = []
    for tree in parse(sql):
        tree = _timestamp_micros_keeps_utc(tree)
        tree = _date_arithmetic_stays_date(tree)
        tree = _countif_counts_zero(tree)
        tree = _farm_fingerprint_as_hash(tree)
        tree = _safe_parse_date_is_null(tree)
        tree = _numeric_is_decimal_38_9(tree)
        snippets: dict[str, str] = {}
        tree = _unnest_lookups_as_lists(tree, snippets)
        text = tree.sql(dialect="duckdb")
        for key, snippet in snippets.items():
            text = re.sub(rf"\b{key}\b", lambda _: snippet, text)
        out.append(text)
    return ";\n".join(out)


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
