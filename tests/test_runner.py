"""The runner end to end on the fixtures: reports, manifest, and a failed run that changes nothing."""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from c360.paths import PROJ_ROOT
from conftest import fixture_people

pytestmark = pytest.mark.slow


def _run(tmp_path, *args):
    return subprocess.run(
        [sys.executable, "-m", "c360", "run", "--reports", str(tmp_path / "reports"),
         "-p", f"warehouse={tmp_path / 'c360.duckdb'}", *args],
        cwd=PROJ_ROOT, capture_output=True, text=True, timeout=900)


def test_run_on_fixtures_writes_reports_manifest_and_warehouse(tmp_path):
    result = _run(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    latest = tmp_path / "reports" / "latest"
    names = sorted(p.name for p in latest.iterdir())
    for nb in (PROJ_ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"):
        assert nb.name in names and nb.with_suffix(".html").name in names
    manifest = json.loads((latest / "manifest.json").read_text())
    assert manifest["parameters"]["warehouse"] == str(tmp_path / "c360.duckdb")
    assert manifest["code"]["git_sha"]
    assert {f["file"] for f in manifest["inputs"]} >= {"data/fixtures/crm/contacts.csv"}
    assert all(len(f["sha256"]) == 64 for f in manifest["inputs"])
    assert manifest["row_counts"]["base__ga4__events"] > 0
    assert [n["notebook"] for n in manifest["notebooks"]] == sorted(n["notebook"] for n in manifest["notebooks"])
    # every report opens with its run and names the published warehouse, not the run's working copy
    for report in latest.glob("[0-9][0-9]_*.html"):
        text = report.read_text(encoding="utf-8")
        assert f"<b>Run</b> <code>{manifest['run_id']}</code>" in text, report.name
        assert str(tmp_path / "c360.duckdb") in text and ".duckdb.run-" not in text, report.name
    # the data tests of every stage, reconciliations included, as the warehouse's c360__data_tests holds them
    tests = manifest["data_tests"]
    assert sorted(tests) == ["attribution", "base", "customer", "identity"]
    assert all(t["tests"] == t["pass"] + t["warn"] and t["fail"] == 0 for t in tests.values()), tests
    con = duckdb.connect(str(tmp_path / "c360.duckdb"), read_only=True)
    assert con.execute("SELECT COUNT(*) FROM c360__data_tests WHERE test LIKE 'reconciliation(%'").fetchone()[0] == 4
    assert sum(t["tests"] for t in tests.values()) == con.execute("SELECT COUNT(*) FROM c360__data_tests").fetchone()[0]
    assert con.execute("SELECT COUNT(*) FROM base__ga4__events").fetchone()[0] == manifest["row_counts"]["base__ga4__events"]
    con.close()
    # no report shows a raw email or a full name of a fixture person
    emails, names = fixture_people()
    assert len(emails) > 10 and len(names) > 10
    for report in [*latest.glob("*.html"), *latest.glob("*.ipynb")]:
        text = report.read_text(encoding="utf-8").lower()
        leaked = sorted(e for e in emails if e in text) + sorted(n for n in names if n.lower() in text)
        assert not leaked, f"{report.name} shows {leaked[:5]}"


def test_failed_run_names_the_notebook_and_keeps_the_previous_warehouse_and_reports(tmp_path):
    assert _run(tmp_path).returncode == 0
    before = (tmp_path / "c360.duckdb").read_bytes()
    good = (tmp_path / "reports" / "latest").resolve()
    bad_root = tmp_path / "bad"
    subprocess.run(["cp", "-r", str(PROJ_ROOT / "data" / "fixtures"), str(bad_root)], check=True)
    contacts = bad_root / "crm" / "contacts.csv"
    lines = contacts.read_text().splitlines()
    cols = lines[0].split(",")
    cells = lines[1].split(",")
    cells[cols.index("created_at")] = "not-a-date"
    lines[1] = ",".join(cells)
    contacts.write_text("\n".join(lines) + "\n")
    result = _run(tmp_path, "-p", f"source_root={bad_root}")
    assert result.returncode == 1
    assert "01_base_extraction.ipynb failed in cell" in result.stderr
    assert "contacts.csv: line 2: unparseable created_at: n*** (10 characters)" in result.stderr  # masked: people
    assert (tmp_path / "c360.duckdb").read_bytes() == before
    assert (tmp_path / "reports" / "latest").resolve() == good
    assert not list(tmp_path.glob("c360.duckdb.run-*"))


def test_bad_parameter_fails_before_any_kernel_starts(tmp_path):
    result = _run(tmp_path, "-p", "on_bad_rows=sometimes")
    assert result.returncode == 2
    assert "'on_bad_rows' must be one of" in result.stderr
    assert not (tmp_path / "reports").exists()


def test_input_that_breaks_the_contract_stops_the_run_before_any_notebook_and_leaves_nothing(tmp_path):
    bad_root = tmp_path / "bad"
    subprocess.run(["cp", "-r", str(PROJ_ROOT / "data" / "fixtures"), str(bad_root)], check=True)
    (bad_root / "crm" / "deals.csv").unlink()
    result = subprocess.run(
        [sys.executable, "-m", "c360", "run", "--reports", str(tmp_path / "new" / "reports"),
         "-p", f"warehouse={tmp_path / 'c360.duckdb'}", "-p", f"source_root={bad_root}"],
        cwd=PROJ_ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 3, result.stderr
    assert "deals.csv" in result.stderr
    assert "01_base_extraction" not in result.stdout  # no notebook ran
    assert not (tmp_path / "new").exists()  # no report folder, partial or failed, nor the folders above it
    assert not list(tmp_path.glob("c360.duckdb*"))  # no warehouse, no working copy, no lock


def test_bigquery_without_credentials_stops_with_its_own_exit_code_and_how_to_log_in(tmp_path):
    env = {**os.environ, "GOOGLE_APPLICATION_CREDENTIALS": str(tmp_path / "no-such-key.json")}
    env.pop("BIGQUERY_EMULATOR_HOST", None)
    result = subprocess.run(
        [sys.executable, "-m", "c360", "run", "--reports", str(tmp_path / "reports"),
         "--params", str(PROJ_ROOT / "params" / "bigquery.example.yaml")],
        cwd=PROJ_ROOT, capture_output=True, text=True, timeout=300, env=env)
    assert result.returncode == 5, result.stderr
    assert "gcloud auth application-default login" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "reports").exists()


def test_make_passes_command_line_variables_as_overrides():
    # a value out of range and a missing parameter file are refused before any kernel starts: their messages show
    # that make handed each variable to c360 (through the environment, see the Makefile)
    env = {k: v for k, v in os.environ.items() if k not in ("MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES")}

    def make_run(*words):
        return subprocess.run(["make", "-s", "--no-print-directory", "run", *words], cwd=PROJ_ROOT,
                              capture_output=True, text=True, timeout=600, env=env)

    window = make_run("CONVERSION_WINDOW_DAYS=-5", "PARAMS=params/default.yaml")
    assert window.returncode != 0 and "'conversion_window_days' must be >= 0, got -5" in window.stderr
    params = make_run("PARAMS=params/no-such-file.yaml")
    assert params.returncode != 0 and "parameter file not found: params/no-such-file.yaml" in params.stderr


def test_changing_the_conversion_window_from_make_changes_the_report(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "c360", "run", "--reports", str(tmp_path / "reports"),
         "--make-vars", rf"WAREHOUSE={tmp_path / 'w.duckdb'} CONVERSION_WINDOW_DAYS=30 WON_STAGES=[closedwon,\ x]"],
        cwd=PROJ_ROOT, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / "reports" / "latest" / "manifest.json").read_text())
    assert manifest["parameters"]["conversion_window_days"] == 30
    assert manifest["parameters"]["won_stages"] == ["closedwon", "x"]
    report = (tmp_path / "reports" / "latest" / "04_attribution.ipynb").read_text()
    assert "<tr><td><code>conversion_window_days</code></td><td><code>30</code></td></tr>" in report
    # data/fixtures/README.md, 30-day window: first touch credits Referral with 14,000 (90 days: 2,000)
    assert re.search(r"Referral\s+USD 2,000\.00\s", report) is None
    assert re.search(r"Referral\s+USD 14,000\.00\s", report)


