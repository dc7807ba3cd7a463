"""The data contract: the one statement of what c360 reads, for every engine and tool.

The DuckDB loader (c360.sources.files), the BigQuery source checks and stand-ins (c360.sources.bigquery), the
uploader (c360.sources.upload) and docs/data-contract.md read these declarations: the GA4 export columns the
models read, the CSV tables (path, Fivetran-shaped table, typed columns, keys), the money type, and the errors and
reports of reading them. Declarations only: no IO.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd

SHARD = re.compile(r"^events_(?P<intraday>intraday_)?(?P<date>\d{8})\.(?P<ext>jsonl|jsonl\.gz|parquet)$")

_PARAM_VALUE = "STRUCT(string_value VARCHAR, int_value BIGINT, float_value DOUBLE, double_value DOUBLE)"
# The GA4 export columns the base model reads, typed as BigQuery types them. Unknown fields are ignored.
GA4_COLUMNS: dict[str, str] = {
    "event_date": "VARCHAR",
    "event_timestamp": "BIGINT",
    "event_name": "VARCHAR",
    "event_params": f"STRUCT(key VARCHAR, value {_PARAM_VALUE})[]",
    "user_id": "VARCHAR",
    "user_pseudo_id": "VARCHAR",
    "privacy_info": "STRUCT(analytics_storage VARCHAR, ads_storage VARCHAR, uses_transient_token VARCHAR)",
    "device": "STRUCT(category VARCHAR)",
    "geo": "STRUCT(country VARCHAR)",
    "traffic_source": "STRUCT(name VARCHAR, medium VARCHAR, source VARCHAR)",
    "collected_traffic_source": (
        "STRUCT(manual_campaign_id VARCHAR, manual_campaign_name VARCHAR, manual_source VARCHAR, "
        "manual_medium VARCHAR, manual_term VARCHAR, manual_content VARCHAR, gclid VARCHAR, dclid VARCHAR, "
        "srsltid VARCHAR)"
    ),
    "stream_id": "VARCHAR",
    "platform": "VARCHAR",
}
GA4_REQUIRED = ("event_date", "event_timestamp", "event_name")

# Money: BigQuery's NUMERIC (precision 38, scale 9), parsed from the file's text, never through a float. A value
# that is no plain decimal number (NaN, infinities, 1e3), has more than 9 decimals or is beyond NUMERIC's range
# (29 integer digits) is a bad row.
MONEY = "DECIMAL(38, 9)"
MONEY_TEXT = r"^[+-]?([0-9]{1,29}([.][0-9]{0,9})?|[.][0-9]{1,9})$"


@dataclass(frozen=True)
class CsvTable:
    """One CSV of the data contract: where it lives, its typed columns, which must be present."""

    path: str
    table: str
    columns: dict[str, str]
    keys: tuple[str, ...]  # must be non-empty on every row
    required_file: bool = True
    optional_columns: tuple[str, ...] = ()


CSV_TABLES: tuple[CsvTable, ...] = (
    CsvTable(
        "crm/contacts.csv", "src__crm__contacts",
        {"contact_id": "VARCHAR", "email": "VARCHAR", "first_name": "VARCHAR", "last_name": "VARCHAR",
         "company_name": "VARCHAR", "job_title": "VARCHAR", "lifecycle_stage": "VARCHAR",
         "external_id": "VARCHAR", "created_at": "TIMESTAMPTZ", "updated_at": "TIMESTAMPTZ",
         "_fivetran_deleted": "BOOLEAN", "_fivetran_synced": "TIMESTAMPTZ"},
        keys=("contact_id",), optional_columns=("_fivetran_synced",),
    ),
    CsvTable(
        "crm/deals.csv", "src__crm__deals",
        {"deal_id": "VARCHAR", "contact_id": "VARCHAR", "deal_name": "VARCHAR", "amount": MONEY,
         "currency": "VARCHAR", "stage": "VARCHAR", "created_at": "TIMESTAMPTZ", "closed_at": "TIMESTAMPTZ",
         "_fivetran_deleted": "BOOLEAN"},
        keys=("deal_id",),
    ),
    CsvTable(
        "crm/form_submissions.csv", "src__crm__form_submissions",
        {"submission_id": "VARCHAR", "form_name": "VARCHAR", "email": "VARCHAR", "ga_client_id": "VARCHAR",
         "submitted_at": "TIMESTAMPTZ"},
        keys=("submission_id",), required_file=False,
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

EMAIL_COLUMNS = ("email",)  # normalised (NFKC) as they are loaded
PEOPLE_TABLES = ("src__crm__contacts", "src__crm__form_submissions", "src__product__users")  # values masked in errors

# the contract's (DuckDB) column types as BigQuery spells them: standard SQL types, also what a load job's schema
# takes
BIGQUERY_TYPES = {"VARCHAR": "STRING", "TIMESTAMPTZ": "TIMESTAMP", "DOUBLE": "FLOAT64", "BOOLEAN": "BOOL",
                  "DATE": "DATE", "BIGINT": "INT64", "INTEGER": "INT64", MONEY: "NUMERIC"}


def csv_table(table: str) -> CsvTable | None:
    """The contract's CSV table loaded as `table` (src__<system>__<name>), or None."""
    return next((s for s in CSV_TABLES if s.table == table), None)
