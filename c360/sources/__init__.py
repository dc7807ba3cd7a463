"""The sources layer: reading the data contract's inputs into (or in place for) a warehouse.

Each engine has a reader module with the same functions: c360.sources.files (DuckDB: the files under source_root
loaded into src__* tables) and c360.sources.bigquery (BigQuery: the tables read in place, the seeds uploaded).

- `prepare(engine, params)` checks and reads a run's sources; returns what was read (files_frame, rows_read,
  quarantine_frame, where).
- `relation(engine, system, table)` is the SQL of a source table: what a model's `{{ source() }}` renders to.
- `marks(engine, names)` fingerprints the source tables models read (what decides whether a model is kept).
- `ga4_events(target, export)` is what a model's `{{ ga4_events() }}` renders to on engine type `target`.
- `inputs(params)` fingerprints a run's inputs before any engine is opened (c360.sources.provenance).

The reader is chosen by the engine's target type (`engine.target`), never by testing its name. The package is
imported lazily: `import c360.sources.provenance` (the runner, before its first kernel starts) loads neither
pandas nor DuckDB.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

READERS = {"duckdb": "c360.sources.files", "bigquery": "c360.sources.bigquery"}  # engine target -> reader module
# names this package offers from its modules, imported when first used
_LAZY = {
    **dict.fromkeys(("CSV_TABLES", "GA4_COLUMNS", "LOADED_SHARDS", "TOUCHED_DATES", "BadInputError", "LoadReport"),
                    "c360.sources.contract"),
    **dict.fromkeys(("load_sources", "preflight"), "c360.sources.files"),
}


def reader(target: str) -> ModuleType:
    """The reader module of engine type `target` (READERS)."""
    try:
        return importlib.import_module(READERS[target])
    except KeyError:
        raise ValueError(f"no sources for engine {target!r} (one of: {', '.join(READERS)})") from None


def prepare(engine, params: dict[str, Any]):
    """Check and read the run's sources (see the module docstring)."""
    return reader(engine.target).prepare(engine, params)


def relation(engine, system: str, table: str, **kwargs: Any) -> str:
    """The SQL of source table `system.table` on `engine` (`since`: the GA4 export from a shard date on, on a
    reader that reads it in place)."""
    return reader(engine.target).relation(engine, system, table, **kwargs)


def marks(engine, names: list[str]) -> dict[str, str]:
    """A fingerprint of each source table of `names` that decides whether the models reading it are kept: its
    exact content (DuckDB, loaded tables) or its metadata (BigQuery, tables read in place; never a scan)."""
    return reader(engine.target).marks(engine, names)


def ga4_events(target: str, export: str) -> str:
    """The flattened GA4 events on engine type `target`, given the export's relation."""
    return reader(target).ga4_events(export)


def inputs(params: dict[str, Any]) -> list[dict]:
    """A run's inputs, fingerprinted, for the `backend` it names (see the readers' `inputs`)."""
    return reader(params.get("backend", "duckdb")).inputs(params)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'c360.sources' has no attribute {name!r}")
