"""The engine layer: the only code that talks to the warehouse.

`DuckDBEngine` is the embedded default: a single file, no server. Models are BigQuery SQL; the engine
translates them (c360.dialect) and passes values as query parameters, never by string formatting.
"""
from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from c360 import dialect

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_identifier(name: str) -> str:
    """A table or column name we are about to put into SQL: letters, digits, underscores only."""
    if not _IDENT.match(name or ""):
        raise ValueError(f"not a valid identifier: {name!r}")
    return name


def _used_params(sql: str, params: dict[str, Any] | None) -> dict[str, Any]:
    names = set(re.findall(r"@([A-Za-z_][A-Za-z0-9_]*)", sql))
    params = params or {}
    missing = names - params.keys()
    if missing:
        raise KeyError(f"query parameter(s) not supplied: {', '.join(sorted(missing))}")
    return {k: params[k] for k in sorted(names)}


class DuckDBEngine:
    """A DuckDB warehouse file. Every statement runs in UTC."""

    name = "duckdb"

    def __init__(self, path: str | Path, read_only: bool = False, memory_limit: str = ""):
        """memory_limit: what DuckDB may hold in memory before it spills to disk ('' = its default).
        Environment: C360_DUCKDB_THREADS=N runs `SET threads = N` (DuckDB's default: one per core); results must
        not depend on it (tests/test_determinism.py runs with more threads than cores)."""
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        config = {"memory_limit": memory_limit} if memory_limit else {}
        self.con = duckdb.connect(str(self.path), read_only=read_only, config=config)
        self.con.execute("SET TimeZone='UTC'")
        threads = os.environ.get("C360_DUCKDB_THREADS", "").strip()
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        # DuckDB's common-subplan optimizer stores a copy of the rows of a subplan a query repeats: a query that
        # reads the view base__ga4__events twice (int__web_sessions' incremental build) would copy every event,
        # 4x slower than reading it twice. The models as a whole take as long without it (100k persons: 11.5 s)
        self.con.execute("SET disabled_optimizers = 'common_subplan'")

    # -- names
    def relation(self, model: str) -> str:
        """The SQL name of a model's table."""
        return check_identifier(model)

    def source(self, system: str, table: str) -> str:
        """The SQL name of a loaded source table (see c360.sources)."""
        return f"src__{check_identifier(system)}__{check_identifier(table)}"

    # -- running BigQuery SQL
    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run BigQuery SQL (translated), with `@name` values bound as parameters."""
        self.con.execute(dialect.to_duckdb(sql), _used_params(sql, params))

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a BigQuery SQL query and return its (small) result. DECIMAL (NUMERIC) columns hold decimal.Decimal
        values, as BigQuery's client returns NUMERIC: money never passes through a float."""
        result = self.con.execute(dialect.to_duckdb(sql), _used_params(sql, params))
        # NUMERIC and what is computed from it (DECIMAL(38, s)); a literal such as 1.5 (DECIMAL(2, 1) on DuckDB, a
        # FLOAT64 on BigQuery) stays a float
        decimals = [d[0] for d in result.description if str(d[1]).startswith("DECIMAL(38,")]
        if not decimals:
            return result.df()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the extra copy of a small result
            table = result.to_arrow_table()
        frame = duckdb.from_arrow(table).df()
        for name in decimals:
            frame[name] = pd.Series(table.column(name).to_pylist(), index=frame.index, dtype="object")
        return frame

    def native(self, sql: str, params: list | dict | None = None) -> duckdb.DuckDBPyConnection:
        """Run engine-native SQL (loaders only)."""
        return self.con.execute(sql, params or [])

    # -- tables
    def tables(self) -> list[str]:
        """The tables and views of the warehouse, by name."""
        return [r[0] for r in self.con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1").fetchall()]

    def has_table(self, name: str) -> bool:
        """A table or a view of that name exists (tables() lists both)."""
        return name in self.tables()

    def is_view(self, name: str) -> bool:
        """`name` is a view (a model materialized='view'), not a table."""
        return bool(self.con.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ? "
            "AND table_type = 'VIEW'", [name]).fetchall())

    def row_count(self, name: str) -> int:
        return self.con.execute(f"SELECT COUNT(*) FROM {check_identifier(name)}").fetchone()[0]

    def columns(self, name: str) -> list[str]:
        return [r[0] for r in self.con.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position",
            [name]).fetchall()]

    def checksum(self, name: str) -> str:
        """A content checksum of a table, independent of row order: `rows:hash`. Doubles are written with 9
        significant digits first, so the order of a parallel float sum (last-bit noise) cannot change it; a
        change smaller than a billionth of the value is not seen either."""
        return self.checksums([name])[name]

    def checksums(self, names: list[str], exact: bool = False) -> dict[str, str]:
        """`checksum` of several tables (or views) in one query: DuckDB scans the small ones side by side.
        `exact`: doubles are hashed as they are, so any change is seen (what deciding to keep a model needs)."""
        if not names:
            return {}
        columns: dict[str, list[tuple[str, str]]] = {check_identifier(n): [] for n in names}
        for table, column, data_type in self.con.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_name IN (SELECT UNNEST(?)) ORDER BY table_name, ordinal_position", [names]).fetchall():
            columns[table].append((column, data_type))
        parts = []
        for i, name in enumerate(names):
            exprs = [f"printf('%.9g', \"{c}\")" if t in ("DOUBLE", "FLOAT") and not exact else f'"{c}"'
                     for c, t in columns[name]]
            parts.append(f"SELECT {i} AS i, COUNT(*) AS n, COALESCE(SUM(hash({', '.join(exprs)})), 0) AS h "
                         f"FROM {name}")
        found = {i: (n, h) for i, n, h in self.con.execute(" UNION ALL ".join(parts)).fetchall()}
        return {name: f"{found[i][0]}:{int(found[i][1]) % (1 << 64):016x}" for i, name in enumerate(names)}

    def replace_table(self, name: str, select_sql: str, params: dict[str, Any] | None = None) -> None:
        """(Re)build table `name` from a BigQuery SELECT, atomically: readers see the old or the new table."""
        check_identifier(name)
        sql = dialect.to_duckdb(select_sql)
        self.con.execute("BEGIN TRANSACTION")
        try:
            self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}", _used_params(select_sql, params))
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def write_frame(self, name: str, df: pd.DataFrame, decimal_columns: tuple[str, ...] = ()) -> int:
        """(Re)build table `name` from a small DataFrame, atomically. `decimal_columns` hold decimal.Decimal values
        (or None) and become NUMERIC, DECIMAL(38, 9), whatever values they hold."""
        check_identifier(name)
        self.con.register("_c360_frame", df)
        cast = ", ".join(f'CAST("{check_identifier(c)}" AS DECIMAL(38, 9)) AS "{c}"' for c in decimal_columns)
        try:
            with self.transaction():
                self.con.execute(f"CREATE OR REPLACE TABLE {name} AS SELECT * {f'REPLACE ({cast})' if cast else ''} "
                                 "FROM _c360_frame")
        finally:
            self.con.unregister("_c360_frame")
        return self.row_count(name)

    def transaction(self):
        """A context manager: the statements inside commit together or not at all."""
        return _Transaction(self.con)

    def close(self) -> None:
        self.con.execute("CHECKPOINT")
        self.con.close()


class _Transaction:
    def __init__(self, con):
        self.con = con

    def __enter__(self):
        self.con.execute("BEGIN TRANSACTION")
        return self

    def __exit__(self, exc_type, exc, tb):
        self.con.execute("ROLLBACK" if exc_type else "COMMIT")
        return False


def connect(params: dict[str, Any], read_only: bool = False) -> DuckDBEngine:
    """The engine a parameter set names."""
    from c360.paths import resolve

    if params.get("backend") == "bigquery":  # reads the export in place; see c360/bigquery.py
        from c360.bigquery import BigQueryEngine

        return BigQueryEngine.from_params(params)
    if params.get("backend", "duckdb") != "duckdb":
        raise ValueError(f"backend {params['backend']!r} is not available")
    return DuckDBEngine(resolve(params["warehouse"]), read_only=read_only,
                        memory_limit=params.get("duckdb_memory_limit", ""))
