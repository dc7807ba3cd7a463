"""The runner: validated parameters in, notebooks executed in order by papermill, reports and a manifest out.

A run works on a copy of the warehouse and publishes it, with its reports, only when every notebook
succeeded: a failed run leaves the previous run's tables and reports as they were.
"""
from __future__ import annotations

import json
import os
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import papermill as pm

from c360 import provenance, sources
from c360.paths import NOTEBOOKS, PROJ_ROOT, REPORTS, resolve

KERNEL = "python3"


class RunFailed(RuntimeError):
    """A notebook failed; the message names the notebook and the cell."""


def notebooks() -> list[Path]:
    """The pipeline's notebooks, in order (NN_name.ipynb)."""
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def declared_parameters(notebook: Path) -> list[str]:
    """The names a notebook's `parameters` cell declares."""
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
                return f"cell {i} ({out.get('ename')}: {out.get('evalue')})"
    return "an unknown cell"


def _table_stats(warehouse: Path) -> tuple[dict[str, int], dict[str, str]]:
    """Row counts and content checksums of every table (see DuckDBEngine.checksum)."""
    from c360.engine import DuckDBEngine

    engine = DuckDBEngine(warehouse, read_only=True)
    try:
        names = [n for n in engine.tables() if not n.startswith("_stage__")]
        return {n: engine.row_count(n) for n in names}, {n: engine.checksum(n) for n in names}
    finally:
        engine.con.close()


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


def _checkpoint(warehouse: Path) -> None:
    import duckdb

    con = duckdb.connect(str(warehouse))
    con.execute("CHECKPOINT")
    con.close()


def run(params: dict[str, Any], reports_root: Path = REPORTS) -> Path:
    """Execute every notebook with its declared parameters; return the run's report folder.

    Raises:
        BadInputError: the source tree breaks the data contract (checked before any kernel starts).
        RunFailed: a notebook failed (the previous warehouse and reports stay as they were).
    """
    started = time.time()
    run_id = new_run_id()
    source_root = resolve(params["source_root"])
    files = sources.preflight(source_root)
    manifest: dict[str, Any] = {
        "run_id": run_id, "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "parameters": params, "code": provenance.code_version(), "environment": provenance.environment(),
        "inputs": provenance.fingerprints(files), "notebooks": [],
    }
    manifest["inputs_fingerprint"] = provenance.combined(manifest["inputs"])

    warehouse = resolve(params["warehouse"])
    lock = _lock(warehouse)
    work = warehouse.with_name(f"{warehouse.name}.run-{run_id}")
    if warehouse.exists():
        shutil.copy2(warehouse, work)
    out_dir = reports_root / f"{run_id}.partial"
    out_dir.mkdir(parents=True, exist_ok=True)
    run_params = {**params, "warehouse": str(work)}
    try:
        for nb in notebooks():
            t0 = time.time()
            print(f"[c360] {nb.stem} ...", end="", flush=True)
            target = out_dir / nb.name
            wanted = {k: run_params[k] for k in declared_parameters(nb) if k in run_params}
            try:
                pm.execute_notebook(str(nb), str(target), parameters=wanted, kernel_name=KERNEL,
                                    cwd=str(PROJ_ROOT), progress_bar=False, log_output=False)
            except pm.PapermillExecutionError:
                raise RunFailed(f"{nb.name} failed in {_failed_cell(target)}; see {target}") from None
            finally:
                if target.exists():
                    _render_html(target)
            seconds = round(time.time() - t0, 2)
            manifest["notebooks"].append({"notebook": nb.name, "seconds": seconds})
            print(f" ok ({seconds:.1f} s)", flush=True)
        _checkpoint(work)
        manifest["row_counts"], manifest["checksums"] = _table_stats(work)
        os.replace(work, warehouse)
    except BaseException:
        work.unlink(missing_ok=True)
        Path(str(work) + ".wal").unlink(missing_ok=True)
        out_dir.rename(reports_root / f"{run_id}.failed")
        print(" FAILED", flush=True)
        raise
    finally:
        lock.unlink(missing_ok=True)
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
