"""Put a source tree (the data contract's files) into BigQuery as the real sources look there.

For the emulator tests and for trying c360 on a sandbox project: GA4 rows go to sharded tables
`events_YYYYMMDD` / `events_intraday_YYYYMMDD` with the GA4 export's nested schema, the CRM files to tables
typed as Fivetran syncs them (STRING ids, TIMESTAMP, BOOL `_fivetran_deleted`, NUMERIC amounts), product users
and ad spend alike. The files are parsed by the DuckDB loader (c360.sources), so both engines start from the
same rows.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path
from typing import Any

from c360.sources.contract import (
    BIGQUERY_TYPES,
    CSV_TABLES,
    GA4_COLUMNS,
    GA4_EXPORT,
    Field,
)
from c360.warehouse.base import check_identifier
from c360.warehouse.duckdb import DuckDBEngine


def _schema_field(f: Field):
    """A contract field as a BigQuery SchemaField (a RECORD with its sub-fields)."""
    from google.cloud import bigquery

    return bigquery.SchemaField(f.name, f.type, mode=f.mode, fields=tuple(_schema_field(s) for s in f.fields))


def ga4_export_schema() -> list:
    """The GA4 BigQuery export's table schema (the columns of `events_YYYYMMDD`): the contract's GA4_EXPORT."""
    return [_schema_field(f) for f in GA4_EXPORT]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat() if value.tzinfo else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)  # NUMERIC from its text, never through a float
    return value


def _rows(scratch: DuckDBEngine, sql: str, args: list | None = None) -> list[dict]:
    cur = scratch.native(sql, args)
    names = [d[0] for d in cur.description]
    return [{n: _jsonable(v) for n, v in zip(names, row) if v is not None} for row in cur.fetchall()]


def _load_json(client, table_id: str, schema: list, rows: list[dict], location: str | None) -> int:
    from google.cloud import bigquery

    config = bigquery.LoadJobConfig(schema=schema, write_disposition="WRITE_TRUNCATE",
                                    source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON)
    job = client.load_table_from_json([json.loads(json.dumps(r)) for r in rows], table_id, job_config=config,
                                      location=location)
    job.result()
    return len(rows)


def upload_source_tree(client, source_root: Path, project: str, ga4_dataset: str, crm_dataset: str,
                       location: str | None = "US") -> dict[str, Any]:
    """Load `source_root` into BigQuery: GA4 shards into `project.ga4_dataset.events_*`, the CSV sources into
    `project.crm_dataset.<system>_<table>`. Returns the parameters that point a BigQuery run at them, and the
    rows loaded per table under `_rows`."""
    from google.cloud import bigquery

    from c360.sources.files import load_sources
    from c360.sources.ga4_files import ga4_export_select, ga4_shards, shard_suffix

    for name in (ga4_dataset, crm_dataset):
        check_identifier(name)
        ds = bigquery.Dataset(f"{project}.{name}")
        ds.location = location
        client.create_dataset(ds, exists_ok=True)

    scratch = DuckDBEngine(":memory:")
    try:
        load_sources(scratch, source_root, "fail")
        loaded: dict[str, int] = {}
        cols = ", ".join(GA4_COLUMNS)  # the fields the models read, in the export's order
        for shard in ga4_shards(source_root):  # checked by load_sources; the nested rows are read from the file
            table = check_identifier(f"events_{shard_suffix(shard)}")
            rows = _rows(scratch, f"SELECT {cols} FROM ({ga4_export_select([shard])}) ORDER BY event_timestamp, event_name")
            loaded[table] = _load_json(client, f"{project}.{ga4_dataset}.{table}", ga4_export_schema(), rows,
                                       location)
        out: dict[str, Any] = {"ga4_dataset": ga4_dataset}
        param_of = {"src__crm__contacts": "crm_contacts_table", "src__crm__deals": "crm_deals_table",
                    "src__crm__form_submissions": "crm_form_submissions_table",
                    "src__product__users": "product_users_table", "src__marketing__ad_spend": "ad_spend_table",
                    "src__marketing__fx_rates": "fx_rates_table"}
        for spec in CSV_TABLES:
            if spec.table not in param_of:
                continue  # seeds: the engine uploads them itself (c360.sources.bigquery.prepare)
            table = spec.table.removeprefix("src__")
            schema = [_schema_field(Field(c, BIGQUERY_TYPES[t])) for c, t in spec.columns.items()]
            rows = _rows(scratch, f"SELECT {', '.join(spec.columns)} FROM {spec.table} ORDER BY _line")
            loaded[table] = _load_json(client, f"{project}.{crm_dataset}.{table}", schema, rows, location)
            out[param_of[spec.table]] = f"{crm_dataset}.{table}"
        out["_rows"] = loaded
        return out
    finally:
        scratch.close()
