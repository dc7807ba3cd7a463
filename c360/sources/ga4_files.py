"""The GA4 export's shards, for the DuckDB engine: found, checked, parsed with an explicit schema and flattened
in one pass into src__ga4__events (the rows of c360/sql/_ga4_events.sql, which base__ga4__events computes over
the export in place on BigQuery). Incremental: only new shards, and those of the lookback window whose bytes
changed, are read again; the event dates they touch are recorded (c360__touched_dates).
"""
from __future__ import annotations

import hashlib
import json
import re
import tempfile
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from c360.paths import display
from c360.pii import mask_text
from c360.sources.contract import (
    GA4_COLUMNS,
    GA4_REQUIRED,
    LOADED_SHARDS,
    SHARD,
    TOUCHED_DATES,
    BadInputError,
    LoadReport,
)
from c360.sources.fingerprint import file_sha256
from c360.sources.flatten import ga4_events_sql
from c360.warehouse import dialect
from c360.warehouse.base import sql_string as _sql_str
from c360.warehouse.duckdb import DuckDBEngine


def ga4_shards(source_root: Path) -> list[Path]:
    """The GA4 shard files under source_root/ga4, sorted; a misnamed `events_*` file is an error."""
    folder = source_root / "ga4"
    if not folder.is_dir():
        raise BadInputError(f"{display(folder)}: folder not found (expected GA4 shards events_YYYYMMDD.jsonl)")
    shards = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith("events_"):
            m = SHARD.match(path.name)
            if not m:
                raise BadInputError(
                    f"{display(path)}: not a GA4 shard name (events_YYYYMMDD.jsonl[.gz]|.parquet, "
                    "events_intraday_YYYYMMDD.jsonl[.gz])")
            if not _is_date(m["date"]):
                raise BadInputError(f"{display(path)}: not a GA4 shard name: {m['date']} is no date")
            if not path.is_file():
                raise BadInputError(f"{display(path)}: named like a GA4 shard but not a file")
            try:
                with path.open("rb"):
                    pass
            except OSError as e:
                raise BadInputError(f"{display(path)}: cannot be read ({e.strerror or e})") from None
            shards.append(path)
    if not shards:
        raise BadInputError(f"{display(folder)}: no GA4 shards (events_YYYYMMDD.jsonl[.gz]|.parquet)")
    seen: dict[str, Path] = {}
    for path in shards:  # one file per shard, as one table per shard in BigQuery
        suffix = shard_suffix(path)
        if suffix in seen:
            raise BadInputError(f"{display(path)}: the same shard as {seen[suffix].name} (one file per day: "
                                "keep one format)")
        seen[suffix] = path
    return shards


def _json_columns_literal() -> str:
    return "{" + ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in GA4_COLUMNS.items()) + "}"


def _suffix_expr(col: str) -> str:
    """The `_TABLE_SUFFIX` of a shard's path (its file name's, whatever the folders are called)."""
    return f"regexp_extract({col}, 'events_((?:intraday_)?[0-9]{{8}})\\.[^/]*$', 1)"

# Identifiers are text: a JSON number in one of them (`"user_pseudo_id": 1013000001.1709287001`, which DuckDB's
# JSON reader parses as a float, losing digits) must keep the digits as written. The loader reads them as JSON and
# marks a non-integer number (LOSSY_ID); the shards holding one are read again from a copy with such numbers
# quoted (_quote_numeric_ids), so the text is exactly the file's.
ID_COLUMNS = ("user_pseudo_id", "user_id", "stream_id")

LOSSY_ID = "c360:lossy-number"

_NUMERIC_ID = re.compile(rb'("(?:' + "|".join(ID_COLUMNS).encode() + rb')"\s*:\s*)(-?[0-9][0-9.eE+-]*)')


