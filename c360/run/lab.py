"""`make lab`: JupyterLab on the notebooks, working on a scratch copy of the published warehouse.

A notebook run by hand in JupyterLab rebuilds models with its own parameters' defaults; on the published
warehouse that would leave it out of step with reports/latest. So `make lab` copies the published warehouse to
build/lab.duckdb (when there is no copy yet, or the published one is newer: a run published since) and starts
JupyterLab with C360_LAB_WAREHOUSE naming the copy; the notebooks' parameters (report.stage_params) then write to
the copy, never to the published file. Runs and `make golden` drop the variable (c360.run.cli): the notebooks they
execute never see it.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from c360.params import LAB_WAREHOUSE_ENV
from c360.paths import PROJ_ROOT, display

SCRATCH = PROJ_ROOT / "build" / "lab.duckdb"


def refresh_scratch(published: Path, scratch: Path = SCRATCH) -> str:
    """Make `scratch` a copy of the published warehouse when it is missing or older than it (what a lab session
    wrote to it since is then dropped); leave it otherwise. The published file is only read. Returns what was
    done, as a sentence."""
    if not published.exists():
        return f"no published warehouse at {display(published)} yet (make run builds it)"
    if scratch.exists() and scratch.stat().st_mtime_ns >= published.stat().st_mtime_ns:
        return f"{display(scratch)} is up to date with {display(published)} (kept, with what the lab wrote to it)"
    scratch.parent.mkdir(parents=True, exist_ok=True)
    tmp = scratch.with_name(scratch.name + ".copying")
    shutil.copy2(published, tmp)  # its modification time too: the copy is as new as what it copies
    Path(f"{scratch}.wal").unlink(missing_ok=True)  # a lab session's log belongs to the copy it replaces
    os.replace(tmp, scratch)
    return f"copied {display(published)} to {display(scratch)}"


def start(published: Path, jupyter_args: list[str], scratch: Path = SCRATCH) -> None:
    """Refresh the scratch copy, say so, and replace this process with JupyterLab on notebooks/, its kernels
    pointed at the copy (LAB_WAREHOUSE_ENV)."""
    import sys

    print(f"c360: {refresh_scratch(published, scratch)}; the notebooks write to {display(scratch)}, never to "
          f"{display(published)}", flush=True)
    env = {**os.environ, LAB_WAREHOUSE_ENV: str(scratch)}
    argv = [sys.executable, "-m", "jupyter", "lab", f"--notebook-dir={PROJ_ROOT / 'notebooks'}", *jupyter_args]
    os.execve(sys.executable, argv, env)
