"""The BigQuery engine: the same models, run where the data is.

`BigQueryEngine` implements the engine interface, c360.warehouse.base.Engine, on BigQuery. The models are the
same BigQuery Standard SQL files as on DuckDB, sent as they are (no second dialect copy); the heavy work stays in
BigQuery and only small results (report tables, the path table) come back to pandas.

- Names: a model is the table `project.dataset.model` of the target dataset (`bigquery_dataset`); every job
  also gets that dataset as its default dataset, so the short names that Python steps use
  (`FROM int__attribution_paths`) resolve to the same tables.
- Sources are read in place, where c360.sources.bigquery says (this module only parses their parameters, in
  BigQueryConfig, and answers metadata calls: table_columns, list_table_ids, table_metadata).
- Values are query parameters (`@won_stages` is an ARRAY<STRING> parameter), never formatted into SQL; every
  name that goes into SQL is checked against a strict pattern first.
- Cost: before each model, a dry run estimates the bytes it will process; it is printed, and a model whose
  estimate exceeds `maximum_bytes_billed` is refused before it runs. Every query job also carries
  `maximum_bytes_billed`, so BigQuery itself fails a job that would bill more. Every job is kept in `jobs`
  (label, statement type, estimate, bytes processed and billed) and, when C360_JOB_LOG names a file (the runner
  sets it per notebook), appended to it as a JSON line: the run's job and cost log.
- `transaction()` is a no-op: BigQuery's multi-statement transactions cannot contain DDL on permanent tables
  (CREATE OR REPLACE TABLE, DROP TABLE), which is how models are published (`transactional_ddl = False`). Each
  statement is atomic on its own (CREATE OR REPLACE TABLE swaps the whole table); build_model publishes the
  model's table, then replaces its audit rows in one DML transaction (`execute_atomically`), so a failure in
  between leaves the new table with stale audit rows, which the next run sees (audit_agrees) and repairs.
- Authentication: Application Default Credentials (`gcloud auth application-default login`, or a service
  account through GOOGLE_APPLICATION_CREDENTIALS / the metadata server). With BIGQUERY_EMULATOR_HOST set,
  anonymous credentials and that endpoint (the offline tests use a local emulator this way).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from c360 import params as P
from c360.paths import resolve
from c360.warehouse import dialect
from c360.warehouse.base import WRITTEN_PARTITIONS, bound_params, check_identifier

GA4_SHARD_PREFIX = "events_"
# source(system, table) -> the parameter naming its table
SOURCE_PARAMS = {
    "crm__contacts": "crm_contacts_table",
    "crm__deals": "crm_deals_table",
    "crm__form_submissions": "crm_form_submissions_table",
    "product__users": "product_users_table",
    "marketing__ad_spend": "ad_spend_table",
    "marketing__fx_rates": "fx_rates_table",
    "seeds__email_domains": "email_domains_table",
}
JOB_LOG_ENV = "C360_JOB_LOG"  # a JSON-lines file every BigQueryEngine appends its jobs to (the runner sets it)
class BytesLimitError(RuntimeError):
    """A model's dry run estimates more bytes than maximum_bytes_billed allows; it was not run."""


class RunBudgetError(P.ParamError):
    """The run's jobs would bill more than bigquery_max_bytes_per_run: refused before it starts (the dry runs), or
    a job refused before it is sent (what the earlier jobs billed used the budget up)."""


class NoCredentials(RuntimeError):
    """No Application Default Credentials were found (the message says how to provide them)."""


