"""Put a source tree (the data contract's files) into BigQuery as the real sources look there.

For the emulator tests and for trying c360 on a sandbox project: GA4 rows go to sharded tables
`events_YYYYMMDD` / `events_intraday_YYYYMMDD` with the GA4 export's nested schema, the CRM files to tables
typed as Fivetran syncs them (STRING ids, TIMESTAMP, BOOL `_fivetran_deleted`, FLOAT64 amounts), product users
and ad spend alike. The files are parsed by the DuckDB loader (c360.sources), so both engines start from the
same rows.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path
from typing import Any

from c360.sources.contract import BIGQUERY_TYPES, CSV_TABLES, GA4_COLUMNS
from c360.warehouse.base import check_identifier
from c360.warehouse.duckdb import DuckDBEngine


def _f(name: str, kind: str, mode: str = "NULLABLE", fields: tuple = ()):
    from google.cloud import bigquery

    return bigquery.SchemaField(name, kind, mode=mode, fields=fields)


def _value_record(extra: tuple = ()) -> tuple:
    return (_f("string_value", "STRING"), _f("int_value", "INTEGER"), _f("float_value", "FLOAT"),
            _f("double_value", "FLOAT"), *extra)


def ga4_export_schema() -> list:
    """The GA4 BigQuery export's table schema (the columns of `events_YYYYMMDD`; ecommerce details trimmed)."""
    s = "STRING"
    return [
        _f("event_date", s), _f("event_timestamp", "INTEGER"), _f("event_name", s),
        _f("event_params", "RECORD", "REPEATED", (_f("key", s), _f("value", "RECORD", fields=_value_record()))),
        _f("event_previous_timestamp", "INTEGER"), _f("event_value_in_usd", "FLOAT"),
        _f("event_bundle_sequence_id", "INTEGER"), _f("event_server_timestamp_offset", "INTEGER"),
        _f("user_id", s), _f("user_pseudo_id", s),
        _f("privacy_info", "RECORD", fields=(_f("analytics_storage", s), _f("ads_storage", s),
                                             _f("uses_transient_token", s))),
        _f("user_properties", "RECORD", "REPEATED", (
            _f("key", s), _f("value", "RECORD", fields=_value_record((_f("set_timestamp_micros", "INTEGER"),))))),
        _f("user_first_touch_timestamp", "INTEGER"),
        _f("user_ltv", "RECORD", fields=(_f("revenue", "FLOAT"), _f("currency", s))),
        _f("device", "RECORD", fields=(
            _f("category", s), _f("mobile_brand_name", s), _f("mobile_model_name", s),
            _f("mobile_marketing_name", s), _f("mobile_os_hardware_model", s), _f("operating_system", s),
            _f("operating_system_version", s), _f("vendor_id", s), _f("advertising_id", s), _f("language", s),
            _f("is_limited_ad_tracking", s), _f("time_zone_offset_seconds", "INTEGER"), _f("browser", s),
            _f("browser_version", s),
            _f("web_info", "RECORD", fields=(_f("browser", s), _f("browser_version", s), _f("hostname", s))))),
        _f("geo", "RECORD", fields=(_f("city", s), _f("country", s), _f("continent", s), _f("region", s),
                                    _f("sub_continent", s), _f("metro", s))),
        _f("app_info", "RECORD", fields=(_f("id", s), _f("version", s), _f("install_store", s),
                                         _f("firebase_app_id", s), _f("install_source", s))),
        _f("traffic_source", "RECORD", fields=(_f("name", s), _f("medium", s), _f("source", s))),
        _f("stream_id", s), _f("platform", s),
        _f("event_dimensions", "RECORD", fields=(_f("hostname", s),)),
        _f("items", "RECORD", "REPEATED", (_f("item_id", s), _f("item_name", s), _f("item_category", s),
                                           _f("price", "FLOAT"), _f("quantity", "INTEGER"))),
        _f("collected_traffic_source", "RECORD", fields=(
            _f("manual_campaign_id", s), _f("manual_campaign_name", s), _f("manual_source", s),
            _f("manual_medium", s), _f("manual_term", s), _f("manual_content", s),
            _f("manual_source_platform", s), _f("manual_creative_format", s), _f("manual_marketing_tactic", s),
            _f("gclid", s), _f("dclid", s), _f("srsltid", s))),
        _f("is_active_user", "BOOLEAN"), _f("batch_event_index", "INTEGER"), _f("batch_page_id", "INTEGER"),
        _f("batch_ordering_id", "INTEGER"),
    ]


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

    from c360.sources.files import ga4_export_select, ga4_shards, load_sources, shard_suffix

    for name in (ga4_dataset, crm_dataset):
        check_identifier(name)
        ds = bigquery.Dataset(f"{project}.{name}")
        ds.location = location
        client.create_dataset(ds, exists_ok=True)

    scratch = DuckDBEngine(":memory:")
    try:
        load_sources(scratch, source_root, "fail")
        loaded: dict[str, int] = {}
        export = [f.name for f in ga4_export_schema()]
        cols = ", ".join(c for c in export if c in GA4_COLUMNS)
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
            schema = [_f(c, BIGQUERY_TYPES[t]) for c, t in spec.columns.items()]
            rows = _rows(scratch, f"SELECT {', '.join(spec.columns)} FROM {spec.table} ORDER BY _line")
            loaded[table] = _load_json(client, f"{project}.{crm_dataset}.{table}", schema, rows, location)
            out[param_of[spec.table]] = f"{crm_dataset}.{table}"
        out["_rows"] = loaded
        return out
    finally:
        scratch.close()
