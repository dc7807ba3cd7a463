"""What produced a run: code version, input fingerprints (c360.sources.fingerprint), environment. Written to every
report and manifest."""
from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from typing import Any

from c360.paths import PROJ_ROOT
from c360.sources.fingerprint import combined, fingerprints, summary  # noqa: F401  (what reports show)


def code_version() -> dict:
    """The git commit of the code, and whether the work tree has uncommitted changes."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=PROJ_ROOT, capture_output=True, text=True,
                                  timeout=10, check=True).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    sha = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no")) if sha else None
    return {"git_sha": sha or "unknown", "dirty": dirty, "c360": metadata.version("c360")}


def environment() -> dict:
    """Versions of the tools whose behaviour shapes the numbers."""
    return {"python": platform.python_version(),
            **{pkg: metadata.version(pkg) for pkg in ("duckdb", "sqlglot", "pandas", "papermill")}}


def inputs(params: dict[str, Any]) -> list[dict]:
    """A run's inputs, fingerprinted. duckdb: every source file (sha256, see `fingerprints`). bigquery: every
    source table and GA4 shard of the date range by its metadata (id, rows, bytes, last modified; no query job),
    then the seed files it uploads (sha256).

    Raises:
        BadInputError: the source tree breaks the data contract, or no GA4 shard is in the date range.
        ParamError: a BigQuery source table or dataset does not exist.
    """
    from c360 import sources  # the readers: pandas and the engines, imported when a run needs its inputs

    return sources.inputs(params)
