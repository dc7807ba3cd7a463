"""The runner: validated parameters in, notebooks executed in order by papermill, reports and a manifest out.

The reports are published (reports/latest) only when every notebook succeeded. What happens to the warehouse is
the backend's part (DuckDBBackend, BigQueryBackend: inputs, working target, stats, publish or discard): on DuckDB
a run works on a locked copy of the warehouse file and publishes it only on success, so a failed run leaves the
previous tables as they were; on BigQuery each model is replaced atomically in the dataset as it is built.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from c360 import kernels, params as P, provenance
from c360.paths import NOTEBOOKS, PROJ_ROOT, REPORTS, resolve

KERNEL = "python3"


class RunFailed(RuntimeError):
    """A notebook failed; the message names the notebook and the cell."""


def notebooks() -> list[Path]:
    """The pipeline's notebooks, in order (NN_name.ipynb)."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def declared_parameters(notebook: Path) -> list[str]:
    """The names a notebook's `parameters` cell declares."""
    import papermill as pm  # about 1 s to import: the runner starts the first kernel before (see run)

    return list(pm.inspect_notebook(str(notebook)).keys())


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid() % 10000:04d}"


def _render_html(ipynb: Path) -> Path:
    from nbconvert import HTMLExporter
    import nbformat

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(nbformat.read(ipynb, as_version=4))
    html = ipynb.with_suffix(".html")
    html.write_text(body, encoding="utf-8")
    return html


def _failed_cell(nb_path: Path) -> str:
    import nbformat

    nb = nbformat.read(nb_path, as_version=4)
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                return f"cell {i} ({out.get('ename')}: {out.get('evalue')}){_hint(out.get('evalue') or '')}"
    return "an unknown cell"


def _hint(error: str) -> str:
    """What to do about an error a user can fix with a parameter."""
    if "Out of Memory" in error:
        return ("; DuckDB ran out of the memory duckdb_memory_limit allows: raise it (make run "
                "DUCKDB_MEMORY_LIMIT=4GB) or give its temporary folder more disk")
    return ""


class RunInProgress(RuntimeError):
    """Another run holds the warehouse."""


def _lock(warehouse: Path) -> Path:
    """Take the warehouse for this run; clear what a killed run left behind (its copy of the warehouse)."""
    lock = warehouse.with_name(warehouse.name + ".lock")
    if lock.exists():
        try:
            pid = int(lock.read_text().strip())
            os.kill(pid, 0)
            raise RunInProgress(f"another run (pid {pid}) is using {warehouse}; remove {lock} if it is not")
        except (ValueError, ProcessLookupError):
            pass
    for stale in warehouse.parent.glob(warehouse.name + ".run-*"):
        stale.unlink()
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.write_text(str(os.getpid()))
    return lock


# -- backends: where the notebooks write, and how a run's result is made final


class DuckDBBackend:
    """A DuckDB warehouse file. The run takes a lock, works on a copy of the file, and publishes it (a rename)
    only when every notebook succeeded; a failed or killed run leaves the previous file as it was."""

    name = "duckdb"

    def __init__(self, params: dict[str, Any]):
        self.params = params
        self.warehouse = resolve(params["warehouse"])
        self.work: Path | None = None
        self.lock: Path | None = None

    def inputs(self) -> list[dict]:
        """The source files, checked against the data contract and fingerprinted (sha256)."""
        return provenance.inputs(self.params)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "publish": "the run works on a copy of the warehouse file, renamed over it when "
                "every notebook succeeded"}

    def prepare(self, run_id: str, out_dir: Path) -> dict[str, Any]:
        """Lock the warehouse, copy it, create the report folder; returns the parameters that point the notebooks
        at the copy."""
        self.lock = _lock(self.warehouse)
        self.work = self.warehouse.with_name(f"{self.warehouse.name}.run-{run_id}")
        if self.warehouse.exists():
            shutil.copy2(self.warehouse, self.work)
        out_dir.mkdir(parents=True, exist_ok=True)
        return {"warehouse": str(self.work)}

    def kernel_env(self, notebook: str, out_dir: Path) -> dict[str, str]:
        return {}

    def stats(self) -> dict[str, Any]:
        """Row counts and content checksums of every table of the working copy (see DuckDBEngine.checksum)."""
        from c360.engine import DuckDBEngine

        engine = DuckDBEngine(self.work, memory_limit=self.params.get("duckdb_memory_limit", ""))
        try:
            engine.native("CHECKPOINT")  # the file holds everything (no write-ahead log left): it is what publishes
            checksums = engine.checksums([n for n in engine.tables() if not n.startswith("_stage__")])
            return {"row_counts": {n: int(c.split(":")[0]) for n, c in checksums.items()}, "checksums": checksums}
        finally:
            engine.close()

    def publish(self) -> None:
        os.replace(self.work, self.warehouse)

    def discard(self) -> None:
        if self.work is not None:
            self.work.unlink(missing_ok=True)
            Path(str(self.work) + ".wal").unlink(missing_ok=True)

    def release(self) -> None:
        if self.lock is not None:
            self.lock.unlink(missing_ok=True)


