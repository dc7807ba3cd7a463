"""Where a run's notebooks write, and how its result is made final: DuckDBBackend works on a locked copy of
the warehouse file and publishes it only on success; BigQueryBackend replaces each model in the dataset as it is
built (inputs, working target, stats, publish or discard)."""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

from c360 import faults
from c360.paths import resolve
from c360.run.errors import WarehouseError
from c360.run.notebooks import notebooks
from c360.run.publish import (
    DatasetLock,
    acquire_lock,
    checkpoint_wal,
    complete_publish,
    recover,
    release_lock,
    switch_latest,
    warehouse_run_id,
    write_journal,
)
from c360.sources import provenance


class DuckDBBackend:
    """A DuckDB warehouse file. The run takes a lock, works on a copy of the file, and publishes it (a rename)
    only when every notebook succeeded; a failed or killed run leaves the previous file as it was. A warehouse path
    that is a symlink is published at its target (the link stays)."""

    name = "duckdb"
    # a notebook whose inputs did not change is not executed again: its report is copied from the previous run
    # (c360.run.reuse); every kernel_env is the same, so a kernel started for one notebook serves the next
    reuses_reports = True

    def __init__(self, params: dict[str, Any]):
        self.params = params
        self.path = resolve(params["warehouse"])
        self.warehouse = Path(os.path.realpath(self.path))
        self.journal = self.warehouse.with_name(self.warehouse.name + ".publish")
        self.work: Path | None = None
        self.lock: tuple[Path, int] | None = None
        self.run_id = ""

    def inputs(self) -> list[dict]:
        """The source files, checked against the data contract and fingerprinted (sha256)."""
        return provenance.inputs(self.params)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "publish": "the run works on a copy of the warehouse file, renamed over it when "
                "every notebook succeeded"}

    def prepare(self, run_id: str, out_dir: Path) -> dict[str, Any]:
        """Lock the warehouse, finish a publish a killed run left half done, clear a killed run's copy, checkpoint a
        WAL left beside the file, copy it, create the report folder; returns the parameters that point the
        notebooks at the copy."""
        self.lock = acquire_lock(self.warehouse)
        self.run_id = run_id
        recover(self.warehouse)
        for stale in self.warehouse.parent.glob(self.warehouse.name + ".run-*"):
            stale.unlink()
        checkpoint_wal(self.path)
        self.work = self.warehouse.with_name(f"{self.warehouse.name}.run-{run_id}")
        if self.warehouse.exists():
            shutil.copy2(self.warehouse, self.work)
        out_dir.mkdir(parents=True, exist_ok=True)
        return {"warehouse": str(self.work)}

    def kernel_env(self, notebook: str, out_dir: Path) -> dict[str, str]:
        return {}

    def built_by(self) -> str | None:
        """The run that built the warehouse this run started from (its c360__run; None: no warehouse yet)."""
        return warehouse_run_id(self.work) if self.work is not None and self.work.exists() else None

    def model_fingerprints(self) -> dict[str, str]:
        """Every model's fingerprint in the working copy now (c360__model_state; {} before any build). Opened
        read-only, between notebooks (no kernel has it open)."""
        import duckdb

        from c360.dag.state import STATE_TABLE

        if self.work is None or not self.work.exists():
            return {}
        con = duckdb.connect(str(self.work), read_only=True)
        try:
            if not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [STATE_TABLE]).fetchall():
                return {}
            return dict(con.execute(f"SELECT model, fingerprint FROM {STATE_TABLE} ORDER BY model").fetchall())
        finally:
            con.close()

    def reused_loader(self) -> None:
        """The notebook that loads the sources was reused (no input file changed): empty the event dates the
        previous run's load touched (c360__touched_dates), as a load that reads nothing leaves them, so an
        incremental model rebuilt later in the run does not redo those dates."""
        import duckdb

        from c360.sources.contract import TOUCHED_DATES

        if self.work is None or not self.work.exists():
            return
        con = duckdb.connect(str(self.work))
        try:
            if con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = ?", [TOUCHED_DATES]).fetchall():
                con.execute(f"DELETE FROM {TOUCHED_DATES}")
            con.execute("CHECKPOINT")
        finally:
            con.close()

    def stats(self, carried: dict[str, str] | None = None) -> dict[str, Any]:
        """Row counts and content checksums of every table of the working copy (see DuckDBEngine.checksum; those in
        `carried`, tables no executed notebook wrote, as the previous run computed them: c360.run.reuse), every
        model's fingerprint (what the next run compares, c360.run.reuse), the data-test summary and what the
        front page shows (c360.report.index.facts: `headline`, `data_test_rows`); then the run id goes into it
        (c360__run) and it is checkpointed."""
        from c360.warehouse.duckdb import DuckDBEngine

        engine = DuckDBEngine(self.work, memory_limit=self.params.get("duckdb_memory_limit", ""))
        try:
            names = [n for n in engine.tables() if not n.startswith("_stage__") and n != "c360__run"]
            carried = {n: c for n, c in (carried or {}).items() if n in names}
            checksums = {**carried, **engine.checksums([n for n in names if n not in carried])}
            checksums = {n: checksums[n] for n in names}
            from c360.dag import datatests
            from c360.report.index import facts

            from c360.dag.state import stored_fingerprints

            tests = datatests.summary(engine)
            front = facts(engine, self.params)
            fingerprints = dict(sorted(stored_fingerprints(engine).items()))
            engine.native("CREATE OR REPLACE TABLE c360__run AS SELECT ? AS run_id, now() AS built_at", [self.run_id])
            engine.native("CHECKPOINT")  # the file holds everything (no write-ahead log left): it is what publishes
            return {"row_counts": {n: int(c.split(":")[0]) for n, c in checksums.items()}, "checksums": checksums,
                    "checksums_carried": sorted(carried), "model_fingerprints": fingerprints, "data_tests": tests,
                    "warehouse": {"path": str(self.warehouse), "run_id": self.run_id}, **front}
        finally:
            engine.close()

    def publish(self, out_dir: Path) -> Path:
        """Publish the run whose reports and manifest are complete in `out_dir`: check the working copy opens and
        is this run's, write the journal, then (see complete_publish) rename the folder, swap the warehouse,
        switch reports/latest. Returns the report folder."""
        if (built := warehouse_run_id(self.work)) != self.run_id:
            raise WarehouseError(f"the working copy {self.work} is run {built}'s, not {self.run_id}'s")
        final = out_dir.with_name(self.run_id)
        write_journal(self.journal, {"run_id": self.run_id, "partial": str(out_dir), "reports": str(final),
                                      "work": str(self.work), "warehouse": str(self.warehouse)})
        faults.point("publish:journal")
        try:
            complete_publish(self.journal)
        except Exception as e:
            raise WarehouseError(f"publishing run {self.run_id} stopped half way ({type(e).__name__}: {e}); the "
                                 f"next run completes it ({self.journal})") from None
        return final

    def half_published(self) -> bool:
        """This run left a publish journal: the next run completes it (nothing of this run is to be discarded)."""
        with contextlib.suppress(OSError, ValueError):
            return json.loads(self.journal.read_text())["run_id"] == self.run_id
        return False

    def discard(self) -> None:
        if self.work is not None:
            self.work.unlink(missing_ok=True)
            Path(str(self.work) + ".wal").unlink(missing_ok=True)

    def release(self) -> None:
        if self.lock is not None:
            release_lock(*self.lock)
            self.lock = None