def check_name(pattern: str, value: str, what: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise P.ParamError(f"{what}: not a valid BigQuery name: {value!r} (must match {pattern})")
    return value


@dataclass(frozen=True)
class TableName:
    """A fully qualified, checked BigQuery table (or dataset, with table '') name."""

    project: str
    dataset: str
    table: str = ""

    @classmethod
    def parse(cls, text: str, default_project: str, what: str, dataset_only: bool = False) -> "TableName":
        check_name(P.BQ_DATASET_REF if dataset_only else P.BQ_TABLE_REF, text, what)
        parts = text.split(".")
        if dataset_only:
            return cls(*(parts if len(parts) == 2 else [default_project, parts[0]]))
        return cls(*(parts if len(parts) == 3 else [default_project, *parts]))

    def sql(self) -> str:
        """The backticked name; safe to put into SQL because every part was checked."""
        for pattern, part in ((P.BQ_PROJECT, self.project), (P.BQ_DATASET, self.dataset),
                              (P.BQ_TABLE, self.table or "x")):
            check_name(pattern, part, "table name")
        return f"`{self.project}.{self.dataset}{'.' + self.table if self.table else ''}`"

    def id(self) -> str:
        return f"{self.project}.{self.dataset}{'.' + self.table if self.table else ''}"


@dataclass
class BigQueryConfig:
    """The BigQuery settings of a run, checked: see the bigquery_* parameters in c360.params."""

    project: str
    dataset: str
    location: str = "US"
    ga4_dataset: TableName | None = None
    ga4_start_date: dt.date | None = None
    ga4_end_date: dt.date | None = None
    tables: dict[str, TableName] = field(default_factory=dict)  # "crm__contacts" -> table
    crm_connector: str = "contract"  # how the CRM is laid out (c360.sources.connectors)
    crm_dataset: TableName | None = None  # a connector's Fivetran dataset, read in place
    crm_properties: dict[str, str] = field(default_factory=dict)  # crm_ga_client_id_property, crm_user_id_property
    maximum_bytes_billed: int = 10 * 1024 ** 3
    max_bytes_per_run: int = 50 * 1024 ** 3  # the run's budget (see BigQueryEngine.job_limit)
    source_root: Path | None = None  # where seeds/*.csv may override the project's seeds

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> "BigQueryConfig":
        P.check_bigquery(params)  # every key present, the required ones set, the dates real and in order
        project = check_name(P.BQ_PROJECT, params["bigquery_project"], "bigquery_project")
        dates = {key: dt.date.fromisoformat(params[key]) if params[key] else None
                 for key in ("ga4_start_date", "ga4_end_date")}
        tables = {source: TableName.parse(params[key], project, key)
                  for source, key in SOURCE_PARAMS.items() if params[key]}
        return cls(project=project, dataset=check_name(P.BQ_DATASET, params["bigquery_dataset"], "bigquery_dataset"),
                   location=check_name(r"[A-Za-z0-9-]{1,64}", params["bigquery_location"], "bigquery_location"),
                   ga4_dataset=TableName.parse(params["ga4_dataset"], project, "ga4_dataset", dataset_only=True),
                   ga4_start_date=dates["ga4_start_date"], ga4_end_date=dates["ga4_end_date"], tables=tables,
                   maximum_bytes_billed=int(params["maximum_bytes_billed"]),
                   crm_connector=params.get("crm_connector", "contract"),
                   crm_properties={k: params[k] for k in ("crm_ga_client_id_property", "crm_user_id_property")
                                   if params.get(k)},
                   crm_dataset=(TableName.parse(params["crm_dataset"], project, "crm_dataset", dataset_only=True)
                                if params.get("crm_dataset") else None),
                   max_bytes_per_run=int(params.get("bigquery_max_bytes_per_run") or 50 * 1024 ** 3),
                   source_root=resolve(params["source_root"]) if params.get("source_root") else None)


def billed_so_far(jobs_dir: Path) -> int:
    """The bytes billed by the jobs logged in `jobs_dir` (*.jsonl: a run's job log)."""
    total = 0
    for log in sorted(jobs_dir.glob("*.jsonl")):
        with contextlib.suppress(OSError):
            for line in log.read_text(encoding="utf-8").splitlines():
                with contextlib.suppress(ValueError):
                    total += int(json.loads(line).get("bytes_billed") or 0)
    return total


def emulator_host() -> str | None:
    """The emulator endpoint from BIGQUERY_EMULATOR_HOST (with http:// added when missing), or None."""
    host = os.environ.get("BIGQUERY_EMULATOR_HOST", "").strip()
    if not host:
        return None
    return host if re.match(r"^https?://", host) else f"http://{host}"


def make_client(project: str, location: str | None = None):
    """A BigQuery client: Application Default Credentials, or the emulator at BIGQUERY_EMULATOR_HOST."""
    from google.api_core.client_options import ClientOptions
    from google.cloud import bigquery

    host = emulator_host()
    if host:
        from google.auth.credentials import AnonymousCredentials

        return bigquery.Client(project=project, location=location, credentials=AnonymousCredentials(),
                               client_options=ClientOptions(api_endpoint=host))
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, _ = google.auth.default(scopes=["https://www.googleapis.com/auth/bigquery"])
    except DefaultCredentialsError as e:
        raise NoCredentials(
            "BigQuery: no Application Default Credentials. Run `gcloud auth application-default login`, or "
            "point GOOGLE_APPLICATION_CREDENTIALS at a service account key file (kept outside the repo).") from e
    return bigquery.Client(project=project, location=location, credentials=credentials)


def credentials_kind(client) -> str:
    """What kind of credentials a client holds (a class name, never a secret): for the manifest."""
    return type(getattr(client, "_credentials", None)).__name__


def _bq_scalar_type(kind: str | None, value: Any) -> str:
    if kind in ("int", "list[int]"):
        return "INT64"
    if kind in ("float",):
        return "FLOAT64"
    if kind in ("str", "list[str]"):
        return "STRING"
    if kind == "bool":
        return "BOOL"
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "INT64"
    if isinstance(value, float):
        return "FLOAT64"
    if isinstance(value, dt.datetime):
        return "TIMESTAMP"
    if isinstance(value, dt.date):
        return "DATE"
    return "STRING"


def query_parameters(params: dict[str, Any]) -> list:
    """`@name` values as BigQuery query parameters; the type follows the parameter's spec (c360.params) when
    it has one (so an empty list[int] is still ARRAY<INT64>), else the Python value."""
    from google.cloud import bigquery

    out = []
    for name, value in params.items():
        kind = P.SPEC[name].kind if name in P.SPEC else None
        if isinstance(value, (list, tuple)):
            first = value[0] if value else None
            out.append(bigquery.ArrayQueryParameter(name, _bq_scalar_type(kind, first), list(value)))
        else:
            bq_type = _bq_scalar_type(kind, value)
            out.append(bigquery.ScalarQueryParameter(name, bq_type, float(value) if bq_type == "FLOAT64" and
                                                     value is not None else value))
    return out


def _human(n: int | None) -> str:
    n = int(n or 0)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    return str(n)


def _bq_schema(df: pd.DataFrame, decimal_columns: tuple[str, ...] = ()) -> list:
    """BigQuery columns for a small DataFrame, by dtype (object columns are strings; `decimal_columns`, holding
    decimal.Decimal values, are NUMERIC)."""
    from google.cloud import bigquery

    fields = []
    for name, dtype in df.dtypes.items():
        check_identifier(str(name))
        if name in decimal_columns:
            t = "NUMERIC"
        elif pd.api.types.is_bool_dtype(dtype):
            t = "BOOL"
        elif pd.api.types.is_integer_dtype(dtype):
            t = "INT64"
        elif pd.api.types.is_float_dtype(dtype):
            t = "FLOAT64"
        elif isinstance(dtype, pd.DatetimeTZDtype):
            t = "TIMESTAMP"
        elif pd.api.types.is_datetime64_dtype(dtype):
            t = "DATETIME"
        elif str(dtype) == "dbdate":
            t = "DATE"
        else:
            t = "STRING"
        fields.append(bigquery.SchemaField(str(name), t, mode="NULLABLE"))
    return fields


@contextlib.contextmanager
def _quiet_pending_deprecation():
    """google-cloud-bigquery 3.47 marks RowIterator.to_dataframe and Client.load_table_from_dataframe as pending
    deprecation in favour of pandas-gbq, which calls exactly these two itself (pandas_gbq/core/read.py,
    pandas_gbq/load/core.py). c360 calls them directly so that its own client, query parameters and job
    settings are used (the version is pinned)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        yield


def _mark(table) -> str:
    """A table's metadata (a google.cloud.bigquery Table) as one string: last modified, rows, bytes."""
    modified = table.modified.astimezone(dt.timezone.utc).isoformat() if table.modified else ""
    return f"{modified}|{int(table.num_rows or 0)}|{int(table.num_bytes or 0)}"


def _date_partition(table) -> str | None:
    """The DATE column a table is partitioned by (None: not partitioned, or by something else)."""
    field = table.time_partitioning.field if table.time_partitioning else None
    kinds = {f.name: f.field_type for f in table.schema}
    return field if field and kinds.get(field) == "DATE" else None


def _format(rows: int, digest: int) -> str:
    """A checksum as text: `rows:hash`, the hash as 16 hex digits (BIT_XOR's INT64 taken unsigned)."""
    return f"{int(rows)}:{int(digest) % (1 << 64):016x}"


def _split(checksum: str) -> tuple[int, int]:
    rows, digest = checksum.split(":")
    return int(rows), int(digest, 16)


def _combine(parts) -> str:
    """A table's checksum from its partitions' (rows, hash): rows summed, hashes XORed (see checksums)."""
    rows, digest = 0, 0
    for n, h in parts:
        rows, digest = rows + n, digest ^ h
    return _format(rows, digest)


class BigQueryEngine:
    """A BigQuery dataset as the warehouse. Models run as query jobs in `config.project`, read the sources in
    place and write their tables to `config.dataset`."""

    target = "bigquery"
    supports_views = False  # models materialized='view' on DuckDB are tables here (see their config)
    keeps_model_state = True  # a model whose inputs' metadata did not change is kept (c360.dag.materialize)
    transactional_ddl = False  # a transaction holds DML only: a model is published, then its audit rows replaced
    checksums_by_partition = True  # the manifest's checksums re-read only the partitions written (checksums_reusing)

    def __init__(self, config: BigQueryConfig, client=None, log: Callable[[str], None] | None = print,
                 create_dataset: bool = True, job_log: Path | None = None):
        self.config = config
        self.client = client if client is not None else make_client(config.project, config.location)
        self.log = log or (lambda _msg: None)
        self.emulator = emulator_host() is not None
        self.jobs: list[dict[str, Any]] = []  # one row per job: label, statement, bytes, seconds
        self.partitions_read: dict[str, list] = {}  # the last checksums_reusing's partial reads: table -> partitions
        self._schemas: dict[str, list[str]] = {}  # table id -> its columns (read once, from metadata)
        self.job_log = job_log or (Path(os.environ[JOB_LOG_ENV]) if os.environ.get(JOB_LOG_ENV) else None)
        self._model: str | None = None  # the model whose build is running (job_label)
        check_name(P.BQ_PROJECT, config.project, "bigquery_project")
        check_name(P.BQ_DATASET, config.dataset, "bigquery_dataset")
        self._dataset_id = TableName(config.project, config.dataset).id()
        if create_dataset:
            self._ensure_dataset()

    @classmethod
    def from_params(cls, params: dict[str, Any], read_only: bool = False, **kwargs) -> "BigQueryEngine":
        """The engine of the bigquery_* parameters. `read_only`: the dataset is not created when it is missing."""
        return cls(BigQueryConfig.from_params(params), **({"create_dataset": False} if read_only else {}), **kwargs)

    def _ensure_dataset(self) -> None:
        from google.api_core.exceptions import NotFound
        from google.cloud import bigquery

        try:
            self.client.get_dataset(self._dataset_id)
        except NotFound:
            ds = bigquery.Dataset(self._dataset_id)
            ds.location = self.config.location
            self.client.create_dataset(ds, exists_ok=True)
            self.log(f"[bigquery] created dataset {self._dataset_id} ({self.config.location})")

    @staticmethod
    def translate(sql: str) -> str:
        """BigQuery SQL as this engine runs it: as it is (the emulator's fix-ups apply only when it runs)."""
        return sql

    # -- names
    def relation(self, model: str) -> str:
        """The SQL name of a model's table: `project.dataset.model`."""
        return TableName(self.config.project, self.config.dataset, check_identifier(model)).sql()

    def _table_id(self, name: str) -> str:
        return TableName(self.config.project, self.config.dataset, check_identifier(name)).id()

    # -- running BigQuery SQL
    def _sql(self, sql: str) -> str:
        dialect.parse(sql)  # the same portability rules as on DuckDB (e.g. every UNNEST is aliased)
        return dialect.to_bigquery(sql, emulator=self.emulator, list_tables=self._list_tables)

    def _list_tables(self, project: str, dataset: str) -> list[str]:
        dataset_id = TableName(project or self.config.project, dataset or self.config.dataset).id()
        return [t.table_id for t in self.client.list_tables(dataset_id)]

    def _job_config(self, params: dict[str, Any], **extra):
        from google.cloud import bigquery

        return bigquery.QueryJobConfig(
            query_parameters=query_parameters(params),
            default_dataset=self._dataset_id,
            maximum_bytes_billed=self.job_limit(),
            use_legacy_sql=False,
            labels={"app": "c360"},
            **extra,
        )

    def _run(self, sql: str, params: dict[str, Any] | None, label: str, estimate: int | None = None):
        used = bound_params(sql, params)
        text = self._sql(sql)
        started = time.perf_counter()
        job = self.client.query(text, job_config=self._job_config(used), location=self.config.location)
        job.result()
        self._record({"label": label, "job_id": job.job_id, "statement": job.statement_type,
                      "estimated_bytes": estimate, "bytes_processed": job.total_bytes_processed,
                      "bytes_billed": job.total_bytes_billed, "slot_ms": getattr(job, "slot_millis", None),
                      "seconds": round(time.perf_counter() - started, 3)})
        return job

    def _record(self, job: dict[str, Any]) -> None:
        """Keep a job in `jobs`, and append it to the job log file when there is one (JOB_LOG_ENV); a job run
        inside job_label(model) names that model."""
        job = {**job, "model": self._model} if self._model else job
        self.jobs.append(job)
        if self.job_log is not None:
            with self.job_log.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(job, default=str) + "\n")

    def dry_run(self, sql: str, params: dict[str, Any] | None = None) -> int:
        """The bytes BigQuery estimates `sql` would process (a dry run: free, nothing runs)."""
        used = bound_params(sql, params)
        job = self.client.query(self._sql(sql), job_config=self._job_config(used, dry_run=True, use_query_cache=False),
                                location=self.config.location)
        return int(job.total_bytes_processed or 0)

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Run a BigQuery statement (or script), with `@name` values bound as query parameters."""
        self._run(sql, params, "execute")

    def query(self, sql: str, params: dict[str, Any] | None = None) -> pd.DataFrame:
        """Run a query and return its (small) result as a DataFrame."""
        job = self._run(sql, params, "query")
        with _quiet_pending_deprecation():
            return job.result().to_dataframe(create_bqstorage_client=False)

    # -- tables
    def tables(self) -> list[str]:
        return sorted(t.table_id for t in self.client.list_tables(self._dataset_id))

    def has_table(self, name: str) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            self.client.get_table(self._table_id(name))
            return True
        except NotFound:
            return False

    def is_view(self, name: str) -> bool:
        from google.api_core.exceptions import NotFound

        try:
            return self.client.get_table(self._table_id(name)).table_type == "VIEW"
        except NotFound:
            return False

    def row_count(self, name: str) -> int:
        return int(self.query(f"SELECT COUNT(*) AS n FROM {self.relation(name)}")["n"].iloc[0])

    def columns(self, name: str) -> list[str]:
        return [f.name for f in self.client.get_table(self._table_id(name)).schema]

    def checksum(self, name: str) -> str:
        """A content checksum of a table, independent of row order: `rows:hash` (FLOAT64 written with 9
        significant digits first). Comparable between runs on BigQuery, not with DuckDB's checksum."""
        return self.checksums([name])[name]

    def checksums(self, names: list[str], exact: bool = False) -> dict[str, str]:
        """`checksum` of several tables in one query job (a job per table costs a round trip each). `exact`:
        FLOAT64 values are hashed as they are, so any change is seen."""
        if not names:
            return {}
        parts = []
        for i, name in enumerate(names):
            replace = "" if exact else self._floats_written(name)
            parts.append(  # XOR over distinct rows, each with its multiplicity: order-free, duplicate-aware
                f"SELECT @name_{i} AS name, COALESCE(SUM(copies), 0) AS n, COALESCE(BIT_XOR(FARM_FINGERPRINT(CONCAT("
                f"CAST(copies AS STRING), ':', row_json))), 0) AS h FROM (SELECT row_json, COUNT(*) AS copies FROM "
                f"(SELECT TO_JSON_STRING(t) AS row_json FROM (SELECT *{replace} FROM {self.relation(name)}) AS t) AS j "
                f"GROUP BY row_json) AS g")
        found = self.query(" UNION ALL ".join(parts), {f"name_{i}": name for i, name in enumerate(names)})
        out = {r.name: _format(r.n, r.h) for r in found.itertuples()}
        return {name: out[name] for name in names}

    def replace_table(self, name: str, select_sql: str, params: dict[str, Any] | None = None) -> None:
        """(Re)build table `name` from a SELECT: dry run first (printed; refused over maximum_bytes_billed),
        then CREATE OR REPLACE TABLE, which BigQuery applies atomically. Two jobs, no more: callers that want
        the rows count them (row_count)."""
        statement = f"CREATE OR REPLACE TABLE {self.relation(name)} AS\n{select_sql.strip().rstrip(';')}"
        estimate = self.dry_run(statement, params)
        limit = self.config.maximum_bytes_billed
        self.log(f"[bigquery] {name}: dry run estimates {_human(estimate)} processed "
                 f"(maximum_bytes_billed {_human(limit)})")
        if estimate > limit:
            raise BytesLimitError(
                f"{name}: the dry run estimates {estimate:,} bytes processed, more than maximum_bytes_billed "
                f"({limit:,}); not run. Narrow ga4_start_date/ga4_end_date or raise maximum_bytes_billed.")
        self._run(statement, params, name, estimate=estimate)

    def write_frame(self, name: str, df: pd.DataFrame, decimal_columns: tuple[str, ...] = ()) -> int:
        """(Re)build table `name` from a small DataFrame: one load job with WRITE_TRUNCATE (atomic), through this
        engine's client. (pandas-gbq's to_gbq is not used: it builds a client of its own when the table is new,
        and leaves an existing table untouched when the frame is empty.)"""
        from google.cloud import bigquery

        config = bigquery.LoadJobConfig(schema=_bq_schema(df, decimal_columns), write_disposition="WRITE_TRUNCATE",
                                        create_disposition="CREATE_IF_NEEDED")
        started = time.perf_counter()
        with _quiet_pending_deprecation():
            job = self.client.load_table_from_dataframe(df.reset_index(drop=True), self._table_id(name),
                                                        job_config=config, location=self.config.location)
        job.result()
        self._record({"label": name, "job_id": job.job_id, "statement": "LOAD", "estimated_bytes": None,
                      "bytes_processed": 0, "bytes_billed": 0, "seconds": round(time.perf_counter() - started, 3)})
        return self.row_count(name)

    def temp_table(self, name: str, select_sql: str, params: dict[str, Any] | None = None) -> None:
        """A working table in the target dataset (replace_table: a dry run, then one job)."""
        self.replace_table(name, select_sql, params)

    def promote(self, stage: str, name: str, drop_flag: str | None = None, layout: str = "",
                keep_stage: bool = False) -> None:
        """Copy `stage`'s kept rows into table `name` with `layout` (PARTITION BY / CLUSTER BY), then drop `stage`
        (unless `keep_stage`)."""
        cols, keep = ("*", "")
        if drop_flag:
            cols, keep = f"* EXCEPT ({check_identifier(drop_flag)})", f"WHERE {drop_flag} IS NULL"
        self._drop_if_layout_differs(name, layout)
        self.execute(f"CREATE OR REPLACE TABLE {self.relation(name)}{layout} AS SELECT {cols} FROM "
                     f"{self.relation(stage)} {keep}")
        if not keep_stage:
            self.execute(f"DROP TABLE {self.relation(stage)}")

    def _drop_if_layout_differs(self, name: str, layout: str) -> None:
        """Drop table `name` when its partitioning or clustering is not the one `layout` asks for (PARTITION BY
        col / CLUSTER BY a, b): BigQuery refuses a CREATE OR REPLACE TABLE that changes either."""
        from google.api_core.exceptions import NotFound

        try:
            table = self.client.get_table(self._table_id(name))
        except NotFound:
            return
        want_part = re.search(r"PARTITION BY\s+([A-Za-z_][A-Za-z0-9_]*)", layout)
        want_cluster = re.search(r"CLUSTER BY\s+(.+)$", layout.strip())
        have = (table.time_partitioning.field if table.time_partitioning else None, list(table.clustering_fields or []))
        want = (want_part.group(1) if want_part else None,
                [c.strip() for c in want_cluster.group(1).split(",")] if want_cluster else [])
        if have != want:
            self.log(f"[bigquery] {name}: partitioning/clustering {have} -> {want}: dropped and created")
            self.execute(f"DROP TABLE {self.relation(name)}")

    # -- metadata (API calls, no query job)
    def table_columns(self, table_id: str) -> list[str]:
        """The columns of any readable table, by its full id (read once per engine)."""
        if table_id not in self._schemas:
            self._schemas[table_id] = [f.name for f in self.client.get_table(table_id).schema]
        return self._schemas[table_id]

    def list_table_ids(self, dataset_id: str) -> list[str]:
        """The table names of a dataset (`project.dataset`); ParamError when it is missing or unreadable."""
        from google.api_core.exceptions import NotFound

        try:
            return [t.table_id for t in self.client.list_tables(dataset_id)]
        except NotFound:
            raise P.ParamError(f"dataset {dataset_id} not found (or not readable)") from None

    def table_metadata(self, table_id: str, param: str) -> dict[str, Any]:
        """A table's rows, bytes and last change, as its metadata has them; ParamError naming `param` when it is
        missing or unreadable."""
        from google.api_core.exceptions import NotFound

        try:
            table = self.client.get_table(table_id)
        except NotFound:
            raise P.ParamError(f"{param}: table {table_id} not found (or not readable)") from None
        modified = table.modified.astimezone(dt.timezone.utc).isoformat(timespec="seconds") if table.modified else None
        return {"table": table_id, "rows": int(table.num_rows or 0), "bytes": int(table.num_bytes or 0),
                "modified": modified}

    # -- checksums that read only what changed (the manifest's)
    def table_mark(self, name: str) -> str:
        """Table `name`'s metadata as one string: last modified, rows, bytes (an API call, no query job). BigQuery
        changes it whenever the table changes."""
        return _mark(self.client.get_table(self._table_id(name)))

    def _partition_checksums(self, tables: dict[str, tuple[str, list[str | None] | None]]) -> dict[str, dict]:
        """Per table (name -> (its DATE partition column, the partitions to read or None for all)): the checksum
        of each partition read that holds rows, `{part: (rows, hash)}` (part None: the NULL partition), in one
        query job. A row belongs to one partition, so a table's checksum is the sum of its partitions' rows and
        the XOR of their hashes: exactly `checksums`' value, whatever partitions were read when."""
        if not tables:
            return {}
        parts_sql, values = [], {}
        for i, (name, (column, parts)) in enumerate(tables.items()):
            check_identifier(column)
            where = ""
            if parts is not None:
                dates = sorted(p for p in parts if p is not None)
                if any(not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", d) for d in dates):
                    raise ValueError(f"{name}: not a partition date: {dates}")
                literals = ", ".join(f"DATE '{d}'" for d in dates)
                found = [f"{column} IN ({literals})"] if dates else []
                found += [f"{column} IS NULL"] if None in parts else []
                where = " WHERE " + (" OR ".join(found) if found else "FALSE")  # constants: BigQuery prunes the rest
            values[f"name_{i}"] = name
            parts_sql.append(
                f"SELECT @name_{i} AS name, part, SUM(copies) AS n, BIT_XOR(FARM_FINGERPRINT(CONCAT(CAST(copies AS "
                f"STRING), ':', row_json))) AS h FROM (SELECT part, row_json, COUNT(*) AS copies FROM (SELECT "
                f"CAST(t.{column} AS STRING) AS part, TO_JSON_STRING(t) AS row_json FROM (SELECT "
                f"*{self._floats_written(name)} FROM {self.relation(name)}{where}) AS t) AS j GROUP BY part, row_json) "
                "AS g GROUP BY name, part")
        out: dict[str, dict] = {name: {} for name in tables}
        for r in self.query(" UNION ALL ".join(parts_sql), values).itertuples():
            out[r.name][None if pd.isna(r.part) else r.part] = (int(r.n), int(r.h) % (1 << 64))
        return out

    def _floats_written(self, name: str) -> str:
        """The REPLACE clause that writes a table's FLOAT64 columns with 9 significant digits (see checksum)."""
        floats = [f.name for f in self.client.get_table(self._table_id(name)).schema
                  if f.field_type in ("FLOAT", "FLOAT64") and f.mode != "REPEATED"]
        written = ", ".join(f"FORMAT('%.9g', {c}) AS {c}" for c in floats)
        return f" REPLACE ({written})" if floats else ""

    def checksums_reusing(self, names: list[str], state_table: str) -> tuple[dict[str, str], list[str]]:
        """`checksums` of `names`, reading only what changed since `state_table` recorded them:
        - a table whose metadata (last modified, rows, bytes: an API call, no query job) is what was recorded
          keeps its recorded checksum (a table BigQuery did not modify holds what it held);
        - a table partitioned by a DATE column has its checksum kept per partition; when every change since was
          an incremental build's (WRITTEN_PARTITIONS: the partitions it wrote, and the table's metadata before,
          which must be the recorded one), only those partitions are read, with constant filters;
        - any other modified table is read whole.
        Records them all in `state_table` (a load job: free) and forgets the partitions written. Returns the
        checksums and the tables read; `partitions_read` tells which partitions of which tables were read."""
        tables = {n: self.client.get_table(self._table_id(n)) for n in names}
        meta = {n: _mark(t) for n, t in tables.items()}
        stored, stored_parts = {}, {}  # table -> (metadata, checksum); table -> {partition: (rows, hash)}
        if self.has_table(state_table) and "kind" in self.columns(state_table):  # (an older layout: read all once)
            found = self.query(f"SELECT table_name, kind, part, metadata, checksum FROM {self.relation(state_table)}")
            for r in found.itertuples():
                if r.kind == "table":
                    stored[r.table_name] = (r.metadata, r.checksum)
                else:
                    stored_parts.setdefault(r.table_name, {})[None if pd.isna(r.part) else r.part] = _split(r.checksum)
        written: dict[str, tuple[str, set]] = {}  # table -> (its metadata before the first write, partitions)
        if self.has_table(WRITTEN_PARTITIONS):
            for r in self.query(f"SELECT table_name, part, before FROM {self.relation(WRITTEN_PARTITIONS)} "
                                "ORDER BY written_at, before").itertuples():
                written.setdefault(r.table_name, (r.before, set()))[1].add(None if pd.isna(r.part) else r.part)
        read = [n for n in names if stored.get(n, (None,))[0] != meta[n]]
        by_partition, whole = {}, []
        for n in read:
            column = _date_partition(tables[n])
            if column is None:
                whole.append(n)
            elif n in stored_parts and n in written and written[n][0] == stored[n][0]:
                by_partition[n] = (column, sorted(written[n][1], key=lambda p: (p is None, p or "")))
            else:
                by_partition[n] = (column, None)
        fresh = self.checksums(whole)
        # the partitions of each table, as they are now: those read, and (a partial read) the others as recorded
        parts_now = {n: parts for n, parts in stored_parts.items() if n in names and n not in read}
        for n, got in self._partition_checksums(by_partition).items():
            kept = {} if by_partition[n][1] is None else {
                p: c for p, c in stored_parts[n].items() if p not in by_partition[n][1]}
            parts_now[n] = {**kept, **got}
            fresh[n] = _combine(parts_now[n].values())
        self.partitions_read = {n: parts for n, (_, parts) in by_partition.items() if parts is not None}
        out = {n: fresh[n] if n in fresh else stored[n][1] for n in names}
        rows = [{"table_name": n, "kind": "table", "part": None, "metadata": meta[n], "checksum": out[n]}
                for n in names]
        rows += [{"table_name": n, "kind": "partition", "part": p, "metadata": None, "checksum": _format(*c)}
                 for n, parts in parts_now.items() for p, c in parts.items()]
        self.write_frame(state_table, pd.DataFrame(rows, columns=["table_name", "kind", "part", "metadata", "checksum"])
                         .astype(object))
        if written:
            self.execute(f"DELETE FROM {self.relation(WRITTEN_PARTITIONS)} WHERE table_name IN UNNEST(@names)",
                         {"names": sorted(names)})
        return out, read

    # -- the run's budget, and which model a job is for (kept apart from the build methods above)
    def job_limit(self) -> int:
        """The byte limit every job carries: maximum_bytes_billed, or less when the run's budget
        (bigquery_max_bytes_per_run) has less left after what the run's jobs billed so far (every job log of the
        run: the files beside this engine's, one per notebook). RunBudgetError when nothing is left."""
        spent = billed_so_far(self.job_log.parent) if self.job_log is not None else \
            sum(j.get("bytes_billed") or 0 for j in self.jobs)
        left = self.config.max_bytes_per_run - spent
        if left <= 0:
            raise RunBudgetError(f"bigquery_max_bytes_per_run: the run's jobs billed {spent:,} bytes, its budget is "
                                 f"{self.config.max_bytes_per_run:,}; no further job is sent")
        return min(self.config.maximum_bytes_billed, left)

    def job_label(self, model: str):
        """A context manager: the jobs run inside are logged as model `model`'s (its build, publish and audit)."""
        @contextlib.contextmanager
        def labelled():
            before, self._model = self._model, model
            try:
                yield self
            finally:
                self._model = before
        return labelled()

    def execute_atomically(self, statements: list[str], params: dict[str, Any] | None = None,
                           then: list[str] = ()) -> None:
        """Run DML statements as one multi-statement transaction, then the statements `then` (DDL, outside it), in
        one script job: all or none of the DML applies."""
        body = "".join(f"{sql.strip().rstrip(';')};\n" for sql in statements)
        after = "".join(f"\n{sql.strip().rstrip(';')};" for sql in then)
        self.execute(f"BEGIN TRANSACTION;\n{body}COMMIT TRANSACTION;{after}", params)

    def transaction(self):
        """A no-op context manager: see the module docstring for why, and what keeps a failure harmless."""
        return contextlib.nullcontext(self)

    def close(self) -> None:
        self.client.close()
