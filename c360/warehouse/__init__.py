"""The warehouse layer: the only code that talks to a warehouse (c360.warehouse.base.Engine).

`connect(params)` opens the engine a parameter set names (`backend`); `engine_class(target)` is its class, for code
that needs an engine's capabilities without a connection. An engine's module (and DuckDB, pandas, the BigQuery
client) is imported when first needed, not with this package.
"""
from __future__ import annotations

from typing import Any

from c360.warehouse.base import Engine, bound_params, check_identifier  # noqa: F401

TARGETS = ("duckdb", "bigquery")


def engine_class(target: str) -> type:
    """The engine class of a target type ('duckdb' | 'bigquery')."""
    if target == "duckdb":
        from c360.warehouse.duckdb import DuckDBEngine

        return DuckDBEngine
    if target == "bigquery":
        from c360.warehouse.bigquery import BigQueryEngine

        return BigQueryEngine
    raise ValueError(f"backend {target!r} is not available (one of: {', '.join(TARGETS)})")


def engines() -> dict[str, type]:
    """Every engine class, by target type."""
    return {target: engine_class(target) for target in TARGETS}


def connect(params: dict[str, Any], read_only: bool = False) -> Engine:
    """The engine a parameter set names (`backend`): DuckDB on the warehouse file, or BigQuery on its dataset."""
    return engine_class(params.get("backend", "duckdb")).from_params(params, read_only=read_only)


def __getattr__(name: str) -> Any:
    if name in ("DuckDBEngine", "BigQueryEngine"):
        return engines()[{"DuckDBEngine": "duckdb", "BigQueryEngine": "bigquery"}[name]]
    raise AttributeError(f"module 'c360.warehouse' has no attribute {name!r}")
