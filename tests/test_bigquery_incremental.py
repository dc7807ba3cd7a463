"""Incremental runs on BigQuery (the local emulator): the GA4 export arriving a day at a time gives the tables one
full refresh gives, an incremental run reads only the shards inside the lookback window (asserted on the SQL
sent), and a re-run on unchanged inputs rebuilds nothing. The builds run in process, as the notebooks call
them (sources.prepare, then models.build per layer), so every statement sent can be recorded."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from c360 import models, params as P, sources
from c360.sources import upload as bigquery_load
from c360.warehouse import bigquery as B
from test_bigquery_emulator import FIXTURES, PROJECT, _rows, bq_emulator  # noqa: F401  (the module's emulator)

pytestmark = [pytest.mark.slow, pytest.mark.bigquery_emulator]

CRM_DATASET = "fivetran_hubspot"
BOOKKEEPING = ("c360__model_state", "c360__model_definitions", "c360__model_runs", "c360__touched_dates",
               "c360__loaded_shards", "c360__checksums", "c360__written_partitions")


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


def _upload_shards(client, ga4_dataset: str, names: list[str]) -> None:
    """Upload GA4 shard files as the export's tables (the shards already there keep their metadata, as GA4's
    do); the fixtures' own uploader (c360.sources.upload) parses them."""
    from c360.sources.contract import GA4_COLUMNS
    from c360.sources.ga4_files import ga4_export_select, shard_suffix
    from c360.warehouse.duckdb import DuckDBEngine

    scratch = DuckDBEngine(":memory:")
    try:
        for name in names:
            path = FIXTURES / "ga4" / name
            rows = bigquery_load._rows(scratch, f"SELECT {', '.join(GA4_COLUMNS)} FROM ({ga4_export_select([path])}) "
                                                "ORDER BY event_timestamp, event_name")
            bigquery_load._load_json(client, f"{PROJECT}.{ga4_dataset}.events_{shard_suffix(path)}",
                                     bigquery_load.ga4_export_schema(), rows, "US")
    finally:
        scratch.close()


@pytest.fixture(scope="module")
def bq(bq_emulator, tmp_path_factory):  # noqa: F811
    """The emulator's client, and `upload(ga4_dataset, accept)`, `run(ga4_dataset, dataset, *overrides)`."""
    client = B.make_client(PROJECT, "US")
    root = _tree(tmp_path_factory.mktemp("bq-inc"), lambda n: n.startswith("events_20240227"))
    crm = bigquery_load.upload_source_tree(client, root, PROJECT, "analytics_scratch", CRM_DATASET)  # the CRM once
    crm.pop("_rows")
    uploaded: dict[str, set] = {}

    def upload(ga4_dataset: str, accept) -> None:
        """Upload to `ga4_dataset` the shards `accept(name)` takes that it lacks."""
        client.create_dataset(f"{PROJECT}.{ga4_dataset}", exists_ok=True)
        done = uploaded.setdefault(ga4_dataset, set())
        new = sorted(p.name for p in (FIXTURES / "ga4").iterdir() if accept(p.name) and p.name not in done)
        _upload_shards(client, ga4_dataset, new)
        done.update(new)

    def run(ga4_dataset: str, dataset: str, *overrides: str) -> dict:
        """Prepare the sources and build every layer on dataset `dataset`: the build results by layer, the
        statements sent ('sent'), the engine."""
        params = P.load(overrides=["backend=bigquery", f"bigquery_project={PROJECT}", f"bigquery_dataset={dataset}",
                                   f"source_root={FIXTURES}", *(f"{k}={v}" for k, v in crm.items()),
                                   f"ga4_dataset={ga4_dataset}", *overrides])
        recording = Recording(client)
        eng = B.BigQueryEngine.from_params(params, client=recording, log=None)
        sources.prepare(eng, params)
        built = {layer: models.build(eng, layer, params) for layer in models.LAYERS}
        return {**built, "sent": recording.sent, "engine": eng}

    yield {"client": client, "upload": upload, "run": run}