class BigQueryBackend:
    """A BigQuery dataset. The notebooks write to it directly: each model is published with CREATE OR REPLACE
    TABLE, which BigQuery applies atomically, so a reader sees a model's previous table or its new one, never half
    of one. There is no working copy and no lock: a failed run leaves the models it rebuilt new and the others as
    they were (the previous reports stay reports/latest). Every job goes to the run's job log: jobs/<notebook>.jsonl
    in the report folder (jobs/runner.jsonl: the runner's own, the checksums)."""

    name = "bigquery"

    def __init__(self, params: dict[str, Any]):
        from c360.bigquery import BigQueryConfig

        self.params = params
        self.config = BigQueryConfig.from_params(params)  # names checked before anything connects
        self.jobs_dir: Path | None = None
        self._engine = None

    def engine(self):
        """This process's engine on the target dataset (created with it, if missing)."""
        from c360.bigquery import BigQueryEngine

        if self._engine is None:
            self._engine = BigQueryEngine(self.config, log=None)
        return self._engine

    def inputs(self) -> list[dict]:
        """The source tables and GA4 shards of the date range, by their metadata, and the seed files (sha256)."""
        return provenance.inputs(self.params)

    def describe(self) -> dict[str, Any]:
        from c360.bigquery import credentials_kind

        return {"name": self.name, "project": self.config.project, "dataset": self.config.dataset,
                "location": self.config.location, "credentials": credentials_kind(self.engine().client),
                "publish": "each model is replaced atomically in the dataset (CREATE OR REPLACE TABLE) as its "
                "notebook builds it; no working copy, no lock; a failed run leaves the models it rebuilt new"}

    def prepare(self, run_id: str, out_dir: Path) -> dict[str, Any]:
        """Create the report folder and its job log folder; the notebooks write to the dataset itself."""
        self.jobs_dir = out_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self.engine().job_log = self.jobs_dir / "runner.jsonl"
        return {}

    def kernel_env(self, notebook: str, out_dir: Path) -> dict[str, str]:
        """The notebook's kernel logs its jobs to jobs/<notebook>.jsonl of the report folder `out_dir` (the folder
        `prepare` creates before the notebook runs)."""
        from c360.bigquery import JOB_LOG_ENV

        return {JOB_LOG_ENV: str(out_dir / "jobs" / f"{notebook}.jsonl")}

    def stats(self) -> dict[str, Any]:
        """Row counts and content checksums of every table of the dataset (see BigQueryEngine.checksum; the checksum
        query counts the rows too), and the run's jobs with their bytes processed and billed."""
        engine = self.engine()
        names = [n for n in engine.tables() if not n.startswith("_stage__")]
        checksums = engine.checksums(names)
        return {"row_counts": {n: int(c.split(":")[0]) for n, c in checksums.items()}, "checksums": checksums,
                "jobs": job_summary(self.jobs_dir, [nb.stem for nb in notebooks()] + ["runner"])}

    def publish(self) -> None:
        """Nothing left to do: every model was published as it was built."""

    def discard(self) -> None:
        """Drop the staging tables a failed model left in the dataset."""
        try:
            engine = self.engine()
            for name in engine.tables():
                if name.startswith("_stage__"):
                    engine.execute(f"DROP TABLE IF EXISTS {engine.relation(name)}")
        except Exception as e:  # noqa: BLE001 - the run's own error is the one to report
            print(f"[c360] could not drop the staging tables: {type(e).__name__}", flush=True)

    def release(self) -> None:
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
    return {"count": len(jobs), "bytes_processed": sum(j.get("bytes_processed") or 0 for j in jobs),
            "bytes_billed": sum(j.get("bytes_billed") or 0 for j in jobs), "by_notebook": totals, "jobs": jobs}