def _id_select(col: str) -> str:
    return (f"CASE WHEN {col} IS NULL OR json_type({col}) = 'NULL' THEN NULL "
            f"WHEN json_type({col}) = 'VARCHAR' THEN {col} ->> '$' "
            f"WHEN json_type({col}) IN ('DOUBLE', 'HUGEINT') THEN {_sql_str(LOSSY_ID)} "
            f"ELSE CAST({col} AS VARCHAR) END AS {col}")


def _ga4_select(shards: list[Path], lenient: bool, exact_ids: bool = False) -> str:
    parts = []
    json_files = [str(p) for p in shards if not p.name.endswith(".parquet")]
    if json_files:
        columns = {**GA4_COLUMNS, **{c: "JSON" for c in ID_COLUMNS}} if exact_ids else GA4_COLUMNS
        select = [_id_select(c) if exact_ids and c in ID_COLUMNS else c for c in GA4_COLUMNS]
        literal = "{" + ", ".join(f"{_sql_str(k)}: {_sql_str(v)}" for k, v in columns.items()) + "}"
        parts.append(
            f"SELECT {', '.join(select)}, filename AS _source_file FROM read_json("
            f"[{', '.join(_sql_str(f) for f in json_files)}], format='newline_delimited', "
            f"columns={literal}, filename=true, ignore_errors={'true' if lenient else 'false'}, "
            "maximum_object_size=16777216)")
    for path in (p for p in shards if p.name.endswith(".parquet")):
        parts.append(_parquet_select(path))
    return " UNION ALL BY NAME ".join(parts)


def _parquet_select(path: Path) -> str:
    import pyarrow.parquet as pq

    present = set(pq.read_schema(path).names)
    cols = [f"CAST({c} AS {t}) AS {c}" if c in present else f"CAST(NULL AS {t}) AS {c}" for c, t in GA4_COLUMNS.items()]
    return f"SELECT {', '.join(cols)}, {_sql_str(str(path))} AS _source_file FROM read_parquet({_sql_str(str(path))})"


def _bad_json_line(path: Path, required: tuple[str, ...]) -> tuple[int, str] | None:
    """The first line of a JSONL shard that is not a UTF-8 JSON object with every required field, well-formed
    values and an event_date and event_timestamp that fit the shard's date (BAD_EVENT) (slow path: only run on a
    shard that failed to load, to name the line)."""
    import gzip

    shard = _shard_date(path) if SHARD.match(path.name) else None

    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                return lineno, f"not UTF-8 (byte {e.start + 1} of the line)"
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                return lineno, f"malformed JSON ({e.msg})"
            if not isinstance(row, dict):
                return lineno, "not a JSON object"
            missing = [k for k in required if row.get(k) in (None, "")]
            if missing:
                return lineno, f"missing required field(s) {', '.join(missing)}"
            if not re.fullmatch(r"-?[0-9]+", str(row["event_timestamp"])):
                return lineno, f"event_timestamp is not an integer: {_shown(row['event_timestamp'])!r}"
            micros = int(row["event_timestamp"])
            if not _MIN_MICROS <= micros <= _MAX_MICROS:
                return lineno, f"event_timestamp is not in years 0001-9999: {_shown(row['event_timestamp'])}"
            if not re.fullmatch(r"[0-9]{8}", str(row["event_date"])) or not _is_date(str(row["event_date"])):
                return lineno, f"event_date is not a YYYYMMDD date: {_shown(row['event_date'])!r}"
            shape = _shape_problem(row)
            if shape:
                return lineno, shape
            day = datetime.strptime(row["event_date"], "%Y%m%d").date()
            if shard and not shard - timedelta(days=EVENT_DATE_LATE) <= day <= shard + timedelta(days=EVENT_DATE_EARLY):
                return lineno, (f"event_date {row['event_date']} is more than {EVENT_DATE_LATE} days before or "
                                f"{EVENT_DATE_EARLY} day after the shard's date {shard:%Y%m%d}")
            utc = (datetime(1970, 1, 1) + timedelta(microseconds=micros)).date()
            if abs((utc - day).days) > TIMESTAMP_DRIFT_DAYS:
                return lineno, (f"event_timestamp {micros} is {utc} (UTC), more than {TIMESTAMP_DRIFT_DAYS} days "
                                f"from event_date {row['event_date']}: GA4 writes microseconds (milliseconds?)")
    return None