def _stage_sql(sent: list[str], model: str) -> list[str]:
    """The statements that built `model`'s staging table (its dry run and its job send the same text)."""
    return sorted({s for s in sent if f"_stage__{model}`" in s and s.lstrip().startswith("CREATE OR REPLACE TABLE")})


def _suffix_bounds(sql: str) -> list[tuple[str, str]]:
    return re.findall(r"_TABLE_SUFFIX BETWEEN '([^']*)' AND '([^']*)'", sql)


def _flag(built: dict, layer: str, model: str, column: str) -> bool:
    return bool(built[layer].set_index("model").loc[model, column])


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """One full refresh over every shard, on DuckDB (the emulator tests show both engines give the same tables;
    a second BigQuery run would double this module's minutes)."""
    from c360 import warehouse as engines

    params = P.load(overrides=[f"source_root={FIXTURES}", f"warehouse={tmp_path_factory.mktemp('duck') / 'w.duckdb'}",
                               "full_refresh=true"])
    duck = engines.connect(params)
    sources.load_sources(duck, FIXTURES, "fail")
    for layer in models.LAYERS:
        models.build(duck, layer, params)
    yield duck
    duck.close()


def same_as_duckdb(bq_eng, duck) -> None:
    """Every output table of the BigQuery dataset has the DuckDB warehouse's columns and rows (engine-neutral
    cells: test_bigquery_emulator._rows), and the row audit its counts per model and outcome."""
    names = [n for n in bq_eng.tables() if not n.startswith(("_", "src__")) and n not in BOOKKEEPING
             and n != models.AUDIT_TABLE]
    assert set(names) >= {m for m in models.discover()}
    for name in names:
        a, b = duck.query(f"SELECT * FROM {name}"), bq_eng.query(f"SELECT * FROM {bq_eng.relation(name)}")
        assert list(b.columns) == list(a.columns), name
        assert _rows(b) == _rows(a), name
    audit = "SELECT model, outcome, SUM(row_count) AS n FROM {} GROUP BY 1, 2 ORDER BY 1, 2"
    got = bq_eng.query(audit.format(bq_eng.relation(models.AUDIT_TABLE)))
    want = duck.query(audit.format(models.AUDIT_TABLE))
    assert [tuple(r) for r in got.astype(object).itertuples(index=False)] == \
        [tuple(r) for r in want.astype(object).itertuples(index=False)]


def _checksums(eng, names: list[str]) -> dict[str, str]:
    """The manifest's checksums as the runner takes them (only what changed is read), each checked against a
    fresh read of the whole table."""
    got, _ = eng.checksums_reusing(names, "c360__checksums")
    assert got == eng.checksums(names)
    return got


