"""The warehouse layer: the only code that talks to a warehouse (c360.warehouse.base.Engine).

`connect(params)` opens the engine a parameter set names; `engine_class(target)` is its class, for code that
needs an engine's capabilities without a connection (printing a model's SQL for a target).
"""
from __future__ import annotations

from typing import Any

from c360.warehouse import dialect  # noqa: F401  (c360.warehouse.dialect: the translation to an engine's SQL)
from c360.warehouse.base import Engine, bound_params, check_identifier  # noqa: F401
from c360.warehouse.bigquery import BigQueryEngine
from c360.warehouse.duckdb import DuckDBEngine

ENGINES: dict[str, type] = {DuckDBEngine.target: DuckDBEngine, BigQueryEngine.target: BigQueryEngine}


def engine_class(target: str) -> type:
    """The engine class of a target type ('duckdb' | 'bigquery')."""
    try:
        return ENGINES[target]
    except KeyError:
        raise ValueError(f"backend {target!r} is not available (one of: {', '.join(ENGINES)})") from None


def connect(params: dict[str, Any], read_only: bool = False) -> Engine:
    """The engine a parameter set names (`backend`): DuckDB on the warehouse file, or BigQuery on its dataset."""
    return engine_class(params.get("backend", "duckdb")).from_params(params, read_only=read_only)
