"""Incremental runs on BigQuery (the local emulator): the GA4 export arriving a day at a time gives the tables one
full refresh gives, an incremental run reads only the shards inside the lookback window (asserted on the SQL
sent), and a re-run on unchanged inputs rebuilds nothing. The builds run in process, as the notebooks call
them (sources.prepare, then models.build per layer), so every statement sent can be recorded."""
from __future__ import annotations

import datetime as dt
import math
import re
import shutil
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from c360 import models, params as P, sources
from c360.sources import upload as bigquery_load
from c360.warehouse import bigquery as B
from test_bigquery_emulator import FIXTURES, PROJECT, bq_emulator  # noqa: F401  (the module's emulator)

pytestmark = [pytest.mark.slow, pytest.mark.bigquery_emulator]

CRM_DATASET = "fivetran_hubspot"
BOOKKEEPING = ("c360__model_state", "c360__model_definitions", "c360__model_runs", "c360__touched_dates",
               "c360__ga4_shards")


class Recording:
    """A BigQuery client that keeps the text of every query it sends (dry runs included)."""

    def __init__(self, client):
        self._client, self.sent = client, []

    def query(self, sql, *args, **kwargs):
        self.sent.append(sql)
        return self._client.query(sql, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._client, name)


def _tree(dest: Path, accept) -> Path:
    """A source root with the fixtures' CSVs and the GA4 shards `accept(name)` takes."""
    for sub in ("crm", "product", "marketing", "seeds"):
        shutil.copytree(FIXTURES / sub, dest / sub, dirs_exist_ok=True)
    (dest / "ga4").mkdir(parents=True, exist_ok=True)
    for shard in sorted((FIXTURES / "ga4").iterdir()):
        if accept(shard.name):
            shutil.copy2(shard, dest / "ga4" / shard.name)
    return dest


def _date(name: str) -> str:
    return re.search(r"(\d{8})", name).group(1)


@pytest.fixture(scope="module")
def bq(bq_emulator, tmp_path_factory):  # noqa: F811
    client = B.make_client(PROJECT, "US")
    folder = tmp_path_factory.mktemp("bq-inc")
    uploaded: dict[str, set] = {}

    def upload(ga4_dataset: str, accept) -> dict:
        """Upload the shards `accept` takes that `ga4_dataset` lacks (the others keep their metadata, as GA4's
        do), and the CRM tables; returns the source parameters."""
        done = uploaded.setdefault(ga4_dataset, set())
        new = {p.name for p in (FIXTURES / "ga4").iterdir() if accept(p.name)} - done
        root = _tree(folder / f"{ga4_dataset}-{len(done)}", lambda n: n in new)
        out = bigquery_load.upload_source_tree(client, root, PROJECT, ga4_dataset, CRM_DATASET)
        out.pop("_rows")
        done |= new
        return out

    def run(ga4_dataset: str, dataset: str, src: dict, *overrides: str) -> dict:
        """Prepare the sources and build every layer on dataset `dataset`; the build results by layer, and
        the statements sent ('sent')."""
        params = P.load(overrides=[f"backend=bigquery", f"bigquery_project={PROJECT}", f"bigquery_dataset={dataset}",
                                   f"source_root={FIXTURES}", *(f"{k}={v}" for k, v in src.items()), *overrides])
        recording = Recording(client)
        eng = B.BigQueryEngine.from_params(params, client=recording, log=None)
        sources.prepare(eng, params)
        built = {layer: models.build(eng, layer, params) for layer in models.LAYERS}
        return {**built, "sent": recording.sent, "engine": eng}

    yield {"client": client, "upload": upload, "run": run}


def _cell(v):
    """One cell, comparable across runs: nulls as None, decimals exact, floats to 9 decimals, dates as text."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, Decimal):
        return ("decimal", str(v.normalize()))
    if isinstance(v, (pd.Timestamp, dt.datetime, dt.date)):
        return ("time", pd.Timestamp(v).isoformat())
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (float, np.floating)):
        return round(float(v), 9)
    if isinstance(v, np.integer):
        return int(v)
    return v


def tables(eng) -> dict[str, list]:
    """Every output table's rows (sorted), and the row audit summed per model and outcome."""
    out = {}
    for name in sorted(eng.tables()):
        if name.startswith(("_", "src__")) or name in BOOKKEEPING or name == models.AUDIT_TABLE:
            continue
        df = eng.query(f"SELECT * FROM {eng.relation(name)}")
        rows = [tuple(_cell(v) for v in r) for r in df.astype(object).itertuples(index=False)]
        out[name] = (list(df.columns), sorted(rows, key=lambda r: tuple((x is None, str(x)) for x in r)))
    audit = eng.query(f"SELECT model, outcome, SUM(row_count) AS n FROM {eng.relation(models.AUDIT_TABLE)} "
                      "GROUP BY 1, 2 ORDER BY 1, 2")
    out[models.AUDIT_TABLE] = [tuple(r) for r in audit.astype(object).itertuples(index=False)]
    return out


def assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        assert a[name] == b[name], name


def _stage_sql(sent: list[str], model: str) -> list[str]:
    return [s for s in sent if f"_stage__{model}`" in s and s.lstrip().startswith("CREATE OR REPLACE TABLE")]


