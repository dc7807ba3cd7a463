"""`python -m c360 sql MODEL`: a model's SQL as the engine runs it, and its profile on the warehouse."""
from __future__ import annotations

import hashlib

import pytest
from conftest import build_layers

from c360.run import cli
from c360.warehouse import dialect
from c360 import models
from c360.warehouse.duckdb import DuckDBEngine
from c360.paths import PROJ_ROOT


def _sql(capsys, *argv):
    code = cli.main(["sql", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_printed_duckdb_sql_is_the_text_a_build_runs(tmp_path):
    engine = DuckDBEngine(tmp_path / "w.duckdb")
    try:
        for name, model in models.discover().items():
            if model.fn is None:
                printed, helpers = models.compiled(name, "duckdb")
                assert printed == dialect.to_duckdb(models.render(model, engine)), name
                assert set(helpers) == set(models.render_with_helpers(model, engine)[1]), name
    finally:
        engine.close()


def test_sql_prints_a_model_translated_for_duckdb_with_its_config(capsys):
    code, out, _ = _sql(capsys, "int__web_sessions")
    assert code == 0
    assert out.startswith("-- int__web_sessions on duckdb: ") and "materialized=incremental" in out
    assert "NULLS FIRST" in out  # BigQuery sorts NULLs first; the translation says so explicitly
    assert "{{" not in out and "ref(" not in out


def test_sql_for_bigquery_flattens_the_export_where_duckdb_reads_the_loaded_table(capsys):
    code, bigquery, _ = _sql(capsys, "base__ga4__events", "--target", "bigquery")
    assert code == 0 and "FARM_FINGERPRINT" in bigquery and "UNNEST(event_params)" in bigquery
    code, duck, _ = _sql(capsys, "base__ga4__events", "--target", "duckdb")
    assert code == 0 and "FARM_FINGERPRINT" not in duck
    assert "-- helper table base__ga4__events__copies" in duck  # a view's helper tables come first


def test_sql_names_close_models_for_a_typo_and_explains_python_steps(capsys):
    code, _, err = _sql(capsys, "int__web_session")
    assert code == 2 and "int__web_sessions" in err
    code, _, err = _sql(capsys, "int__identity_components_pass1")
    assert code == 2 and "Python step" in err and "c360/steps/identity.py" in err
    code, _, err = _sql(capsys, "mrt__marketing__channel_attribution")
    assert code == 2 and "c360/steps/channel_models.py" in err


def test_explain_profiles_the_model_on_the_warehouse_and_writes_nothing(tmp_path, capsys):
    warehouse = tmp_path / "w.duckdb"
    build_layers(PROJ_ROOT / "data" / "fixtures", warehouse, layers=("base",)).close()
    before = hashlib.sha256(warehouse.read_bytes()).hexdigest()
    code, out, _ = _sql(capsys, "int__web_sessions", "--explain", "-p", f"warehouse={warehouse}")
    assert code == 0 and "Total Time" in out and "base__ga4__events" in out
    # a model whose inputs the warehouse does not hold yet: named, not a DuckDB error
    code, _, err = _sql(capsys, "mrt__core__customer_360", "--explain", "-p", f"warehouse={warehouse}")
    assert code == 2 and "int__identity_device_bridged" in err
    assert hashlib.sha256(warehouse.read_bytes()).hexdigest() == before


@pytest.mark.parametrize("argv", [["--explain", "--target", "bigquery"],
                                  ["--explain", "-p", "warehouse=/nonexistent/w.duckdb"]])
def test_explain_needs_a_duckdb_warehouse(capsys, argv):
    code, _, err = _sql(capsys, "int__web_sessions", *argv)
    assert code == 2 and err.startswith("c360: ")


def test_explain_of_an_incremental_form_needs_the_model_and_the_touched_dates(tmp_path, capsys):
    warehouse = tmp_path / "w.duckdb"
    build_layers(PROJ_ROOT / "data" / "fixtures", warehouse, layers=("base",)).close()
    code, _, err = _sql(capsys, "int__web_sessions", "--explain", "--incremental", "-p", f"warehouse={warehouse}")
    assert code == 2 and "int__web_sessions" in err.split("has no")[1]
    (tmp_path / "junk.duckdb").write_text("not a database")
    code, _, err = _sql(capsys, "int__web_sessions", "--explain", "-p", f"warehouse={tmp_path / 'junk.duckdb'}")
    assert code == 2 and "cannot open" in err
