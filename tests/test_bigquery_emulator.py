"""The whole pipeline on BigQuery, offline: a local BigQuery emulator, the same models, the same answers.

tools/bigquery_emulator.sh sets the emulator up (its own Python 3.13 venv, .venv-bq; idempotent). The session
fixture starts it on a free loopback port and loads data/fixtures into it shaped like the real sources: GA4
rows, nested, in sharded events_YYYYMMDD / events_intraday_YYYYMMDD tables with the export's schema; the CRM
tables typed as Fivetran syncs them. Every layer is then built with backend bigquery, and every output table
must equal the DuckDB run on the same fixtures (rows sorted, floats rounded, types normalized).

Skipped (with the reason) only when no Python >= 3.13 is found to run the emulator; any other set-up failure
is an error.
"""
from __future__ import annotations

import datetime as dt
import math
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from c360 import bigquery as B
from c360 import bigquery_load, checks, models, sources
from c360 import engine as engines
from c360 import params as P
from c360.identity import ITERATIONS_TABLE
from c360.paths import PROJ_ROOT

pytestmark = [pytest.mark.slow, pytest.mark.bigquery_emulator]

FIXTURES = PROJ_ROOT / "data" / "fixtures"
SCRIPT = PROJ_ROOT / "tools" / "bigquery_emulator.sh"
PROJECT = "test-project"
OUTPUT_TABLES = sorted({*models.discover(), models.AUDIT_TABLE, ITERATIONS_TABLE})


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ready(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.fixture(scope="session")
def bq_emulator(tmp_path_factory):
    """The emulator's endpoint (http://127.0.0.1:PORT); BIGQUERY_EMULATOR_HOST points at it meanwhile."""
    started = time.perf_counter()
    setup = subprocess.run(["bash", str(SCRIPT), "setup"], capture_output=True, text=True, timeout=1800)
    if setup.returncode == 3:
        pytest.skip(f"BigQuery emulator cannot be set up here: {setup.stderr.strip()}")
    assert setup.returncode == 0, f"tools/bigquery_emulator.sh setup failed:\n{setup.stdout}\n{setup.stderr}"
    setup_seconds = time.perf_counter() - started

    port, grpc_port = _free_port(), _free_port()
    data = tmp_path_factory.mktemp("bq-data")
    log = (data.parent / "bq-emulator.log").open("w")
    proc = subprocess.Popen(["bash", str(SCRIPT), "serve", str(port), str(grpc_port), str(data)],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    endpoint = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in ("BIGQUERY_EMULATOR_HOST", "NO_PROXY", "no_proxy")}
    try:
        deadline = time.monotonic() + 90
        while not _ready(f"{endpoint}/bigquery/v2/projects/{PROJECT}/datasets"):
            assert proc.poll() is None, f"the emulator exited: {Path(log.name).read_text()[-2000:]}"
            assert time.monotonic() < deadline, f"the emulator did not answer: {Path(log.name).read_text()[-2000:]}"
            time.sleep(0.3)
        os.environ["BIGQUERY_EMULATOR_HOST"] = endpoint
        for key in ("NO_PROXY", "no_proxy"):
            os.environ[key] = ",".join(filter(None, [os.environ.get(key), "127.0.0.1", "localhost"]))
        print(f"\n[bq-emulator] set-up {setup_seconds:.1f} s, started in "
              f"{time.perf_counter() - started - setup_seconds:.1f} s at {endpoint}")
        yield endpoint
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: the emulator and nothing else
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        log.close()


def _bq_params(sources_params: dict, *overrides: str) -> dict:
    return P.load(overrides=["backend=bigquery", f"bigquery_project={PROJECT}", "bigquery_dataset=c360",
                             f"source_root={FIXTURES}",
                             *(f"{k}={v}" for k, v in sources_params.items()), *overrides])


@pytest.fixture(scope="session")
def runs(bq_emulator, tmp_path_factory):
    """The fixtures through every layer twice: on DuckDB, and on BigQuery (the emulator)."""
    timings = {}
    t0 = time.perf_counter()
    duck_params = P.load(overrides=[f"source_root={FIXTURES}",
                                    f"warehouse={tmp_path_factory.mktemp('duck') / 'w.duckdb'}"])
    duck = engines.connect(duck_params)
    sources.load_sources(duck, FIXTURES, "fail")
    for layer in models.LAYERS:
        models.build(duck, layer, duck_params)
    timings["duckdb"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    client = B.make_client(PROJECT, "US")
    loaded = bigquery_load.upload_source_tree(client, FIXTURES, PROJECT, "analytics_123456789", "fivetran_hubspot")
    loaded.pop("_rows")
    timings["bigquery upload"] = time.perf_counter() - t0
    params = _bq_params(loaded)
    bq = B.BigQueryEngine.from_params(params, client=client, log=None)
    bq.prepare_sources()
    for layer in models.LAYERS:
        t0 = time.perf_counter()
        models.build(bq, layer, params)
        timings[f"bigquery {layer}"] = time.perf_counter() - t0
    print("\n[bq-emulator] " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()))
    yield {"duck": duck, "bq": bq, "params": params, "sources": loaded, "client": client}
    duck.close()
    bq.close()


# -- comparing tables across engines


def _value(v):
    """One cell, engine-neutral: None for every kind of null, numbers as floats rounded to 9 decimals, dates
    and UTC timestamps as ISO text (a DuckDB DATE arrives as a naive midnight datetime)."""
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, (pd.Timestamp, dt.datetime)):
        ts = pd.Timestamp(v)
        if ts.tzinfo is None:
            return ("date", ts.date().isoformat()) if ts == ts.normalize() else ("datetime", ts.isoformat())
        return ("timestamp", ts.tz_convert("UTC").isoformat())
    if isinstance(v, dt.date):
        return ("date", v.isoformat())
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, float, np.integer, np.floating)):
        return round(float(v), 9)
    return v


