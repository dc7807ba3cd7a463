"""The BigQuery engine without BigQuery: names, parameters, sources, the dry-run guard (a fake client).

The pipeline itself runs on a local BigQuery emulator in tests/test_bigquery_emulator.py.
"""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from c360 import sources
from c360.warehouse import bigquery as B
from c360.warehouse import dialect
from c360 import warehouse as engines
from c360 import params as P

BQ = ["backend=bigquery", "bigquery_project=my-project", "ga4_dataset=analytics_123456",
      "crm_contacts_table=hubspot.contacts", "crm_deals_table=other-project.hubspot.deals"]


class FakeClient:
    """Records the jobs it is given; a dry run estimates `estimate` bytes."""

    def __init__(self, estimate: int = 0):
        self.estimate = estimate
        self.jobs: list[tuple[str, object]] = []

    def get_dataset(self, _dataset_id):
        return object()

    def get_table(self, table_id):
        """Any table has the data contract's columns of its kind, without the optional ones."""
        from c360.sources.contract import csv_table

        spec = csv_table("src__crm__" + table_id.rsplit(".", 1)[-1]) or csv_table("src__marketing__ad_spend")
        return SimpleNamespace(schema=[SimpleNamespace(name=c) for c in spec.columns if c not in spec.optional_columns])

    def query(self, sql, job_config=None, location=None):
        self.jobs.append((sql, job_config))
        done = SimpleNamespace(total_bytes_processed=self.estimate, total_bytes_billed=0, job_id="j",
                               statement_type="SELECT")
        done.result = lambda: done
        done.to_dataframe = lambda **_: pd.DataFrame({"n": [1]})
        return done

    def close(self):
        pass


def engine(*overrides: str, estimate: int = 0) -> B.BigQueryEngine:
    params = P.load(overrides=[*BQ, *overrides])
    return B.BigQueryEngine.from_params(params, client=FakeClient(estimate), log=None)


@pytest.mark.parametrize("override", [
    "crm_contacts_table=hubspot.contacts`; DROP TABLE x; --",
    "crm_contacts_table=hubspot.contacts; DELETE FROM t",
    "crm_contacts_table=hubspot.con tacts",
    "crm_contacts_table=hubspot.contacts\n",
    "crm_contacts_table=hubspot.'contacts'",
    "crm_contacts_table=a.b.c.d",
    "crm_contacts_table=contacts",
    "ga4_dataset=analytics_1`.x",
    "bigquery_project=my-project`",
    "bigquery_project=My_Project",
    "bigquery_dataset=c360-prod",
    "bigquery_location=US; SELECT 1",
    "ga4_start_date=2024-03-01' OR '1'='1",
])
def test_a_hostile_or_malformed_name_is_refused_before_any_sql(override):
    with pytest.raises(P.ParamError):
        P.load(overrides=[*BQ, override])


def test_names_inside_the_engine_are_checked_too():
    eng = engine()
    assert eng.relation("mrt__core__customer_360") == "`my-project.c360.mrt__core__customer_360`"
    # a contract contacts table without the optional company_domain gets it as NULLs
    assert sources.relation(eng, "crm", "contacts") == ("(SELECT *, CAST(NULL AS STRING) AS company_domain "
                                                        "FROM `my-project.hubspot.contacts`)")
    # a contract deals table without the optional is_won / is_closed gets them as NULLs
    assert sources.relation(eng, "crm", "deals") == ("(SELECT *, CAST(NULL AS BOOL) AS is_won, CAST(NULL AS BOOL) "
                                                     "AS is_closed FROM `other-project.hubspot.deals`)")
    for bad in ("a`b", "x; DROP TABLE y", "t.u", ""):
        with pytest.raises(ValueError):
            eng.relation(bad)
        with pytest.raises(ValueError):
            sources.relation(eng, "crm", bad)
    with pytest.raises(ValueError):
        B.TableName("my-project", "d`s", "t").sql()
    with pytest.raises(P.ParamError):
        B.BigQueryEngine(B.BigQueryConfig(project="p; x", dataset="c360"), client=FakeClient(), log=None).relation("t")


