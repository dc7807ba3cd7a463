"""File fingerprints: the sha256 of the inputs, what the loaders record and every report and manifest shows."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from c360.paths import PROJ_ROOT, display

_CACHE = PROJ_ROOT / "build" / ".fingerprints.json"


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