def _rows(df: pd.DataFrame) -> list[tuple]:
    rows = [tuple(_value(v) for v in row) for row in df.astype(object).itertuples(index=False)]
    return sorted(rows, key=lambda r: tuple((x is None, type(x).__name__, str(x)) for x in r))


def _kinds(rows: list[tuple], width: int) -> list[set]:
    return [{type(r[i]).__name__ + (r[i][0] if isinstance(r[i], tuple) else "") for r in rows
             if r[i] is not None} for i in range(width)]


@pytest.mark.parametrize("table", OUTPUT_TABLES)
def test_every_output_table_equals_the_duckdb_run(runs, table):
    duck, bq = runs["duck"], runs["bq"]
    assert duck.has_table(table), f"{table}: not built on DuckDB"
    assert bq.has_table(table), f"{table}: not built on BigQuery"
    a = duck.query(f"SELECT * FROM {table}")
    b = bq.query(f"SELECT * FROM {bq.relation(table)}")
    assert list(b.columns) == list(a.columns), f"{table}: columns differ"
    ra, rb = _rows(a), _rows(b)
    assert _kinds(rb, len(b.columns)) == _kinds(ra, len(a.columns)), f"{table}: column types differ"
    only_duck = [r for r in ra if r not in rb][:5]
    only_bq = [r for r in rb if r not in ra][:5]
    assert ra == rb, (f"{table}: {len(ra)} rows on DuckDB, {len(rb)} on BigQuery\n"
                      f"only on DuckDB: {only_duck}\nonly on BigQuery: {only_bq}")
    assert len(ra) > 0 or table == ITERATIONS_TABLE


@pytest.mark.parametrize("layer", models.LAYERS)
def test_the_data_tests_find_the_same_on_both_engines(runs, layer):
    # the data tests (c360/sql/<layer>/_tests.yml) use short table names: the job's default dataset resolves them
    on_duck = checks.run(runs["duck"], layer, raise_on_error=False)
    on_bq = checks.run(runs["bq"], layer, raise_on_error=False)
    assert len(on_bq) > 0
    pd.testing.assert_frame_equal(on_bq.astype(str), on_duck.astype(str))