def test_values_travel_as_typed_query_parameters():
    qp = {p.name: p for p in B.query_parameters({
        "won_stages": ["closedwon", "x' OR TRUE --"], "sensitivity_windows_days": [], "conversion_window_days": 90,
        "half_life_days": 7, "email_canonicalization": False, "model": "base__crm__deals"})}
    assert (qp["won_stages"].array_type, qp["won_stages"].values) == ("STRING", ["closedwon", "x' OR TRUE --"])
    assert qp["sensitivity_windows_days"].array_type == "INT64"  # from the spec, though the list is empty
    assert (qp["conversion_window_days"].type_, qp["conversion_window_days"].value) == ("INT64", 90)
    assert (qp["half_life_days"].type_, qp["half_life_days"].value) == ("FLOAT64", 7.0)
    assert qp["email_canonicalization"].type_ == "BOOL"
    assert qp["model"].type_ == "STRING"


def test_ga4_is_read_in_place_from_the_shards_of_the_date_range():
    sql = sources.relation(engine("ga4_start_date=2024-03-01", "ga4_end_date=2024-03-31"), "ga4", "events")
    assert "FROM `my-project.analytics_123456.events_*`" in sql
    assert "_TABLE_SUFFIX AS _TABLE_SUFFIX" in sql  # SELECT * over a wildcard leaves the pseudo-column out
    assert "_TABLE_SUFFIX BETWEEN '20240301' AND '20240331'" in sql
    assert "_TABLE_SUFFIX BETWEEN 'intraday_20240301' AND 'intraday_20240331'" in sql
    unbounded = sources.relation(engine(), "ga4", "events")
    assert "BETWEEN '00000000' AND '99999999'" in unbounded and "'intraday_00000000'" in unbounded
    other = sources.relation(engine("ga4_dataset=ga-export.analytics_9"), "ga4", "events")
    assert "`ga-export.analytics_9.events_*`" in other
    with pytest.raises(P.ParamError, match="after"):
        engine("ga4_start_date=2024-04-01", "ga4_end_date=2024-03-01")


def test_an_absent_optional_source_is_an_empty_table_with_the_contract_columns():
    eng = engine()
    sql = sources.relation(eng, "crm", "form_submissions")
    assert sql.startswith("(SELECT CAST(NULL AS STRING) AS submission_id") and sql.endswith("LIMIT 0)")
    assert "CAST(NULL AS TIMESTAMP) AS submitted_at" in sql
    assert "CAST(NULL AS NUMERIC) AS spend" in sources.relation(eng, "marketing", "ad_spend")
    assert sources.relation(eng, "seeds", "email_domains") == "`my-project.c360.src__seeds__email_domains`"
    table = sources.relation(engine("email_domains_table=ref.domains"), "seeds", "email_domains")
    assert "AS _line FROM `my-project.ref.domains`" in table


def test_backend_bigquery_needs_its_sources_named():
    with pytest.raises(P.ParamError, match="crm_deals_table"):
        B.BigQueryConfig.from_params(P.load(overrides=[*BQ, "crm_deals_table="]))
    with pytest.raises(P.ParamError, match="bigquery_project"):
        B.BigQueryConfig.from_params(P.load(overrides=[*BQ, "bigquery_project="]))
    partial = {k: v for k, v in P.load(overrides=BQ).items() if k != "maximum_bytes_billed"}
    with pytest.raises(P.ParamError, match="maximum_bytes_billed"):
        B.BigQueryConfig.from_params(partial)


def test_a_model_over_maximum_bytes_billed_is_refused_after_its_dry_run():
    eng = engine("maximum_bytes_billed=20000000", estimate=20_000_001)
    with pytest.raises(B.BytesLimitError, match="20,000,001 bytes"):
        eng.replace_table("_stage__base__ga4__events", "SELECT 1 AS x")
    [(sql, config)] = eng.client.jobs  # the dry run only: nothing ran
    assert config.dry_run and sql.startswith("CREATE OR REPLACE TABLE `my-project.c360._stage__base__ga4__events`")