def _shown(value: object) -> str:
    """A bad value as an error message shows it: emails and client ids masked (c360.pii), then cut to 40
    characters (masked first, so a long address cannot lose its @ to the cut and slip through)."""
    return str(mask_text(str(value)))[:40]


def _shape_problem(row: dict) -> str | None:
    """What DuckDB would refuse in a parsed event's known fields (GA4_COLUMNS): a record that is not a JSON object,
    a repeated field that is not an array, a text or number field holding an object or array. DuckDB's own
    message does not name the line reliably."""
    for col, typ in GA4_COLUMNS.items():
        value = row.get(col)
        if value is None:
            continue
        if typ.endswith("[]"):
            if not isinstance(value, list):
                return f"{col} is not a JSON array"
            for item in value:
                if item is not None and not isinstance(item, dict):
                    return f"{col} holds an item that is not a JSON object"
                if item and item.get("value") is not None and not isinstance(item["value"], dict):
                    return f"{col} holds a value that is not a JSON object"
                if item and isinstance(item.get("value"), dict) and any(
                        isinstance(v, (dict, list)) for v in item["value"].values()):
                    return f"{col} holds a value field that is an object or array"
        elif typ.startswith("STRUCT"):
            if not isinstance(value, dict):
                return f"{col} is not a JSON object"
            if any(isinstance(v, (dict, list)) for v in value.values()):
                return f"{col} holds a field that is an object or array"
        elif isinstance(value, (dict, list)):
            return f"{col} is {'an object' if isinstance(value, dict) else 'an array'}, not a {typ.lower()}"
    return None

_MIN_MICROS, _MAX_MICROS = -62135596800000000, 253402300799999999  # BigQuery's TIMESTAMP range, in microseconds


def _is_date(yyyymmdd: str) -> bool:
    try:
        datetime.strptime(yyyymmdd, "%Y%m%d")
        return True
    except ValueError:
        return False


def _shard_date(path: Path) -> date:
    return datetime.strptime(SHARD.match(path.name)["date"], "%Y%m%d").date()

# a flattened row the base model can use: the required fields present and event_date a YYYYMMDD date
VALID_EVENT = " AND ".join(f"{c} IS NOT NULL" for c in GA4_REQUIRED)

# A daily shard holds the events GA4 received that day (its date, in the property's time zone): late hits land up
# to about 3 days later, so an event_date before the shard's date - EVENT_DATE_LATE days or after its date +
# EVENT_DATE_EARLY days is a bad row. An event_timestamp whose UTC date is more than TIMESTAMP_DRIFT_DAYS from
# event_date is one too: a timestamp in milliseconds (sessions in 1970 dated 2024), or seconds, or garbage.
EVENT_DATE_LATE, EVENT_DATE_EARLY, TIMESTAMP_DRIFT_DAYS = 3, 1, 2

_SHARD_DAY = "CAST(strptime(shard_date, '%Y%m%d') AS DATE)"

BAD_EVENT = (
    f"CASE WHEN NOT ({VALID_EVENT}) THEN 'malformed or missing required field' "
    f"WHEN event_date < {_SHARD_DAY} - {EVENT_DATE_LATE} OR event_date > {_SHARD_DAY} + {EVENT_DATE_EARLY} "
    f"THEN 'event_date more than {EVENT_DATE_LATE} days before or {EVENT_DATE_EARLY} day after its shard' "
    f"WHEN abs(date_diff('day', event_date, CAST(event_timestamp AS DATE))) > {TIMESTAMP_DRIFT_DAYS} "
    f"THEN 'event_timestamp more than {TIMESTAMP_DRIFT_DAYS} days from event_date (milliseconds?)' END")


