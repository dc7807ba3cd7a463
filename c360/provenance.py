"""What produced a run: code version, input fingerprints, environment. Written to every report and manifest."""
from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

from c360.paths import PROJ_ROOT, display, resolve

_CACHE = PROJ_ROOT / "build" / ".fingerprints.json"


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


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, read now."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprints(files: list[Path]) -> list[dict]:
    """sha256, size and path of each input file; cached by (path, size, mtime) so re-runs do not re-hash."""
    try:
        cache = json.loads(_CACHE.read_text())
    except (OSError, ValueError):
        cache = {}
    out = []
    for path in sorted(files):
        st = path.stat()
        key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        digest = cache.get(key) or file_sha256(path)
        cache[key] = digest
        out.append({"file": display(path), "bytes": st.st_size, "sha256": digest})
    try:
        _CACHE.parent.mkdir(parents=True, exist_ok=True)
        _CACHE.write_text(json.dumps(cache))
    except OSError:
        pass
    return out


def inputs(params: dict[str, Any]) -> list[dict]:
    """A run's inputs, fingerprinted. duckdb: every source file (sha256, see `fingerprints`). bigquery: every
    source table and GA4 shard of the date range by its metadata (id, rows, bytes, last modified; no query job),
    then the seed files it uploads (sha256).

    Raises:
        BadInputError: the source tree breaks the data contract, or no GA4 shard is in the date range.
        ParamError: a BigQuery source table or dataset does not exist.
    """
    if params.get("backend") == "bigquery":
        from c360.bigquery import BigQueryEngine

        engine = BigQueryEngine.from_params(params, log=None, create_dataset=False)
        try:
            return [*engine.source_tables(), *fingerprints(engine.seed_files())]
        finally:
            engine.close()
    from c360.sources import preflight

    return fingerprints(preflight(resolve(params["source_root"])))


def summary(prints: list[dict]) -> dict:
    """Inputs in brief: source tables (bigquery), files, bytes and the combined fingerprint."""
    return {"tables": sum("table" in p for p in prints), "files": sum("file" in p for p in prints),
            "bytes": sum(p["bytes"] or 0 for p in prints), "fingerprint": combined(prints)}


def combined(prints: list[dict]) -> str:
    """One fingerprint for a whole input set: the sha256 of its files' names and digests, and of its tables' ids
    and metadata (rows, bytes, last modified)."""
    h = hashlib.sha256()
    for p in prints:
        if "file" in p:
            h.update(f"{Path(p['file']).name}:{p['sha256']}\n".encode())
        else:
            h.update(f"{p['table']}:{p['rows']}:{p['bytes']}:{p['modified']}\n".encode())
    return h.hexdigest()
