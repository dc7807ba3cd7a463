"""BigQuery Standard SQL -> DuckDB through sqlglot, plus the fix-ups where its transpilation is wrong.

Models are written once, in BigQuery SQL. sqlglot translates them; each fix-up below corrects one case
where the translation changes meaning on DuckDB, and tests/test_dialect.py runs both sides of each.
"""
from __future__ import annotations

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


def parse(sql: str) -> list[exp.Expression]:
    """Parse BigQuery SQL (one or more statements), rejecting constructs that are not portable."""
    trees = [t for t in sqlglot.parse(sql, read="bigquery") if t is not None]
    for tree in trees:
        _require_unnest_alias(tree)
    return trees


def to_duckdb(sql: str) -> str:
    """Translate BigQuery SQL to DuckDB SQL, with the fix-ups applied.

    Example:
        >>> to_duckdb("SELECT DATE_SUB(d, INTERVAL 3 DAY) AS d3 FROM t")
        "SELECT CAST(d - INTERVAL '3' DAY AS DATE) AS d3 FROM t"
    """
    out = []
    for tree in parse(sql):
        tree = _timestamp_micros_keeps_utc(tree)
        tree = _date_arithmetic_stays_date(tree)
        tree = _countif_counts_zero(tree)
        out.append(tree.sql(dialect="duckdb"))
    return ";\n".join(out)