def test_a_run_killed_mid_model_loses_nothing_and_the_next_run_completes(tmp_path):
    assert _run(tmp_path).returncode == 0
    warehouse, latest = tmp_path / "c360.duckdb", tmp_path / "reports" / "latest"
    before, good = warehouse.read_bytes(), latest.resolve()
    first = json.loads((latest / "manifest.json").read_text())
    marker = tmp_path / "paused.pid"
    env = {**os.environ, "C360_FAULT": "pause:base__ga4__events", "C360_FAULT_MARKER": str(marker)}
    proc = subprocess.Popen([sys.executable, "-m", "c360", "run", "--reports", str(tmp_path / "reports"),
                             "-p", f"warehouse={warehouse}", "-p", "full_refresh=true"],  # rebuilds the unchanged view
                            cwd=PROJ_ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while not marker.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert marker.exists(), "the run never reached the fault point"
    time.sleep(0.5)  # the kernel has written its staging table and sleeps before the swap
    for kill in (lambda: os.killpg(proc.pid, signal.SIGKILL), lambda: os.kill(int(marker.read_text()), signal.SIGKILL)):
        try:
            kill()
        except ProcessLookupError:
            pass
    proc.wait(timeout=60)
    assert warehouse.read_bytes() == before
    assert latest.resolve() == good
    assert list(tmp_path.glob("c360.duckdb.run-*")), "the killed run's working copy should be what it left"
    result = _run(tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert not list(tmp_path.glob("c360.duckdb.run-*")) and not (tmp_path / "c360.duckdb.lock").exists()
    again = json.loads((latest / "manifest.json").read_text())
    assert latest.resolve() != good
    # the same inputs and parameters give the same tables (bookkeeping of what the run re-read aside)
    models_only = lambda m: {k: v for k, v in m["checksums"].items() if not k.startswith("c360__")}  # noqa: E731
    assert models_only(again) == models_only(first) and len(models_only(first)) > 20


def test_a_failure_for_lack_of_memory_says_which_parameter_to_raise(tmp_path):
    import nbformat

    from c360.run.notebooks import failed_cell

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x = 1"), nbformat.v4.new_code_cell("build()")])
    nb.cells[1].outputs = [nbformat.v4.new_output("error", ename="OutOfMemoryException", traceback=[],
                                                  evalue="Out of Memory Error: could not allocate block of 256 KiB")]
    path = tmp_path / "01_x.ipynb"
    nbformat.write(nb, path)
    message = failed_cell(path)
    assert message.startswith("cell 1 (OutOfMemoryException: Out of Memory Error")
    assert "duckdb_memory_limit" in message and "DUCKDB_MEMORY_LIMIT=" in message
    nb.cells[1].outputs[0]["evalue"] = "Binder Error: column x not found"
    nbformat.write(nb, path)
    assert "duckdb_memory_limit" not in failed_cell(path)


def test_a_run_that_fails_while_copying_the_warehouse_releases_it(tmp_path, monkeypatch):
    from c360 import params as P
    from c360.run import backends, runner

    warehouse = tmp_path / "c360.duckdb"
    warehouse.write_bytes(b"previous warehouse")

    def full_disk(src, dst, *a, **k):
        Path(dst).write_bytes(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(backends.shutil, "copy2", full_disk)
    with pytest.raises(OSError, match="No space left"):
        runner.run(P.load(overrides=[f"warehouse={warehouse}"]), tmp_path / "reports")
    assert warehouse.read_bytes() == b"previous warehouse"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c360.duckdb"]  # no lock, no half copy, no reports


def test_make_run_passes_values_to_python_without_a_shell(tmp_path):
    # the recipe once put $(MAKEOVERRIDES) inside double quotes, so a backtick in a value ran as a command
    marker = tmp_path / "injected"
    result = subprocess.run(
        ["make", "-s", "run", f"WON_STAGES=[closedwon,`touch {marker}`]", f"WAREHOUSE={tmp_path / 'w.duckdb'}",
         f"PARAMS=params/default.yaml;touch {marker}"],
        cwd=PROJ_ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode != 0 and "c360: bad parameters" in result.stderr
    assert not marker.exists()


def _notebooks(manifest_path: Path) -> dict[str, dict]:
    return {n["notebook"]: n for n in json.loads(manifest_path.read_text())["notebooks"]}


def test_a_window_change_executes_only_attribution_and_reuses_the_other_reports_byte_for_byte(tmp_path):
    assert (first := _run(tmp_path)).returncode == 0, first.stderr[-3000:]
    latest = tmp_path / "reports" / "latest"
    before = latest.resolve()
    first_id = json.loads((before / "manifest.json").read_text())["run_id"]
    second = _run(tmp_path, "-p", "conversion_window_days=30")
    assert second.returncode == 0, second.stderr[-3000:]
    after = latest.resolve()
    assert after != before
    # notebook 04 alone declares conversion_window_days; identity, customer and base models are kept
    executed = re.findall(r"\[c360\] (\S+) \.\.\.", second.stdout)
    assert executed == ["04_attribution"], second.stdout
    entries = _notebooks(after / "manifest.json")
    assert {n: e["reused_from"] for n, e in entries.items()} == {
        "01_base_extraction.ipynb": first_id, "02_identity_resolution.ipynb": first_id,
        "03_customer_360.ipynb": first_id, "04_attribution.ipynb": None}
    assert entries["04_attribution.ipynb"]["reason"] == "its parameters changed"
    for stem in ("01_base_extraction", "02_identity_resolution", "03_customer_360"):
        for ext in (".ipynb", ".html"):
            assert (after / f"{stem}{ext}").read_bytes() == (before / f"{stem}{ext}").read_bytes(), stem + ext
    assert (after / "04_attribution.html").read_bytes() != (before / "04_attribution.html").read_bytes()
    report = (after / "04_attribution.ipynb").read_text()
    assert re.search(r"Referral\s+USD 14,000\.00\s", report)  # data/fixtures/README.md: 30 days, first touch
    page = (after / "index.html").read_text(encoding="utf-8")
    assert page.count(f"reused from run <code>{first_id}</code>") == 3
    # the checksums of tables no executed notebook wrote are carried from the first run: they are what the
    # published warehouse holds, table by table
    manifest = json.loads((after / "manifest.json").read_text())
    carried = set(manifest["checksums_carried"])
    assert {"src__ga4__events", "base__crm__deals", "int__identity_resolved", "mrt__core__customer_360"} <= carried
    assert not {n for n in carried if "attribut" in n or "channel" in n or n.startswith("c360__")}
    from c360.warehouse.duckdb import DuckDBEngine

    engine = DuckDBEngine(tmp_path / "c360.duckdb", read_only=True)
    try:
        assert engine.checksums(list(manifest["checksums"])) == manifest["checksums"]
    finally:
        engine.close()
    # a full refresh executes every notebook
    third = _run(tmp_path, "-p", "conversion_window_days=30", "-p", "full_refresh=true")
    assert third.returncode == 0, third.stderr[-3000:]
    assert re.findall(r"\[c360\] (\S+) \.\.\.", third.stdout) == [
        "01_base_extraction", "02_identity_resolution", "03_customer_360", "04_attribution"]
    assert not any(e["reused_from"] for e in _notebooks(latest / "manifest.json").values())
    assert "reused from run" not in (latest / "index.html").read_text(encoding="utf-8")


def test_a_changed_input_file_reruns_every_notebook_that_reads_it_and_only_those(tmp_path):
    root = tmp_path / "fixtures"
    subprocess.run(["cp", "-r", str(PROJ_ROOT / "data" / "fixtures"), str(root)], check=True)
    assert (first := _run(tmp_path, "-p", f"source_root={root}")).returncode == 0, first.stderr[-3000:]
    first_id = json.loads((tmp_path / "reports" / "latest" / "manifest.json").read_text())["run_id"]
    spend = root / "marketing" / "ad_spend.csv"
    text = spend.read_text()
    assert "2024-03-01,google,cpc,spring_sale,100.00,USD" in text
    spend.write_text(text.replace("2024-03-01,google,cpc,spring_sale,100.00,USD",
                                  "2024-03-01,google,cpc,spring_sale,175.00,USD"))
    second = _run(tmp_path, "-p", f"source_root={root}")
    assert second.returncode == 0, second.stderr[-3000:]
    # the ad spend is loaded by 01; it sets the reporting currency, which base__crm__deals reads, so the deal
    # aggregates (03) and attribution and ROI (04) change; identity (02) reads contacts, forms, GA4 and product
    # users only (docs/architecture.md, the models)
    entries = _notebooks(tmp_path / "reports" / "latest" / "manifest.json")
    assert {n: e["reused_from"] for n, e in entries.items()} == {
        "01_base_extraction.ipynb": None, "02_identity_resolution.ipynb": first_id,
        "03_customer_360.ipynb": None, "04_attribution.ipynb": None}
    assert entries["01_base_extraction.ipynb"]["reason"] == "the input files changed"
    assert "base__marketing__ad_spend" in entries["04_attribution.ipynb"]["reason"]
    assert re.findall(r"\[c360\] (\S+) \.\.\.", second.stdout) == [
        "01_base_extraction", "03_customer_360", "04_attribution"]