def test_increments_with_late_events_and_a_superseded_intraday_shard_equal_one_full_refresh(bq, full):
    # 1: shards up to 03-15. 2: one day more, 03-16, and the intraday 03-27: the window starts lookback_days (3)
    # before the newest shard held, at 03-12, whose shard holds a late event of 03-11 (data/fixtures/README.md):
    # a partition before the window changes too. 3: the rest: 03-17 to 03-27 (03-17 holds late events of 03-15;
    # the daily 03-27 supersedes the intraday one loaded in 2) and the intraday 03-28.
    steps = [lambda n: _date(n) <= "20240315",
             lambda n: _date(n) <= "20240316" or n.startswith("events_intraday_20240327"), lambda n: True]
    runs, partitioned = [], ["base__ga4__events", "int__web_sessions"]
    for accept in steps:
        bq["upload"]("analytics_inc", accept)
        runs.append(bq["run"]("analytics_inc", "c360_inc"))
        eng = runs[-1]["engine"]
        touched = sorted(str(d) for d in eng.query(f"SELECT event_date FROM {eng.relation('c360__touched_dates')}")
                         ["event_date"])
        _checksums(eng, partitioned)  # equal to a whole read, however many partitions were read
        if len(runs) > 1:  # the manifest's checksum re-read only the partitions the increment wrote
            assert eng.partitions_read["base__ga4__events"] == touched
            assert set(eng.partitions_read["int__web_sessions"]) <= set(touched) | {
                str(d) for d in eng.query(f"SELECT DISTINCT session_date FROM {eng.relation('int__web_sessions')}")
                ["session_date"]}
        else:
            assert eng.partitions_read == {}  # the first: read whole, kept per partition
    assert not _flag(runs[0], "base", "base__ga4__events", "incremental")
    # one new day: the base model read the shards from 03-12 on, daily and intraday, through constant bounds
    # (the flattening reads the export twice: the shard list and the events), and nothing before
    [day2] = _stage_sql(runs[1]["sent"], "base__ga4__events")
    assert set(_suffix_bounds(day2)) == {("20240312", "99999999"), ("intraday_20240312", "intraday_99999999")}
    assert "2024-03-11" in runs[1]["engine"].partitions_read["base__ga4__events"]  # the late event's date
    for later in runs[1:]:
        assert _flag(later, "base", "base__ga4__events", "incremental")
        assert _flag(later, "customer", "int__web_sessions", "incremental")
        assert _flag(later, "base", "base__crm__deals", "unchanged")  # the CRM did not change: kept
    # the last window: 03-17 to 03-26 appeared older than the newest shard held (intraday 03-27): from 03-17 on
    [day3] = _stage_sql(runs[2]["sent"], "base__ga4__events")
    assert set(_suffix_bounds(day3)) == {("20240317", "99999999"), ("intraday_20240317", "intraday_99999999")}
    same_as_duckdb(runs[-1]["engine"], full)
    eng = runs[-1]["engine"]
    outputs = sorted({*models.discover(), models.AUDIT_TABLE})
    increments = _checksums(eng, outputs)

    # a re-run on unchanged inputs: every model kept, none rebuilt, no staging table written, no table modified
    again = bq["run"]("analytics_inc", "c360_inc")
    assert all(again[layer]["unchanged"].all() for layer in models.LAYERS)
    assert not [s for s in again["sent"] if "_stage__" in s]
    assert again["engine"].checksums_reusing(outputs, "c360__checksums") == (increments, [])

    # FULL_REFRESH=1 on the same dataset rebuilds every model from every shard: the same tables, BigQuery to
    # BigQuery (checksums: every row and column, floats to 9 significant digits)
    refreshed = bq["run"]("analytics_inc", "c360_inc", "full_refresh=true")
    for layer in models.LAYERS:
        assert not refreshed[layer]["unchanged"].any() and not refreshed[layer]["incremental"].eq(True).any(), layer
    assert _checksums(refreshed["engine"], outputs) == increments


def test_a_changed_partitioning_or_clustering_drops_and_creates_the_table(bq):
    # BigQuery refuses a CREATE OR REPLACE TABLE that changes either (the emulator allows it: the drop is
    # asserted on the statements sent)
    client = bq["client"]
    recording = Recording(client)
    eng = B.BigQueryEngine.from_params(P.load(overrides=[
        "backend=bigquery", f"bigquery_project={PROJECT}", "bigquery_dataset=c360_layout",
        "ga4_dataset=analytics_full", "crm_contacts_table=x.y", "crm_deals_table=x.z"]), client=recording, log=None)
    eng.execute(f"CREATE OR REPLACE TABLE {eng.relation('t')} PARTITION BY d CLUSTER BY u AS "
                "SELECT DATE '2024-03-01' AS d, 'a' AS u, 1 AS x")
    for layout, dropped in ((" PARTITION BY d CLUSTER BY u", False), (" CLUSTER BY x", True)):
        eng.execute(f"CREATE OR REPLACE TABLE {eng.relation('_stage__t')} AS "
                    "SELECT DATE '2024-03-02' AS d, 'b' AS u, 2 AS x")
        sent = len(recording.sent)
        eng.promote("_stage__t", "t", layout=layout)
        assert any(s.startswith("DROP TABLE `test-project.c360_layout.t`") for s in recording.sent[sent:]) == dropped
    got = client.get_table(f"{PROJECT}.c360_layout.t")
    assert got.time_partitioning is None and got.clustering_fields == ["x"]
    assert eng.query(f"SELECT x FROM {eng.relation('t')}")["x"].tolist() == [2]
