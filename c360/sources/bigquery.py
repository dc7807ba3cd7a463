"""Sources for the BigQuery engine: the export and the CRM tables read in place, and the seeds uploaded.

- GA4: the export's sharded tables (`analytics_<id>.events_*`), filtered on `_TABLE_SUFFIX` to the run's date
  range, daily and intraday shards (base__ga4__events prefers a daily shard to the intraday one of the same date).
  The bounds are constants, so BigQuery prunes the shards it does not read.
- CRM, product and marketing: the tables the parameters name; an optional one not named is an empty stand-in
  with the data contract's columns, and a configured one lacking an optional column the models read gets NULLs.
- Seeds (email domains, GA4 source categories, currencies): small CSVs, parsed by the DuckDB loader (so both
  engines read the same rows) and uploaded to the target dataset as src__seeds__<name>.
`source_tables` lists the source tables' metadata (rows, bytes, last change) that the runner fingerprints.

Incremental builds (docs/bigquery.md): `marks` fingerprints the sources a model reads from their metadata (no
query job), `ga4_window` is the first shard date an incremental build of base__ga4__events re-reads, and
`record_ga4_shards` keeps the shards it was built from (c360__loaded_shards), the state the next window is
decided from.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from c360 import params as P
from c360.paths import SEEDS_DIR, display
from c360.sources.contract import (
    BIGQUERY_TYPES,
    CSV_TABLES,
    BadInputError,
    LOADED_SHARDS,
    TOUCHED_DATES,
    LoadReport,
    csv_table,
)
from c360.sources.connectors import Connector, FivetranTable, connector
from c360.sources.connectors.base import MAPPED
from c360.sources.csv_files import load_csv
from c360.sources.fingerprint import fingerprints
from c360.sources.flatten import ga4_events_sql
from c360.warehouse.base import check_identifier
from c360.warehouse.bigquery import (
    GA4_SHARD_PREFIX,
    SOURCE_PARAMS,
    BigQueryEngine,
    TableName,
    check_name,
)
from c360.warehouse.duckdb import DuckDBEngine

SEED_TABLES = ("email_domains", "ga4_source_categories", "currencies")
REQUIRED_SOURCES = ("crm__contacts", "crm__deals")
# optional columns of the data contract that models read: a configured table without them gets NULLs
MODEL_READS_OPTIONAL = {"marketing__ad_spend": ("currency",), "crm__deals": ("is_won", "is_closed"),
                        "crm__contacts": ("company_domain",)}


# the GA4 shards base__ga4__events holds (DuckDB's table of loaded shards, by name): shard, rows, bytes, modified,
# first_event_date
GA4_SHARDS = LOADED_SHARDS


def relation(engine: BigQueryEngine, system: str, table: str, since: str | None = None) -> str:
    """The SQL of a source table, read in place (see the module docstring). `since` (YYYYMMDD): the GA4 export
    from that shard date on only (an incremental build, see ga4_window)."""
    key = f"{check_identifier(system)}__{check_identifier(table)}"
    if key == "ga4__events":
        return _ga4_events(engine, since)
    configured = engine.config.tables.get(key)
    if key == "seeds__email_domains" and configured is not None:
        # a table has no file order: the first row of a repeated domain is the smallest classification
        return (f"(SELECT domain, classification, ROW_NUMBER() OVER (ORDER BY domain, classification) AS _line "
                f"FROM {configured.sql()})")
    if system == "seeds":
        return engine.relation(f"src__{key}")  # uploaded by prepare
    crm = connector(engine.config.crm_connector)
    if system == "crm" and crm is not None:
        return f"({crm.mapping(lambda t: _fivetran_table(engine, crm, t), engine.config.crm_properties)[table]})"
    if configured is not None:
        return _with_optional_columns(engine, key, configured)
    if key in REQUIRED_SOURCES:
        raise P.ParamError(f"backend bigquery needs parameter '{SOURCE_PARAMS[key]}'")
    return _empty_source(key)


def _crm_dataset(engine: BigQueryEngine, crm: Connector) -> TableName:
    if engine.config.crm_dataset is None:
        raise P.ParamError(f"crm_connector {crm.name} on backend bigquery needs parameter 'crm_dataset'")
    return engine.config.crm_dataset


def _crm_tables(engine: BigQueryEngine, crm: Connector) -> dict[str, tuple[FivetranTable, TableName | None]]:
    """The connector's tables: each with its table in crm_dataset (None: absent and optional), checked: a required
    table or column missing is a ConnectorError naming connector, table and column."""
    dataset = _crm_dataset(engine, crm)
    try:
        present = set(engine.list_table_ids(dataset.id()))
    except P.ParamError as e:
        raise P.ParamError(f"crm_dataset: {e}") from None
    out = {}
    for spec in crm.tables(engine.config.crm_properties):
        if spec.name not in present:
            if spec.required:
                raise crm.missing_table(spec, f"no table {spec.name} in crm_dataset {dataset.id()}")
            out[spec.name] = (spec, None)
            continue
        name = TableName(dataset.project, dataset.dataset, spec.name)
        crm.check_columns(spec, [c.lower() for c in engine.table_columns(name.id())], name.id())
        out[spec.name] = (spec, name)
    return out


def _fivetran_table(engine: BigQueryEngine, crm: Connector, table: str) -> str:
    """A connector's table read in place, with every declared column (absent optional ones as NULL); an absent
    optional table is an empty stand-in."""
    spec, name = _crm_tables(engine, crm)[table]
    if name is None:
        return spec.empty_sql()
    present = {c.lower() for c in engine.table_columns(name.id())}
    absent = [c for c in spec.columns if c not in present]
    if not absent:
        return name.sql()
    nulls = ", ".join(f"CAST(NULL AS {BIGQUERY_TYPES[spec.columns[c]]}) AS {check_identifier(c)}" for c in absent)
    return f"(SELECT *, {nulls} FROM {name.sql()})"


def ga4_events(export: str) -> str:
    """What `{{ ga4_events() }}` is on BigQuery: the flattening, run over the export in place."""
    return f"({ga4_events_sql(export)})"


def _ga4_events(engine: BigQueryEngine, since: str | None = None) -> str:
    """The GA4 export's shards in the run's date range (from shard date `since` on, when given), daily and
    intraday, with `_TABLE_SUFFIX` as a column (a wildcard table's `SELECT *` leaves the pseudo-column out). The
    bounds are constants: BigQuery prunes the shards outside them (it would not for a subquery)."""
    lo, hi = _ga4_bounds(engine)
    if since is not None:
        assert re.fullmatch(r"[0-9]{8}", since), since
        lo = max(lo, since)
    ga4 = engine.config.ga4_dataset
    check_name(P.BQ_PROJECT, ga4.project, "ga4_dataset")
    check_name(P.BQ_DATASET, ga4.dataset, "ga4_dataset")
    wildcard = f"`{ga4.project}.{ga4.dataset}.{GA4_SHARD_PREFIX}*`"
    return (f"(SELECT *, _TABLE_SUFFIX AS _TABLE_SUFFIX FROM {wildcard} "
            f"WHERE _TABLE_SUFFIX BETWEEN '{lo}' AND '{hi}' "
            f"OR _TABLE_SUFFIX BETWEEN 'intraday_{lo}' AND 'intraday_{hi}')")


def _ga4_bounds(engine: BigQueryEngine) -> tuple[str, str]:
    """The run's GA4 date range as shard suffixes, YYYYMMDD (unbounded: 00000000 / 99999999)."""
    config = engine.config
    if config.ga4_dataset is None:
        raise P.ParamError("backend bigquery needs parameter 'ga4_dataset'")
    lo = config.ga4_start_date.strftime("%Y%m%d") if config.ga4_start_date else "00000000"
    hi = config.ga4_end_date.strftime("%Y%m%d") if config.ga4_end_date else "99999999"
    assert re.fullmatch(r"[0-9]{8}", lo) and re.fullmatch(r"[0-9]{8}", hi)
    return lo, hi


def _shard_date(suffix: str) -> dt.date:
    return dt.datetime.strptime(suffix[-8:], "%Y%m%d").date()


_SHARDS_SEEN: "weakref.WeakKeyDictionary[BigQueryEngine, dict]" = weakref.WeakKeyDictionary()


def ga4_shard_metadata(engine: BigQueryEngine) -> dict[str, dict[str, Any]]:
    """Each GA4 shard of the run's date range by `_TABLE_SUFFIX`: rows, bytes, last modified (metadata calls,
    no query job), as this engine first saw them: a shard GA4 changes while the run reads it is recorded with
    its metadata from before, so the next run reads it again."""
    if engine not in _SHARDS_SEEN:
        ga4 = engine.config.ga4_dataset.id()
        suffixes = _ga4_suffixes(engine)
        with ThreadPoolExecutor(max_workers=16) as pool:
            found = pool.map(lambda s: engine.table_metadata(f"{ga4}.{GA4_SHARD_PREFIX}{s}", "ga4_dataset"),
                             suffixes)
            _SHARDS_SEEN[engine] = {s: {k: m[k] for k in ("rows", "bytes", "modified")}
                                    for s, m in zip(suffixes, found)}
    return _SHARDS_SEEN[engine]


def _stored_shards(engine: BigQueryEngine) -> dict[str, dict[str, Any]]:
    if not engine.has_table(GA4_SHARDS):
        return {}
    frame = engine.query(f"SELECT shard, `rows`, bytes, modified, first_event_date FROM {engine.relation(GA4_SHARDS)}")
    return {r.shard: {"rows": int(r.rows), "bytes": int(r.bytes), "modified": r.modified,
                      "first_event_date": r.first_event_date} for r in frame.itertuples()}


def ga4_window(engine: BigQueryEngine, lookback_days: int) -> str | None:
    """The first shard date (YYYYMMDD) an incremental build of base__ga4__events re-reads: `lookback_days` before
    the newest shard it holds (GA4 rewrites a daily table for about 72 hours), or earlier when an older shard
    changed, appeared or disappeared since (its metadata: rows, bytes, last modified). None when the table holds
    no shards yet (c360__loaded_shards): a full build."""
    stored = _stored_shards(engine)
    if not stored:
        return None
    now = ga4_shard_metadata(engine)
    since = max(_shard_date(s) for s in stored) - dt.timedelta(days=int(lookback_days))
    strip = lambda m: m and {k: m[k] for k in ("rows", "bytes", "modified")}  # noqa: E731
    changed = [_shard_date(s) for s in stored.keys() | now.keys() if strip(stored.get(s)) != strip(now.get(s))]
    return min([since, *changed]).strftime("%Y%m%d")


def ga4_floor(engine: BigQueryEngine, since: str) -> str | None:
    """The earliest event date (YYYY-MM-DD) of the rows base__ga4__events holds from the shards dated `since` on
    (a late event lands in its own, earlier date): the constant partition bound an incremental build deletes
    those rows within. None when it holds none."""
    dates = [m["first_event_date"] for s, m in _stored_shards(engine).items()
             if s[-8:] >= since and m["first_event_date"]]
    return min(dates) if dates else None


def record_ga4_shards(engine: BigQueryEngine, first_dates: dict[str, str | None], since: str | None) -> None:
    """Keep the shards base__ga4__events was built from (c360__loaded_shards): each shard's metadata now and the
    earliest event date in it (`first_dates`, the shards read this build; the others keep theirs; `since`: the
    first shard date read, None for a full build)."""
    stored = _stored_shards(engine) if since is not None else {}
    now = ga4_shard_metadata(engine)
    rows = []
    for suffix in sorted(now):
        first = first_dates.get(suffix) if since is None or suffix[-8:] >= since else \
            stored.get(suffix, {}).get("first_event_date")
        rows.append({"shard": suffix, **now[suffix], "first_event_date": first})
    frame = pd.DataFrame(rows, columns=["shard", "rows", "bytes", "modified", "first_event_date"])
    engine.write_frame(GA4_SHARDS, frame.astype({"rows": "int64", "bytes": "int64", "modified": "object",
                                                 "first_event_date": "object"}))


def marks(engine: BigQueryEngine, names: list[str]) -> dict[str, str]:
    """A fingerprint of each source table in `names` (src__<system>__<table>) from metadata, never by reading
    it: a table read in place by its id, rows, bytes and last change; the GA4 export by every shard of the
    date range so; an uploaded seed by its file's sha256; an optional source not configured is 'absent'."""
    out: dict[str, str] = {}
    seeds = {f"src__seeds__{p.stem}": p for p in seed_files(engine)}
    for name in names:
        key = name.removeprefix("src__")
        if key == "ga4__events":
            lo, hi = _ga4_bounds(engine)
            what: Any = {"range": [lo, hi], "shards": ga4_shard_metadata(engine)}
        elif key in engine.config.tables:
            what = engine.table_metadata(engine.config.tables[key].id(), SOURCE_PARAMS[key])
        elif name in seeds:
            what = {"sha256": hashlib.sha256(seeds[name].read_bytes()).hexdigest()}
        else:
            what = "absent"
        out[name] = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()
    return out


def _with_optional_columns(engine: BigQueryEngine, key: str, table: TableName) -> str:
    """A configured source table, with the data contract's optional columns it lacks added as NULLs (its
    schema is read once, from metadata)."""
    spec = csv_table(f"src__{key}")
    if spec is None or key not in MODEL_READS_OPTIONAL:
        return table.sql()
    present = engine.table_columns(table.id())
    absent = [c for c in MODEL_READS_OPTIONAL[key] if c not in present]
    if not absent:
        return table.sql()
    nulls = ", ".join(f"CAST(NULL AS {BIGQUERY_TYPES[spec.columns[c]]}) AS {check_identifier(c)}" for c in absent)
    return f"(SELECT *, {nulls} FROM {table.sql()})"


def _empty_source(key: str) -> str:
    """An optional source that is not configured: no rows, the columns of the data contract."""
    spec = csv_table(f"src__{key}")
    cols = ", ".join(f"CAST(NULL AS {BIGQUERY_TYPES[t]}) AS {check_identifier(c)}" for c, t in spec.columns.items())
    return f"(SELECT {cols} LIMIT 0)"


def source_tables(engine: BigQueryEngine) -> list[dict[str, Any]]:
    """The tables this run reads in place, from their metadata (API calls, no query job): each configured source
    table, then each GA4 shard of the date range, daily and intraday. One row each: source, table (its id),
    rows and bytes as the metadata has them (a streaming intraday shard's buffer is not in them), modified."""
    ga4 = engine.config.ga4_dataset
    wanted = [(f"src__{key}", table.id(), SOURCE_PARAMS[key]) for key, table in sorted(engine.config.tables.items())]
    wanted += [("src__ga4__events", f"{ga4.id()}.{GA4_SHARD_PREFIX}{suffix}", "ga4_dataset")
               for suffix in _ga4_suffixes(engine)]
    crm = connector(engine.config.crm_connector)
    if crm is not None:
        wanted += [(f"src__{crm.folder}__{spec.name}", name.id(), "crm_dataset")
                   for spec, name in _crm_tables(engine, crm).values() if name is not None]
    with ThreadPoolExecutor(max_workers=16) as pool:  # one metadata call per shard: a year is 365 of them
        return list(pool.map(lambda w: {"source": w[0], **engine.table_metadata(w[1], w[2])}, wanted))


def _ga4_suffixes(engine: BigQueryEngine) -> list[str]:
    """The `_TABLE_SUFFIX` of every GA4 shard that `source('ga4', 'events')` reads: the same range test on the
    same strings, applied to the dataset's table list. No shard in range is a BadInputError."""
    lo, hi = _ga4_bounds(engine)
    dataset = engine.config.ga4_dataset.id()
    try:
        names = engine.list_table_ids(dataset)
    except P.ParamError as e:
        raise P.ParamError(f"ga4_dataset: {e}") from None
    suffixes = sorted(n[len(GA4_SHARD_PREFIX):] for n in names if n.startswith(GA4_SHARD_PREFIX))
    found = [x for x in suffixes if lo <= x <= hi or f"intraday_{lo}" <= x <= f"intraday_{hi}"]
    if not found:
        raise BadInputError(f"ga4_dataset {dataset}: no events_YYYYMMDD or events_intraday_YYYYMMDD shard "
                            f"from {lo} to {hi}")
    return found


def _count_rows(engine: BigQueryEngine, tables: list[dict[str, Any]]) -> dict[str, int]:
    """Rows per source table and GA4 shard as the models read them (one COUNT(*) job; BigQuery answers it from
    metadata, and it includes the streaming buffer of an intraday shard)."""
    ga4 = engine.config.ga4_dataset.id()
    parts = [f"SELECT CONCAT(@ga4_prefix, _TABLE_SUFFIX) AS table_id, COUNT(*) AS n "
             f"FROM {relation(engine, 'ga4', 'events')} GROUP BY 1"]
    values: dict[str, Any] = {"ga4_prefix": f"{ga4}.{GA4_SHARD_PREFIX}"}
    for i, (key, table) in enumerate(sorted(engine.config.tables.items())):
        parts.append(f"SELECT @table_{i} AS table_id, COUNT(*) AS n FROM {table.sql()}")
        values[f"table_{i}"] = table.id()
    crm = connector(engine.config.crm_connector)
    if crm is not None:  # the Fivetran tables as read, and the contract tables the connector maps them to
        for j, (spec, name) in enumerate(t for t in _crm_tables(engine, crm).values() if t[1] is not None):
            parts.append(f"SELECT @crm_{j} AS table_id, COUNT(*) AS n FROM {name.sql()}")
            values[f"crm_{j}"] = name.id()
        for target in MAPPED:
            parts.append(f"SELECT @mapped_{target} AS table_id, COUNT(*) AS n FROM {relation(engine, 'crm', target)}")
            values[f"mapped_{target}"] = f"src__crm__{target}"
    counted = engine.query(" UNION ALL ".join(parts), values)
    found = dict(zip(counted["table_id"], counted["n"].astype(int)))
    return {t: int(found.get(t, 0)) for t in [*(t["table"] for t in tables), *(f"src__crm__{m}" for m in MAPPED)]}


def seed_files(engine: BigQueryEngine, source_root: Path | None = None) -> list[Path]:
    """The seed CSVs prepare uploads (source_root/seeds/ when present there, else c360/seeds/)."""
    root = source_root or engine.config.source_root
    return [seed_path(seed, root) for seed in SEED_TABLES
            if not (seed == "email_domains" and "seeds__email_domains" in engine.config.tables)]


def prepare(engine: BigQueryEngine, params: dict[str, Any] | None = None,
            source_root: Path | None = None) -> "SourcesRead":
    """Check the source tables and the GA4 shards of the date range, count the rows the models will read from
    each, and upload the seeds (small CSVs) to the target dataset as src__seeds__<name>, with their file line
    numbers in `_line`. Returns what was read, one row per table, shard or seed file. The event dates this run
    changes (c360__touched_dates) start empty: a build of base__ga4__events records the dates it replaced."""
    tables = source_tables(engine)
    engine.execute(f"CREATE OR REPLACE TABLE {engine.relation(TOUCHED_DATES)} (event_date DATE)")
    counted = _count_rows(engine, tables)
    named = {spec.path: (SOURCE_PARAMS[key], (params or {}).get(SOURCE_PARAMS[key]) or "")
             for spec in CSV_TABLES if (key := spec.table.removeprefix("src__")) in SOURCE_PARAMS}
    read = SourcesRead([{**t, "rows": counted[t["table"]]} for t in tables], named)
    crm = connector(engine.config.crm_connector)
    if crm is not None:  # what the base models read: the connector's mapping of the tables above
        read.tables += [{"source": f"src__crm__{target}", "table": f"{crm.name} mapping",
                         "rows": counted[f"src__crm__{target}"], "bytes": None, "modified": None}
                        for target in MAPPED]
    root = source_root or engine.config.source_root
    for path in seed_files(engine, root):
        name = f"src__seeds__{path.stem}"
        rows = engine.write_frame(name, read_seed(path.stem, root))
        read.tables.append({"source": name, "table": display(path), "rows": rows, "bytes": path.stat().st_size,
                            "modified": None})
    return read


@dataclass
class SourcesRead:
    """What a BigQuery run reads (prepare), shown by notebook 01 as c360.sources.contract.LoadReport is: one row per
    source table, GA4 shard or uploaded seed file. Nothing is set aside: BigQuery tables are typed."""

    tables: list[dict[str, Any]] = field(default_factory=list)
    named: dict[str, tuple[str, str]] = field(default_factory=dict)  # contract path -> (its parameter, its value)

    def where(self, path: str) -> tuple[str, bool]:
        """Where the run read the contract's file `path` from: the table its parameter names, or (not named) the
        parameter."""
        param, table = self.named.get(path, ("", ""))
        return (table, True) if table else (param or path, False)

    def files_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.tables, columns=["table", "source", "rows", "bytes", "modified"])

    def rows_read(self) -> dict[str, int]:
        """Rows read per source table (src__<system>__<table>), summed over its GA4 shards."""
        out: dict[str, int] = {}
        for row in self.tables:
            out[row["source"]] = out.get(row["source"], 0) + row["rows"]
        return out

    def quarantine_frame(self) -> pd.DataFrame:
        return pd.DataFrame(columns=["file", "table", "reason", "rows"])