def shard_suffix(path: Path | str) -> str:
    """A shard file's `_TABLE_SUFFIX` (`20240301`, `intraday_20240301`): the name of its BigQuery table."""
    m = SHARD.match(Path(path).name)
    return f"{m['intraday'] or ''}{m['date']}"


def ga4_export_select(shards: list[Path], lenient: bool = False, exact_ids: bool = False) -> str:
    """DuckDB SQL reading `shards` as the export's nested rows with their `_TABLE_SUFFIX` (explicit schema).
    `exact_ids`: an identifier written as a non-integer JSON number reads as LOSSY_ID (see ID_COLUMNS)."""
    return (f"SELECT * EXCLUDE (_source_file), {_suffix_expr('_source_file')} AS _TABLE_SUFFIX "
            f"FROM ({_ga4_select(shards, lenient, exact_ids)})")


@lru_cache(maxsize=1)
def _flattened_ga4_sql() -> str:
    """The flattening base__ga4__events reads (c360/sql/_ga4_events.sql) as DuckDB SQL over `_ga4_export`."""
    return dialect.to_duckdb(ga4_events_sql("_ga4_export"))


def flattening_version() -> str:
    """A hash of the flattening the loader runs (its DuckDB SQL). Rows flattened by another version (an older
    c360, or the nested rows c360 stored before it flattened at load) are not mixed with new ones: a change
    reloads every shard."""
    return hashlib.sha256(_flattened_ga4_sql().encode()).hexdigest()[:16]


def _stored_flattening(engine: DuckDBEngine) -> str | None:
    """The flattening version of the rows in src__ga4__events (None: no table, or written before versions)."""
    if not (engine.has_table("src__ga4__events") and engine.has_table(LOADED_SHARDS)
            and "flattening" in engine.columns(LOADED_SHARDS)):
        return None
    found = engine.native(f"SELECT DISTINCT flattening FROM {LOADED_SHARDS}").fetchall()
    return found[0][0] if len(found) == 1 else None


def _insert_shards(engine: DuckDBEngine, shards: list[Path], on_bad_rows: str, report: LoadReport,
                   create: bool) -> None:
    """Parse `shards` and flatten them straight into src__ga4__events (one pass; the nested rows are not kept;
    the table is created when `create`), then reject (raise) or set aside and count the bad rows (BAD_EVENT).
    Call inside a transaction."""
    lenient = on_bad_rows == "quarantine"
    flat = _flattened_ga4_sql()
    _flatten_into(engine, shards, lenient, flat, "CREATE OR REPLACE TABLE src__ga4__events AS" if create
                  else "INSERT INTO src__ga4__events BY NAME")
    by_suffix = {shard_suffix(p): p for p in shards}
    lossy = [by_suffix[s] for (s,) in engine.native(
        "SELECT DISTINCT shard FROM src__ga4__events WHERE shard IN (SELECT UNNEST(?)) AND ("
        + " OR ".join(f"{c} = {_sql_str(LOSSY_ID)}" for c in ID_COLUMNS) + ") ORDER BY 1",
        [list(by_suffix)]).fetchall()]
    if lossy:  # rare: read those shards again with their numeric identifiers quoted, keeping every digit
        engine.native("DELETE FROM src__ga4__events WHERE shard IN (SELECT UNNEST(?))",
                      [[shard_suffix(p) for p in lossy]])
        with tempfile.TemporaryDirectory(prefix="c360-ids-") as tmp:
            copies = {_quote_numeric_ids(p, Path(tmp)): p for p in lossy}
            _flatten_into(engine, list(copies), lenient, flat, "INSERT INTO src__ga4__events BY NAME", copies)
    bad = engine.native(f"SELECT shard, reason, COUNT(*) FROM (SELECT shard, {BAD_EVENT} AS reason "
                        "FROM src__ga4__events WHERE shard IN (SELECT UNNEST(?))) WHERE reason IS NOT NULL "
                        "GROUP BY ALL ORDER BY 1, 2", [list(by_suffix)]).fetchall()
    if bad and not lenient:
        path = by_suffix[bad[0][0]]
        where = _bad_json_line(path, GA4_REQUIRED) if not path.name.endswith(".parquet") else None
        loc = f"line {where[0]}: {where[1]}" if where else f"a row: {bad[0][1]}"
        raise BadInputError(
            f"{display(path)}: {loc} ({sum(n for *_, n in bad)} bad row(s) in all; "
            "on_bad_rows: quarantine sets them aside)")
    if bad:
        engine.native(f"DELETE FROM src__ga4__events WHERE shard IN (SELECT UNNEST(?)) AND ({BAD_EVENT}) IS NOT NULL",
                      [list(by_suffix)])
    for suffix, reason, n in bad:
        report.quarantined.append({"file": display(by_suffix[suffix]), "table": "src__ga4__events",
                                   "reason": reason, "rows": n})


