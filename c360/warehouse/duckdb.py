"""The DuckDB engine, the embedded default: a single warehouse file, no server. Models are BigQuery SQL; the
engine translates them (c360.warehouse.dialect) and passes values as query parameters, never by string
formatting."""
from __future__ import annotations

import contextlib
import os
import warnings
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from c360.paths import resolve
from c360.warehouse import dialect
from c360.warehouse.base import bound_params, check_identifier


class DuckDBEngine:
    """A DuckDB warehouse file. Every statement runs in UTC."""

    target = "duckdb"
    supports_views = True
    keeps_model_state = True
    transactional_ddl = True
    checksums_by_partition = False  # a checksum of every table is a local scan

    def __init__(self, path: str | Path, read_only: bool = False, memory_limit: str = ""):
        """memory_limit: what DuckDB may hold in memory before it spills to disk ('' = its default).
        Environment: C360_DUCKDB_THREADS=N runs `SET threads = N` (DuckDB's default: one per core); results must
        not depend on it (tests/test_determinism.py runs with more threads than cores)."""
        self.path = Path(path)
        self.read_only = read_only
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

    @classmethod
    def from_params(cls, params: dict[str, Any], read_only: bool = False) -> "DuckDBEngine":
        """The warehouse file of `warehouse`, with `duckdb_memory_limit`."""
        return cls(resolve(params["warehouse"]), read_only=read_only,
                   memory_limit=params.get("duckdb_memory_limit", ""))

    @staticmethod
    def translate(sql: str) -> str:
        """BigQuery SQL as this engine runs it (c360.warehouse.dialect.to_duckdb)."""
        return dialect.to_duckdb(sql)

    # -- names
    def relation(self, model: str) -> str:
        """The SQL name of a model's table."""
        return check_identifier(model)

    # -- running BigQuery SQL
    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run BigQuery SQL (translated), with `@name` values bound as parameters. Its result (a row count, if any)
        is read to the end, so no unfinished result blocks the connection's next register() (write_frame)."""
        self.con.execute(dialect.to_duckdb(sql), bound_params(sql, params)).fetchall()

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a BigQuery SQL query and return its (small) result. DECIMAL (NUMERIC) columns hold decimal.Decimal
        values, as BigQuery's client returns NUMERIC: money never passes through a float."""
        result = self.con.execute(dialect.to_duckdb(sql), bound_params(sql, params))
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

    def explain_analyze(self, sql: str, params: dict[str, Any] | None = None) -> str:
        """DuckDB's EXPLAIN ANALYZE of a BigQuery SELECT (translated): the plan, with rows and time per operator."""
        return "\n".join(row[-1] for row in self.con.execute(
            "EXPLAIN ANALYZE " + dialect.to_duckdb(sql), bound_params(sql, params)).fetchall())

    @contextlib.contextmanager
    def scalar_function(self, name: str, fn, argument_types: list[str], return_type: str):
        """A Python function callable from SQL as `name` while the block runs (loaders only)."""
        with contextlib.suppress(Exception):
            self.con.remove_function(name)  # left by a block that failed
        self.con.create_function(name, fn, argument_types, return_type)
        try:
            yield
        finally:
            self.con.remove_function(name)

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
        # fetchall, not fetchone: a result left unfinished would block the next register() (write_frame)
        return self.con.execute(f"SELECT COUNT(*) FROM {check_identifier(name)}").fetchall()[0][0]

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
            self.con.execute(f"CREATE OR REPLACE TABLE {name} AS {sql}", bound_params(select_sql, params))
            self.con.execute("COMMIT")
        except BaseException:
            self.con.execute("ROLLBACK")
            raise

    def temp_table(self, name: str, select_sql: str, params: dict[str, Any] | None = None) -> None:
        """A TEMP table: held by this connection in memory (spilled if need be), never compressed into the
        warehouse file, gone with the connection."""
        self.execute(f"CREATE OR REPLACE TEMP TABLE {check_identifier(name)} AS {select_sql}", params)

    def promote(self, stage: str, name: str, drop_flag: str | None = None, layout: str = "",
                keep_stage: bool = False) -> None:
        """Rename `stage` to `name` in place (no copy of the rows), replacing the table or view `name`; with
        `keep_stage`, copy its kept rows instead. DuckDB has no table options, so `layout` is not used."""
        stage, target = check_identifier(stage), check_identifier(name)
        if keep_stage:
            exclude, where = (f" EXCLUDE ({check_identifier(drop_flag)})", f" WHERE {drop_flag} IS NULL") \
                if drop_flag else ("", "")
            self.con.execute(f"DROP {'VIEW' if self.is_view(name) else 'TABLE'} IF EXISTS {target}")
            self.con.execute(f"CREATE TABLE {target} AS SELECT *{exclude} FROM {stage}{where}")
            return
        if drop_flag:
            self.con.execute(f"DELETE FROM {stage} WHERE {check_identifier(drop_flag)} IS NOT NULL")
            self.con.execute(f"ALTER TABLE {stage} DROP COLUMN {drop_flag}")
        self.con.execute(f"DROP {'VIEW' if self.is_view(name) else 'TABLE'} IF EXISTS {target}")
        self.con.execute(f"ALTER TABLE {stage} RENAME TO {target}")

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

    def job_label(self, model: str):
        """A context manager naming the model whose jobs run inside: DuckDB logs no jobs, so it does nothing."""
        return contextlib.nullcontext(self)

    def execute_atomically(self, statements: list[str], params: dict[str, Any] | None = None,
                           then: list[str] = ()) -> None:
        """Run DML statements in one transaction (all or none of them apply), then the statements `then`."""
        with self.transaction():
            for sql in statements:
                self.execute(sql, params)
        for sql in then:
            self.execute(sql, params)

    def transaction(self):
        """A context manager: the statements inside commit together or not at all."""
        return _Transaction(self.con)

    def close(self) -> None:
        """Close the connection; a writable warehouse is checkpointed first (its WAL folded into the file)."""
        if not self.read_only:
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

