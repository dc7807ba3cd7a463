"""The runner: validated parameters in, notebooks executed in order by papermill, reports, a manifest and a front
page (index.html: c360.report.index) out.

Each notebook runs on a kernel started ahead (c360.run.kernels) and is rendered to HTML while the next runs. The
reports are published (reports/latest) only when every notebook succeeded; what happens to the warehouse is the
backend's part (c360.run.backends), and publishing is all or nothing (c360.run.publish).
"""
from __future__ import annotations

import json
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from c360 import params as P
from c360.paths import PROJ_ROOT, REPORTS
from c360.run import kernels, reuse
from c360.run.backends import BACKENDS
from c360.run.errors import RunFailed, disk_full_named
from c360.run.notebooks import KERNEL, declared_parameters, failed_cell, notebooks, render_html
from c360.run.publish import PID_FILE, clear_dead_partials
from c360.sources import provenance


def new_run_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return now.strftime("%Y%m%dT%H%M%S") + f"-{os.getpid() % 10000:04d}"


def _execute(nb: Path, out_dir: Path, params: dict[str, Any], km, render) -> float:
    """Run one notebook, with the parameters it declares, on kernel `km` (started ahead, c360.run.kernels); hand the
    executed notebook to `render` (HTML, in the background). Returns its seconds."""
    import papermill as pm

    t0 = time.time()
    print(f"[c360] {nb.stem} ...", end="", flush=True)
    target = out_dir / nb.name
    try:
        with disk_full_named(target):
            pm.execute_notebook(str(nb), str(target), parameters=P.for_notebook(params, declared_parameters(nb)),
                                kernel_name=KERNEL, cwd=str(PROJ_ROOT), progress_bar=False, log_output=False, km=km)
    except pm.PapermillExecutionError:
        raise RunFailed(f"{nb.name} failed in {failed_cell(target)}; see {target}") from None
    finally:
        if target.exists():
            render(target)
    seconds = round(time.time() - t0, 2)
    print(f" ok ({seconds:.1f} s)", flush=True)
    return seconds


class Planner:
    """Decides, notebook by notebook, whether to execute it or reuse its report (c360.run.reuse), from the
    previous published run and the warehouse as the notebooks before it left it."""

    def __init__(self, params: dict[str, Any], backend, manifest: dict[str, Any], reports_root: Path):
        from c360 import models

        self.params, self.backend = params, backend
        self.code = reuse.code_key(manifest["code"], manifest["environment"], reuse.package_digest())
        self.inputs = manifest["inputs_fingerprint"]
        self.previous, self.folder = reuse.previous_run(reports_root, backend.built_by())
        self.why_not = ("a full refresh executes every notebook" if params.get("full_refresh")
                        else "" if backend.reuses_reports else "this backend rebuilds every model each run")
        self.models = models
        self.decided: list[tuple[Path, reuse.Decision]] = []
        self._layer_sources = lambda layer: {s for m in models.plan(layer) for s in models.sources_of(m)}

    def watched(self, nb: Path) -> set[str] | None:
        """The models the notebook's report can depend on (reuse.watched_models); None (every model) when it
        builds no layer that can be told."""
        layers = reuse.built_layers(nb)
        if not layers:
            return None
        from c360.paths import SQL_DIR

        code = reuse.notebook_code(nb)
        texts = [code, *(p.read_text(encoding="utf-8") for layer in layers
                         for p in sorted((SQL_DIR / layer).iterdir()) if p.is_file()),
                 *(p.read_text(encoding="utf-8") for p in reuse.imported_modules(code, reuse.PACKAGE))]
        refs = {name: self.models.dependencies(m) for name, m in self.models.discover().items()}
        return reuse.watched_models([m.name for layer in layers for m in self.models.plan(layer)], texts, refs)

    def decide(self, nb: Path) -> reuse.Decision:
        values = P.for_notebook(self.params, declared_parameters(nb))
        inputs = self.inputs if reuse.reads_sources(nb, self._layer_sources) else None
        key = reuse.notebook_key(nb, values, self.code, inputs)
        fingerprints = {} if self.why_not or self.previous is None else self.backend.model_fingerprints()
        decision = reuse.decide(nb.name, key, fingerprints, self.previous, self.folder, self.why_not,
                                self.watched(nb))
        self.decided.append((nb, decision))
        return decision

    def carried(self) -> dict[str, str]:
        """The previous run's checksums of the tables no executed notebook wrote (reuse.carried_checksums): the
        models of layers only reused notebooks build; the source tables when every notebook that loads them was
        reused. None of them when any notebook builds no layer that can be told."""
        reused = [nb for nb, d in self.decided if d.reused_from]
        executed = [nb for nb, d in self.decided if not d.reused_from]
        if not reused or any(not reuse.built_layers(nb) for nb, _ in self.decided):
            return {}
        written = {layer for nb in executed for layer in reuse.built_layers(nb)}
        untouched = {m.name for nb in reused for layer in reuse.built_layers(nb) if layer not in written
                     for m in self.models.plan(layer)}
        if not any(d.key["inputs"] is not None for _, d in self.decided if not d.reused_from):
            untouched |= {s for nb in reused for layer in reuse.built_layers(nb) for s in self._layer_sources(layer)}
        return reuse.carried_checksums(self.previous, untouched)


