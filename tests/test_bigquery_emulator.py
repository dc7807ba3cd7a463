"""The whole pipeline on BigQuery, offline: a local BigQuery emulator, the same models, the same answers.

tools/bigquery_emulator.sh sets the emulator up (its own Python 3.13 venv, .venv-bq; idempotent). The session
fixture starts it on a free loopback port and loads data/fixtures into it shaped like the real sources: GA4
rows, nested, in sharded events_YYYYMMDD / events_intraday_YYYYMMDD tables with the export's schema; the CRM
tables typed as Fivetran syncs them. Then `python -m c360 run --params <a bigquery.yaml>` runs the whole pipeline
with backend bigquery (every notebook executed by papermill, its kernel reaching the emulator through
BIGQUERY_EMULATOR_HOST, reports rendered, a manifest written), and every output table must equal the DuckDB run
on the same fixtures (rows sorted, floats rounded, types normalized).

Skipped (with the reason) only when no Python >= 3.13 is found to run the emulator; any other set-up failure
is an error.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from c360.warehouse import bigquery as B
from c360.sources import provenance, upload as bigquery_load
from c360.dag import datatests as checks
from c360 import models, sources
from c360 import warehouse as engines
from c360 import params as P
from c360.steps.identity import ITERATIONS_TABLE
from c360.paths import PROJ_ROOT, resolve
from c360.run.notebooks import notebooks

pytestmark = [pytest.mark.slow, pytest.mark.bigquery_emulator]

FIXTURES = PROJ_ROOT / "data" / "fixtures"
SCRIPT = PROJ_ROOT / "tools" / "bigquery_emulator.sh"
PROJECT = "test-project"
GA4_DATASET, CRM_DATASET = "analytics_123456789", "fivetran_hubspot"
# Credentials the run must never need nor show: a service-account key file that Application Default Credentials
# would fail on (so a kernel that ignored the emulator's anonymous credentials would fail the run).
SENTINEL_KEY_ID = "c360sentinelkeyid0123456789"
SENTINEL_KEY = "c360-sentinel-private-key-do-not-print"
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


@pytest.fixture(scope="module")  # the emulator stops with this module: it uses a core even when idle
def bq_emulator(tmp_path_factory):
    """The emulator's endpoint (http://127.0.0.1:PORT); BIGQUERY_EMULATOR_HOST points at it meanwhile."""
    started = time.perf_counter()
    setup = subprocess.run(["bash", str(SCRIPT), "setup"], capture_output=True, text=True, timeout=1800)
    if setup.returncode == 3:
        pytest.skip(f"BigQuery emulator cannot be set up here: {setup.stderr.strip()}")
    assert setup.returncode == 0, f"tools/bigquery_emulator.sh setup failed:\n{setup.stdout}\n{setup.stderr}"
    setup_seconds = time.perf_counter() - started

    data = tmp_path_factory.mktemp("bq-data")
    log = (data.parent / "bq-emulator.log").open("w")
    saved = {k: os.environ.get(k) for k in ("BIGQUERY_EMULATOR_HOST", "NO_PROXY", "no_proxy")}
    proc = None
    try:
        for attempt in range(3):  # a port found free can be taken before the emulator binds it (another worker)
            port, grpc_port = _free_port(), _free_port()
            proc = subprocess.Popen(["bash", str(SCRIPT), "serve", str(port), str(grpc_port), str(data)],
                                    stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            endpoint = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 90
            while proc.poll() is None and not _ready(f"{endpoint}/bigquery/v2/projects/{PROJECT}/datasets"):
                assert time.monotonic() < deadline, f"the emulator did not answer: {Path(log.name).read_text()[-2000:]}"
                time.sleep(0.3)
            if proc.poll() is None:
                break
            assert attempt < 2, f"the emulator exited: {Path(log.name).read_text()[-2000:]}"
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
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # its own session: the emulator and nothing else
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=15)
        log.close()


def _bq_settings(sources_params: dict) -> dict:
    """What a user's params/bigquery.yaml holds for the emulator's project and the uploaded sources."""
    return {"backend": "bigquery", "bigquery_project": PROJECT, "bigquery_dataset": "c360",
            "source_root": str(FIXTURES), **sources_params}


def _bq_params(sources_params: dict, *overrides: str) -> dict:
    return P.load(overrides=[*(f"{k}={v}" for k, v in _bq_settings(sources_params).items()), *overrides])


