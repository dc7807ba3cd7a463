"""`python -m c360 reproduce reports/<run_id>/manifest.json`: run a published run again and check it gives the same
tables.

It checks the manifest's input fingerprints against the files now (naming those that differ: then the tables cannot
match, and nothing is re-run), warns when the code is not the run's commit or has uncommitted changes, re-runs with
the manifest's parameters into a scratch warehouse and report folder (never the published warehouse, never
reports/latest), and prints, table by table, whether each checksum matches the manifest's. The bookkeeping tables
that record times and paths (the manifest's `checksum_excluded`) are not compared.
"""
from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable

from c360 import params as P
from c360.paths import resolve

# exit codes
OK, MISMATCH, BAD_MANIFEST = 0, 1, 2


def _duckdb_scratch(params: dict[str, Any], scratch: Path) -> dict[str, Any]:
    """A new DuckDB file in the scratch folder; refused when it is the published warehouse or already exists."""
    work = scratch / "c360.duckdb"
    if work.resolve() == resolve(params["warehouse"]).resolve():
        raise P.ParamError(f"the scratch warehouse {work} is the run's published warehouse; choose another --scratch")
    if work.exists():
        raise P.ParamError(f"{work} exists: reproduce builds a new warehouse; choose an empty --scratch folder")
    return {"warehouse": str(work)}


# backend -> the parameters that point a run at a scratch target (a backend missing here cannot be reproduced yet)
SCRATCH_TARGETS: dict[str, Callable[[dict[str, Any], Path], dict[str, Any]]] = {"duckdb": _duckdb_scratch}


