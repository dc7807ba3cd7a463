"""The BigQuery run's guards on the emulator: the dataset's run lock, the publish order of a model's table and
its row-audit rows, and the run's byte budget.

Uses the emulator fixture of tests/test_bigquery_emulator.py (its own instance, stopped with this module) and
small inputs built here, not the whole pipeline, except where the runner itself is the subject (a second run
refused, the lock released after a failed run)."""
from __future__ import annotations

import json
import os

import pytest

from c360 import params as P
from c360.run import errors, publish
from c360.warehouse import bigquery as B
import test_bigquery_emulator as emu
from test_bigquery_emulator import FIXTURES, PROJECT, _bq_settings, _cli_run

bq_emulator = emu.bq_emulator  # the fixture: an emulator of this module's own

pytestmark = [pytest.mark.slow, pytest.mark.bigquery_emulator]


@pytest.fixture(scope="module")
def bq(bq_emulator):
    """An engine on dataset `guard` of the emulator."""
    params = P.load(overrides=[f"{k}={v}" for k, v in _bq_settings({
        "ga4_dataset": "analytics_1", "crm_contacts_table": "crm.contacts", "crm_deals_table": "crm.deals"}).items()]
        + ["bigquery_dataset=guard"])
    engine = B.BigQueryEngine.from_params(params, log=None)
    yield engine
    engine.close()


def _claims(bq) -> list[dict]:
    return bq.query(f"SELECT run_id, holder, expires_at > CURRENT_TIMESTAMP() AS live FROM "
                    f"{bq.relation(publish.LOCK_TABLE)} ORDER BY run_id").to_dict("records")


# 1. the run lock


def test_a_second_claim_is_refused_naming_the_holder_and_the_lock_is_free_once_released(bq):
    first = publish.DatasetLock(bq, "run-a", "dataset guard").acquire()
    try:
        with pytest.raises(errors.RunInProgress, match=r"another run \(pid \d+ on .+, run run-a\) is using dataset "
                                                       r"guard; its lock is c360__run_lock"):
            publish.DatasetLock(bq, "run-b", "dataset guard").acquire()
        assert [c["run_id"] for c in _claims(bq)] == ["run-a"]  # the refused run left no claim
    finally:
        first.release()
    assert _claims(bq) == []
    second = publish.DatasetLock(bq, "run-b", "dataset guard").acquire()
    second.release()


def test_an_expired_claim_is_taken_over_naming_its_holder(bq):
    # a run killed an hour ago: its claim was not renewed and expired
    bq.execute(f"INSERT INTO {bq.relation(publish.LOCK_TABLE)} (run_id, holder, acquired_at, expires_at) VALUES "
               "('run-dead', 'pid 1 on elsewhere, run run-dead', TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 2 HOUR), "
               "TIMESTAMP_SUB(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR))")
    said = []
    lock = publish.DatasetLock(bq, "run-c", "dataset guard", log=said.append).acquire()
    try:
        assert [c["run_id"] for c in _claims(bq)] == ["run-c"]
        assert said == ["[c360] taking over the expired lock of a run that stopped (pid 1 on elsewhere, run "
                        "run-dead): dataset guard"]
    finally:
        lock.release()


def test_two_claims_that_raced_withdraw_the_later_one(bq):
    # a run that inserted its claim while another did (BigQuery does not serialize INSERTs) sees the other's
    # claim when it reads them back, withdraws its own and is refused
    other = publish.DatasetLock(bq, "run-d", "dataset guard").acquire()
    try:
        late = publish.DatasetLock(bq, "run-e", "dataset guard")
        bq.execute(f"INSERT INTO {bq.relation(publish.LOCK_TABLE)} (run_id, holder, acquired_at, expires_at) "
                   "SELECT 'run-e', 'x', CURRENT_TIMESTAMP(), TIMESTAMP_ADD(CURRENT_TIMESTAMP(), INTERVAL 1 HOUR)")
        with pytest.raises(errors.RunInProgress, match="run run-d"):
            late.acquire()
        assert [c["run_id"] for c in _claims(bq)] == ["run-d"]
    finally:
        other.release()


def test_the_claim_is_renewed_while_the_run_lives(bq):
    lock = publish.DatasetLock(bq, "run-f", "dataset guard", ttl_seconds=3).acquire()
    try:
        import time

        time.sleep(5)  # past the first expiry: renewed every second
        assert [c["live"] for c in _claims(bq)] == [True]
    finally:
        lock.release()
    assert _claims(bq) == []


