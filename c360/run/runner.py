"""The runner: validated parameters in, notebooks executed in order by papermill, reports and a manifest out.

The reports are published (reports/latest) only when every notebook succeeded. What happens to the warehouse is
the backend's part (DuckDBBackend, BigQueryBackend: inputs, working target, stats, publish or discard): on DuckDB
a run works on a locked copy of the warehouse file and publishes it only on success, so a failed run leaves the
previous tables as they were; on BigQuery each model is replaced atomically in the dataset as it is built.

Publishing is all or nothing: every report and the manifest are written first (reports/<run_id>.partial), then a
publish journal (<warehouse>.publish) names the run, and only then are the folder renamed, the warehouse swapped and
reports/latest switched. A run killed in between leaves the journal; the next run completes it (see _recover).
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from c360 import faults, params as P
from c360.run import kernels
from c360.sources import provenance
from c360.paths import NOTEBOOKS, PROJ_ROOT, REPORTS, resolve

KERNEL = "python3"


class RunFailed(RuntimeError):
    """A notebook failed; the message names the notebook and the cell."""


class DiskFull(RunFailed):
    """No space left on device while a notebook, its report or the manifest was written; the message names it."""


class WarehouseError(RuntimeError):
    """The warehouse file cannot be copied or published as it is; the message names the file."""


PID_FILE = ".pid"  # in a running run's report folder: its process id (see _clear_dead_partials)


@contextlib.contextmanager
def _disk_full_named(path: Path):
    """Turn an OSError ENOSPC into DiskFull naming `path` (or the file the error names)."""
    try:
        yield
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        raise DiskFull(f"no space left on device writing {e.filename or path}") from None


def _read_notebook(path: Path):
    """An executed notebook; one cut short (a write stopped by a full disk) raises DiskFull naming it."""
    import nbformat

    try:
        return nbformat.read(path, as_version=4)
    except nbformat.reader.NotJSONError:
        free = shutil.disk_usage(path.parent).free // 2**20
        raise DiskFull(f"{path} is truncated: no space left on device? ({free} MiB free there)") from None


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

    exporter = HTMLExporter(exclude_input=True, exclude_input_prompt=True, exclude_output_prompt=True)
    body, _ = exporter.from_notebook_node(_read_notebook(ipynb))
    html = ipynb.with_suffix(".html")
    with _disk_full_named(html):
        html.write_text(body, encoding="utf-8")
    return html


def _failed_cell(nb_path: Path) -> str:
    nb = _read_notebook(nb_path)
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def _holder(lock: Path) -> str:
    """The lock holder as its file names it (the holder writes its pid just after taking the lock)."""
    for _ in range(20):
        with contextlib.suppress(OSError):
            if pid := lock.read_text().strip():
                return f"pid {pid}"
        time.sleep(0.05)
    return "pid unknown"


def _lock(warehouse: Path) -> tuple[Path, int]:
    """Take the warehouse for this run: an exclusive flock on <warehouse>.lock, held until `_unlock` (the kernel
    drops it when the process dies, so the lock of a killed run is taken over, naming it). Returns the lock and its
    open descriptor."""
    lock = warehouse.with_name(warehouse.name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise RunInProgress(f"another run ({_holder(lock)}) is using {warehouse}; its lock is {lock}") from None
        with contextlib.suppress(FileNotFoundError):
            if os.stat(lock).st_ino == os.fstat(fd).st_ino:
                break
        os.close(fd)  # its holder removed the file between our open and flock: take the new one
    if previous := os.read(fd, 32).decode(errors="replace").strip():
        print(f"[c360] taking over the lock of a run that died (pid {previous}): {lock}", flush=True)
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return lock, fd


def _unlock(lock: Path, fd: int) -> None:
    lock.unlink(missing_ok=True)  # while still held: a run that opened the old file sees it gone (see _lock)
    os.close(fd)


def _clear_dead_partials(reports_root: Path) -> None:
    """Rename the report folders of runs that died mid-run (<run_id>.partial whose process is gone) to .failed."""
    for folder in sorted(reports_root.glob("*.partial")):
        try:
            pid = int((folder / PID_FILE).read_text())
        except (OSError, ValueError):  # a folder just created, or by an older c360: by its age
            pid = None if time.time() - folder.stat().st_mtime > 60 else os.getpid()
        if pid is None or not _alive(pid):
            failed = folder.with_name(folder.name.removesuffix(".partial") + ".failed")
            with contextlib.suppress(OSError):
                folder.rename(failed)
                print(f"[c360] a run that died left {folder.name}: renamed {failed.name}", flush=True)


def warehouse_run_id(path: Path) -> str | None:
    """The run that built the warehouse file (its c360__run table; None before runs recorded it). Opens it
    read-only; raises WarehouseError naming the file if it does not open."""
    import duckdb

    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as e:
        raise WarehouseError(f"the warehouse {path} does not open: {e}") from None
    try:
        if not con.execute("SELECT 1 FROM duckdb_tables() WHERE table_name = 'c360__run'").fetchall():
            return None
        return con.execute("SELECT run_id FROM c360__run").fetchone()[0]
    finally:
        con.close()


def check_published(warehouse: Path, latest: Path) -> str:
    """The run id the published warehouse and reports/latest share; raises WarehouseError if they belong to
    different runs or the warehouse does not open."""
    built = warehouse_run_id(warehouse)
    reported = json.loads((latest / "manifest.json").read_text())["run_id"]
    if built != reported:
        raise WarehouseError(f"the warehouse {warehouse} is run {built}'s but {latest} shows run {reported}")
    return built


def _checkpoint_wal(path: Path) -> None:
    """Fold a committed write-ahead log left beside the warehouse (a session that died before its checkpoint) into
    the file before it is copied; raises WarehouseError naming the log if it cannot."""
    import duckdb

    for base in dict.fromkeys([path, Path(os.path.realpath(path))]):
        wal = Path(f"{base}.wal")
        if not wal.exists():
            continue
        print(f"[c360] checkpointing {wal}, left by a session that did not close", flush=True)
        try:
            con = duckdb.connect(str(base))
            con.execute("CHECKPOINT")
            con.close()
        except duckdb.Error as e:
            raise WarehouseError(f"{wal} is left beside the warehouse and cannot be checkpointed ({e}); close the "
                                 f"session that has {base} open, or remove {wal} to drop its changes") from None
        if wal.exists():
            raise WarehouseError(f"{wal} is still there after a checkpoint of {base}; remove it to drop its changes")


def _switch_latest(folder: Path) -> None:
    """Point reports/latest (beside `folder`) at `folder`, atomically."""
    tmp = folder.parent / f".latest-{folder.name}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(folder.name)
    os.replace(tmp, folder.parent / "latest")


def _write_journal(journal: Path, entry: dict[str, str]) -> None:
    tmp = journal.with_name(journal.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, indent=1) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, journal)


def _complete_publish(journal: Path) -> None:
    """Do what the journal says, each step skipped if done (a killed run's journal is completed by the next run):
    the report folder renamed to reports/<run_id>, the working copy over the warehouse, reports/latest switched,
    both checked to belong to the run; then remove the journal."""
    entry = json.loads(journal.read_text())
    partial, final = Path(entry["partial"]), Path(entry["reports"])
    work, warehouse = Path(entry["work"]), Path(entry["warehouse"])
    if partial.exists():
        partial.rename(final)
    if work.exists():
        os.replace(work, warehouse)
    faults.point("publish:warehouse")
    _switch_latest(final)
    check_published(warehouse, final.parent / "latest")
    journal.unlink()


def _recover(warehouse: Path) -> None:
    """Finish the publish a killed run left half done (its journal), or undo it when its reports are gone."""
    journal = warehouse.with_name(warehouse.name + ".publish")
    if not journal.exists():
        return
    entry = json.loads(journal.read_text())
    if not Path(entry["partial"]).exists() and not Path(entry["reports"]).exists() and Path(entry["work"]).exists():
        print(f"[c360] rolling back the publish of run {entry['run_id']}: its reports are gone", flush=True)
        Path(entry["work"]).unlink()
        journal.unlink()
        return
    print(f"[c360] completing the publish of run {entry['run_id']}, which a killed run left half done", flush=True)
    _complete_publish(journal)


# -- backends: where the notebooks write, and how a run's result is made final


class DuckDBBackend:
    """A DuckDB warehouse file. The run takes a lock, works on a copy of the file, and publishes it (a rename)
    only when every notebook succeeded; a failed or killed run leaves the previous file as it was. A warehouse path
    that is a symlink is published at its target (the link stays)."""

    name = "duckdb"

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
        self.lock = _lock(self.warehouse)
        self.run_id = run_id
        _recover(self.warehouse)
        for stale in self.warehouse.parent.glob(self.warehouse.name + ".run-*"):
            stale.unlink()
        _checkpoint_wal(self.path)
        self.work = self.warehouse.with_name(f"{self.warehouse.name}.run-{run_id}")
        if self.warehouse.exists():
            shutil.copy2(self.warehouse, self.work)
        out_dir.mkdir(parents=True, exist_ok=True)
        return {"warehouse": str(self.work)}

    def kernel_env(self, notebook: str, out_dir: Path) -> dict[str, str]:
        return {}

    def stats(self) -> dict[str, Any]:
        """Row counts and content checksums of every table of the working copy (see DuckDBEngine.checksum); then
        the run id goes into it (c360__run) and it is checkpointed."""
        from c360.warehouse.duckdb import DuckDBEngine

        engine = DuckDBEngine(self.work, memory_limit=self.params.get("duckdb_memory_limit", ""))
        try:
            checksums = engine.checksums([n for n in engine.tables()
                                          if not n.startswith("_stage__") and n != "c360__run"])
            from c360.dag import datatests

            tests = datatests.summary(engine)
            engine.native("CREATE OR REPLACE TABLE c360__run AS SELECT ? AS run_id, now() AS built_at", [self.run_id])
            engine.native("CHECKPOINT")  # the file holds everything (no write-ahead log left): it is what publishes
            return {"row_counts": {n: int(c.split(":")[0]) for n, c in checksums.items()}, "checksums": checksums,
                    "data_tests": tests, "warehouse": {"path": str(self.warehouse), "run_id": self.run_id}}
        finally:
            engine.close()

    def publish(self, out_dir: Path) -> Path:
        """Publish the run whose reports and manifest are complete in `out_dir`: check the working copy opens and
        is this run's, write the journal, then (see _complete_publish) rename the folder, swap the warehouse,
        switch reports/latest. Returns the report folder."""
        if (built := warehouse_run_id(self.work)) != self.run_id:
            raise WarehouseError(f"the working copy {self.work} is run {built}'s, not {self.run_id}'s")
        final = out_dir.with_name(self.run_id)
        _write_journal(self.journal, {"run_id": self.run_id, "partial": str(out_dir), "reports": str(final),
                                      "work": str(self.work), "warehouse": str(self.warehouse)})
        faults.point("publish:journal")
        try:
            _complete_publish(self.journal)
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
            _unlock(*self.lock)
            self.lock = None


class BigQueryBackend:
    """A BigQuery dataset. The notebooks write to it directly: each model is published with CREATE OR REPLACE
    TABLE, which BigQuery applies atomically, so a reader sees a model's previous table or its new one, never half
    of one. There is no working copy and no lock: a failed run leaves the models it rebuilt new and the others as
    they were (the previous reports stay reports/latest). Every job goes to the run's job log: jobs/<notebook>.jsonl
    in the report folder (jobs/runner.jsonl: the runner's own, the checksums)."""

    name = "bigquery"

    def __init__(self, params: dict[str, Any]):
        from c360.warehouse.bigquery import BigQueryConfig

        self.params = params
        self.config = BigQueryConfig.from_params(params)  # names checked before anything connects
        self.jobs_dir: Path | None = None
        self._engine = None

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
        from c360.warehouse.bigquery import JOB_LOG_ENV

        return {JOB_LOG_ENV: str(out_dir / "jobs" / f"{notebook}.jsonl")}

    def stats(self) -> dict[str, Any]:
        """Row counts and content checksums of every table of the dataset (see BigQueryEngine.checksum; the checksum
        query counts the rows too), and the run's jobs with their bytes processed and billed."""
        from c360.dag import datatests

        engine = self.engine()
        names = [n for n in engine.tables() if not n.startswith("_stage__")]
        checksums = engine.checksums(names)
        return {"row_counts": {n: int(c.split(":")[0]) for n, c in checksums.items()}, "checksums": checksums,
                "data_tests": datatests.summary(engine),
                "jobs": job_summary(self.jobs_dir, [nb.stem for nb in notebooks()] + ["runner"])}

    def publish(self, out_dir: Path) -> Path:
        """Every model was published as it was built: rename the report folder and switch reports/latest."""
        final = out_dir.with_name(out_dir.name.removesuffix(".partial"))
        out_dir.rename(final)
        _switch_latest(final)
        return final

    def half_published(self) -> bool:
        return False

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
    """Run one notebook, with the parameters it declares, on kernel `km` (started ahead, c360.run.kernels); hand the
    executed notebook to `render` (HTML, in the background). Returns its seconds."""
    import papermill as pm

    t0 = time.time()
    print(f"[c360] {nb.stem} ...", end="", flush=True)
    target = out_dir / nb.name
    try:
        with _disk_full_named(target):
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
    written (or re-raises the first failure once the reports written so far are complete: a report that then fails
    too, e.g. for the same full disk, does not hide it)."""
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
        except BaseException:
            wait(rendered)
            raise
        for job in rendered:
            job.result()
    return timings, stats


def run(params: dict[str, Any], reports_root: Path = REPORTS) -> Path:
    """Execute every notebook with its declared parameters; return the run's report folder.

    The first notebook's kernel boots while the inputs are checked and the warehouse is prepared (its messages,
    and every later kernel's, go to kernels.log in the report folder); a run stopped before any notebook ran
    leaves no report folder. Report folders of runs that died (.partial) are renamed .failed.

    Raises:
        BadInputError: the inputs break the data contract (checked before any notebook runs).
        ParamError: a BigQuery name is malformed or a source table does not exist (before any notebook runs).
        RunFailed: a notebook failed (the previous reports stay; see the backend for the warehouse); DiskFull:
            no space left on device.
        WarehouseError: the warehouse cannot be copied or published (a publish stopped half way is completed by
            the next run).
    """
    started = time.time()
    run_id = new_run_id()
    backend = BACKENDS[params["backend"]](params)
    nbs = notebooks()
    out_dir = reports_root / f"{run_id}.partial"
    created = [d for d in (out_dir, *out_dir.parents) if not d.exists()]  # what this run makes, deepest first
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / PID_FILE).write_text(str(os.getpid()))
    prepared = False
    try:
        try:
            envs = [backend.kernel_env(nb.stem, out_dir) for nb in nbs]
            with (out_dir / "kernels.log").open("a", encoding="utf-8") as log, \
                    kernels.Ahead(KERNEL, PROJ_ROOT, envs, log) as ahead:
                manifest: dict[str, Any] = {
                    "run_id": run_id, "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                    "parameters": params, "code": provenance.code_version(), "environment": provenance.environment(),
                    "inputs": backend.inputs(), "notebooks": [],
                }
                manifest["inputs_fingerprint"] = provenance.combined(manifest["inputs"])
                run_params = {**params, **backend.prepare(run_id, out_dir)}
                prepared = True
                _clear_dead_partials(reports_root)  # after prepare: a half-done publish's folder is its to finish
                manifest["backend"] = backend.describe()
                manifest["notebooks"], stats = _execute_all(nbs, out_dir, run_params, backend, ahead)
                manifest.update(stats)
            _write_manifest(out_dir, manifest, started)
            return backend.publish(out_dir)
        except BaseException:
            if not backend.half_published():
                backend.discard()  # a working copy, even one prepare left half-written
            if prepared:
                print(" FAILED", flush=True)
            raise
        finally:
            backend.release()
    except BaseException as e:
        if not backend.half_published():  # else the journal names the folder: the next run publishes it
            _keep_failed(e, out_dir, reports_root / f"{run_id}.failed", prepared, created)
        raise


def _write_manifest(out_dir: Path, manifest: dict[str, Any], started: float) -> None:
    manifest["finished_at"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    manifest["seconds"] = round(time.time() - started, 2)
    with _disk_full_named(out_dir / "manifest.json"):
        (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    (out_dir / PID_FILE).unlink()


def _keep_failed(error: BaseException, out_dir: Path, failed: Path, prepared: bool, created: list[Path]) -> None:
    """After a failure: a run that prepared keeps its folder as <run_id>.failed (the error's paths follow it); one
    stopped before leaves nothing, not even the folders it created (`created`, deepest first)."""
    if prepared:
        if not out_dir.exists():
            return
        out_dir.rename(failed)
        if isinstance(error, RunFailed):
            error.args = (str(error).replace(str(out_dir), str(failed)),)
        return
    shutil.rmtree(out_dir, ignore_errors=True)
    for folder in created[1:]:
        if folder.exists() and not any(folder.iterdir()):
            folder.rmdir()