def test_every_job_carries_the_byte_limit_and_the_target_dataset():
    eng = engine("maximum_bytes_billed=20000000", estimate=1000)
    eng.replace_table("t", "SELECT @n AS x", {"n": 1})
    eng.execute("DELETE FROM c360__row_audit WHERE model = @model", {"model": "t", "unused": 1})
    assert len(eng.client.jobs) == 3  # dry run, CREATE OR REPLACE, DELETE: no row count job per model
    for _sql, config in eng.client.jobs:
        assert config.maximum_bytes_billed == 20_000_000
        assert config.default_dataset.dataset_id == "c360" and config.default_dataset.project == "my-project"
    assert [p.name for p in eng.client.jobs[-1][1].query_parameters] == ["model"]
    with pytest.raises(KeyError, match="not supplied"):
        eng.query("SELECT @missing AS x")


def test_transaction_is_a_no_op_context():
    eng = engine()
    with eng.transaction() as inside:
        assert inside is eng


def test_connect_dispatches_on_backend(monkeypatch, tmp_path):
    monkeypatch.setattr(B, "make_client", lambda project, location=None: FakeClient())
    eng = engines.connect(P.load(overrides=BQ))
    assert isinstance(eng, B.BigQueryEngine) and eng.config.location == "US"
    duck = engines.connect(P.load(overrides=[f"warehouse={tmp_path / 'w.duckdb'}"]))
    assert isinstance(duck, engines.DuckDBEngine)
    duck.close()


def test_emulator_endpoint_gets_a_scheme(monkeypatch):
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "127.0.0.1:9050")
    assert B.emulator_host() == "http://127.0.0.1:9050"
    monkeypatch.setenv("BIGQUERY_EMULATOR_HOST", "http://localhost:9")
    assert B.emulator_host() == "http://localhost:9"
    monkeypatch.delenv("BIGQUERY_EMULATOR_HOST")
    assert B.emulator_host() is None


def test_real_bigquery_gets_the_model_sql_unchanged():
    sql = "SELECT *, _TABLE_SUFFIX AS _TABLE_SUFFIX FROM `p-roject.d.events_*` WHERE x = 1"
    assert dialect.to_bigquery(sql) == sql
    assert dialect.to_bigquery("SELECT COUNT(*) AS n FROM t", emulator=True) == "SELECT COUNT(*) AS n FROM t"


def test_the_emulator_fix_up_expands_a_wildcard_with_union_all():
    sql = "SELECT *, _TABLE_SUFFIX AS _TABLE_SUFFIX FROM `p-roject.d.events_*` WHERE _TABLE_SUFFIX > '1'"
    listed = []

    def list_tables(project, dataset):
        listed.append((project, dataset))
        return ["events_20240301", "events_intraday_20240302", "other"]

    out = dialect.to_bigquery(sql, emulator=True, list_tables=list_tables)
    assert listed == [("p-roject", "d")]
    assert out.count("UNION ALL") == 1 and " UNION SELECT" not in out
    assert "'20240301' AS _TABLE_SUFFIX" in out and "'intraday_20240302' AS _TABLE_SUFFIX" in out
    assert "SELECT * EXCEPT (_TABLE_SUFFIX), _TABLE_SUFFIX AS _TABLE_SUFFIX" in out
    with pytest.raises(dialect.DialectError, match="does not match"):
        dialect.to_bigquery(sql, emulator=True, list_tables=lambda p, d: [])


def test_the_example_parameter_file_is_valid():
    params = P.load(P.PARAMS_DIR / "bigquery.example.yaml")
    config = B.BigQueryConfig.from_params(params)
    assert params["backend"] == "bigquery" and config.ga4_dataset.dataset == "analytics_123456789"
    assert config.tables["crm__contacts"].id() == "my-analytics-project.fivetran_hubspot.contacts"
    assert "marketing__ad_spend" not in config.tables


def test_bigquery_flattens_and_dedupes_the_export_in_one_scan():
    # each scan of the export is billed: the events are flattened once and numbered by one window; the only
    # other reference is the shard list, which reads the _TABLE_SUFFIX pseudo-column alone (no bytes)
    from c360 import models
    base = models.discover()["base__ga4__events"]
    sql = models.render(base, engine("ga4_start_date=2024-03-01", "ga4_end_date=2024-03-31"))
    assert sql.count("`my-project.analytics_123456.events_*`") == 2
    assert sql.count("ROW_NUMBER()") == 1 and "repeated_fingerprints" not in sql
    shard_list = sql[sql.index("daily_shards AS ("):sql.index("numbered AS (")]
    # what the shard list takes from the flattened rows: the columns made of _TABLE_SUFFIX, nothing else
    outside = shard_list[:shard_list.index("FROM (")] + shard_list[shard_list.rindex(") AS ev "):]
    assert "shard_date" in outside and "is_intraday" in outside
    assert "event_params" not in outside and "event_fingerprint" not in outside
    duck = models.render(base, None)
    # DuckDB numbers only the rows whose fingerprint repeats, stored beside the view that reads them
    assert "FROM base__ga4__events__copies" in duck and "ROW_NUMBER()" not in duck