def seed_path(seed: str, source_root: Path | None = None) -> Path:
    """A seed's CSV: source_root/seeds/<seed>.csv when present, else c360/seeds/<seed>.csv."""
    path = source_root / "seeds" / f"{seed}.csv" if source_root is not None else None
    return path if path is not None and path.is_file() else SEEDS_DIR / f"{seed}.csv"


def read_seed(seed: str, source_root: Path | None = None) -> pd.DataFrame:
    """A seed CSV (source_root/seeds/<seed>.csv when present, else c360/seeds/), parsed and checked by the
    DuckDB loader (c360.sources.files) so that both engines read the same rows: its columns plus `_line`."""
    spec = next(s for s in CSV_TABLES if s.path == f"seeds/{seed}.csv")
    path = seed_path(seed, source_root)
    scratch = DuckDBEngine(":memory:")
    try:
        load_csv(scratch, path, spec, "fail", LoadReport())
        return scratch.native(f"SELECT * FROM {spec.table} ORDER BY _line").df()
    finally:
        scratch.close()


def inputs(params: dict[str, Any]) -> list[dict]:
    """The run's inputs by their metadata (no query job): every source table and GA4 shard of the date range (id,
    rows, bytes, last modified), then the seed files it uploads (sha256)."""
    engine = BigQueryEngine.from_params(params, log=None, create_dataset=False)
    try:
        return [*source_tables(engine), *fingerprints(seed_files(engine))]
    finally:
        engine.close()
