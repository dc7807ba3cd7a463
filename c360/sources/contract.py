"""The data contract: the one statement of what c360 reads, for every engine and tool.

The DuckDB loader (c360.sources.files), the BigQuery source checks and stand-ins (c360.sources.bigquery), the
uploader (c360.sources.upload) and docs/data-contract.md (markdown()) read these declarations: the GA4 export's
schema with the fields the models read marked, the CSV tables (path, Fivetran-shaped table, typed columns, keys),
the money type and the one map of DuckDB to BigQuery types, and the errors and reports of reading them.
Declarations only: no IO.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

# a GA4 shard: a daily or intraday table of the export, `events_[intraday_]YYYYMMDD`, and as a file its format
SHARD_TABLE = r"events_(?P<intraday>intraday_)?(?P<date>\d{8})"
SHARD_FORMATS = r"jsonl|jsonl\.gz|parquet"
SHARD = re.compile(rf"^{SHARD_TABLE}\.(?P<ext>{SHARD_FORMATS})$")

# Money: BigQuery's NUMERIC (precision 38, scale 9), parsed from the file's text, never through a float. A value
# that is no plain decimal number (NaN, infinities, 1e3), has more than 9 decimals or is beyond NUMERIC's range
# (29 integer digits) is a bad row.
MONEY = "DECIMAL(38, 9)"
MONEY_TEXT = r"^[+-]?([0-9]{1,29}([.][0-9]{0,9})?|[.][0-9]{1,9})$"

# the contract's (DuckDB) column types as BigQuery spells them: standard SQL types, also what a load job's schema
# takes
BIGQUERY_TYPES = {"VARCHAR": "STRING", "TIMESTAMPTZ": "TIMESTAMP", "DOUBLE": "FLOAT64", "BOOLEAN": "BOOL",
                  "DATE": "DATE", "BIGINT": "INT64", "INTEGER": "INT64", MONEY: "NUMERIC"}
# and back: a BigQuery type as the DuckDB loader reads it (of two DuckDB spellings of one type, the first)
DUCKDB_TYPES = {bq: duck for duck, bq in reversed(BIGQUERY_TYPES.items())}


@dataclass(frozen=True)
class Field:
    """One column of a BigQuery table's schema: its type (standard SQL: STRING, INT64, FLOAT64, BOOL, RECORD...),
    mode (NULLABLE, REPEATED), a RECORD's sub-fields, and whether the models read it."""

    name: str
    type: str
    mode: str = "NULLABLE"
    fields: tuple[Field, ...] = ()
    read: bool = False


def _field(name: str, type: str = "STRING", *fields: Field, mode: str = "NULLABLE") -> Field:
    return Field(name, type, mode, fields)


def _read(name: str, type: str = "STRING", *fields: Field, mode: str = "NULLABLE") -> Field:
    """A field the models read (a RECORD's sub-fields they read are _read too)."""
    return Field(name, type, mode, fields, read=True)


def _strings(names: str, of=_field) -> tuple[Field, ...]:
    """STRING fields, named in a space-separated list."""
    return tuple(of(name) for name in names.split())


def _value(of, *extra: Field) -> Field:
    """The `value` record of an event_params / user_properties entry."""
    return of("value", "RECORD", of("string_value"), of("int_value", "INT64"), of("float_value", "FLOAT64"),
              of("double_value", "FLOAT64"), *extra)


_I, _F, _R, _REPEATED = "INT64", "FLOAT64", "RECORD", "REPEATED"
# The GA4 BigQuery export's table schema (the columns of `events_YYYYMMDD`; ecommerce details trimmed), in the
# export's order, with the fields the models read marked (_read). The uploader (c360.sources.upload) writes all
# of it; the DuckDB loader parses the fields read (GA4_COLUMNS) and ignores the others.
GA4_EXPORT: tuple[Field, ...] = (
    _read("event_date"), _read("event_timestamp", _I), _read("event_name"),
    _read("event_params", _R, _read("key"), _value(_read), mode=_REPEATED),
    _field("event_previous_timestamp", _I), _field("event_value_in_usd", _F),
    _field("event_bundle_sequence_id", _I), _field("event_server_timestamp_offset", _I),
    *_strings("user_id user_pseudo_id", _read),
    _read("privacy_info", _R, *_strings("analytics_storage ads_storage uses_transient_token", _read)),
    _field("user_properties", _R, _field("key"), _value(_field, _field("set_timestamp_micros", _I)),
           mode=_REPEATED),
    _field("user_first_touch_timestamp", _I),
    _field("user_ltv", _R, _field("revenue", _F), _field("currency")),
    _read("device", _R, _read("category"), *_strings(
        "mobile_brand_name mobile_model_name mobile_marketing_name mobile_os_hardware_model operating_system "
        "operating_system_version vendor_id advertising_id language is_limited_ad_tracking"),
        _field("time_zone_offset_seconds", _I), *_strings("browser browser_version"),
        _field("web_info", _R, *_strings("browser browser_version hostname"))),
    _read("geo", _R, _field("city"), _read("country"), *_strings("continent region sub_continent metro")),
    _field("app_info", _R, *_strings("id version install_store firebase_app_id install_source")),
    _read("traffic_source", _R, *_strings("name medium source", _read)),
    _read("stream_id"), _field("platform"),
    _field("event_dimensions", _R, _field("hostname")),
    _field("items", _R, *_strings("item_id item_name item_category"), _field("price", _F),
           _field("quantity", _I), mode=_REPEATED),
    _read("collected_traffic_source", _R, *_strings(
        "manual_campaign_id manual_campaign_name manual_source manual_medium manual_term manual_content", _read),
        *_strings("manual_source_platform manual_creative_format manual_marketing_tactic"),
        *_strings("gclid dclid srsltid", _read)),
    _field("is_active_user", "BOOL"), _field("batch_event_index", _I), _field("batch_page_id", _I),
    _field("batch_ordering_id", _I),
)