def _execute(nb: Path, out_dir: Path, params: dict[str, Any], km, render) -> float:
    """Run one notebook, with the parameters it declares, on kernel `km` (started ahead, c360.kernels); hand the
    executed notebook to `render` (HTML, in the background). Returns its seconds."""
    import papermill as pm

    t0 = time.time()
    print(f"[c360] {nb.stem} ...", end="", flush=True)
    target = out_dir / nb.name
    try:
        pm.execute_notebook(str(nb), str(target), parameters=P.for_notebook(params, declared_parameters(nb)),
                            kernel_name=KERNEL, cwd=str(PROJ_ROOT), progress_bar=False, log_output=False, km=km)
    except pm.PapermillExecutionError:
        raise RunFailed(f"{nb.name} failed in {_failed_cell(target)}; see {target}") from None
    finally:
        if target.exists():
            render(target)
    seconds = round(time.time() - t0, 2)
    print(f" ok ({seconds:.1f} s)", flush=True)
    return seconds


def _execute_all(nbs: list[Path], out_dir: Path, params: dict[str, Any], backend, ahead: kernels.Ahead
                 ) -> tuple[list, dict[str, Any]]:
    """Run the notebooks in order, each on a fresh kernel from `ahead` (started while the previous notebook ran),
    and render each one to HTML while the next runs; the backend's row counts and checksums are taken while the
    last one renders. Returns the notebooks' timings and those stats when every notebook ran and every report is
    written (or re-raises the first failure once the reports written so far are complete)."""
    timings = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="c360-html") as renderer:
        rendered = []
        try:
            for nb in nbs:
                km = ahead.take()
                try:
                    seconds = _execute(nb, out_dir, params, km,
                                       lambda target: rendered.append(renderer.submit(_render_html, target)))
                finally:
                    kernels.stop(km)
                timings.append({"notebook": nb.name, "seconds": seconds})
            stats = backend.stats()
        finally:
            for job in rendered:
                job.result()
    return timings, stats


def run(params: dict[str, Any], reports_root: Path = REPORTS) -> Path:
    """Execute every notebook with its declared parameters; return the run's report folder.

    The first notebook's kernel boots while the inputs are checked and the warehouse is prepared (its messages,
    and every later kernel's, go to kernels.log in the report folder); a run stopped before any notebook ran
    leaves no report folder.

    Raises:
        BadInputError: the inputs break the data contract (checked before any notebook runs).
        ParamError: a BigQuery name is malformed or a source table does not exist (before any notebook runs).
        RunFailed: a notebook failed (the previous reports stay; see the backend for the warehouse).
    """
    started = time.time()
    run_id = new_run_id()
    backend = BACKENDS[params["backend"]](params)
    nbs = notebooks()
    out_dir = reports_root / f"{run_id}.partial"
    created = [d for d in (out_dir, *out_dir.parents) if not d.exists()]  # what this run makes, deepest first
    out_dir.mkdir(parents=True, exist_ok=True)
    prepared = False
    try:
        with (out_dir / "kernels.log").open("a", encoding="utf-8") as log, \
                kernels.Ahead(KERNEL, PROJ_ROOT, [backend.kernel_env(nb.stem, out_dir) for nb in nbs], log) as ahead:
            manifest: dict[str, Any] = {
                "run_id": run_id, "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "parameters": params, "code": provenance.code_version(), "environment": provenance.environment(),
                "inputs": backend.inputs(), "notebooks": [],
            }
            manifest["inputs_fingerprint"] = provenance.combined(manifest["inputs"])
            try:
                run_params = {**params, **backend.prepare(run_id, out_dir)}
                prepared = True
                manifest["backend"] = backend.describe()
                manifest["notebooks"], stats = _execute_all(nbs, out_dir, run_params, backend, ahead)
                manifest.update(stats)
                backend.publish()
            except BaseException:
                backend.discard()  # a working copy, even one prepare left half-written
                if prepared:
                    print(" FAILED", flush=True)
                raise
            finally:
                backend.release()
    except BaseException:
        if prepared:
            out_dir.rename(reports_root / f"{run_id}.failed")
        else:  # nothing ran: no trace, not even the folders this run created for its reports
            shutil.rmtree(out_dir, ignore_errors=True)
            for folder in created[1:]:
                if folder.exists() and not any(folder.iterdir()):
                    folder.rmdir()
        raise
    manifest["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest["seconds"] = round(time.time() - started, 2)
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    final = reports_root / run_id
    out_dir.rename(final)
    latest = reports_root / "latest"
    tmp_link = reports_root / f".latest-{run_id}"
    tmp_link.symlink_to(final.name)
    os.replace(tmp_link, latest)
    return final