def _flatten_into(engine: DuckDBEngine, shards: list[Path], lenient: bool, flat: str, into: str,
                  originals: dict[Path, Path] | None = None) -> None:
    """Run `into` (CREATE ... AS / INSERT ... BY NAME) over the flattening of `shards`; a failure is a
    BadInputError naming the shard (its original, when `shards` are copies: `originals`)."""
    originals = originals or {}
    engine.native(f"CREATE OR REPLACE TEMP VIEW _ga4_export AS {ga4_export_select(shards, lenient, True)}")
    try:
        engine.native(f"{into} {flat}")
    except Exception as e:  # DuckDB names the file when it can; its line number can be off
        message = str(e).splitlines()[0]
        named = re.search(r'in file "([^"]+)"', message)
        culprit = Path(named[1]) if named else _failing_shard(engine, shards, lenient, flat)
        culprit = originals.get(culprit, culprit) if culprit is not None else None
        for copy, original in originals.items():
            message = message.replace(str(copy), str(original))
        raise BadInputError(_unreadable(culprit, message)) from None
    engine.native("DROP VIEW _ga4_export")  # on failure the transaction's rollback removes it


def _quote_numeric_ids(path: Path, folder: Path) -> Path:
    """A copy of JSONL shard `path` in `folder` (same name, uncompressed) whose identifiers (ID_COLUMNS) written
    as JSON numbers are quoted as written: `"user_pseudo_id": 1013000001.1709287001` ->
    `"user_pseudo_id": "1013000001.1709287001"`."""
    import gzip

    copy = folder / path.name.removesuffix(".gz")
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as src, copy.open("wb") as dst:
        for raw in src:
            dst.write(_NUMERIC_ID.sub(rb'\1"\2"', raw))
    return copy


def _unreadable(path: Path | None, message: str) -> str:
    """The error for a shard that could not be loaded: its file and bad line when a JSON shard shows one (found
    here, slowly, only on this failure path), else its file and DuckDB's message."""
    if path is None:
        return f"GA4 export could not be read: {message}"
    try:
        where = _bad_json_line(path, GA4_REQUIRED) if not path.name.endswith(".parquet") else None
    except (OSError, EOFError):  # not gzip, unreadable: DuckDB's message says so
        where = None
    if where:
        return f"{display(path)}: line {where[0]}: {where[1]}"
    # DuckDB's line number counts within its read buffer, not the file: leave it out rather than name a wrong line
    message = re.sub(r",? in line [0-9]+", "", message)
    return f"{display(path)} could not be read: {mask_text(message)}"


