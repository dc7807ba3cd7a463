"""What produced a run: code version, input fingerprints, environment. Written to every report and manifest."""
from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path

from c360.paths import PROJ_ROOT, display

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


def _sha256(path: Path) -> str:
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
        digest = cache.get(key) or _sha256(path)
        cache[key] = digest
        out.append({"file": display(path), "bytes": st.st_size, "sha256": digest})
    try:
        _CACHE.parent.mkdir(parents=True, exist_ok=True)
        _CACHE.write_text(json.dumps(cache))
    except OSError:
        pass
    return out


def combined(prints: list[dict]) -> str:
    """One fingerprint for a whole input tree: the sha256 of its files' names and digests."""
    h = hashlib.sha256()
    for p in prints:
        h.update(f"{Path(p['file']).name}:{p['sha256']}\n".encode())
    return h.hexdigest()
