"""The BigQuery run's byte budget (bigquery_max_bytes_per_run) without BigQuery: a fake client whose dry runs
estimate what the test says, since the emulator estimates and bills 0 bytes for every job (so its runs test the
plumbing, tests/test_bigquery_guard.py, and these the arithmetic and the refusal)."""
from __future__ import annotations

import json
import re
from types import SimpleNamespace

import pandas as pd
import pytest

from c360 import models  # noqa: F401  (registers the Python steps)
from c360 import params as P
from c360.dag import budget
from c360.warehouse import bigquery as B

GiB = 1024 ** 3
BQ = ["backend=bigquery", "bigquery_project=my-project", "ga4_dataset=analytics_123456",
      "crm_contacts_table=hubspot.contacts", "crm_deals_table=hubspot.deals"]


class EstimatingClient:
    """A fake BigQuery client: a dry run estimates `sizes[t]` bytes for each table t its SQL names (the GA4 export,
    `events_*`, is a wildcard), and rejects SQL that reads a c360 model (not built yet: a first run); a real job
    bills `billed` bytes and reports `slot_ms`."""

    def __init__(self, sizes: dict[str, int], billed: int = 0, slot_ms: int = 0):
        self.sizes, self.billed, self.slot_ms = sizes, billed, slot_ms
        self.jobs: list[tuple[str, object]] = []

    def get_dataset(self, _dataset_id):
        return object()

    def get_table(self, table_id):
        """The CRM tables have the data contract's required columns (the run reads their schema); no other table
        exists yet (a first run)."""
        from google.api_core.exceptions import NotFound

        from c360.sources.contract import csv_table

        kind = {"hubspot.contacts": "src__crm__contacts", "hubspot.deals": "src__crm__deals"}
        spec = next((csv_table(k) for t, k in kind.items() if table_id.endswith(t)), None)
        if spec is None:
            raise NotFound(table_id)
        return SimpleNamespace(schema=[SimpleNamespace(name=c) for c in spec.columns if c not in spec.optional_columns])

    def list_tables(self, _dataset_id):
        return []

    def query(self, sql, job_config=None, location=None):
        from google.api_core.exceptions import NotFound

        self.jobs.append((sql, job_config))
        if job_config.dry_run:
            if re.search(r"`my-project\.c360\.(base|int|mrt)__", sql):
                raise NotFound("Table my-project:c360.x was not found")
            estimate = sum(size for table, size in self.sizes.items() if table in sql)
            return SimpleNamespace(total_bytes_processed=estimate)
        done = SimpleNamespace(total_bytes_processed=self.billed, total_bytes_billed=self.billed, job_id="j",
                               statement_type="SELECT", slot_millis=self.slot_ms)
        done.result = lambda: done
        done.to_dataframe = lambda **_: pd.DataFrame({"n": [1]})
        return done

    def close(self):
        pass


def _engine(client, *overrides: str, job_log=None) -> tuple[B.BigQueryEngine, dict]:
    params = P.load(overrides=[*BQ, *overrides])
    return B.BigQueryEngine.from_params(params, client=client, log=None, job_log=job_log), params


def test_the_default_budget_is_50_gib_and_it_has_a_floor():
    assert P.load(overrides=BQ)["bigquery_max_bytes_per_run"] == 50 * GiB
    with pytest.raises(P.ParamError, match="bigquery_max_bytes_per_run"):
        P.load(overrides=[*BQ, "bigquery_max_bytes_per_run=1000"])


def test_a_run_whose_dry_runs_exceed_the_budget_is_refused_naming_the_largest_models_and_nothing_runs():
    # the export 45 GiB, the contacts 6 GiB: the base models reading them sum to 51 GiB > 50 GiB (the deals are
    # read by base__crm__deals, which also reads models a first run has not built: not planned)
    client = EstimatingClient({"analytics_123456.events_": 45 * GiB, "hubspot.contacts": 6 * GiB,
                               "hubspot.deals": 8 * GiB})
    eng, params = _engine(client)
    said = []
    with pytest.raises(budget.BudgetExceeded) as refused:
        budget.check(eng, params, params["bigquery_max_bytes_per_run"], log=said.append)
    message = str(refused.value)
    assert f"estimate {51 * GiB:,} bytes processed, more than the budget of {50 * GiB:,}" in message
    assert "the largest: base__ga4__events 45.00 GiB, base__crm__contacts 6.00 GiB. Narrow" in message
    assert isinstance(refused.value, P.ParamError)  # the command line exits 2, before any notebook
    assert all(config.dry_run for _, config in client.jobs)  # dry runs only: nothing was run, nothing billed