def _failing_shard(engine: DuckDBEngine, shards: list[Path], lenient: bool, flat: str) -> Path | None:
    """The first shard whose flattening fails on its own (slow path: only after a load failed without DuckDB
    naming the file, e.g. a value out of a column's range)."""
    engine.native("ROLLBACK")  # the failed statement aborted the load's transaction
    try:
        for path in shards:
            engine.native(f"CREATE OR REPLACE TEMP VIEW _ga4_export AS {ga4_export_select([path], lenient, True)}")
            try:
                engine.native(f"CREATE OR REPLACE TEMP TABLE _ga4_probe AS {flat}")
            except Exception:
                return path
        return None
    finally:
        engine.native("DROP VIEW IF EXISTS _ga4_export")
        engine.native("DROP TABLE IF EXISTS _ga4_probe")
        engine.native("BEGIN TRANSACTION")  # the caller's transaction block rolls this back


def _replace_shards(engine: DuckDBEngine, stats: dict, digests: dict[str, str | None], reload: list[Path],
                    removed: list[str], first: bool, on_bad_rows: str, report: LoadReport, touched_from: str) -> None:
    """One transaction: drop the rows of the shards re-read or gone, parse the re-read ones in, record the event
    dates that changed (c360__touched_dates) and what was loaded (c360__loaded_shards, with `digests`: the
    sha256 of the shards inside the lookback window)."""
    with engine.transaction():
        gone = sorted({shard_suffix(f) for f in [*reload, *removed]})
        if not first and gone:
            engine.native(f"INSERT INTO _touched {touched_from}", [gone])
            engine.native("DELETE FROM src__ga4__events WHERE shard IN (SELECT UNNEST(?))", [gone])
        if reload:
            _insert_shards(engine, reload, on_bad_rows, report, create=first)
            engine.native(f"INSERT INTO _touched {touched_from}", [[shard_suffix(p) for p in reload]])
        engine.native(f"CREATE OR REPLACE TABLE {TOUCHED_DATES} AS SELECT DISTINCT event_date FROM _touched "
                      "WHERE event_date IS NOT NULL ORDER BY 1")
        engine.native(f"CREATE OR REPLACE TABLE {LOADED_SHARDS} (file VARCHAR, size BIGINT, mtime_ns BIGINT, "
                      "shard_date DATE, flattening VARCHAR, sha256 VARCHAR)")
        engine.native(f"INSERT INTO {LOADED_SHARDS} SELECT f, s, m, d, ?, h FROM (SELECT UNNEST(?) AS f, "
                      "UNNEST(?) AS s, UNNEST(?) AS m, UNNEST(?) AS d, UNNEST(?) AS h)",
                      [flattening_version(), list(stats), [st.st_size for st in stats.values()],
                       [st.st_mtime_ns for st in stats.values()], [_shard_date(Path(f)) for f in stats],
                       [digests.get(f) for f in stats]])


def set_aside_rows(engine: DuckDBEngine) -> dict[str, list[dict]]:
    """The rows the previous load set aside (c360__quarantine), by file as LoadReport lists them."""
    if not engine.has_table("c360__quarantine"):
        return {}
    out: dict[str, list[dict]] = {}
    for file, table, reason, rows in engine.native(
            "SELECT file, source_table, reason, row_count FROM c360__quarantine ORDER BY file, reason").fetchall():
        out.setdefault(file, []).append({"file": file, "table": table, "reason": reason, "rows": rows})
    return out