def _suffix_bounds(sql: str) -> list[tuple[str, str]]:
    return re.findall(r"_TABLE_SUFFIX BETWEEN '([^']*)' AND '([^']*)'", sql)


def _flag(built: dict, layer: str, model: str, column: str) -> bool:
    return bool(built[layer].set_index("model").loc[model, column])


@pytest.fixture(scope="module")
def full(bq):
    """One full refresh over every shard."""
    src = bq["upload"]("analytics_full", lambda n: True)
    built = bq["run"]("analytics_full", "c360_full", src, "full_refresh=true")
    return {"tables": tables(built["engine"]), "src": src}


def test_increments_with_late_events_and_a_superseded_intraday_shard_equal_one_full_refresh(bq, full):
    # 1: shards up to 03-15. 2: one day more, 03-16: the window starts lookback_days (3) before the newest shard
    # held, 03-12, whose shard holds a late event of 03-11 (data/fixtures/README.md): a partition before the
    # window changes. 3: up to 03-20 (03-17 holds late events of 03-15) and the intraday 03-27. 4: the rest: the
    # daily 03-27 supersedes the intraday one, intraday 03-28 arrives.
    steps = [lambda n: _date(n) <= "20240315", lambda n: _date(n) <= "20240316",
             lambda n: _date(n) <= "20240320" or n.startswith("events_intraday_20240327"), lambda n: True]
    runs = []
    for accept in steps:
        src = bq["upload"]("analytics_inc", accept)
        runs.append(bq["run"]("analytics_inc", "c360_inc", src))
    assert not _flag(runs[0], "base", "base__ga4__events", "incremental")
    # adding one day: the base model reads the shards from 03-12 on, daily and intraday, through constant bounds
    [day2] = _stage_sql(runs[1]["sent"], "base__ga4__events")
    assert _suffix_bounds(day2) == [("20240312", "99999999"), ("intraday_20240312", "intraday_99999999")]
    for later in runs[1:]:
        assert _flag(later, "base", "base__ga4__events", "incremental")
        assert _flag(later, "customer", "int__web_sessions", "incremental")
    # the last step's window: 03-21 to 03-23 appeared after the intraday 03-27 (newest held): read from 03-21
    [day4] = _stage_sql(runs[3]["sent"], "base__ga4__events")
    assert _suffix_bounds(day4)[0] == ("20240321", "99999999")
    assert_same(tables(runs[-1]["engine"]), full["tables"])

    # a re-run on unchanged inputs: every model kept, none rebuilt, no staging table written, nothing changed
    again = bq["run"]("analytics_inc", "c360_inc", src)
    assert all(again[layer]["unchanged"].all() for layer in models.LAYERS)
    assert not [s for s in again["sent"] if "_stage__" in s]
    assert_same(tables(again["engine"]), full["tables"])

    # FULL_REFRESH=1 rebuilds every model in full, and ends where the increments did
    refreshed = bq["run"]("analytics_inc", "c360_inc", src, "full_refresh=true")
    assert not any(refreshed[layer]["unchanged"].any() for layer in models.LAYERS)
    assert not _flag(refreshed, "base", "base__ga4__events", "incremental")
    assert_same(tables(refreshed["engine"]), full["tables"])


def test_a_run_after_one_new_day_reads_only_the_lookback_window_and_equals_a_full_refresh(bq, full):
    src = bq["upload"]("analytics_day", lambda n: _date(n) <= "20240326" and "intraday" not in n)
    bq["run"]("analytics_day", "c360_day", src)
    src = bq["upload"]("analytics_day", lambda n: "intraday" not in n)  # the daily 03-27 arrives
    built = bq["run"]("analytics_day", "c360_day", src)
    [stage] = _stage_sql(built["sent"], "base__ga4__events")
    assert _suffix_bounds(stage) == [("20240323", "99999999"), ("intraday_20240323", "intraday_99999999")]
    assert not [s for s in built["sent"] if re.search(r"_TABLE_SUFFIX BETWEEN '2024031", s)]
    reference = bq["run"]("analytics_day", "c360_day_full", src, "full_refresh=true")
    assert_same(tables(built["engine"]), tables(reference["engine"]))


def test_a_changed_partitioning_drops_and_creates_the_table(bq):
    client = bq["client"]
    eng = B.BigQueryEngine.from_params(P.load(overrides=[
        "backend=bigquery", f"bigquery_project={PROJECT}", "bigquery_dataset=c360_layout",
        "ga4_dataset=analytics_full", "crm_contacts_table=x.y", "crm_deals_table=x.z"]), client=client, log=None)
    eng.execute(f"CREATE OR REPLACE TABLE {eng.relation('t')} PARTITION BY d CLUSTER BY u AS "
                "SELECT DATE '2024-03-01' AS d, 'a' AS u, 1 AS x")
    eng.execute(f"CREATE OR REPLACE TABLE {eng.relation('_stage__t')} AS SELECT DATE '2024-03-02' AS d, 'b' AS u, 2 AS x")
    eng.promote("_stage__t", "t", layout=" CLUSTER BY x")
    got = client.get_table(f"{PROJECT}.c360_layout.t")
    assert got.time_partitioning is None and got.clustering_fields == ["x"]
    assert eng.query(f"SELECT x FROM {eng.relation('t')}")["x"].tolist() == [2]
