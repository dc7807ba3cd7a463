"""Which notebooks a run executes and which reports it reuses (c360.run.reuse), on hand-built manifests; the
runs themselves are in tests/test_runner.py."""
from __future__ import annotations

import json
from pathlib import Path

from c360.run import reuse


def _notebook(path: Path, *cells: str) -> Path:
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": [c], "metadata": {}, "outputs": []}
                                          for c in cells], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    return path


def _previous(tmp_path: Path, key: dict, fingerprints: dict, reused_from=None) -> tuple[dict, Path]:
    folder = tmp_path / "20240101T000000-0001"
    folder.mkdir(exist_ok=True)
    for ext in (".ipynb", ".html"):
        (folder / f"04_attribution{ext}").write_text("previous " + ext)
    manifest = {"run_id": "20240101T000000-0001", "model_fingerprints": fingerprints,
                "notebooks": [{"notebook": "04_attribution.ipynb", "reuse_key": key, "reused_from": reused_from}]}
    return manifest, folder


KEY = {"source": "s1", "parameters": "p1", "code": "c1", "inputs": None}
PRINTS = {"base__crm__deals": "f1", "mrt__marketing__channel_roi": "f2", "int__identity_resolved": "f3"}


def test_a_notebook_whose_key_and_models_are_unchanged_is_reused_from_the_previous_run(tmp_path):
    previous, folder = _previous(tmp_path, KEY, PRINTS)
    d = reuse.decide("04_attribution.ipynb", dict(KEY), dict(PRINTS), previous, folder)
    assert d.reused_from == "20240101T000000-0001" and d.folder == folder
    out = tmp_path / "out"
    out.mkdir()
    reuse.copy_report(d, "04_attribution.ipynb", out)
    assert (out / "04_attribution.html").read_text() == "previous .html"
    assert (out / "04_attribution.ipynb").read_text() == "previous .ipynb"


def test_a_report_reused_twice_names_the_run_that_executed_it(tmp_path):
    previous, folder = _previous(tmp_path, KEY, PRINTS, reused_from="20231231T000000-0042")
    assert reuse.decide("04_attribution.ipynb", KEY, PRINTS, previous, folder).reused_from == "20231231T000000-0042"


def test_each_changed_part_of_the_key_reruns_the_notebook_and_is_named(tmp_path):
    previous, folder = _previous(tmp_path, KEY, PRINTS)
    for part, said in (("source", "its source"), ("parameters", "its parameters"), ("code", "the code"),
                       ("inputs", "the input files")):
        d = reuse.decide("04_attribution.ipynb", {**KEY, part: "other"}, PRINTS, previous, folder)
        assert d.reused_from is None and d.reason == f"{said} changed", part


def test_a_changed_model_reruns_it_only_when_it_is_one_the_notebook_can_read(tmp_path):
    previous, folder = _previous(tmp_path, KEY, PRINTS)
    now = {**PRINTS, "base__crm__deals": "changed"}
    watched = {"base__crm__deals", "mrt__marketing__channel_roi"}
    d = reuse.decide("04_attribution.ipynb", KEY, now, previous, folder, watched=watched)
    assert d.reused_from is None and d.reason == "models changed: base__crm__deals"
    assert reuse.decide("04_attribution.ipynb", KEY, now, previous, folder,
                        watched={"mrt__marketing__channel_roi"}).reused_from
    # every model counts when the notebook's reads cannot be told; a model gone counts as changed
    assert reuse.decide("04_attribution.ipynb", KEY, now, previous, folder).reused_from is None
    gone = {k: v for k, v in PRINTS.items() if k != "mrt__marketing__channel_roi"}
    assert reuse.decide("04_attribution.ipynb", KEY, gone, previous, folder, watched=watched).reused_from is None


def test_nothing_is_reused_without_a_previous_run_its_record_or_its_files_or_when_not_allowed(tmp_path):
    previous, folder = _previous(tmp_path, KEY, PRINTS)
    assert reuse.decide("04_attribution.ipynb", KEY, PRINTS, None, None).reused_from is None
    assert reuse.decide("04_attribution.ipynb", KEY, PRINTS, previous, folder,
                        allowed="a full refresh executes every notebook").reason.startswith("a full refresh")
    assert reuse.decide("03_customer_360.ipynb", KEY, PRINTS, previous, folder).reused_from is None
    assert reuse.decide("04_attribution.ipynb", KEY, PRINTS, {**previous, "model_fingerprints": {}},
                        folder).reused_from is None
    (folder / "04_attribution.html").unlink()
    d = reuse.decide("04_attribution.ipynb", KEY, PRINTS, previous, folder)
    assert d.reused_from is None and "lacks its report" in d.reason