def _cli_run(params_file: Path, reports: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "c360", "run", "--params", str(params_file), "--reports",
                           str(reports), *args], cwd=PROJ_ROOT, capture_output=True, text=True, timeout=900,
                          env=env)


def _sentinel_credentials(folder: Path) -> dict:
    """Environment pointing Application Default Credentials at a fake service-account key (see SENTINEL_KEY)."""
    key = folder / "sentinel-service-account.json"
    key.write_text(json.dumps({
        "type": "service_account", "project_id": PROJECT, "private_key_id": SENTINEL_KEY_ID,
        "private_key": f"-----BEGIN PRIVATE KEY-----\n{SENTINEL_KEY}\n-----END PRIVATE KEY-----\n",
        "client_email": f"sentinel@{PROJECT}.iam.gserviceaccount.com", "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token"}))
    return {"GOOGLE_APPLICATION_CREDENTIALS": str(key)}


@pytest.fixture(scope="module")  # on the module's emulator (bq_emulator)
def runs(bq_emulator, tmp_path_factory):
    """The fixtures through every layer twice: on DuckDB (in process), and on BigQuery (the emulator) by the
    runner, as `make run PARAMS=params/bigquery.yaml` would."""
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
    loaded = bigquery_load.upload_source_tree(client, FIXTURES, PROJECT, GA4_DATASET, CRM_DATASET)
    uploaded = loaded.pop("_rows")
    timings["bigquery upload"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    folder = tmp_path_factory.mktemp("bq-run")
    params_file = folder / "bigquery.yaml"
    params_file.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in _bq_settings(loaded).items()))
    result = _cli_run(params_file, folder / "reports", env={**os.environ, **_sentinel_credentials(folder)})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    timings["bigquery run"] = time.perf_counter() - t0
    report = folder / "reports" / "latest"
    manifest = json.loads((report / "manifest.json").read_text())
    print("\n[bq-emulator] " + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items()) + " ("
          + ", ".join(f"{n['notebook'][:2]} {n['seconds']:.0f} s" for n in manifest["notebooks"]) + ")")

    params = _bq_params(loaded)
    bq = B.BigQueryEngine.from_params(params, client=client, log=None)
    yield {"duck": duck, "bq": bq, "params": params, "sources": loaded, "uploaded": uploaded, "client": client,
           "params_file": params_file, "report": report, "manifest": manifest, "output": result.stdout + result.stderr}
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


def _audit_by_date(audit: pd.DataFrame) -> pd.DataFrame:
    """The row audit per model, outcome and date: a partition_key `<event_date> <shard>` (BigQuery's
    base__ga4__events, see docs/bigquery.md) summed per its date."""
    key = audit["partition_key"].map(lambda k: k if k is None or pd.isna(k) else (k.split(" ")[0] or None))
    return (audit.assign(partition_key=key).groupby(["model", "outcome", "partition_key"], dropna=False, sort=True)
            ["row_count"].sum().reset_index()[list(audit.columns)])


@pytest.mark.parametrize("table", OUTPUT_TABLES)
def test_every_output_table_equals_the_duckdb_run(runs, table):
    duck, bq = runs["duck"], runs["bq"]
    assert duck.has_table(table), f"{table}: not built on DuckDB"
    assert bq.has_table(table), f"{table}: not built on BigQuery"
    a = duck.query(f"SELECT * FROM {table}")
    b = bq.query(f"SELECT * FROM {bq.relation(table)}")
    if table == models.AUDIT_TABLE:  # BigQuery keeps base__ga4__events' counts per event date and shard
        a, b = _audit_by_date(a), _audit_by_date(b)
    assert list(b.columns) == list(a.columns), f"{table}: columns differ"
    ra, rb = _rows(a), _rows(b)
    assert _kinds(rb, len(b.columns)) == _kinds(ra, len(a.columns)), f"{table}: column types differ"
    only_duck = [r for r in ra if r not in rb][:5]
    only_bq = [r for r in rb if r not in ra][:5]
    assert ra == rb, (f"{table}: {len(ra)} rows on DuckDB, {len(rb)} on BigQuery\n"
                      f"only on DuckDB: {only_duck}\nonly on BigQuery: {only_bq}")
    # the story has no crm/identity_evidence.csv (an optional file; the HubSpot connector's tests fill it)
    assert len(ra) > 0 or table in (ITERATIONS_TABLE, "base__crm__identity_evidence")