def read_manifest(path: Path) -> dict[str, Any]:
    """A run's manifest; raises ParamError naming the file when it is missing or not a run's manifest."""
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise P.ParamError(f"no manifest at {path}") from None
    except (OSError, ValueError) as e:
        raise P.ParamError(f"{path}: not a readable manifest ({e})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("parameters"), dict) \
            or not manifest.get("run_id"):
        raise P.ParamError(f"{path}: not a run's manifest (no run_id and parameters)")
    return manifest


def run_parameters(manifest: dict[str, Any], path: Path) -> dict[str, Any]:
    """The manifest's parameters, validated (a parameter this code does not know is an error naming it; one it
    added since takes its default)."""
    try:
        return P.validate({**P.defaults(), **manifest["parameters"]})
    except P.ParamError as e:
        raise P.ParamError(f"{path}: {e}") from None


def code_warnings(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """What differs between the code that made the run (`recorded`, the manifest's `code`) and this checkout's."""
    out = []
    if recorded.get("git_sha") != current.get("git_sha"):
        out.append(f"the run was made by commit {str(recorded.get('git_sha'))[:12]}, this checkout is "
                   f"{str(current.get('git_sha'))[:12]}: a difference may come from the code")
    if recorded.get("dirty"):
        out.append("the run was made with uncommitted changes: its code cannot be checked out again")
    if current.get("dirty"):
        out.append("this checkout has uncommitted changes")
    return out


def environment_warnings(recorded: dict[str, Any], current: dict[str, Any]) -> list[str]:
    """The tools whose versions differ from the run's (the manifest's `environment`)."""
    return [f"{tool} {recorded[tool]} made the run, this environment has {current.get(tool, 'none')}"
            for tool in sorted(recorded) if recorded[tool] != current.get(tool)]


def input_differences(recorded: list[dict], current: list[dict]) -> list[str]:
    """One line per input that differs from the run's fingerprint: changed, removed or added."""
    from c360.report.compare import input_changes, input_key

    diff = input_changes(recorded, current)
    return ([f"changed: {input_key(new)}" for _, new in diff["changed"]]
            + [f"removed: {input_key(e)} (the run read it; it is gone)" for e in diff["removed"]]
            + [f"added: {input_key(e)} (the run did not read it)" for e in diff["added"]])


def checksum_lines(rows: list[dict[str, Any]], excluded: dict[str, str]) -> list[str]:
    """`c360.report.compare.checksum_report` rows as lines to print, one per table."""
    def count(n: int | None) -> str:
        return "-" if n is None else f"{n:,}"

    width = max((len(r["table"]) for r in rows), default=0)
    out = []
    for r in rows:
        if r["status"] == "excluded":
            detail = f"not compared: {excluded.get(r['table']) or 'bookkeeping'}"
        elif r["status"] == "match":
            detail = f"{count(r['rows_actual'])} row{'' if r['rows_actual'] == 1 else 's'}"
        else:
            detail = f"rows {count(r['rows_expected'])} in the run, {count(r['rows_actual'])} now"
        out.append(f"  {r['status']:9} {r['table']:{width}}  {detail}")
    return out


def reproduce(manifest_path: Path, scratch: Path | None = None, keep: bool = False,
              say: Callable[[str], None] = print) -> int:
    """Check the run of `manifest_path` against the inputs and code now, re-run it into `scratch` (kept; when None,
    a new temporary folder, removed when every table matches unless `keep`) and compare the checksums. Returns OK when every compared
    table matches, MISMATCH when an input or a checksum differs.

    Raises:
        ParamError: the manifest is unreadable, its parameters are invalid, or the scratch target is not new.
        BadInputError: the inputs now break the data contract. Also what runner.run raises.
    """
    from c360.report.compare import checksum_report, excluded_tables
    from c360.run import runner
    from c360.sources import provenance

    manifest = read_manifest(manifest_path)
    params = run_parameters(manifest, manifest_path)
    target = SCRATCH_TARGETS.get(params["backend"])
    if target is None:
        raise P.ParamError(f"{manifest_path}: run {manifest['run_id']} ran on backend {params['backend']!r}; "
                           f"reproduce re-runs into a scratch {' or '.join(SCRATCH_TARGETS)} warehouse only")
    say(f"c360: reproducing run {manifest['run_id']} ({manifest_path})")
    for line in code_warnings(manifest.get("code") or {}, provenance.code_version()):
        say(f"c360: warning: {line}")
    for line in environment_warnings(manifest.get("environment") or {}, provenance.environment()):
        say(f"c360: warning: {line}")
    differences = input_differences(manifest.get("inputs") or [], provenance.inputs(params))
    if differences:
        say(f"c360: {len(differences)} input(s) differ from the run's fingerprints, so its tables cannot be "
            "reproduced:")
        for line in differences:
            say(f"  {line}")
        return MISMATCH
    say(f"c360: the {len(manifest.get('inputs') or [])} inputs match the run's fingerprints")
    made = scratch is None
    scratch = Path(tempfile.mkdtemp(prefix=f"c360-reproduce-{manifest['run_id']}-")) if made else scratch
    result = None
    try:
        scratch.mkdir(parents=True, exist_ok=True)
        scratch_params = {**params, **target(params, scratch)}
        say(f"c360: re-running with the run's parameters into {scratch} (the published warehouse and reports/latest "
            "are not touched)")
        folder = runner.run(scratch_params, scratch / "reports")
        again = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        excluded = excluded_tables(manifest, again)
        rows = checksum_report(manifest.get("checksums") or {}, again.get("checksums") or {}, excluded)
        say("c360: table checksums, the run's against the re-run's:")
        for line in checksum_lines(rows, excluded):
            say(line)
        bad = [r["table"] for r in rows if r["status"] not in ("match", "excluded")]
        matched = sum(r["status"] == "match" for r in rows)
        if bad:
            say(f"c360: {len(bad)} of {matched + len(bad)} tables differ: {', '.join(bad)}")
            result = MISMATCH
        else:
            say(f"c360: reproduced: all {matched} tables match ({len(rows) - matched} bookkeeping tables not "
                "compared)")
            result = OK
        return result
    finally:
        if made and not keep and result == OK:
            shutil.rmtree(scratch, ignore_errors=True)
        else:
            say(f"c360: the re-run's warehouse and reports are in {scratch}")
