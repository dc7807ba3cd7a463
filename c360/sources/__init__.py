"""The sources layer: reading the data contract's inputs into (or in place for) a warehouse.

`prepare(engine, params)` checks and reads a run's sources: on DuckDB it loads the files under source_root
(c360.sources.files); on BigQuery it checks the tables read in place and uploads the seeds (c360.sources.bigquery).
`relation(engine, system, table)` is the SQL of a source table, what a model's `{{ source() }}` renders to, and
`ga4_events(kind, export)` what its `{{ ga4_events() }}` does. Each is chosen by the engine's class.
"""
from __future__ import annotations

from functools import singledispatch
from typing import Any

from c360.paths import resolve
from c360.sources import bigquery as _bigquery
from c360.sources import files as _files
from c360.sources.contract import (  # noqa: F401  (the contract's names, errors and reports)
    CSV_TABLES,
    GA4_COLUMNS,
    LOADED_SHARDS,
    TOUCHED_DATES,
    BadInputError,
    LoadReport,
)
from c360.sources.files import load_sources, preflight  # noqa: F401  (DuckDB: what prepare runs)
from c360.warehouse.base import check_identifier
from c360.warehouse.bigquery import BigQueryEngine
from c360.warehouse.duckdb import DuckDBEngine


@singledispatch
def relation(engine, system: str, table: str) -> str:
    """The SQL of source table `system.table` on `engine`."""
    raise TypeError(f"no sources for engine {type(engine).__name__}")


@relation.register
def _(engine: DuckDBEngine, system: str, table: str) -> str:
    return engine.relation(f"src__{check_identifier(system)}__{check_identifier(table)}")  # loaded by files


@relation.register
def _(engine: BigQueryEngine, system: str, table: str) -> str:
    return _bigquery.relation(engine, system, table)


@singledispatch
def _ga4_events(engine, export: str) -> str:
    raise TypeError(f"no sources for engine {type(engine).__name__}")


@_ga4_events.register
def _(engine: DuckDBEngine, export: str) -> str:
    return export  # the loader stored the flattened rows (c360.sources.files)


@_ga4_events.register
def _(engine: BigQueryEngine, export: str) -> str:
    return _bigquery.ga4_events(export)


def ga4_events(kind: type, export: str) -> str:
    """The flattened GA4 events, given the export's relation, for an engine of class `kind`."""
    return _ga4_events.dispatch(kind)(None, export)


@singledispatch
def prepare(engine, params: dict[str, Any]):
    """Check and read the run's sources; returns what was read (files_frame, rows_read, quarantine_frame)."""
    raise TypeError(f"no sources for engine {type(engine).__name__}")


@prepare.register
def _(engine: DuckDBEngine, params: dict[str, Any]) -> LoadReport:
    return _files.load_sources(engine, resolve(params["source_root"]), params.get("on_bad_rows", "fail"),
                               full_refresh=bool(params.get("full_refresh", False)),
                               lookback_days=params.get("lookback_days"))


@prepare.register
def _(engine: BigQueryEngine, params: dict[str, Any]) -> _bigquery.SourcesRead:
    return _bigquery.prepare(engine, params)