def duckdb_type(f: Field) -> str:
    """A field's DuckDB type as the loader parses it: a RECORD is a STRUCT of the sub-fields the models read."""
    if f.type == "RECORD":
        kind = "STRUCT(" + ", ".join(f"{s.name} {duckdb_type(s)}" for s in f.fields if s.read) + ")"
    else:
        kind = DUCKDB_TYPES[f.type]
    return f"{kind}[]" if f.mode == "REPEATED" else kind


def bigquery_type(f: Field) -> str:
    """A field's BigQuery (standard SQL) type as the models read it: a RECORD is a STRUCT of the sub-fields read."""
    if f.type == "RECORD":
        kind = "STRUCT<" + ", ".join(f"{s.name} {bigquery_type(s)}" for s in f.fields if s.read) + ">"
    else:
        kind = f.type
    return f"ARRAY<{kind}>" if f.mode == "REPEATED" else kind


# The GA4 export columns the loader parses (the fields the models read), as DuckDB types them.
GA4_COLUMNS: dict[str, str] = {f.name: duckdb_type(f) for f in GA4_EXPORT if f.read}
GA4_REQUIRED = ("event_date", "event_timestamp", "event_name")


@dataclass(frozen=True)
class CsvTable:
    """One CSV of the data contract: where it lives, its typed columns, which must be present."""

    path: str
    table: str
    columns: dict[str, str]
    keys: tuple[str, ...]  # must be non-empty on every row
    required_file: bool = True
    optional_columns: tuple[str, ...] = ()
    personal: bool = False  # its values are about people: masked in errors (besides PEOPLE_TABLES)


CSV_TABLES: tuple[CsvTable, ...] = (
    CsvTable(
        "crm/contacts.csv", "src__crm__contacts",
        {"contact_id": "VARCHAR", "email": "VARCHAR", "first_name": "VARCHAR", "last_name": "VARCHAR",
         "company_name": "VARCHAR", "job_title": "VARCHAR", "lifecycle_stage": "VARCHAR",
         "external_id": "VARCHAR", "created_at": "TIMESTAMPTZ", "updated_at": "TIMESTAMPTZ",
         "_fivetran_deleted": "BOOLEAN", "_fivetran_synced": "TIMESTAMPTZ", "company_domain": "VARCHAR"},
        keys=("contact_id",), optional_columns=("_fivetran_synced", "company_domain"),
    ),
    CsvTable(
        "crm/deals.csv", "src__crm__deals",
        {"deal_id": "VARCHAR", "contact_id": "VARCHAR", "deal_name": "VARCHAR", "amount": MONEY,
         "currency": "VARCHAR", "stage": "VARCHAR", "created_at": "TIMESTAMPTZ", "closed_at": "TIMESTAMPTZ",
         "_fivetran_deleted": "BOOLEAN", "is_won": "BOOLEAN", "is_closed": "BOOLEAN"},
        keys=("deal_id",), optional_columns=("is_won", "is_closed"),
    ),
    CsvTable(
        "crm/form_submissions.csv", "src__crm__form_submissions",
        {"submission_id": "VARCHAR", "form_name": "VARCHAR", "email": "VARCHAR", "ga_client_id": "VARCHAR",
         "submitted_at": "TIMESTAMPTZ"},
        keys=("submission_id",), required_file=False,
    ),
    CsvTable(
        "crm/identity_evidence.csv", "src__crm__identity_evidence",
        {"contact_id": "VARCHAR", "edge_source": "VARCHAR", "identifier_type": "VARCHAR", "identifier": "VARCHAR",
         "evidence_id": "VARCHAR", "evidence_at": "TIMESTAMPTZ"},
        keys=("contact_id", "edge_source", "identifier_type", "evidence_id"), required_file=False,
    ),
    CsvTable(
        "product/users.csv", "src__product__users",
        {"user_id": "VARCHAR", "email": "VARCHAR", "company_name": "VARCHAR", "plan": "VARCHAR",
         "signed_up_at": "TIMESTAMPTZ", "last_login_at": "TIMESTAMPTZ"},
        keys=("user_id",), required_file=False,
    ),
    CsvTable(
        "marketing/ad_spend.csv", "src__marketing__ad_spend",
        {"date": "DATE", "source": "VARCHAR", "medium": "VARCHAR", "campaign": "VARCHAR", "spend": MONEY,
         "currency": "VARCHAR"},
        keys=("date",), required_file=False, optional_columns=("currency",),
    ),
    CsvTable(
        "marketing/fx_rates.csv", "src__marketing__fx_rates",
        {"date": "DATE", "currency": "VARCHAR", "rate": MONEY},
        keys=("date", "currency", "rate"), required_file=False,
    ),
    CsvTable(
        "seeds/email_domains.csv", "src__seeds__email_domains",
        {"domain": "VARCHAR", "classification": "VARCHAR"},
        keys=("domain", "classification"), required_file=False,
    ),
    CsvTable(
        "seeds/ga4_source_categories.csv", "src__seeds__ga4_source_categories",
        {"source": "VARCHAR", "source_category": "VARCHAR"},
        keys=("source", "source_category"), required_file=False,
    ),
    CsvTable(
        "seeds/currencies.csv", "src__seeds__currencies",
        {"currency": "VARCHAR", "minor_unit": "INTEGER"},
        keys=("currency", "minor_unit"), required_file=False,
    ),
)