CHECKSUMS_TABLE = "c360__checksums"  # BigQuery: each table's checksum with the metadata it was taken at


class BigQueryBackend:
    """A BigQuery dataset. The notebooks write to it directly: each model is published with CREATE OR REPLACE
    TABLE, which BigQuery applies atomically, so a reader sees a model's previous table or its new one, never half
    of one. There is no working copy; the dataset is locked for the run (DatasetLock: a row in c360__run_lock), so
    a second run on it is refused as on DuckDB. A failed run leaves the models it rebuilt new and the others as
    they were (the previous reports stay reports/latest). Every job goes to the run's job log: jobs/<notebook>.jsonl
    in the report folder (jobs/runner.jsonl: the runner's own, the checksums)."""

    name = "bigquery"
    reuses_reports = False  # every model is rebuilt in the dataset each run (no model state): every notebook runs

    def __init__(self, params: dict[str, Any]):
        from c360.warehouse.bigquery import BigQueryConfig

        self.params = params
        self.config = BigQueryConfig.from_params(params)  # names checked before anything connects
        self.jobs_dir: Path | None = None
        self._engine = None
        self.lock: DatasetLock | None = None
        self.budget: dict[str, Any] = {}  # the dry runs before the first model (check_budget)

    def engine(self):
        """This process's engine on the target dataset (created with it, if missing)."""
        from c360.warehouse.bigquery import BigQueryEngine

        if self._engine is None:
            self._engine = BigQueryEngine(self.config, log=None)
        return self._engine

    def inputs(self) -> list[dict]:
        """The source tables and GA4 shards of the date range, by their metadata, and the seed files (sha256)."""
        return provenance.inputs(self.params)

    def describe(self) -> dict[str, Any]:
        from c360.warehouse.bigquery import credentials_kind

        return {"name": self.name, "project": self.config.project, "dataset": self.config.dataset,
                "location": self.config.location, "credentials": credentials_kind(self.engine().client),
                "publish": "each model is replaced atomically in the dataset (CREATE OR REPLACE TABLE) as its "
                "notebook builds it, then its row-audit rows (one transaction); the dataset is locked for the run "
                "(c360__run_lock); a failed run leaves the models it rebuilt new"}

    def prepare(self, run_id: str, out_dir: Path) -> dict[str, Any]:
        """Create the report folder and its job log folder, lock the dataset (raises RunInProgress naming the
        holder) and drop the staging tables a killed run left; the notebooks write to the dataset itself."""
        from c360.warehouse.bigquery import BigQueryEngine

        self.jobs_dir = out_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.engine().job_log = self.jobs_dir / "runner.jsonl"
        # its own client: the lock is renewed from a thread while the runner uses the engine's
        lock_engine = BigQueryEngine(self.config, log=None, create_dataset=False, job_log=self.jobs_dir / "lock.jsonl")
        self.lock = DatasetLock(lock_engine, run_id, f"the BigQuery dataset {self.config.project}.{self.config.dataset}")
        try:
            self.lock.acquire()
        except BaseException:
            self.lock = None
            lock_engine.close()
            raise
        self.discard()  # under the lock: a killed run's staging tables are nobody's
        self.check_budget()
        return {}

    def check_budget(self) -> None:
        """Dry-run every model that can be planned; BudgetExceeded (exit 2) naming the largest when they sum to
        more than bigquery_max_bytes_per_run. The estimates go to jobs/budget.json."""
        from c360 import models  # noqa: F401  (registers the Python steps, which budget.estimate lists)
        from c360.dag import budget

        found = budget.check(self.engine(), self.params, self.config.max_bytes_per_run)
        rows = [{k: (None if v != v else v) for k, v in r.items()} for r in found.to_dict("records")]  # NaN: None
        for r in rows:
            r["bytes"] = None if r["bytes"] is None else int(r["bytes"])
        self.budget = {"max_bytes_per_run": self.config.max_bytes_per_run,
                       "planned_bytes": sum(r["bytes"] or 0 for r in rows),
                       "planned_models": sum(r["bytes"] is not None for r in rows), "models": rows}
        if self.jobs_dir is not None:
            (self.jobs_dir / "budget.json").write_text(json.dumps(self.budget, indent=1) + "\n")

    def kernel_env(self, notebook: str, out_dir: Path) -> dict[str, str]:
        """The notebook's kernel logs its jobs to jobs/<notebook>.jsonl of the report folder `out_dir` (the folder
        `prepare` creates before the notebook runs)."""
        from c360.warehouse.bigquery import JOB_LOG_ENV

        return {JOB_LOG_ENV: str(out_dir / "jobs" / f"{notebook}.jsonl")}

    def built_by(self) -> str | None:
        return None

    def reused_loader(self) -> None:
        """Never called: this backend reuses no report."""

    def model_fingerprints(self) -> dict[str, str]:
        return {}

    def stats(self, carried: dict[str, str] | None = None) -> dict[str, Any]:
        """Row counts and content checksums of every table of the dataset (`carried`: unused, no report is reused) (see BigQueryEngine.checksum; the checksum
        query counts the rows too), the data-test summary, what the front page shows (c360.report.index.facts:
        `headline`, `data_test_rows`), and the run's jobs with their bytes processed and billed."""
        from c360.dag import datatests
        from c360.report.index import facts

        from c360.run.publish import LOCK_TABLE
        from c360.warehouse.base import WRITTEN_PARTITIONS

        engine = self.engine()
        names = [n for n in engine.tables() if not n.startswith("_stage__")
                 and n not in (LOCK_TABLE, CHECKSUMS_TABLE, WRITTEN_PARTITIONS)]
        checksums, read = engine.checksums_reusing(names, CHECKSUMS_TABLE)  # only the tables that changed are read
        return {"row_counts": {n: int(c.split(":")[0]) for n, c in checksums.items()}, "checksums": checksums,
                "checksums_read": read, "checksums_partitions_read": engine.partitions_read,
                "data_tests": datatests.summary(engine), **facts(engine, self.params),
                "jobs": job_summary(self.jobs_dir, [nb.stem for nb in notebooks()] + ["runner", "lock"]),
                "budget": self.budget}

    def publish(self, out_dir: Path) -> Path:
        """Every model was published as it was built: rename the report folder and switch reports/latest."""
        final = out_dir.with_name(out_dir.name.removesuffix(".partial"))
        out_dir.rename(final)
        self.jobs_dir = final / "jobs"
        for engine in (self._engine, self.lock.engine if self.lock else None):  # the lock's release is logged there
            if engine is not None and engine.job_log is not None:
                engine.job_log = self.jobs_dir / engine.job_log.name
        switch_latest(final)
        return final

    def half_published(self) -> bool:
        return False

    def discard(self) -> None:
        """Drop the staging tables a failed model left in the dataset (only while this run holds the lock: a run
        refused by it leaves the holder's tables alone)."""
        if self.lock is None:
            return
        try:
            engine = self.engine()
            for name in engine.tables():
                if name.startswith("_stage__"):
                    engine.execute(f"DROP TABLE IF EXISTS {engine.relation(name)}")
        except Exception as e:  # noqa: BLE001 - the run's own error is the one to report
            print(f"[c360] could not drop the staging tables: {type(e).__name__}", flush=True)

    def release(self) -> None:
        """Release the dataset's lock (at the end of the run, and after a failure), close the engines."""
        try:
            if self.lock is not None:
                self.lock.release()
                self.lock.engine.close()
                self.lock = None
        finally:
            if self._engine is not None:
                self._engine.close()