def _execute_all(nbs: list[Path], out_dir: Path, params: dict[str, Any], backend, ahead: kernels.Ahead,
                 run_id: str, planner: Planner) -> tuple[list, dict[str, Any]]:
    """Run the notebooks in order, each on a fresh kernel from `ahead` (started while the previous notebook ran),
    and render each one to HTML while the next runs; a notebook `planner` finds unchanged is not run: its executed
    notebook and report are copied from the previous run (its kernel serves the next notebook). The backend's row
    counts and checksums are taken while the last one renders. Returns the notebooks' entries (timings, reuse)
    and those stats when every notebook ran and every report is written (or re-raises the first failure once the
    reports written so far are complete: a report that then fails too, e.g. for the same full disk, does not hide
    it)."""
    timings = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="c360-html") as renderer:
        rendered = []
        try:
            for nb in nbs:
                decision = planner.decide(nb)
                if decision.reused_from:
                    seconds = reuse.copy_report(decision, nb.name, out_dir)
                    if decision.key["inputs"] is not None:  # it loads the sources: what it leaves for the others
                        backend.reused_loader()
                    print(f"[c360] {nb.stem}: reused from run {decision.reused_from} ({decision.reason})",
                          flush=True)
                else:
                    km = ahead.take(more=nb != nbs[-1])
                    try:
                        seconds = _execute(nb, out_dir, params, km,
                                           lambda target: rendered.append(renderer.submit(render_html, target,
                                                                                          run_id)))
                    finally:
                        kernels.stop(km)
                timings.append({"notebook": nb.name, "seconds": seconds, "reused_from": decision.reused_from,
                                "reason": decision.reason, "reuse_key": decision.key})
            stats = backend.stats(planner.carried())
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
            started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
            context = {P.RUN_ENV["run_id"]: run_id, P.RUN_ENV["started_at"]: started_at,
                       P.RUN_ENV["warehouse"]: str(params.get("warehouse", ""))}  # the reports' headers say so
            envs = [{**context, **backend.kernel_env(nb.stem, out_dir)} for nb in nbs]
            with (out_dir / "kernels.log").open("a", encoding="utf-8") as log, \
                    kernels.Ahead(KERNEL, PROJ_ROOT, envs, log) as ahead:
                manifest: dict[str, Any] = {
                    "run_id": run_id, "started_at": started_at,
                    "parameters": params, "code": provenance.code_version(), "environment": provenance.environment(),
                    "inputs": backend.inputs(), "notebooks": [],
                }
                manifest["inputs_fingerprint"] = provenance.combined(manifest["inputs"])
                run_params = {**params, **backend.prepare(run_id, out_dir)}
                prepared = True
                previous = previous_manifest(reports_root)  # after prepare: the lock is held, a half publish done
                manifest["previous_run"] = previous.get("run_id") if previous else None
                clear_dead_partials(reports_root)  # after prepare: a half-done publish's folder is its to finish
                manifest["backend"] = backend.describe()
                planner = Planner(params, backend, manifest, reports_root)
                manifest["notebooks"], stats = _execute_all(nbs, out_dir, run_params, backend, ahead, run_id,
                                                            planner)
                test_rows = stats.pop("data_test_rows", [])
                manifest.update(stats)
                manifest["checksum_excluded"] = _checksum_excluded(manifest.get("checksums") or {})
            _write_manifest(out_dir, manifest, started)
            _write_index(out_dir, manifest, test_rows, previous)
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
    with disk_full_named(out_dir / "manifest.json"):
        (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str) + "\n")
    (out_dir / PID_FILE).unlink()


def previous_manifest(reports_root: Path) -> dict[str, Any] | None:
    """The manifest of the run reports/latest shows (read before this run publishes over it); None when there is
    none, or it cannot be read (a warning says so)."""
    path = reports_root / "latest" / "manifest.json"
    if not path.exists():
        return None
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        print(f"[c360] the previous run's manifest {path} cannot be read ({type(e).__name__}): no comparison",
              flush=True)
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("run_id") else None


def _checksum_excluded(checksums: dict[str, str]) -> dict[str, str]:
    """The bookkeeping tables of this run whose checksums comparisons leave out (c360.report.compare), and why."""
    from c360.report.compare import CHECKSUM_EXCLUDED

    return {name: why for name, why in CHECKSUM_EXCLUDED.items() if name in checksums}


def _write_index(out_dir: Path, manifest: dict[str, Any], test_rows: list[dict],
                 previous: dict[str, Any] | None = None) -> None:
    """The run's front page, index.html beside the reports (c360.report.index), with what changed since `previous`
    (the previous run's manifest): it moves with the folder."""
    from c360.report.index import write_index  # the report layer loads pandas: not before the first kernel

    with disk_full_named(out_dir / "index.html"):
        write_index(out_dir, manifest, manifest.get("headline") or {}, test_rows, previous)


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