LOADED_SHARDS = "c360__loaded_shards"  # the shards in src__ga4__events: file, size, mtime, date, flattening,
#                                        and the sha256 of those inside the lookback window
TOUCHED_DATES = "c360__touched_dates"  # event dates whose rows this run loaded or removed
LOADED_FILES = "c360__loaded_files"  # the CSV files in src__* tables: file, table, sha256, how they were read


class BadInputError(ValueError):
    """An input file breaks the data contract; the message names the file (and line where there is one)."""


@dataclass
class LoadReport:
    """What was read: one row per source file, and the rows set aside."""

    files: list[dict] = field(default_factory=list)
    quarantined: list[dict] = field(default_factory=list)

    def files_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.files, columns=["file", "table", "format", "rows", "read"])

    def rows_read(self) -> dict[str, int]:
        """Rows read per source table, including the ones set aside."""
        out: dict[str, int] = {}
        for row in [*self.files, *self.quarantined]:
            out[row["table"]] = out.get(row["table"], 0) + row["rows"]
        return out

    def quarantine_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.quarantined, columns=["file", "table", "reason", "rows"])

    def where(self, path: str) -> tuple[str, bool]:
        """Where the run read the contract's file `path` from, and whether it was named: the file itself."""
        return path, True

EMAIL_COLUMNS = ("email", "property_email")  # normalised (NFKC) as they are loaded (property_email: HubSpot's)
PEOPLE_TABLES = ("src__crm__contacts", "src__crm__form_submissions", "src__crm__identity_evidence",
                 "src__product__users")  # values masked in errors


def csv_table(table: str) -> CsvTable | None:
    """The contract's CSV table loaded as `table` (src__<system>__<name>), or None."""
    return next((s for s in CSV_TABLES if s.table == table), None)


def markdown() -> str:
    """The reference tables of docs/data-contract.md, from the declarations above: each CSV file (path, table,
    required or optional, typed columns, keys) and the GA4 export fields the models read, with BigQuery types."""
    lines = ["| file | loaded as | file is | columns | non-empty on every row |", "|---|---|---|---|---|"]
    for spec in CSV_TABLES:
        columns = ", ".join(f"`{c}` {BIGQUERY_TYPES[t]}" + (" *(may be absent)*" if c in spec.optional_columns else "")
                            for c, t in spec.columns.items())
        lines.append(f"| `{spec.path}` | `{spec.table}` | {'required' if spec.required_file else 'optional'} | "
                     f"{columns} | {', '.join(f'`{k}`' for k in spec.keys)} |")
    on_duckdb: dict[str, list[str]] = {}
    for duck, bq in BIGQUERY_TYPES.items():
        on_duckdb.setdefault(bq, []).append(duck)
    duckdb = ", ".join(f"{bq} is {' or '.join(ducks)}" for bq, ducks in on_duckdb.items() if ducks != [bq])
    lines += ["", f"Column types are BigQuery's; on DuckDB, {duckdb}.", "",
              "| GA4 export field the models read | BigQuery type |", "|---|---|"]
    read = [f for f in GA4_EXPORT if f.read]
    for f in read:
        required = " (required on every row)" if f.name in GA4_REQUIRED else ""
        lines.append(f"| `{f.name}` | `{bigquery_type(f)}`{required} |")
    lines += ["", (f"A record shows the fields the models read. The export's other {len(GA4_EXPORT) - len(read)} "
                   f"columns (of {len(GA4_EXPORT)} in `c360.sources.contract.GA4_EXPORT`, which the uploader "
                   "writes) and a record's other fields are ignored.")]
    return "\n".join(lines) + "\n"
