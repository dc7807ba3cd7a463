"""The engine interface: what the rest of c360 may ask of a warehouse, whichever it is.

Models are BigQuery Standard SQL; an engine translates them to its own SQL (c360.warehouse.dialect) and binds
`@name` values as query parameters, never by string formatting. Where engines differ in what they can do, the
difference is a capability of the engine (`supports_views`, `keeps_model_state`,
`transactional_ddl`, `checksums_by_partition`), never a test of its name.
"""
from __future__ import annotations

import re
from contextlib import AbstractContextManager
from typing import Any, ClassVar, Protocol, runtime_checkable

import pandas as pd

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PARAM = re.compile(r"@([A-Za-z_][A-Za-z0-9_]*)")


# Where an engine takes checksums per partition: the partitions incremental builds wrote since the manifest's
# checksums were last taken (table_name, part, before: the table's metadata before the write, written_at).
WRITTEN_PARTITIONS = "c360__written_partitions"


def check_identifier(name: str) -> str:
    """A table or column name we are about to put into SQL: letters, digits, underscores only."""
    if not _IDENT.match(name or ""):
        raise ValueError(f"not a valid identifier: {name!r}")
    return name


def sql_string(value: str) -> str:
    """A string literal in SQL (quotes doubled): for engine-native SQL the loaders write (values in models are
    query parameters)."""
    return "'" + value.replace("'", "''") + "'"


def bound_params(sql: str, params: dict[str, Any] | None) -> dict[str, Any]:
    """The values of the `@name` parameters `sql` uses, taken from `params` (KeyError naming any missing one)."""
    names = set(_PARAM.findall(sql))
    params = params or {}
    missing = names - params.keys()
    if missing:
        raise KeyError(f"query parameter(s) not supplied: {', '.join(sorted(missing))}")
    return {k: params[k] for k in sorted(names)}


@runtime_checkable
class Engine(Protocol):
    """A warehouse that runs c360's models. Implemented by DuckDBEngine and BigQueryEngine."""

    target: ClassVar[str]  # the dbt-style target type models may configure for: `{{ target.type }}`
    supports_views: ClassVar[bool]  # a model may be materialized='view' (rebuilt with the data it reads)
    keeps_model_state: ClassVar[bool]  # models' fingerprints are kept, so unchanged models are not rebuilt
    transactional_ddl: ClassVar[bool]  # CREATE/DROP TABLE commit with DML in one transaction (else: DML only)
    # the manifest's checksums are kept per partition and only the partitions written since re-read: incremental
    # builds record them in WRITTEN_PARTITIONS, with the table's metadata before the write (table_mark)
    checksums_by_partition: ClassVar[bool]

    @staticmethod
    def translate(sql: str) -> str:
        """BigQuery SQL as this engine runs it."""

    def relation(self, model: str) -> str:
        """The SQL name of a model's (or any c360 table's) table."""

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run a BigQuery SQL statement, `@name` values bound from `params`."""

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a BigQuery SQL query and return its small result (NUMERIC as decimal.Decimal)."""

    def tables(self) -> list[str]:
        """The tables and views of the warehouse, by name."""

    def has_table(self, name: str) -> bool: ...

    def is_view(self, name: str) -> bool: ...

    def row_count(self, name: str) -> int: ...

    def columns(self, name: str) -> list[str]: ...

    def checksums(self, names: list[str], exact: bool = False) -> dict[str, str]:
        """A content checksum per table, independent of row order: `rows:hash`; floats to 9 significant digits
        (the last-bit noise of a parallel sum unseen), or as they are when `exact`."""

    def replace_table(self, name: str, select_sql: str, params: dict[str, Any] | None = None) -> None:
        """(Re)build table `name` from a SELECT, atomically."""

    def temp_table(self, name: str, select_sql: str, params: dict[str, Any] | None = None) -> None:
        """(Re)build a working table that only this connection needs (DuckDB: TEMP; BigQuery: a table)."""

    def promote(self, stage: str, name: str, drop_flag: str | None = None, layout: str = "",
                keep_stage: bool = False) -> None:
        """Make table `stage` the table `name`: without the rows where column `drop_flag` is set, nor that
        column; with table options `layout` where the engine has them; `stage` is gone unless `keep_stage`
        (the rows are copied). Call inside a transaction."""

    def write_frame(self, name: str, df: pd.DataFrame, decimal_columns: tuple[str, ...] = ()) -> int:
        """(Re)build table `name` from a small DataFrame, atomically; returns its rows."""

    def job_label(self, model: str) -> AbstractContextManager:
        """The statements run inside are for model `model` (BigQuery logs its jobs under that model)."""

    def execute_atomically(self, statements: list[str], params: dict[str, Any] | None = None,
                           then: list[str] = ()) -> None:
        """Run DML statements (INSERT, DELETE, ...) so that all or none of them apply (one transaction), then the
        statements `then` (DDL such as dropping a staging table), which may fail on their own."""

    def transaction(self) -> AbstractContextManager:
        """The statements inside commit together or not at all (where the engine can)."""

    def close(self) -> None: ...
