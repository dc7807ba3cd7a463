"""Which notebooks a run executes, and which reports it reuses from the previous published run.

A notebook's report is a function of its own source, the parameters its `parameters` cell declares, the code
(c360 and the tools it runs on), the warehouse it reads and, for a notebook whose models read source tables, the
input files. Each executed notebook's manifest entry records a key of the first three (and the inputs'
fingerprint where they are read); the manifest records every model's fingerprint (c360__model_state), which
changes whenever anything a model's table is a function of changes.

A notebook is reused, its executed notebook and report copied byte for byte from the previous published run,
when: the backend keeps model state (DuckDB), the run is no full refresh, the previous run (reports/latest)
is the one that built the warehouse the run starts from, its key is the one the previous run recorded, and the
fingerprint of every model its report can depend on (watched_models), in the run's warehouse as the notebooks
before it left it, is the previous run's. When in doubt it re-runs: a new commit, uncommitted edits, another
version of a tool or of any file of the package re-run every notebook. docs/incremental.md states the rule.
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

PACKAGE = Path(__file__).resolve().parents[1]
NOT_KEYED = ("full_refresh",)  # what a run does, not what a report shows: a full refresh re-runs every notebook


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":")).encode()


def package_digest(root: Path = PACKAGE) -> str:
    """sha256 of every file of the c360 package (its path and bytes; caches left out): any edit changes it."""
    h = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        h.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def code_key(code: dict, environment: dict, package: str) -> str:
    """The code a report is a function of: the commit and dirty flag (c360.sources.provenance.code_version), the
    tools' versions (provenance.environment) and the package's files (package_digest)."""
    return _sha256(_canonical({"code": code, "environment": environment, "package": package}))


def notebook_key(notebook: Path, values: dict[str, Any], code: str, inputs: str | None) -> dict[str, str | None]:
    """What a notebook's report is a function of besides the warehouse, in parts (so a re-run can say which
    changed): its file's sha256, its declared parameter values (`values`, without NOT_KEYED), the code key and
    the inputs' fingerprint (None: the notebook's models read no source table)."""
    shown = {k: v for k, v in values.items() if k not in NOT_KEYED}
    return {"source": _sha256(notebook.read_bytes()), "parameters": _sha256(_canonical(shown)), "code": code,
            "inputs": inputs}


_BUILD = re.compile(r"""models\.build\(\s*\w+\s*,\s*["'](\w+)["']""")


def notebook_code(notebook: Path) -> str:
    """The text of a notebook's code cells."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


def built_layers(notebook: Path) -> list[str]:
    """The layers a notebook builds: the `models.build(engine, "<layer>", ...)` calls of its code cells."""
    return _BUILD.findall(notebook_code(notebook))


def imported_modules(code: str, package: Path = PACKAGE) -> list[Path]:
    """The files of the c360 modules a notebook's code imports (`from c360.x import y`, `import c360.x.y`): what
    it calls may read tables its own code does not name."""
    found = set()
    for parent, names in re.findall(r"^\s*from\s+c360((?:\.\w+)*)\s+import\s+([\w, ]+)", code, re.M):
        for name in (n.strip().split(" as ")[0] for n in names.split(",")):
            found.add(f"{parent}.{name}".lstrip("."))
    found |= {m.lstrip(".") for m in re.findall(r"^\s*import\s+c360((?:\.\w+)+)", code, re.M)}
    files = []
    for dotted in sorted(found):
        base = package.joinpath(*dotted.split("."))
        for candidate in (base.with_suffix(".py"), base / "__init__.py"):
            if candidate.is_file():
                files.append(candidate)
    return files


def watched_models(own: list[str], texts: list[str], refs: dict[str, set[str]]) -> set[str]:
    """The models whose tables a notebook's report can depend on: the models it builds (`own`), every model named
    in `texts` (its code, its layer's SQL and data tests, the steps' modules it calls), and everything those read,
    transitively (`refs`: each model's refs)."""
    named = {name for name in refs if any(re.search(rf"\b{re.escape(name)}\b", text) for text in texts)}
    watched, todo = set(), [*own, *named]
    while todo:
        name = todo.pop()
        if name not in watched:
            watched.add(name)
            todo.extend(refs.get(name, ()))
    return watched


def reads_sources(notebook: Path, layer_sources: Callable[[str], set[str]]) -> bool:
    """Whether the notebook reads the input files: a model of a layer it builds reads a source table
    (`layer_sources(layer)`: the source tables the layer's models read). A notebook that builds no layer it can
    be told from counts as reading them."""
    layers = built_layers(notebook)
    return not layers or any(layer_sources(layer) for layer in layers)


@dataclass
class Decision:
    key: dict[str, str | None]
    reused_from: str | None  # the run whose executed notebook and report are copied; None: execute it
    folder: Path | None  # the previous run's report folder (to copy from)
    reason: str


def _changed(key: dict, before: dict) -> list[str]:
    names = {"source": "its source", "parameters": "its parameters", "code": "the code",
             "inputs": "the input files"}
    return [names.get(part, part) for part in sorted(set(key) | set(before)) if key.get(part) != before.get(part)]


def decide(notebook: str, key: dict[str, str | None], fingerprints: dict[str, str], previous: dict | None,
           folder: Path | None, allowed: str = "", watched: set[str] | None = None) -> Decision:
    """Reuse the previous run's report of `notebook` or execute it (see the module's docstring).

    Args:
        notebook: its file name (01_base_extraction.ipynb).
        key: its notebook_key now.
        fingerprints: every model's fingerprint in the run's warehouse now.
        previous: the previous published run's manifest, when it is the run that built the warehouse; else None.
        folder: that run's report folder.
        allowed: why nothing may be reused ('' = reuse is allowed).
        watched: the models whose fingerprints must be the previous run's (watched_models); None: every model.
    """
    def run(reason: str) -> Decision:
        return Decision(key, None, None, reason)

    if allowed:
        return run(allowed)
    if previous is None or folder is None:
        return run("no previous run built the warehouse")
    entry = {n.get("notebook"): n for n in previous.get("notebooks", [])}.get(notebook)
    if entry is None or not isinstance(entry.get("reuse_key"), dict):
        return run(f"run {previous.get('run_id')} recorded no key for it")
    changed = _changed(key, entry["reuse_key"])
    if changed:
        return run(" and ".join(changed) + " changed")
    before = previous.get("model_fingerprints")
    if not before:
        return run(f"run {previous.get('run_id')} recorded no model fingerprints")
    models = sorted(n for n in set(before) | set(fingerprints)
                    if before.get(n) != fingerprints.get(n) and (watched is None or n in watched))
    if models:
        more = f" and {len(models) - 3} more" if len(models) > 3 else ""
        return run(f"models changed: {', '.join(models[:3])}{more}")
    stem = Path(notebook).stem
    if not all((folder / f"{stem}{ext}").is_file() for ext in (".ipynb", ".html")):
        return run(f"run {previous.get('run_id')}'s report folder lacks its report")
    return Decision(key, entry.get("reused_from") or previous["run_id"], folder, "nothing it reads changed")


def copy_report(decision: Decision, notebook: str, out_dir: Path) -> float:
    """Copy the executed notebook and its report, byte for byte, from the run the decision names; returns the
    seconds it took."""
    t0 = time.time()
    stem = Path(notebook).stem
    for ext in (".ipynb", ".html"):
        shutil.copyfile(decision.folder / f"{stem}{ext}", out_dir / f"{stem}{ext}")
    return round(time.time() - t0, 2)


def previous_run(reports_root: Path, built_by: str | None) -> tuple[dict | None, Path | None]:
    """The published run (reports_root/latest) and its folder, when it is the run `built_by` (the run that built
    the warehouse this run starts from); else (None, None)."""
    latest = reports_root / "latest"
    try:
        manifest = json.loads((latest / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None, None
    if built_by is None or manifest.get("run_id") != built_by:
        return None, None
    return manifest, latest.resolve()


def carried_checksums(previous: dict | None, untouched: set[str]) -> dict[str, str]:
    """The previous run's checksums of the tables this run did not write (`untouched`: the models of the layers
    only reused notebooks build, and the source tables when the notebook that loads them was reused). The run's
    warehouse is a byte copy of the one that run published, so these tables are the bytes it checksummed; the
    rest (the tables executed notebooks wrote, the c360__ bookkeeping) are checksummed again."""
    if previous is None:
        return {}
    return {name: value for name, value in (previous.get("checksums") or {}).items()
            if name in untouched and not name.startswith("c360__")}