BACKENDS = {"duckdb": DuckDBBackend, "bigquery": BigQueryBackend}


def job_summary(jobs_dir: Path, parts: list[str]) -> dict[str, Any]:
    """The run's BigQuery jobs from its job log (jobs_dir/<part>.jsonl, in the order of `parts`): each job with the
    part that ran it (label, statement, the dry run's estimate for a model, bytes processed and billed, seconds),
    and the totals, overall and per part."""
    jobs = []
    for part in parts:
        log = jobs_dir / f"{part}.jsonl"
        if log.exists():
            jobs += [{"notebook": part, **json.loads(line)} for line in log.read_text(encoding="utf-8").splitlines()
                     if line.strip()]
    totals = {part: {"jobs": sum(j["notebook"] == part for j in jobs),
                     "bytes_billed": sum(j.get("bytes_billed") or 0 for j in jobs if j["notebook"] == part)}
              for part in parts}
    by_model: dict[str, dict[str, int]] = {}  # the jobs of each model's build (its dry run's estimate among them)
    for j in jobs:
        if j.get("model"):
            m = by_model.setdefault(j["model"], {"jobs": 0, "bytes_processed": 0, "bytes_billed": 0, "slot_ms": 0})
            m["jobs"] += 1
            for key in ("bytes_processed", "bytes_billed", "slot_ms"):
                m[key] += int(j.get(key) or 0)
    return {"count": len(jobs), "bytes_processed": sum(j.get("bytes_processed") or 0 for j in jobs),
            "bytes_billed": sum(j.get("bytes_billed") or 0 for j in jobs),
            "slot_ms": sum(int(j.get("slot_ms") or 0) for j in jobs), "by_notebook": totals, "by_model": by_model,
            "jobs": jobs}
