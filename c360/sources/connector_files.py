"""A CRM connector's files, for the DuckDB engine: `<source_root>/<folder>/<table>.csv|parquet` checked before any
load (a missing table or column names the connector, the table and the column), loaded as typed
`src__<folder>__<table>` tables (CSV: by the contract's CSV loader, with its row checks; parquet: cast to the
declared types), then mapped into the contract's CRM tables src__crm__* (c360.sources.connectors)."""
from __future__ import annotations

import unicodedata
from pathlib import Path
from typing import Any

from c360.paths import display
from c360.sources.connectors import Connector, FivetranTable
from c360.sources.connectors.base import MAPPED
from c360.sources.contract import EMAIL_COLUMNS, BadInputError, LoadReport
from c360.sources.csv_files import _csv_header, load_csv
from c360.warehouse.base import sql_string
from c360.warehouse.duckdb import DuckDBEngine

FORMATS = ("csv", "parquet")


def table_file(source_root: Path, connector: Connector, table: FivetranTable) -> Path | None:
    """The file holding `table`: <folder>/<table>.csv or .parquet (both: an error), or None."""
    found = [p for ext in FORMATS if (p := source_root / connector.folder / f"{table.name}.{ext}").is_file()]
    if len(found) > 1:
        raise BadInputError(f"crm_connector {connector.name}: table {table.name!r} is in two files "
                            f"({', '.join(display(p) for p in found)}); keep one")
    return found[0] if found else None


def file_columns(path: Path) -> list[str]:
    """A CSV's header or a parquet file's column names, lower-cased as Fivetran writes them."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return [name.lower() for name in pq.read_schema(path).names]
    return [c.lower() for c in _csv_header(path)]


def preflight(source_root: Path, connector: Connector, params: dict[str, Any]) -> list[Path]:
    """Every table the connector reads: present when required, with its required columns. Returns the files."""
    files = []
    for table in connector.tables(params):
        path = table_file(source_root, connector, table)
        if path is None:
            if table.required:
                raise connector.missing_table(table, f"no {connector.folder}/{table.name}.csv or .parquet under "
                                                     f"{display(source_root)}")
            continue
        connector.check_columns(table, file_columns(path), display(path))
        files.append(path)
    return files


def _nfkc(text: str | None) -> str | None:
    return None if text is None else unicodedata.normalize("NFKC", text)


def load_parquet(engine: DuckDBEngine, path: Path, table: FivetranTable, name: str, report: LoadReport) -> None:
    """A parquet file as the typed table `name`: each declared column cast to its type (absent optional ones
    NULL), email columns NFKC-normalized as the CSV loader does; a value that does not cast stops the load naming
    the file and column."""
    present = set(file_columns(path))
    cols = []
    for column, kind in table.columns.items():
        value = f'"{column}"' if column in present else "NULL"
        if column in EMAIL_COLUMNS and column in present:
            value = f"_c360_nfkc(CAST({value} AS VARCHAR))"
        cols.append(f"CAST({value} AS {kind}) AS {column}")
    sql = (f"CREATE OR REPLACE TABLE {name} AS SELECT {', '.join(cols)}, "
           f"CAST(row_number() OVER () AS BIGINT) AS _line FROM read_parquet({sql_string(str(path))})")
    with engine.scalar_function("_c360_nfkc", _nfkc, ["VARCHAR"], "VARCHAR"):
        try:
            engine.native(sql)
        except Exception as e:  # a conversion error names the column and value: keep its first line, masked
            from c360.pii import mask_text

            raise BadInputError(f"{display(path)}: cannot be read as {table.name}: "
                                f"{mask_text(str(e).splitlines()[0])[:200]}") from None
    report.files.append({"file": display(path), "table": name, "format": "parquet",
                         "rows": engine.row_count(name), "read": "read"})


def load(engine: DuckDBEngine, source_root: Path, connector: Connector, params: dict[str, Any], on_bad_rows: str,
         report: LoadReport) -> None:
    """Load the connector's tables (an absent optional one: empty) and map them into src__crm__*; each mapped
    table is listed in the report as read from the connector, so the base models' rows balance."""
    for table in connector.tables(params):
        name = f"src__{connector.folder}__{table.name}"
        path = table_file(source_root, connector, table)
        if path is None:
            cols = ", ".join(f"CAST(NULL AS {t}) AS {c}" for c, t in table.columns.items())
            engine.native(f"CREATE OR REPLACE TABLE {name} AS SELECT {cols}, 0 AS _line LIMIT 0")
            report.files.append({"file": f"{connector.folder}/{table.name} (absent)", "table": name, "format": "-",
                                 "rows": 0, "read": "absent"})
        elif path.suffix == ".parquet":
            load_parquet(engine, path, table, name, report)
        else:
            load_csv(engine, path, table.csv(connector.folder), on_bad_rows, report)
    mapped = connector.mapping(lambda t: engine.relation(f"src__{connector.folder}__{t}"), params)
    for target in MAPPED:
        name = f"src__crm__{target}"
        engine.replace_table(name, mapped[target])
        report.files.append({"file": f"{connector.name} mapping", "table": name, "format": "connector",
                             "rows": engine.row_count(name), "read": "mapped"})
