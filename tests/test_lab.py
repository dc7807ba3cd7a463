"""`make lab`: notebooks run by hand work on a scratch copy of the published warehouse (c360.run.lab), and
`python -m c360 --version`."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from c360 import params as P
from c360.paths import PROJ_ROOT
from c360.run import lab


def test_the_scratch_copy_is_made_then_kept_until_the_published_warehouse_is_newer(tmp_path):
    published, scratch = tmp_path / "c360.duckdb", tmp_path / "build" / "lab.duckdb"
    published.write_bytes(b"run 1")
    assert lab.refresh_scratch(published, scratch).startswith("copied")
    assert scratch.read_bytes() == b"run 1"
    # the lab writes to its copy: kept while no run published since
    scratch.write_bytes(b"run 1 + a notebook run by hand")
    (tmp_path / "build" / "lab.duckdb.wal").write_bytes(b"lab log")
    assert "up to date" in lab.refresh_scratch(published, scratch)
    assert scratch.read_bytes() == b"run 1 + a notebook run by hand"
    # a run publishes: the copy is replaced (and the lab's log with it); the published file is never written
    published.write_bytes(b"run 2")
    later = scratch.stat().st_mtime_ns + 10**9
    os.utime(published, ns=(later, later))
    assert lab.refresh_scratch(published, scratch).startswith("copied")
    assert scratch.read_bytes() == b"run 2" and published.read_bytes() == b"run 2"
    assert not (tmp_path / "build" / "lab.duckdb.wal").exists()
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == ["lab.duckdb"]


def test_without_a_published_warehouse_nothing_is_copied(tmp_path):
    message = lab.refresh_scratch(tmp_path / "none.duckdb", tmp_path / "lab.duckdb")
    assert "no published warehouse" in message and not (tmp_path / "lab.duckdb").exists()


def test_in_a_lab_session_a_notebooks_warehouse_is_the_scratch_copy():
    from c360.report.header import stage_params

    given = {"warehouse": "build/c360.duckdb", "conversion_window_days": 90}
    assert P.lab_override(given, {}) == given
    assert P.lab_override(given, {P.LAB_WAREHOUSE_ENV: "/x/lab.duckdb"}) == {**given, "warehouse": "/x/lab.duckdb"}
    os.environ[P.LAB_WAREHOUSE_ENV] = "/x/lab.duckdb"
    try:
        assert stage_params({**given, "unrelated": 1})["warehouse"] == "/x/lab.duckdb"
    finally:
        del os.environ[P.LAB_WAREHOUSE_ENV]
    assert stage_params(dict(given))["warehouse"] == "build/c360.duckdb"


def test_lab_prepare_only_copies_the_warehouse_the_parameters_name_and_a_run_never_sees_the_lab(tmp_path):
    published = tmp_path / "w.duckdb"
    published.write_bytes(b"published")
    env = {**os.environ, "C360_MAKE_VARS": f"WAREHOUSE={published} PYTHON=python3"}
    result = subprocess.run([sys.executable, "-m", "c360", "lab", "--from-make", "--prepare-only", "--scratch",
                             str(tmp_path / "lab.duckdb")], cwd=tmp_path, capture_output=True, text=True,
                            timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("c360: copied") and "lab.duckdb" in result.stdout
    assert (tmp_path / "lab.duckdb").read_bytes() == b"published"
    # the CLI drops the lab's variable for every other command (a run started from a lab terminal)
    probe = subprocess.run([sys.executable, "-c", "import os, sys; from c360.run import cli; "
                            "sys.argv = ['c360', 'dag']; cli.main(['dag']); "
                            f"print('LAB=' + str(os.environ.get('{P.LAB_WAREHOUSE_ENV}')))"],
                           cwd=PROJ_ROOT, capture_output=True, text=True, timeout=120,
                           env={**os.environ, P.LAB_WAREHOUSE_ENV: "/x/lab.duckdb"})
    assert probe.stdout.strip().endswith("LAB=None"), probe.stderr


def test_version_prints_the_package_version_and_the_commit():
    result = subprocess.run([sys.executable, "-m", "c360", "--version"], cwd=PROJ_ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJ_ROOT, capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJ_ROOT,
                                capture_output=True, text=True).stdout.strip())
    from importlib import metadata

    expected = f"c360 {metadata.version('c360')} (commit {sha}{', uncommitted changes' if dirty else ''})"
    assert result.stdout.strip() == expected


def test_the_makefiles_own_variables_are_not_parameters_but_a_misspelled_parameter_is_refused():
    assert P.split_make_vars("PYTHON=python3.11 CONVERSION_WINDOW_DAYS=30 PARAMS=x.yaml VENV=.v") == [
        "CONVERSION_WINDOW_DAYS=30"]
    merged = P.load(overrides=P.split_make_vars("PYTHON=python3.11 CONVERSION_WINDOW_DAYS=30"))
    assert merged["conversion_window_days"] == 30
    import pytest

    with pytest.raises(P.ParamError, match="unknown parameter 'conversion_windw_days'.*did you mean "
                                           "'conversion_window_days'"):
        P.load(overrides=P.split_make_vars("PYTHON=python3.11 CONVERSION_WINDW_DAYS=30"))
    # every variable the Makefile sets is one of its own, and none is a parameter's name
    makefile = (PROJ_ROOT / "Makefile").read_text()
    assigned = set(re.findall(r"^([A-Z_]+)\s*[:?]?=", makefile, re.M))
    assert assigned and assigned <= set(P.MAKEFILE_VARIABLES), assigned - set(P.MAKEFILE_VARIABLES)
    assert not {name.upper() for name in P.SPEC} & set(P.MAKEFILE_VARIABLES)


def test_make_run_takes_pythons_value_for_make_and_still_checks_the_parameters():
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")}
    result = subprocess.run(["make", "-s", "--no-print-directory", "run", f"PYTHON={sys.executable}",
                             "CONVERSION_WINDOW_DAYS=-5"], cwd=PROJ_ROOT, capture_output=True, text=True,
                            timeout=600, env=env)
    # refused for the window's value, which c360 read: PYTHON was no parameter to refuse
    assert result.returncode != 0 and "'conversion_window_days' must be >= 0, got -5" in result.stderr, result.stderr
    assert "python" not in result.stderr.split("bad parameters:")[-1].split("must be")[0].lower()