def test_connect_reaches_the_emulator_with_anonymous_credentials(runs):
    eng = engines.connect(runs["params"])
    try:
        assert isinstance(eng, B.BigQueryEngine) and eng.emulator
        assert eng.row_count("base__crm__deals") == runs["duck"].row_count("base__crm__deals")
    finally:
        eng.close()


def test_the_bigquery_run_leaves_no_scratch_table_and_nothing_duckdb_lacks(runs):
    written = {t for t in runs["bq"].tables() if not t.startswith("src__seeds__")}  # seeds: uploaded sources
    assert set(OUTPUT_TABLES) <= written
    assert not [t for t in written if t.startswith("_")], "a staging or connected-components table was left"
    assert written <= set(runs["duck"].tables())


def test_every_query_job_carried_the_byte_limit_and_the_target_dataset(runs):
    bq = runs["bq"]
    checked = 0
    for job in bq.jobs:
        if job["statement"] == "LOAD" or not job["label"].startswith("_stage__"):
            continue  # one job per model: its CREATE OR REPLACE TABLE
        remote = bq.client.get_job(job["job_id"], location="US")
        assert remote.maximum_bytes_billed == bq.config.maximum_bytes_billed
        assert remote.default_dataset.dataset_id == "c360"
        checked += 1
    assert checked >= len([m for m in models.discover().values() if m.fn is None])


def test_a_date_range_reads_only_its_shards_daily_and_intraday(runs):
    duck = runs["duck"]
    params = _bq_params(runs["sources"], "ga4_start_date=2024-03-27", "ga4_end_date=2024-03-28")
    bq = B.BigQueryEngine.from_params(params, client=runs["client"], log=None)
    got = bq.query(f"SELECT _TABLE_SUFFIX AS shard, COUNT(*) AS n FROM {bq.source('ga4', 'events')} "
                   "GROUP BY 1 ORDER BY 1")
    want = duck.query("SELECT _TABLE_SUFFIX AS shard, COUNT(*) AS n FROM src__ga4__events WHERE _TABLE_SUFFIX IN "
                      "('20240327', 'intraday_20240327', 'intraday_20240328') GROUP BY 1 ORDER BY 1")
    assert list(got["shard"]) == ["20240327", "intraday_20240327", "intraday_20240328"]
    assert list(got["n"]) == list(want["n"])


def test_hostile_values_stay_values(runs):
    bq = runs["bq"]
    sql = f"SELECT COUNT(*) AS n FROM {bq.relation('base__crm__deals')} WHERE stage IN UNNEST(@won_stages)"
    assert bq.query(sql, {"won_stages": ["closedwon' OR TRUE --"]})["n"].iloc[0] == 0
    assert bq.query(sql, {"won_stages": ["closedwon"]})["n"].iloc[0] > 0


def test_a_bad_model_fails_at_its_dry_run_and_writes_nothing(runs):
    bq = runs["bq"]
    ran = len(bq.jobs)
    with pytest.raises(Exception, match="no_such_column"):
        bq.replace_table("_c360_test_bad", "SELECT no_such_column FROM base__crm__deals")
    assert len(bq.jobs) == ran and not bq.has_table("_c360_test_bad")


def test_write_frame_replaces_rows_and_schema_even_with_an_empty_frame(runs):
    bq = runs["bq"]
    assert bq.write_frame("_c360_test_frame", pd.DataFrame({"a": [1, 2], "b": ["x", None]})) == 2
    assert bq.columns("_c360_test_frame") == ["a", "b"]
    shuffled = bq.write_frame("_c360_test_frame2", pd.DataFrame({"a": [2, 1], "b": [None, "x"]}))
    assert shuffled == 2 and bq.checksum("_c360_test_frame2") == bq.checksum("_c360_test_frame")
    bq.execute("DROP TABLE _c360_test_frame2")
    assert bq.write_frame("_c360_test_frame", pd.DataFrame({"c": pd.Series([], dtype="float64")})) == 0
    assert bq.columns("_c360_test_frame") == ["c"]
    bq.execute("DROP TABLE _c360_test_frame")
