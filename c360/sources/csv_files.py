"""The CSV files of the data contract, for the DuckDB engine: each read as text, checked row by row (keys,
types, money as exact decimals, NUL bytes) and loaded as a typed `src__<system>__<table>` table shaped like its
Fivetran counterpart; a bad row stops the load naming file, line and column, or is set aside and counted.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

from c360.paths import display
from c360.pii import mask_email, mask_text
from c360.sources.contract import (
    EMAIL_COLUMNS,
    LOADED_FILES,
    MONEY,
    MONEY_TEXT,
    PEOPLE_TABLES,
    BadInputError,
    CsvTable,
    LoadReport,
)
from c360.warehouse.base import sql_string as _sql_str
from c360.warehouse.duckdb import DuckDBEngine


def _csv_header(path: Path) -> list[str]:
    """The column names on a CSV's first line (a BOM and surrounding blanks removed); a repeated name is an error
    naming the file, line and column."""
    import csv

    with path.open("rb") as fh:
        first = fh.readline()
    try:
        text = first.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise BadInputError(f"{display(path)}: line 1: not UTF-8 (byte {e.start + 1} of the header)") from None
    if not text.strip():
        raise BadInputError(f"{display(path)}: line 1: no header (the first line names the columns)")
    names = [c.strip() for c in next(csv.reader([text.rstrip("\r\n")]))]
    if any("\x00" in c for c in names):
        raise BadInputError(f"{display(path)}: line 1: a NUL byte in the header")
    for i, name in enumerate(names):
        if name and names.index(name) != i:
            raise BadInputError(f"{display(path)}: line 1: column {name!r} appears twice (columns "
                                f"{names.index(name) + 1} and {i + 1})")
    return [c or f"_unnamed_{i + 1}" for i, c in enumerate(names)]


def _nfkc(text: str | None) -> str | None:
    return None if text is None else unicodedata.normalize("NFKC", text)


def load_csv(engine: DuckDBEngine, path: Path, spec: CsvTable, on_bad_rows: str, report: LoadReport) -> None:
    """Load one CSV as typed columns; a missing column, an empty key, an unparseable value, a NUL byte or a row
    with more or fewer fields than the header (an unquoted comma) is a bad row. The header is read as written (a
    repeated name is an error); every row is read strictly by it: RFC 4180, comma-separated, `"` quoted."""
    header = _csv_header(path)
    columns = "{" + ", ".join(f"{_sql_str(c)}: 'VARCHAR'" for c in header) + "}"
    engine.native("DROP TABLE IF EXISTS _csv_rejects; DROP TABLE IF EXISTS _csv_reject_scans")
    try:
        engine.native(
            f"CREATE OR REPLACE TEMP TABLE _csv_raw AS SELECT *, (row_number() OVER ()) + 1 AS _line "
            f"FROM read_csv({_sql_str(str(path))}, header=true, columns={columns}, delim=',', quote='\"', "
            "escape='\"', auto_detect=false, strict_mode=true, store_rejects=true, rejects_table='_csv_rejects', "
            "rejects_scan='_csv_reject_scans')")
    except Exception as e:
        raise BadInputError(f"{display(path)}: cannot be read as CSV: {mask_text(str(e).splitlines()[0])}") from None
    rejects = engine.native(
        "SELECT line, error_type, column_name, error_message FROM _csv_rejects ORDER BY line").fetchall()
    engine.native("DROP TABLE _csv_rejects; DROP TABLE _csv_reject_scans")
    present = header
    needed = [c for c in spec.columns if c not in spec.optional_columns]
    missing = [c for c in needed if c not in present]
    if missing:
        raise BadInputError(f"{display(path)}: missing required column(s) {', '.join(missing)} "
                            f"(has: {', '.join(present)})")
    if rejects and on_bad_rows != "quarantine":
        line, kind, column, message = rejects[0]
        found = re.search(r"Found: ([0-9]+)", message or "")
        what = {"TOO MANY COLUMNS": f"{found[1] if found else 'more'} fields, the header has {len(header)} "
                                    "(an unquoted comma? quote the value)",
                "MISSING COLUMNS": f"{found[1] if found else 'fewer'} fields, the header has {len(header)}",
                "INVALID ENCODING": f"not UTF-8 (column {column})"}.get(kind, f"{kind.lower()}: {message}")
        raise BadInputError(f"{display(path)}: line {line}: {mask_text(what)} ({len(rejects)} bad row(s) of this "
                            "kind; on_bad_rows: quarantine sets them aside)")
    if rejects:
        for kind in sorted({r[1] for r in rejects}):
            report.quarantined.append({"file": display(path), "table": spec.table,
                                       "reason": f"unreadable row ({kind.lower()})",
                                       "rows": sum(r[1] == kind for r in rejects)})
    raw = dict(zip(header, engine.columns("_csv_raw")))
    # email columns are read through Unicode NFKC (what mask and match rules expect), in SQL
    with engine.scalar_function("_c360_nfkc", _nfkc, ["VARCHAR"], "VARCHAR"):
        _load_typed(engine, path, spec, raw, on_bad_rows, report)
    report.files.append({"file": display(path), "table": spec.table, "format": "csv",
                         "rows": engine.row_count(spec.table), "read": "read"})


def _load_typed(engine: DuckDBEngine, path: Path, spec: CsvTable, raw: dict[str, str], on_bad_rows: str,
                report: LoadReport) -> None:
    """Type the rows of _csv_raw (its columns: `raw`, header name -> column) into `spec.table`: each value cast,
    each row checked (keys present, types parse, money a plain decimal, no NUL byte); a bad row fails the load or
    is set aside (on_bad_rows)."""
    def col(c: str) -> str:
        if c not in raw:
            return "NULL"
        quoted = '"' + raw[c].replace('"', '""') + '"'
        return f"_c360_nfkc({quoted})" if c in EMAIL_COLUMNS else quoted

    typed = [f"TRY_CAST(NULLIF(TRIM({col(c)}), '') AS {t}) AS {c}" if t != "VARCHAR"
             else f"NULLIF({col(c)}, '') AS {c}" for c, t in spec.columns.items()]
    problems = [f"WHEN strpos({col(c)}, chr(0)) > 0 THEN 'a NUL byte in {c}'" for c in spec.columns if c in raw]
    problems += [f"WHEN NULLIF(TRIM({col(k)}), '') IS NULL THEN 'empty {k}'" for k in spec.keys]
    problems += [f"WHEN NULLIF(TRIM({col(c)}), '') IS NOT NULL AND NOT regexp_matches(TRIM({col(c)}), "
                 f"{_sql_str(MONEY_TEXT)}) THEN 'unparseable {c} (a decimal number with at most 29 digits before "
                 f"the point and 9 after): ' || {col(c)}" for c, t in spec.columns.items() if t == MONEY and c in raw]
    problems += [f"WHEN NULLIF(TRIM({col(c)}), '') IS NOT NULL AND TRY_CAST(TRIM({col(c)}) AS {t}) IS NULL "
                 f"THEN 'unparseable {c}: ' || {col(c)}" for c, t in spec.columns.items() if t != "VARCHAR" and c in raw]
    engine.native(
        f"CREATE OR REPLACE TEMP TABLE _csv_typed AS SELECT {', '.join(typed)}, _line, "
        f"CASE {' '.join(problems)} ELSE NULL END AS _problem FROM _csv_raw")
    bad = engine.native(
        "SELECT _line, _problem FROM _csv_typed WHERE _problem IS NOT NULL ORDER BY _line").fetchall()
    if bad and on_bad_rows != "quarantine":
        line, problem = bad[0]
        raise BadInputError(f"{display(path)}: line {line}: {_masked_problem(problem, spec.personal or spec.table in PEOPLE_TABLES)} "
                            f"({len(bad)} bad row(s) "
                            "in all; on_bad_rows: quarantine sets them aside)")
    if bad:
        reasons = sorted({problem.split(":")[0] for _, problem in bad})
        report.quarantined.append({"file": display(path), "table": spec.table,
                                   "reason": "; ".join(reasons), "rows": len(bad)})
    engine.native(f"CREATE OR REPLACE TABLE {spec.table} AS SELECT * EXCLUDE (_problem) FROM _csv_typed "
                  "WHERE _problem IS NULL ORDER BY _line")
    engine.native("DROP TABLE _csv_raw; DROP TABLE _csv_typed")


def _masked_problem(problem: str, personal: bool = False) -> str:
    """A bad CSV row's problem as an error shows it: the value cut to 200 characters, an email address in it masked
    (c360.pii.mask_text: an address or client id pasted into a timestamp column does not reach stderr as
    written; masked before the cut); from a file about people (`personal`), a value with a letter in it shows only
    its first character and its length."""
    head, sep, value = problem.partition(": ")
    if sep and personal and any(ch.isalpha() for ch in value):  # digits and separators ('31/12/2024') are shown
        return f"{head}: {value[:1]}*** ({len(value)} characters)"
    if sep and "@" in value:
        masked = mask_email(value)
        value = masked if masked != value else value[:1] + "***"
    return str(mask_text(head + sep + value))[:200]


def csv_reading(spec: CsvTable, on_bad_rows: str) -> str:
    """How a CSV file is read: its contract (columns, types, keys), on_bad_rows, and the source of the loader and
    of the contract it reads (the money pattern, the email columns)."""
    h = hashlib.sha256(f"{spec!r}|{on_bad_rows}|".encode())
    for module in (Path(__file__), Path(__file__).with_name("contract.py")):
        h.update(module.read_bytes())
    return h.hexdigest()[:16]


def loaded_files(engine: DuckDBEngine) -> dict[tuple[str, str], tuple[str, str]]:
    """(file, table) -> (sha256, reading) of the CSV files the tables hold, as the last load recorded them."""
    engine.native(f"CREATE TABLE IF NOT EXISTS {LOADED_FILES} (file VARCHAR, \"table\" VARCHAR, sha256 VARCHAR, "
                  "reading VARCHAR)")
    return {(f, t): (h, r) for f, t, h, r in engine.native(
        f"SELECT file, \"table\", sha256, reading FROM {LOADED_FILES}").fetchall()}