# -- the incremental window of base__ga4__events (c360.sources.bigquery.ga4_window), from shard metadata


def _with_shards(stored: dict[str, tuple], now: dict[str, tuple], *overrides: str) -> B.BigQueryEngine:
    """An engine whose c360__loaded_shards holds `stored` and whose export holds `now` (suffix -> rows, bytes,
    modified)."""
    eng = engine(*overrides)
    eng.has_table = lambda name: bool(stored)
    eng.query = lambda sql, params=None: pd.DataFrame(
        [{"shard": s, "rows": r, "bytes": b, "modified": m, "first_event_date": None}
         for s, (r, b, m) in stored.items()], columns=["shard", "rows", "bytes", "modified", "first_event_date"])
    eng.list_table_ids = lambda dataset: ["pseudonymous_users_20240301", *(f"events_{s}" for s in now)]
    eng.table_metadata = lambda table_id, param: dict(zip(("rows", "bytes", "modified"),
                                                          now[table_id.rsplit("events_", 1)[1]]))
    return eng


DAYS = {f"202403{d:02d}": (100 + d, 1000 + d, f"2024-03-{d + 1:02d}T06:00:00+00:00") for d in range(1, 11)}


def test_an_incremental_build_reads_the_shards_from_lookback_days_before_the_newest_one_held():
    from c360.sources import bigquery as reader

    assert reader.ga4_window(_with_shards({}, DAYS), 3) is None  # nothing held yet: a full build
    new_day = {**DAYS, "20240311": (111, 1011, "2024-03-12T06:00:00+00:00")}
    assert reader.ga4_window(_with_shards(DAYS, new_day), 3) == "20240307"  # newest held 03-10, minus 3 days
    assert reader.ga4_window(_with_shards(DAYS, new_day), 0) == "20240310"
    assert reader.ga4_window(_with_shards(DAYS, DAYS), 3) == "20240307"  # nothing new: the window all the same


@pytest.mark.parametrize("change, since", [
    ({"20240302": (102, 1002, "2024-03-11T09:00:00+00:00")}, "20240302"),  # rewritten after it was read
    ({"20240303": (999, 1003, "2024-03-04T06:00:00+00:00")}, "20240303"),  # other rows, same last change
    ({"20240304": None}, "20240304"),  # deleted from the export
])
def test_an_older_shard_that_changed_or_went_away_moves_the_window_back_to_it(change, since):
    from c360.sources import bigquery as reader

    now = {s: m for s, m in {**DAYS, **change}.items() if m is not None}
    assert reader.ga4_window(_with_shards(DAYS, now), 3) == since


def test_the_window_reads_the_export_through_constant_suffix_bounds_inside_the_date_range():
    eng = engine("ga4_start_date=2024-03-05", "ga4_end_date=2024-03-31")
    sql = sources.relation(eng, "ga4", "events", since="20240307")
    assert "_TABLE_SUFFIX BETWEEN '20240307' AND '20240331'" in sql
    assert "_TABLE_SUFFIX BETWEEN 'intraday_20240307' AND 'intraday_20240331'" in sql
    assert "'20240305'" not in sql
    assert "BETWEEN '20240305' AND" in sources.relation(eng, "ga4", "events", since="20240301")  # not before the range


def test_dates_become_sql_constants_and_nothing_else_does():
    from c360.dag.render import date_list

    assert date_list([pd.Timestamp("2024-03-02"), "2024-03-01", "2024-03-02"]) == "(DATE '2024-03-01', DATE '2024-03-02')"
    assert date_list([]) == "(CAST(NULL AS DATE))" and date_list([None], one=True) == "CAST(NULL AS DATE)"
    with pytest.raises(ValueError):
        date_list(["2024-03-01'; DROP TABLE x; --"])