@pytest.fixture(scope="module")
def run_params(bq_emulator, tmp_path_factory):
    """A params file for `python -m c360 run` on the fixtures uploaded to the emulator (target dataset guard_run)."""
    from c360.sources import upload

    loaded = upload.upload_source_tree(B.make_client(PROJECT, "US"), FIXTURES, PROJECT, "analytics_123456789",
                                       "fivetran_hubspot")
    loaded.pop("_rows")
    path = tmp_path_factory.mktemp("guard-run") / "bigquery.yaml"
    settings = {**_bq_settings(loaded), "bigquery_dataset": "guard_run"}
    path.write_text("".join(f"{k}: {json.dumps(v)}\n" for k, v in settings.items()))
    return path


def _engine_on(dataset: str) -> B.BigQueryEngine:
    return B.BigQueryEngine(B.BigQueryConfig(project=PROJECT, dataset=dataset), log=None)


def test_a_run_on_a_locked_dataset_exits_4_naming_the_holder_and_touches_nothing(run_params, tmp_path):
    eng = _engine_on("guard_run")
    eng.execute(f"CREATE OR REPLACE TABLE {eng.relation('_stage__base__crm__deals')} AS SELECT 1 AS x")  # the holder's
    lock = publish.DatasetLock(eng, "run-holding", f"the BigQuery dataset {PROJECT}.guard_run").acquire()
    try:
        result = _cli_run(run_params, tmp_path / "reports")
        assert result.returncode == 4, result.stderr[-2000:]
        assert (f"c360: another run (pid {os.getpid()} on " in result.stderr
                and f"run run-holding) is using the BigQuery dataset {PROJECT}.guard_run" in result.stderr)
        assert not (tmp_path / "reports").exists()
        assert eng.has_table("_stage__base__crm__deals")  # the holder's staging table is left alone
        assert [c["run_id"] for c in _claims(eng)] == ["run-holding"]
    finally:
        lock.release()
        eng.execute(f"DROP TABLE IF EXISTS {eng.relation('_stage__base__crm__deals')}")
        eng.close()


def test_a_failed_run_releases_the_lock_and_leaves_no_staging_table(run_params, tmp_path):
    env = {**os.environ, "C360_FAULT": "fail:base__crm__deals"}  # mid-model: its staging table is written
    result = _cli_run(run_params, tmp_path / "reports", env=env)
    assert result.returncode == 1 and "01_base_extraction.ipynb failed" in result.stderr, result.stderr[-2000:]
    eng = _engine_on("guard_run")
    try:
        assert _claims(eng) == []
        assert not [t for t in eng.tables() if t.startswith("_stage__")]
        [failed] = (tmp_path / "reports").glob("*.failed")
        logged = [json.loads(line) for line in (failed / "jobs" / "lock.jsonl").read_text().splitlines()]
        assert any(j["statement"] == "INSERT" for j in logged)  # the lock's jobs are in the run's job log
    finally:
        eng.close()


# 2. a model's table and its audit rows: published, then audited; a failure at each step leaves them agreeing,
#    or (between the two) disagreeing in a way the next build sees and repairs


def _model(tmp_path):
    from c360.dag.project import Model

    path = tmp_path / "guard__contacts.sql"
    path.write_text("-- grain: one row per contact id; rows flagged bad are dropped (counted)\n"
                    "SELECT id, IF(bad, 'flagged_bad', NULL) AS _drop_reason FROM guard__input\n")
    return Model(name="guard__contacts", layer="base", path=path)


def _load_input(bq, kept: int, bad: int) -> None:
    rows = " UNION ALL ".join([f"SELECT {i} AS id, FALSE AS bad" for i in range(kept)]
                              + [f"SELECT {kept + i} AS id, TRUE AS bad" for i in range(bad)])
    bq.execute(f"CREATE OR REPLACE TABLE {bq.relation('guard__input')} AS {rows}")


def _table_and_audit(bq) -> tuple[int, dict[str, int]]:
    audit = bq.query(f"SELECT outcome, SUM(row_count) AS n FROM {bq.relation('c360__row_audit')} "
                     "WHERE model = 'guard__contacts' GROUP BY 1")
    return bq.row_count("guard__contacts"), {r.outcome: int(r.n) for r in audit.itertuples()}