@pytest.mark.parametrize("layer", models.LAYERS)
def test_the_data_tests_find_the_same_on_both_engines(runs, layer):
    # the data tests (c360/sql/<layer>/_tests.yml) use short table names: the job's default dataset resolves them
    on_duck = checks.run(runs["duck"], layer, raise_on_error=False)
    on_bq = checks.run(runs["bq"], layer, raise_on_error=False)
    assert len(on_bq) > 0
    pd.testing.assert_frame_equal(on_bq.astype(str), on_duck.astype(str))


def test_connect_reaches_the_emulator_with_anonymous_credentials(runs):
    from google.auth.credentials import AnonymousCredentials

    eng = engines.connect(runs["params"])
    try:
        assert isinstance(eng, B.BigQueryEngine) and eng.emulator
        assert isinstance(eng.client._credentials, AnonymousCredentials)
        assert runs["manifest"]["backend"]["credentials"] == "AnonymousCredentials"  # the runner's, in its process
        assert eng.row_count("base__crm__deals") == runs["duck"].row_count("base__crm__deals")
    finally:
        eng.close()


def test_the_bigquery_run_leaves_no_scratch_table_and_nothing_duckdb_lacks(runs):
    written = {t for t in runs["bq"].tables()  # seeds: uploaded sources; the run lock: a dataset has no lock file
               if not t.startswith("src__seeds__") and t not in ("c360__run_lock", "c360__checksums",
                                                                 "c360__written_partitions")}
    assert set(OUTPUT_TABLES) <= written
    assert not [t for t in written if t.startswith("_")], "a staging or connected-components table was left"
    assert written <= set(runs["duck"].tables())


def test_every_query_job_carried_the_byte_limit_and_the_target_dataset(runs):
    # the kernels' jobs, from the run's job log (jobs/<notebook>.jsonl, gathered in the manifest)
    bq, log = runs["bq"], runs["manifest"]["jobs"]
    checked = 0
    for job in log["jobs"]:
        if job["statement"] == "LOAD" or not job["label"].startswith("_stage__"):
            continue  # one job per model: its CREATE OR REPLACE TABLE
        remote = bq.client.get_job(job["job_id"], location="US")
        assert remote.maximum_bytes_billed == bq.config.maximum_bytes_billed
        assert remote.default_dataset.dataset_id == "c360"
        assert job["estimated_bytes"] is not None, f"{job['label']}: no dry-run estimate logged"
        checked += 1
    sql_models = [m for m in models.discover().values() if m.fn is None]
    assert checked >= len(sql_models)
    assert {j["label"] for j in log["jobs"]} >= {f"_stage__{m.name}" for m in sql_models}
    lines = [line for f in (runs["report"] / "jobs").glob("*.jsonl") for line in f.read_text().splitlines()]
    assert log["count"] == len(log["jobs"]) == len(lines) - 1  # the lock's release is logged after the manifest
    assert log["bytes_billed"] == sum(j["bytes_billed"] or 0 for j in log["jobs"])
    assert {j["notebook"] for j in log["jobs"]} == {nb.stem for nb in notebooks()} | {"runner", "lock"}


@pytest.mark.parametrize("table, partition, cluster", [
    ("base__ga4__events", "event_date", ["user_pseudo_id", "ga_session_id"]),
    ("int__web_sessions", "session_date", ["user_pseudo_id"]),
    ("mrt__marketing__web_sessions", "session_date", ["customer_id", "user_pseudo_id"]),
    ("mrt__core__customer_360", None, ["customer_id"]),
    ("int__identity_resolved", None, ["user_pseudo_id"]),
    ("int__deal_aggregates", None, None),
])
def test_event_and_session_tables_are_partitioned_by_date_and_clustered_by_their_ids(runs, table, partition, cluster):
    got = runs["client"].get_table(f"{PROJECT}.c360.{table}")
    assert (got.time_partitioning.field if got.time_partitioning else None) == partition
    assert got.clustering_fields == cluster


