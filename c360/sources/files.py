"""Sources for the DuckDB engine: the files of the data contract, checked and loaded as typed tables.

The GA4 shards (c360.sources.ga4_files) and the CSVs (c360.sources.csv_files) are loaded into `src__*` tables,
so the base models are the same SQL on both engines. Everything here runs before any model: a bad file stops the
run naming the file and line, or, with `on_bad_rows: quarantine`, its bad rows are set aside and counted
(c360__quarantine).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from c360.paths import SEEDS_DIR, display, resolve
from c360.sources import connector_files
from c360.sources.connectors import Connector, connector
from c360.sources.contract import CSV_TABLES, LOADED_FILES, BadInputError, CsvTable, LoadReport
from c360.sources.csv_files import csv_reading, load_csv, loaded_files
from c360.sources.fingerprint import file_sha256, fingerprints
from c360.sources.ga4_files import ga4_shards, load_ga4, set_aside_rows
from c360.warehouse.base import check_identifier
from c360.warehouse.duckdb import DuckDBEngine

CRM_FOLDER = "crm/"  # the contract's CRM files, which a CRM connector replaces


def csv_tables(crm: Connector | None) -> tuple[CsvTable, ...]:
    """The contract's CSV tables a run reads: all of them, or with a CRM connector all but crm/*.csv."""
    return tuple(s for s in CSV_TABLES if crm is None or not s.path.startswith(CRM_FOLDER))


def preflight(source_root: Path, params: dict[str, Any] | None = None) -> list[Path]:
    """Cheap checks before any heavy work: folders and required files exist (and, with a CRM connector, its
    tables and their required columns). Returns every input file."""
    if not source_root.is_dir():
        raise BadInputError(f"source_root {display(source_root)}: folder not found")
    crm = connector((params or {}).get("crm_connector"))
    files = ga4_shards(source_root)
    for spec in csv_tables(crm):
        path = source_root / spec.path
        if path.is_file():
            files.append(path)
        elif spec.required_file:
            raise BadInputError(f"{display(path)}: required file not found")
    if crm is not None:
        files += connector_files.preflight(source_root, crm, params or {})
    return files


def load_sources(engine: DuckDBEngine, source_root: Path, on_bad_rows: str = "fail", full_refresh: bool = False,
                 lookback_days: int = 3, params: dict[str, Any] | None = None) -> LoadReport:
    """Load the whole source tree into src__* tables (and the project's email-domain seed when absent).

    Args:
        engine: the DuckDB warehouse.
        source_root: the folder laid out as the data contract says.
        on_bad_rows: 'fail' or 'quarantine'.
        full_refresh, lookback_days: which GA4 shards to re-read (see load_ga4). A CSV file is read again unless
            its bytes (sha256), its contract, on_bad_rows and the loader are what they were when it was last read
            (a full refresh reads it); a file kept still reports the rows set aside from it then.
        params: the run's parameters: crm_connector (and its properties) say how the CRM is laid out.
    Returns:
        A LoadReport: rows per file and rows set aside.
    Raises:
        BadInputError: naming the file (and line) that breaks the contract.
    """
    preflight(source_root, params)
    crm = connector((params or {}).get("crm_connector"))
    report = LoadReport()
    set_aside = set_aside_rows(engine)
    load_ga4(engine, source_root, on_bad_rows, report, full_refresh, lookback_days, set_aside)
    recorded = loaded_files(engine)
    loaded = {} if full_refresh else recorded
    found = []  # (spec, path or None, sha256, reading, kept)
    for spec in csv_tables(crm):
        path = source_root / spec.path
        if not path.is_file() and spec.path.startswith("seeds/"):
            path = SEEDS_DIR / Path(spec.path).name  # the project's own seed
        if not path.is_file():
            found.append((spec, None, None, None, False))
            continue
        digest, reading = file_sha256(path), csv_reading(spec, on_bad_rows)
        # the same bytes read the same way: the table holds what reading them again would give
        kept = loaded.get((str(path), spec.table)) == (digest, reading) and engine.has_table(spec.table)
        found.append((spec, path, digest, reading, kept))
    # the records of the files read now are removed before the first is read and written once all are
    # (with a CRM connector, the records of crm/*.csv too: the connector writes their tables)
    engine.native(f"DELETE FROM {LOADED_FILES} WHERE \"table\" IN (SELECT UNNEST(?))",
                  [[spec.table for spec, *_, kept in found if not kept]
                   + ([s.table for s in CSV_TABLES if s not in csv_tables(crm)])])
    for spec, path, digest, reading, kept in found:
        if path is None:
            cols = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in spec.columns.items())
            engine.native(f"CREATE OR REPLACE TABLE {spec.table} AS SELECT {cols}, 0 AS _line LIMIT 0")
            report.files.append({"file": f"{spec.path} (absent)", "table": spec.table, "format": "-", "rows": 0,
                                 "read": "absent"})
        elif kept:
            report.files.append({"file": display(path), "table": spec.table, "format": "csv",
                                 "rows": engine.row_count(spec.table), "read": "unchanged"})
            report.quarantined.extend(q for q in set_aside.get(display(path), []) if q["table"] == spec.table)
        else:
            load_csv(engine, path, spec, on_bad_rows, report)
    if crm is not None:
        connector_files.load(engine, source_root, crm, params or {}, on_bad_rows, report)
    read = [(str(path), spec.table, digest, reading) for spec, path, digest, reading, kept in found
            if path is not None and not kept]
    if read:
        engine.native(f"INSERT INTO {LOADED_FILES} SELECT * FROM "
                      "(SELECT UNNEST(?), UNNEST(?), UNNEST(?), UNNEST(?))", [list(col) for col in zip(*read)])
    engine.native(
        "CREATE OR REPLACE TABLE c360__quarantine AS SELECT * FROM (VALUES (NULL::VARCHAR, NULL::VARCHAR, "
        "NULL::VARCHAR, NULL::BIGINT)) t(file, source_table, reason, row_count) WHERE false")
    for q in report.quarantined:
        engine.native("INSERT INTO c360__quarantine VALUES (?, ?, ?, ?)",
                      [q["file"], q["table"], q["reason"], q["rows"]])
    return report


# -- the reader interface (c360.sources): the same functions as c360.sources.bigquery's
def prepare(engine: DuckDBEngine, params: dict[str, Any]) -> LoadReport:
    """Load the files under source_root (load_sources, with the run's on_bad_rows, full_refresh, lookback_days)."""
    return load_sources(engine, resolve(params["source_root"]), params.get("on_bad_rows", "fail"),
                        full_refresh=bool(params.get("full_refresh", False)),
                        lookback_days=params.get("lookback_days", 3), params=params)


def relation(engine: DuckDBEngine, system: str, table: str, since: str | None = None) -> str:
    """A loaded source table: src__<system>__<table> (`since` is for readers that read the export in place: the
    loader already read only the new and changed shards)."""
    return engine.relation(f"src__{check_identifier(system)}__{check_identifier(table)}")


def marks(engine: DuckDBEngine, names: list[str]) -> dict[str, str]:
    """A fingerprint of each loaded source table of `names`: its exact content checksum (a table not loaded has
    none)."""
    return engine.checksums(sorted(set(names) & set(engine.tables())), exact=True)


def ga4_events(export: str) -> str:
    """The loader stored the flattened rows (c360.sources.ga4_files): `{{ ga4_events() }}` is the table itself."""
    return export


def inputs(params: dict[str, Any]) -> list[dict]:
    """Every source file of source_root, fingerprinted (sha256; c360.sources.fingerprint)."""
    return fingerprints(preflight(resolve(params["source_root"]), params))