@pytest.mark.parametrize("point, table_is_new, audit_is_new", [
    ("guard__contacts", False, False),            # the staging table written, nothing published
    ("guard__contacts:published", True, False),   # the table published, its audit rows not yet replaced
    ("guard__contacts:audited", True, True),      # both done (the staging table dropped by the same script)
])
def test_a_failure_at_each_publish_step_leaves_table_and_audit_agreeing_or_repaired(
        bq, tmp_path, monkeypatch, point, table_is_new, audit_is_new):
    from c360.dag import materialize
    from c360.run.backends import BigQueryBackend

    model, params = _model(tmp_path), {}
    _load_input(bq, kept=3, bad=1)
    materialize.build_model(bq, model, params)
    assert _table_and_audit(bq) == (3, {"kept": 3, "flagged_bad": 1})
    assert materialize.audit_agrees(bq, "guard__contacts")

    _load_input(bq, kept=5, bad=2)  # the next run's input
    monkeypatch.setenv("C360_FAULT", f"fail:{point}")
    with pytest.raises(RuntimeError, match=f"C360_FAULT: {point} failed"):
        materialize.build_model(bq, model, params)
    monkeypatch.delenv("C360_FAULT")
    backend = BigQueryBackend.__new__(BigQueryBackend)  # what the runner does after a failure: discard
    backend._engine, backend.lock = bq, object()
    backend.discard()
    assert not [t for t in bq.tables() if t.startswith("_stage__")]

    rows, audit = _table_and_audit(bq)
    assert rows == (5 if table_is_new else 3)
    assert audit == ({"kept": 5, "flagged_bad": 2} if audit_is_new else {"kept": 3, "flagged_bad": 1})
    assert materialize.audit_agrees(bq, "guard__contacts") == (table_is_new == audit_is_new)

    materialize.build_model(bq, model, params)  # the next run rebuilds it: both new
    assert _table_and_audit(bq) == (5, {"kept": 5, "flagged_bad": 2})
    assert materialize.audit_agrees(bq, "guard__contacts")


def test_the_audit_rows_are_replaced_all_or_nothing(bq):
    # the DELETE and INSERT of a model's audit rows are one transaction: an INSERT that fails undoes the DELETE
    audit = bq.relation("c360__row_audit")
    bq.execute(f"CREATE TABLE IF NOT EXISTS {audit} (model STRING, outcome STRING, row_count INT64, "
               "partition_key STRING)")
    bq.execute(f"DELETE FROM {audit} WHERE model = 'guard__tx'")
    bq.execute(f"INSERT INTO {audit} VALUES ('guard__tx', 'kept', 7, NULL)")
    with pytest.raises(Exception, match="boom"):
        bq.execute_atomically([f"DELETE FROM {audit} WHERE model = @model",
                               f"INSERT INTO {audit} SELECT @model, 'kept', IF(TRUE, ERROR('boom'), 1), NULL"],
                              {"model": "guard__tx"})
    assert bq.query(f"SELECT row_count FROM {audit} WHERE model = 'guard__tx'")["row_count"].tolist() == [7]


# 4. the manifest's checksums read only the tables BigQuery modified since they were last taken


def test_checksums_read_only_the_tables_modified_since_they_were_recorded(bq):
    for name, value in (("guard__a", 1), ("guard__b", 2)):
        bq.execute(f"CREATE OR REPLACE TABLE {bq.relation(name)} AS SELECT {value} AS x")
    first, read = bq.checksums_reusing(["guard__a", "guard__b"], "guard__checksums")
    assert read == ["guard__a", "guard__b"] and first == bq.checksums(["guard__a", "guard__b"])
    again, read = bq.checksums_reusing(["guard__a", "guard__b"], "guard__checksums")
    assert read == [] and again == first  # nothing modified: no table read
    ran = len(bq.jobs)
    bq.execute(f"INSERT INTO {bq.relation('guard__b')} VALUES (3)")
    after, read = bq.checksums_reusing(["guard__a", "guard__b"], "guard__checksums")
    assert read == ["guard__b"] and after["guard__a"] == first["guard__a"]
    assert after["guard__b"] == bq.checksums(["guard__b"])["guard__b"] != first["guard__b"]
    checksum_sql = [j for j in bq.jobs[ran:] if j["statement"] == "SELECT" and j["label"] == "query"]
    assert checksum_sql  # the re-read happened in a query job, logged like every other
    bq.execute(f"UPDATE {bq.relation('guard__a')} SET x = 9 WHERE TRUE")  # same rows, same bytes: a new modified
    last, read = bq.checksums_reusing(["guard__a", "guard__b"], "guard__checksums")
    assert read == ["guard__a"] and last["guard__a"] == bq.checksums(["guard__a"])["guard__a"] != first["guard__a"]


def test_a_run_over_its_budget_is_refused_at_prepare_and_releases_the_lock(run_params, tmp_path, monkeypatch):
    # the emulator's dry runs estimate 0 bytes: here each one says 20 GiB (made up), so the models planned on the
    # fixtures (more than two) exceed the 50 GiB default; the runner's own prepare, on the emulator, must refuse
    from c360.dag import budget
    from c360.run.backends import BigQueryBackend

    params = P.load(run_params)
    monkeypatch.setattr(B.BigQueryEngine, "dry_run", lambda self, sql, params=None: 20 * 1024 ** 3)
    backend = BigQueryBackend(params)
    try:
        with pytest.raises(budget.BudgetExceeded, match=r"more than the budget of 53,687,091,200; the largest: "):
            backend.prepare("run-over-budget", tmp_path / "reports" / "x.partial")
    finally:
        backend.release()
    eng = _engine_on("guard_run")
    try:
        assert _claims(eng) == []  # released
    finally:
        eng.close()