def test_a_date_range_reads_only_its_shards_daily_and_intraday(runs):
    duck = runs["duck"]
    params = _bq_params(runs["sources"], "ga4_start_date=2024-03-27", "ga4_end_date=2024-03-28")
    bq = B.BigQueryEngine.from_params(params, client=runs["client"], log=None)
    got = bq.query(f"SELECT _TABLE_SUFFIX AS shard, COUNT(*) AS n FROM {sources.relation(bq, 'ga4', 'events')} "
                   "GROUP BY 1 ORDER BY 1")
    want = duck.query("SELECT shard, COUNT(*) AS n FROM src__ga4__events WHERE shard IN "
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


# -- the run: reports, manifest, inputs, cost log, credentials


def _outputs(notebook: Path) -> str:
    """The text a notebook's cells printed or displayed (text/plain and text/markdown), one block per output, a
    blank line between blocks."""
    import nbformat

    blocks = []
    for cell in nbformat.read(notebook, as_version=4).cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            blocks.append(out.get("text") or data.get("text/markdown") or data.get("text/plain") or "")
    return "\n\n".join(blocks)


def _frame_rows(text: str, first_column: str) -> list[dict]:
    """The rows of a report table's text form (no index) whose header starts with `first_column`; counts as
    written (12,000) come back without their separators (12000). The table ends at its output's end (a blank
    line)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:1] == [first_column])
    header = lines[start].split()
    rows = []
    for line in lines[start + 1:]:
        cells = line.split()
        if not cells or len(cells) != len(header):
            break
        rows.append({k: v.replace(",", "") if re.fullmatch(r"-?\d{1,3}(,\d{3})+", v) else v
                     for k, v in zip(header, cells)})
    return rows


def test_the_run_renders_every_report_and_records_backend_bigquery(runs):
    report, manifest = runs["report"], runs["manifest"]
    for nb in notebooks():
        assert (report / nb.name).is_file() and (report / nb.with_suffix(".html").name).is_file()
    assert [n["notebook"] for n in manifest["notebooks"]] == [nb.name for nb in notebooks()]
    assert manifest["parameters"]["backend"] == "bigquery"
    backend = manifest["backend"]
    assert (backend["name"], backend["project"], backend["dataset"]) == ("bigquery", PROJECT, "c360")
    assert "CREATE OR REPLACE TABLE" in backend["publish"]
    warehouse = resolve(manifest["parameters"]["warehouse"])  # a duckdb setting: the bigquery run leaves it alone
    assert not warehouse.with_name(f"{warehouse.name}.run-{manifest['run_id']}").exists()
    # each report shows its parameters and the models' dry-run estimates
    first = _outputs(report / "01_base_extraction.ipynb")
    assert f"\n  bigquery_project = {PROJECT}\n" in first
    for model in models.plan("base"):
        if model.fn is None:
            assert f"[bigquery] _stage__{model.name}: dry run estimates" in first
    assert "event dates rebuilt this run" not in first  # incremental bookkeeping is DuckDB-only


def test_the_run_dry_runs_its_models_first_and_the_manifest_sums_each_models_jobs(runs):
    # the budget's plumbing (the emulator estimates and bills 0 bytes: tests/test_bigquery_budget.py checks the
    # arithmetic and the refusal with a fake client, test_bigquery_guard.py the refusal at prepare)
    from c360.dag import budget

    sql_models = {m.name for m in models.discover().values() if m.fn is None}
    manifest = runs["manifest"]
    planned = manifest["budget"]
    assert planned["max_bytes_per_run"] == P.SPEC["bigquery_max_bytes_per_run"].default
    assert {r["model"] for r in planned["models"]} == set(models.discover())
    # a new dataset: only the models that read sources alone can be planned before the first one runs ...
    assert 0 < planned["planned_models"] < len(sql_models)
    # ... and on a dataset that holds every table, every SQL model is (the Python steps never are)
    again = budget.check(runs["bq"], runs["params"], planned["max_bytes_per_run"])
    assert set(again.loc[again["bytes"].notna(), "model"]) == sql_models
    jobs = manifest["jobs"]
    assert set(jobs["by_model"]) == set(models.discover())  # every model was built: its jobs, the Python steps' too
    for name, m in jobs["by_model"].items():
        logged = [j for j in jobs["jobs"] if j.get("model") == name]
        assert m["jobs"] == len(logged) and m["bytes_billed"] == sum(j["bytes_billed"] or 0 for j in logged)
    # a SQL model's jobs: its staging table, the publish, the audit transaction (a script)
    assert {j["statement"] for j in jobs["jobs"] if j.get("model") == "base__crm__deals"} >= {
        "CREATE_TABLE_AS_SELECT", "SCRIPT"}
    assert "slot_ms" in jobs and all("slot_ms" in j for j in jobs["jobs"] if j["statement"] != "LOAD")


def test_the_manifest_counts_and_checksums_every_table_in_bigquery(runs):
    bq, duck, manifest = runs["bq"], runs["duck"], runs["manifest"]
    counts, sums = manifest["row_counts"], manifest["checksums"]
    assert set(counts) == set(sums) == {t for t in bq.tables() if not t.startswith("_c360_test_")  # and the run's
                                        and t not in ("c360__run_lock", "c360__checksums",
                                                      "c360__written_partitions")}  # bookkeeping
    # the row audit is compared per date in test_every_output_table_equals_the_duckdb_run: BigQuery keeps
    # base__ga4__events' counts per event date and shard, so it has a row more per late event's shard
    same = [t for t in OUTPUT_TABLES if t != models.AUDIT_TABLE]
    assert {t: counts[t] for t in same} == {t: duck.row_count(t) for t in same}
    assert {t: sums[t] for t in OUTPUT_TABLES} == bq.checksums(OUTPUT_TABLES)
    assert all(int(sums[t].split(":")[0]) == counts[t] for t in counts)


def test_the_inputs_are_fingerprinted_from_table_metadata(runs):
    manifest, uploaded = runs["manifest"], runs["uploaded"]
    tables = [i for i in manifest["inputs"] if "table" in i]
    ga4 = {f"{PROJECT}.{GA4_DATASET}.{t}": n for t, n in uploaded.items() if t.startswith("events_")}
    crm = {f"{PROJECT}.{CRM_DATASET}.{t}": n for t, n in uploaded.items() if not t.startswith("events_")}
    assert {i["table"]: i["rows"] for i in tables} == {**ga4, **crm}
    assert all(i["bytes"] > 0 and dt.datetime.fromisoformat(i["modified"]) and "sha256" not in i for i in tables)
    seeds = [i for i in manifest["inputs"] if "file" in i]
    assert {Path(i["file"]).name for i in seeds} == {"email_domains.csv", "ga4_source_categories.csv", "currencies.csv"}
    assert all(re.fullmatch(r"[0-9a-f]{64}", i["sha256"]) for i in seeds)
    assert manifest["inputs_fingerprint"] == provenance.combined(manifest["inputs"])
    assert provenance.inputs(runs["params"]) == manifest["inputs"]  # the same metadata, the same fingerprint
    for nb in notebooks():  # every report names the inputs that produced it
        assert f"fingerprint {manifest['inputs_fingerprint'][:16]}" in _outputs(runs["report"] / nb.name)
    narrowed = provenance.inputs({**runs["params"], "ga4_start_date": "2024-03-27", "ga4_end_date": "2024-03-28"})
    assert sorted(i["table"].rsplit(".", 1)[1] for i in narrowed if i.get("source") == "src__ga4__events") == \
        ["events_20240327", "events_intraday_20240327", "events_intraday_20240328"]
    assert provenance.combined(narrowed) != manifest["inputs_fingerprint"]


def test_notebook_01_accounts_for_every_row_read_in_bigquery(runs):
    text = _outputs(runs["report"] / "01_base_extraction.ipynb")
    read = _frame_rows(text, "table")
    rows = {r["table"]: int(r["rows"]) for r in read}
    assert {t: rows.get(f"{PROJECT}.{CRM_DATASET}.{t}", rows.get(f"{PROJECT}.{GA4_DATASET}.{t}"))
            for t in runs["uploaded"]} == runs["uploaded"]
    accounting = {r["model"]: r for r in _frame_rows(text, "model") if "balanced" in r}
    ga4_rows = sum(n for t, n in runs["uploaded"].items() if t.startswith("events_"))
    assert int(accounting["base__ga4__events"]["rows_read"]) == ga4_rows
    assert int(accounting["base__crm__contacts"]["rows_read"]) == runs["uploaded"]["crm__contacts"]
    # every base model that reads one source (base__reporting_currency summarizes two: a single row), but the
    # story's empty base__crm__identity_evidence (no crm/identity_evidence.csv: an empty model has no audit row)
    assert {m.name for m in models.plan("base") if len(models.sources_of(m)) == 1} - {
        "base__crm__identity_evidence"} == set(accounting)
    assert all(r["balanced"] == "True" and r["input"] == r["rows_read"] for r in accounting.values())


def test_no_credential_reaches_a_report_the_manifest_or_the_job_log(runs):
    files = [p for p in runs["report"].rglob("*") if p.is_file()]
    assert len(files) > 2 * len(notebooks())
    leaks = re.compile(r"private_key|client_secret|refresh_token|access_token|authorization|bearer |"
                       + "|".join(map(re.escape, (SENTINEL_KEY, SENTINEL_KEY_ID, "sentinel-service-account"))),
                       re.IGNORECASE)
    for path in files:
        found = leaks.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.name} shows {found.group(0)!r}"
    assert leaks.search(runs["output"]) is None


def test_a_bad_bigquery_parameter_stops_the_run_before_any_kernel(runs, tmp_path):
    cases = [("crm_deals_table=fivetran_hubspot.no_such_table", "crm_deals_table: table test-project."),
             ("bigquery_project=", "needs parameter 'bigquery_project'"),
             ("ga4_end_date=2024-02-30", "'ga4_end_date' is not a date"),
             ("ga4_start_date=2030-01-01", "no events_YYYYMMDD or events_intraday_YYYYMMDD shard")]
    for override, message in cases:
        result = _cli_run(runs["params_file"], tmp_path / "reports", "-p", override)
        assert result.returncode in (2, 3) and message in result.stderr, (override, result.stderr[-2000:])
        assert not (tmp_path / "reports").exists(), f"{override}: a report folder was written"


def test_a_failed_bigquery_run_keeps_the_last_reports_and_its_job_log_and_drops_staging_tables(runs):
    # deals without their columns: the run passes the metadata checks and fails in notebook 01, at the deals model
    client, good = runs["client"], runs["report"].resolve()
    broken = f"{PROJECT}.{CRM_DATASET}._c360_test_deals_without_columns"
    client.query(f"CREATE OR REPLACE TABLE `{broken}` AS SELECT deal_id FROM `{PROJECT}.{CRM_DATASET}.crm__deals`"
                 ).result()
    client.create_dataset(f"{PROJECT}.c360_failed", exists_ok=True)  # with a staging table a failed model left
    client.query(f"CREATE OR REPLACE TABLE `{PROJECT}.c360_failed._stage__base__crm__deals` AS SELECT 1 AS x").result()
    try:
        result = _cli_run(runs["params_file"], runs["report"].parent, "-p", "bigquery_dataset=c360_failed",
                          "-p", f"crm_deals_table={broken.split('.', 1)[1]}")
    finally:
        client.delete_table(broken)
    assert result.returncode == 1 and "01_base_extraction.ipynb failed in cell" in result.stderr, result.stderr[-2000:]
    assert runs["report"].resolve() == good
    [failed] = runs["report"].parent.glob("*.failed")
    assert (failed / "01_base_extraction.ipynb").is_file() and not (failed / "manifest.json").exists()
    logged = [json.loads(line) for line in (failed / "jobs" / "01_base_extraction.jsonl").read_text().splitlines()]
    assert "_stage__base__crm__contacts" in {j["label"] for j in logged}  # the model before the broken one ran
    left = [t.table_id for t in client.list_tables(f"{PROJECT}.c360_failed")]
    assert "base__crm__contacts" in left and not [t for t in left if t.startswith("_stage__")]


def test_the_bigquery_runs_front_page_has_the_duckdb_runs_headline(runs):
    # the front page's figures come from the warehouse through the engine interface: the BigQuery run's (in its
    # manifest, and on its index.html) are the DuckDB warehouse's, figure for figure
    import json as _json
    from decimal import Decimal

    from c360.report.index import headline

    assert (runs["report"] / "index.html").is_file()
    got = runs["manifest"]["headline"]
    want = _json.loads(_json.dumps(headline(runs["duck"], runs["params"]["conversion_window_days"]), default=str))
    assert (got["customers"], got["devices"], got["won"]["deals"]) == (
        want["customers"], want["devices"], want["won"]["deals"]) and want["customers"] > 0
    assert Decimal(got["won"]["revenue"]) == Decimal(want["won"]["revenue"]) > 0
    top = {m["model"]: (m["channel"], Decimal(m["value"])) for m in got["attribution"]["models"]}
    assert top == {m["model"]: (m["channel"], Decimal(m["value"])) for m in want["attribution"]["models"]}
    assert "USD 33,500.00" in (runs["report"] / "index.html").read_text(encoding="utf-8")