def test_the_previous_run_counts_only_when_it_built_the_warehouse(tmp_path):
    folder = tmp_path / "reports" / "20240101T000000-0001"
    folder.mkdir(parents=True)
    (folder / "manifest.json").write_text(json.dumps({"run_id": "20240101T000000-0001"}))
    (tmp_path / "reports" / "latest").symlink_to(folder.name)
    assert reuse.previous_run(tmp_path / "reports", "20240101T000000-0001") == (
        {"run_id": "20240101T000000-0001"}, folder)
    assert reuse.previous_run(tmp_path / "reports", "20240202T000000-0002") == (None, None)  # another's warehouse
    assert reuse.previous_run(tmp_path / "reports", None) == (None, None)  # no warehouse yet
    assert reuse.previous_run(tmp_path / "elsewhere", "20240101T000000-0001") == (None, None)


def test_the_key_ignores_full_refresh_but_not_a_parameter_value_or_a_notebook_edit(tmp_path):
    nb = _notebook(tmp_path / "04_x.ipynb", "x = 1")
    base = reuse.notebook_key(nb, {"conversion_window_days": 90, "full_refresh": False}, "c", None)
    assert reuse.notebook_key(nb, {"conversion_window_days": 90, "full_refresh": True}, "c", None) == base
    assert reuse.notebook_key(nb, {"conversion_window_days": 30, "full_refresh": False}, "c", None) != base
    _notebook(nb, "x = 2")
    assert reuse.notebook_key(nb, {"conversion_window_days": 90, "full_refresh": False}, "c", None) != base


def test_the_package_digest_follows_every_file_but_caches(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sql" / "base").mkdir(parents=True)
    (pkg / "a.py").write_text("x = 1\n")
    (pkg / "sql" / "base" / "m.sql").write_text("SELECT 1")
    before = reuse.package_digest(pkg)
    (pkg / "__pycache__").mkdir()
    (pkg / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    assert reuse.package_digest(pkg) == before
    (pkg / "sql" / "base" / "m.sql").write_text("SELECT 2")
    assert reuse.package_digest(pkg) != before


def test_the_watched_models_are_the_notebooks_own_the_ones_it_names_and_what_they_read():
    refs = {"base_a": set(), "base_b": set(), "base_c": set(), "int_x": {"base_a"}, "mrt_y": {"int_x"},
            "mrt_z": {"base_c"}}
    code = "engine.query('SELECT * FROM base_b')  # not base_bb"
    assert reuse.watched_models(["mrt_y"], [code], refs) == {"mrt_y", "int_x", "base_a", "base_b"}


def test_the_layers_and_modules_a_notebook_uses_are_read_from_its_code(tmp_path):
    nb = _notebook(tmp_path / "02_x.ipynb", "from c360 import models, report\nfrom c360.steps import identity",
                   'built = models.build(engine, "identity", params)')
    assert reuse.built_layers(nb) == ["identity"]
    pkg = tmp_path / "c360"
    (pkg / "steps").mkdir(parents=True)
    (pkg / "report").mkdir()
    for f in ("models.py", "steps/identity.py", "report/__init__.py"):
        (pkg / f).write_text("")
    found = reuse.imported_modules(reuse.notebook_code(nb), pkg)
    assert sorted(p.relative_to(pkg).as_posix() for p in found) == ["models.py", "report/__init__.py",
                                                                    "steps/identity.py"]
    assert reuse.reads_sources(nb, lambda layer: set()) is False
    assert reuse.reads_sources(nb, lambda layer: {"src__crm__contacts"}) is True
    assert reuse.reads_sources(_notebook(tmp_path / "05_y.ipynb", "print(1)"), lambda layer: set()) is True


def test_only_untouched_model_and_source_tables_keep_the_previous_checksums():
    previous = {"checksums": {"src__ga4__events": "9:a", "base__crm__deals": "3:b", "mrt__x": "2:c",
                              "c360__data_tests": "80:d"}}
    untouched = {"src__ga4__events", "base__crm__deals", "c360__data_tests"}
    assert reuse.carried_checksums(previous, untouched) == {"src__ga4__events": "9:a", "base__crm__deals": "3:b"}
    assert reuse.carried_checksums(None, untouched) == {}