def load_ga4(engine: DuckDBEngine, source_root: Path, on_bad_rows: str, report: LoadReport,
             full_refresh: bool = False, lookback_days: int = 3,
             set_aside: dict[str, list[dict]] | None = None) -> None:
    """Load the GA4 shards into src__ga4__events, each raw shard parsed and flattened once, straight into the
    table (c360/sql/_ga4_events.sql: the rows base__ga4__events reads; the nested export is not stored).

    The first run (or a full refresh) reads every shard. Later runs re-read only the shards that are new or
    changed (size or modification time), and those dated within `lookback_days` of the newest shard already
    loaded whose bytes changed (GA4 keeps updating a daily table for about 72 hours: inside that window a
    shard's sha256 is compared with the one recorded when it was read, so a copy that kept the old size and
    time is still seen); they drop the rows of shards that disappeared. A shard kept still reports the rows
    set aside from it (on_bad_rows: quarantine) when it was read; with on_bad_rows: fail it is read again.
    The event dates whose rows changed are written to c360__touched_dates, the partitions incremental
    models rebuild. A bad shard leaves the table as it was. `set_aside`: the previous load's rows set aside
    (set_aside_rows; read here when not given).
    """
    shards = ga4_shards(source_root)
    stats = {str(p): p.stat() for p in shards}
    first = full_refresh or _stored_flattening(engine) != flattening_version()
    digests: dict[str, str] = {}

    def digest(p: Path) -> str:
        if str(p) not in digests:
            digests[str(p)] = file_sha256(p)  # its bytes now, never a digest cached by size and time
        return digests[str(p)]

    loaded: dict[str, tuple] = {}
    set_aside = {} if first else (set_aside_rows(engine) if set_aside is None else set_aside)
    if first:
        reload, removed = shards, []
    else:
        has_sha = "sha256" in engine.columns(LOADED_SHARDS)  # an older c360 recorded none: re-read the window
        loaded = {f: (size, mtime, d, sha) for f, size, mtime, d, sha in engine.native(
            f"SELECT file, size, mtime_ns, shard_date, {'sha256' if has_sha else 'NULL'} FROM {LOADED_SHARDS}"
        ).fetchall()}
        cutoff = max(v[2] for v in loaded.values()) - timedelta(days=lookback_days) if loaded else date.min
        reload = [p for p in shards if str(p) not in loaded
                  or loaded[str(p)][:2] != (stats[str(p)].st_size, stats[str(p)].st_mtime_ns)
                  or (_shard_date(p) >= cutoff and loaded[str(p)][3] != digest(p))
                  # rows of it were set aside, and bad rows now stop the run: read it again, as a fresh run would
                  or (on_bad_rows != "quarantine" and display(p) in set_aside)]
        removed = [f for f in loaded if f not in stats]
    # the window the next run compares: the lookback_days before the newest shard now present. Each shard in it
    # is recorded with the digest of the bytes its rows came from: a shard read now, its bytes now; a shard kept,
    # the digest recorded when it was read (none: the next run in whose window it falls reads it again)
    window_from = max(map(_shard_date, shards)) - timedelta(days=lookback_days) if shards else date.min
    reloaded = {str(p) for p in reload}
    window = {str(p): digest(p) if str(p) in reloaded else loaded[str(p)][3]
              for p in shards if _shard_date(p) >= window_from}
    touched_from = "SELECT DISTINCT event_date FROM src__ga4__events WHERE shard IN (SELECT UNNEST(?))"
    engine.native("CREATE OR REPLACE TEMP TABLE _touched (event_date DATE)")
    # the source table is a set (every reader orders or groups it): letting DuckDB write the shards' rows in
    # whatever order its threads finish makes the copy about a quarter faster
    engine.native("SET preserve_insertion_order = false")
    try:
        _replace_shards(engine, stats, window, reload, removed, first, on_bad_rows, report, touched_from)
    finally:
        engine.native("RESET preserve_insertion_order")
    counts = dict(engine.native("SELECT shard, COUNT(*) FROM src__ga4__events GROUP BY 1").fetchall())
    for path in shards:  # a shard kept from an earlier run still counts the rows that run set aside from it
        if str(path) not in reloaded:
            report.quarantined.extend(set_aside.get(display(path), []))
    for path in shards:
        report.files.append({"file": display(path), "table": "src__ga4__events",
                             "format": SHARD.match(path.name)["ext"], "rows": counts.get(shard_suffix(path), 0),
                             "read": "read" if str(path) in reloaded else "unchanged"})