def test_under_the_budget_the_estimates_are_kept_and_unplannable_models_named():
    client = EstimatingClient({"analytics_123456.events_": 40 * GiB, "hubspot.contacts": 8 * GiB})
    eng, params = _engine(client)
    said = []
    found = budget.check(eng, params, 60 * GiB, log=said.append).set_index("model")
    assert found.loc["base__ga4__events", "bytes"] == 40 * GiB
    assert found.loc["base__crm__contacts", "bytes"] == 8 * GiB
    assert pd.isna(found.loc["int__identity_components_pass1", "bytes"])  # a Python step
    assert found.loc["int__identity_components_pass1", "why"] == "Python step"
    assert pd.isna(found.loc["mrt__core__customer_360", "bytes"])  # reads models a first run has not built
    assert "NotFound" in found.loc["mrt__core__customer_360", "why"]
    assert said and "48.00 GiB estimated" in said[0]


def test_every_job_carries_what_the_run_has_left_of_its_budget(tmp_path):
    # the run's notebooks log their jobs beside each other; 45 GiB billed so far of a 50 GiB budget leaves 5 GiB,
    # less than maximum_bytes_billed (10 GiB): the next job carries 5 GiB
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    (jobs / "01_base_extraction.jsonl").write_text(
        json.dumps({"label": "q", "bytes_billed": 30 * GiB}) + "\n" + json.dumps({"label": "q", "bytes_billed": None})
        + "\n")
    (jobs / "runner.jsonl").write_text(json.dumps({"label": "q", "bytes_billed": 15 * GiB}) + "\n")
    client = EstimatingClient({}, billed=GiB, slot_ms=1234)
    eng, _ = _engine(client, job_log=jobs / "02_identity_resolution.jsonl")
    eng.execute("SELECT 1")
    assert client.jobs[-1][1].maximum_bytes_billed == 5 * GiB
    logged = json.loads((jobs / "02_identity_resolution.jsonl").read_text())
    assert (logged["bytes_billed"], logged["slot_ms"]) == (GiB, 1234)
    eng.execute("SELECT 1")  # the job just logged billed 1 GiB more: 4 GiB left
    assert client.jobs[-1][1].maximum_bytes_billed == 4 * GiB
    # the runner's log now says 25 GiB: 30 + 25 + the two jobs of 1 GiB = 57 GiB billed, over the 50 GiB budget
    (jobs / "runner.jsonl").write_text(json.dumps({"label": "q", "bytes_billed": 25 * GiB}) + "\n")
    sent = len(client.jobs)
    with pytest.raises(B.RunBudgetError, match=f"billed {57 * GiB:,} bytes"):
        eng.execute("SELECT 1")
    assert len(client.jobs) == sent  # refused before it was sent


def test_jobs_inside_a_models_build_are_logged_as_that_models(tmp_path):
    client = EstimatingClient({}, billed=100, slot_ms=7)
    eng, _ = _engine(client, job_log=tmp_path / "nb.jsonl")
    with eng.job_label("base__crm__deals"):
        eng.execute("SELECT 1")
        eng.execute("SELECT 2")
    eng.execute("SELECT 3")
    from c360.run.backends import job_summary

    summary = job_summary(tmp_path, ["nb"])
    assert summary["by_model"] == {"base__crm__deals": {"jobs": 2, "bytes_processed": 200, "bytes_billed": 200,
                                                        "slot_ms": 14}}
    assert (summary["bytes_billed"], summary["slot_ms"]) == (300, 21)


def test_notebook_01s_cost_table_sums_each_models_jobs_and_the_rest():
    # slot time and bytes are what BigQuery reports per job; the emulator reports none, so these are made up here
    from c360.report import job_costs

    jobs = [{"model": "base__ga4__events", "bytes_processed": 900, "bytes_billed": 1000, "slot_ms": 50},
            {"model": "base__ga4__events", "bytes_processed": 100, "bytes_billed": 0, "slot_ms": 5},
            {"model": "base__crm__deals", "bytes_processed": 30, "bytes_billed": 10485760, "slot_ms": None},
            {"label": "query", "bytes_processed": 7, "bytes_billed": 10485760, "slot_ms": 2},
            {"label": "LOAD", "bytes_processed": 0, "bytes_billed": 0}]
    table = job_costs(jobs)
    assert table.to_dict("records") == [
        {"model": "base__crm__deals", "jobs": 1, "bytes_processed": 30, "bytes_billed": 10485760, "slot_ms": 0},
        {"model": "base__ga4__events", "jobs": 2, "bytes_processed": 1000, "bytes_billed": 1000, "slot_ms": 55},
        {"model": "(other jobs)", "jobs": 2, "bytes_processed": 7, "bytes_billed": 10485760, "slot_ms": 2},
        {"model": "total", "jobs": 5, "bytes_processed": 1037, "bytes_billed": 20972520, "slot_ms": 57}]
    assert job_costs([]).empty
