"""Incremental runs, re-runs and full refreshes agree: the same inputs give the same tables, however they
arrive. Builds every layer as the notebooks do, without kernels."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from c360 import models, params as P, sources, warehouse as engines
from c360.paths import PROJ_ROOT

FIXTURES = PROJ_ROOT / "data" / "fixtures"
BOOKKEEPING = {"c360__loaded_shards", "c360__touched_dates", "c360__row_audit", "c360__quarantine", "c360__model_runs",
               "c360__model_state", "c360__loaded_files"}


def run_pipeline(root: Path, warehouse: Path, **overrides) -> dict:
    """Load and build every layer; return the per-model build results by layer, and the LoadReport ('loaded')."""
    params = P.load(overrides=[f"source_root={root}", f"warehouse={warehouse}",
                               *(f"{k}={v}" for k, v in overrides.items())])
    eng = engines.connect(params)
    try:
        loaded = sources.load_sources(eng, root, params["on_bad_rows"], params["full_refresh"],
                                      params["lookback_days"])
        built = {layer: models.build(eng, layer, params) for layer in models.LAYERS}
    finally:
        eng.close()
    return {**built, "loaded": loaded}


def shards_read(built: dict) -> list[str]:
    """The GA4 shard files the run's loader parsed (not kept from the previous run)."""
    return [Path(f["file"]).name for f in built["loaded"].files
            if f["table"] == "src__ga4__events" and f["read"] == "read"]


def tables(warehouse: Path) -> dict[str, pd.DataFrame]:
    eng = engines.DuckDBEngine(warehouse, read_only=True)
    try:
        out = {}
        for name in eng.tables():
            if name in BOOKKEEPING or name.startswith(("src__", "_stage__")):
                continue
            df = eng.query(f"SELECT * FROM {name}")
            for col in df.columns:
                if pd.api.types.is_float_dtype(df[col]):
                    df[col] = df[col].round(9)
            out[name] = df.sort_values(list(df.columns), ignore_index=True, na_position="first")
        out["c360__row_audit"] = eng.query(
            "SELECT model, outcome, SUM(row_count) AS n FROM c360__row_audit GROUP BY 1, 2 ORDER BY 1, 2")
        return out
    finally:
        eng.con.close()


def copy_tree(dest: Path, shard_filter) -> Path:
    """The fixtures' CSVs and the GA4 shards `shard_filter(name)` accepts, with their modification times."""
    for sub in ("crm", "product", "marketing", "seeds"):
        shutil.copytree(FIXTURES / sub, dest / sub, dirs_exist_ok=True)
    (dest / "ga4").mkdir(parents=True, exist_ok=True)
    for shard in sorted((FIXTURES / "ga4").iterdir()):
        if shard_filter(shard.name) and not (dest / "ga4" / shard.name).exists():
            shutil.copy2(shard, dest / "ga4" / shard.name)
    return dest


def assert_same(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_dtype=False, obj=name)


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    warehouse = tmp_path_factory.mktemp("full") / "w.duckdb"
    run_pipeline(FIXTURES, warehouse, full_refresh="true")
    return tables(warehouse)


def test_increments_with_late_events_across_the_boundary_equal_one_full_refresh(tmp_path, full):
    # Day 1: shards up to 03-16. Day 2: up to 03-20 plus the intraday shard of 03-27 (no daily yet); the 03-17
    # shard holds late events of 03-15 (data/fixtures/README.md), so they cross the boundary. Day 3: the rest:
    # the daily 03-27 shard supersedes the intraday one loaded on day 2, and intraday 03-28 arrives.
    root, warehouse = tmp_path / "src", tmp_path / "w.duckdb"
    day1 = lambda n: n.startswith("events_2024") and n[7:15] <= "20240316"  # noqa: E731
    day2 = lambda n: day1(n) or (n.startswith("events_2024") and n[7:15] <= "20240320") or n == "events_intraday_20240327.jsonl"  # noqa: E731
    built = []
    for accept in (day1, day2, lambda n: True):
        copy_tree(root, accept)
        built.append(run_pipeline(root, warehouse))
    # the last run really was incremental: sessions merged on the touched dates (base__ga4__events is a view
    # over the loaded events on DuckDB: always current, nothing to rebuild)
    assert bool(built[-1]["customer"].set_index("model").loc["int__web_sessions", "incremental"])
    assert_same(tables(warehouse), full)


def test_a_rerun_on_the_same_inputs_changes_nothing(tmp_path, full):
    warehouse = tmp_path / "w.duckdb"
    run_pipeline(FIXTURES, warehouse)
    first = tables(warehouse)
    built = run_pipeline(FIXTURES, warehouse)
    # nothing any model reads changed: every model is kept as it was, none rebuilt
    assert all(built[layer]["unchanged"].all() for layer in models.LAYERS)
    # no file is parsed again, not even the shards inside the lookback window: their bytes are the ones read before
    assert [f["file"] for f in built["loaded"].files if f["read"] == "read"] == []
    assert_same(tables(warehouse), first)
    assert_same(first, full)


def _rewrite_keeping_size_and_time(path: Path, old: bytes, new: bytes) -> None:
    """Change a file's bytes as a copy that preserves size and modification time would (len(old) == len(new))."""
    st = path.stat()
    data = path.read_bytes()
    assert len(old) == len(new) and data.count(old) > 0
    path.write_bytes(data.replace(old, new))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns


def test_a_shard_inside_the_lookback_window_is_reread_when_its_bytes_change(tmp_path, full):
    # GA4 rewrites a daily table for about 72 hours: inside lookback_days of the newest shard, a shard whose
    # bytes changed is read again even when its size and modification time look unchanged (sha256 compared)
    root, warehouse = tmp_path / "src", tmp_path / "w.duckdb"
    copy_tree(root, lambda n: True)
    run_pipeline(root, warehouse)
    _rewrite_keeping_size_and_time(root / "ga4" / "events_20240327.jsonl", b'"page_view"', b'"page_vieW"')
    built = run_pipeline(root, warehouse)
    assert shards_read(built) == ["events_20240327.jsonl"]
    after = tables(warehouse)
    with pytest.raises(AssertionError):
        assert_same(after, full)  # the rewrite is visible in the tables ...
    reference = tmp_path / "reference.duckdb"
    run_pipeline(root, reference, full_refresh="true")
    assert_same(after, tables(reference))  # ... exactly as a full refresh of the rewritten tree sees it


def test_a_shard_entering_the_window_unread_is_read_again_once_compared(tmp_path, full):
    # the newest shard disappears, so the window reaches back a day further than the last run's: the 03-24 shard
    # enters it without a digest of the bytes its rows came from; it must not be recorded with the bytes it has
    # now (they changed, at the same size and time, while it was outside the window): the next run reads it
    root, warehouse = tmp_path / "src", tmp_path / "w.duckdb"
    copy_tree(root, lambda n: True)
    run_pipeline(root, warehouse)  # newest 03-28: the window starts at 03-25
    (root / "ga4" / "events_intraday_20240328.jsonl").unlink()
    _rewrite_keeping_size_and_time(root / "ga4" / "events_20240324.jsonl", b'"page_view"', b'"page_vieW"')
    assert "events_20240324.jsonl" not in shards_read(run_pipeline(root, warehouse))  # outside the compared days
    assert shards_read(run_pipeline(root, warehouse)) == ["events_20240324.jsonl"]  # compared now: read again
    reference = tmp_path / "reference.duckdb"
    run_pipeline(root, reference, full_refresh="true")
    assert_same(tables(warehouse), tables(reference))


def test_a_warehouse_without_recorded_digests_rereads_the_lookback_window(tmp_path):
    # shards loaded by an older c360 have no sha256 recorded: those inside the window are read again, once
    root, warehouse = tmp_path / "src", tmp_path / "w.duckdb"
    copy_tree(root, lambda n: True)
    run_pipeline(root, warehouse)
    eng = engines.DuckDBEngine(warehouse)
    eng.native(f"ALTER TABLE {sources.LOADED_SHARDS} DROP COLUMN sha256")
    eng.close()
    # the newest shard is dated 03-28: the default lookback_days (3) reaches back to 03-25
    window = ["events_20240325.jsonl", "events_20240326.jsonl", "events_20240327.jsonl",
              "events_intraday_20240327.jsonl", "events_intraday_20240328.jsonl"]
    assert shards_read(run_pipeline(root, warehouse)) == window
    assert shards_read(run_pipeline(root, warehouse)) == []


def test_a_removed_shard_removes_its_events(tmp_path):
    # GA4 deletes events_intraday_YYYYMMDD once the daily table is complete: its rows must go too.
    root, warehouse = tmp_path / "src", tmp_path / "w.duckdb"
    copy_tree(root, lambda n: True)
    run_pipeline(root, warehouse)
    (root / "ga4" / "events_intraday_20240328.jsonl").unlink()
    run_pipeline(root, warehouse)
    eng = engines.DuckDBEngine(warehouse, read_only=True)
    left = eng.query("SELECT COUNT(*) AS n FROM base__ga4__events WHERE event_date = DATE '2024-03-28'")["n"].iloc[0]
    sessions = eng.query("SELECT COUNT(*) AS n FROM mrt__marketing__web_sessions WHERE session_date = DATE '2024-03-28'")
    eng.con.close()
    assert left == 0 and sessions["n"].iloc[0] == 0


def test_checksums_are_equal_for_equal_content_and_differ_otherwise(tmp_path):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    # 0.1 + 0.2 and 0.3 differ in the last bit; so do the two revenue sums near 1.45e6 (a sum's order, as a
    # parallel aggregate leaves it, moves the last bits at any magnitude)
    for path, rows in ((a, "(1, 0.1::DOUBLE + 0.2::DOUBLE), (2, 3.0), (3, 1453318.1234567892)"),
                       (b, "(2, 3.0), (1, 0.3), (3, 1453318.1234567899)")):
        eng = engines.DuckDBEngine(path)
        eng.native(f"CREATE TABLE t AS SELECT k, CAST(x AS DOUBLE) AS x FROM (VALUES {rows}) v(k, x)")
        eng.close()
    sums = [engines.DuckDBEngine(p, read_only=True).checksum("t") for p in (a, b)]
    assert sums[0] == sums[1]  # row order and the last bits of a float sum do not matter
    eng = engines.DuckDBEngine(b)
    eng.native("UPDATE t SET x = 3.5 WHERE k = 2")
    assert eng.checksum("t") != sums[0]
    eng.close()


@pytest.mark.parametrize("older", ["nested rows", "another flattening"])
def test_a_warehouse_flattened_otherwise_is_reloaded_whole(tmp_path, older):
    # rows of another flattening are never mixed with new ones: a warehouse written before the loader flattened
    # the shards (the export's nested rows, no `shard` column, no recorded version), or by a c360 whose
    # c360/sql/_ga4_events.sql differs, has every shard read again
    root = copy_tree(tmp_path / "src", lambda name: True)
    run_pipeline(root, tmp_path / "w.duckdb")
    eng = engines.DuckDBEngine(tmp_path / "w.duckdb")
    try:
        if older == "nested rows":
            eng.native("CREATE OR REPLACE TABLE src__ga4__events AS SELECT * EXCLUDE (shard) FROM src__ga4__events")
            eng.native("ALTER TABLE c360__loaded_shards DROP COLUMN flattening")
        else:
            eng.native("UPDATE c360__loaded_shards SET flattening = 'an older one'")
        report = sources.load_sources(eng, root)
        assert set(report.files_frame().query("table == 'src__ga4__events'")["read"]) == {"read"}
        assert "shard" in eng.columns("src__ga4__events")
        params = P.load(overrides=[f"source_root={root}", f"warehouse={tmp_path / 'w.duckdb'}"])
        for layer in models.LAYERS:
            models.build(eng, layer, params)
    finally:
        eng.close()
    run_pipeline(root, tmp_path / "fresh.duckdb")
    got, want = tables(tmp_path / "w.duckdb"), tables(tmp_path / "fresh.duckdb")
    assert sorted(got) == sorted(want)
    for name in want:
        pd.testing.assert_frame_equal(got[name], want[name], obj=name)


def _rebuilt(built: dict) -> set[str]:
    """The models a run rebuilt (the others it kept as they were: nothing they read changed)."""
    return {m for layer in models.LAYERS for m, kept in zip(built[layer]["model"], built[layer]["unchanged"])
            if not kept}


def test_a_rerun_with_another_conversion_window_rebuilds_only_what_reads_it(tmp_path):
    warehouse, reference = tmp_path / "w.duckdb", tmp_path / "reference.duckdb"
    run_pipeline(FIXTURES, warehouse)
    built = run_pipeline(FIXTURES, warehouse, conversion_window_days=30)
    # the window is read by the touchpoints (and ROI); the paths, the attributed touchpoints and the channel
    # table read those: nothing of base, identity or customer 360 is rebuilt
    assert _rebuilt(built) == {m.name for m in models.plan("attribution")}
    assert all(built[layer]["unchanged"].all() for layer in ("base", "identity", "customer"))
    run_pipeline(FIXTURES, reference, full_refresh="true", conversion_window_days=30)
    assert_same(tables(warehouse), tables(reference))


@pytest.mark.parametrize("amount", ["2600.00", "2500.0000001"])  # the second differs in the 11th digit only
def test_a_changed_source_file_rebuilds_what_reads_it_and_nothing_else(tmp_path, amount):
    root, warehouse, reference = tmp_path / "src", tmp_path / "w.duckdb", tmp_path / "reference.duckdb"
    copy_tree(root, lambda n: True)
    run_pipeline(root, warehouse)
    deals = root / "crm" / "deals.csv"
    deals.write_text(deals.read_text().replace("Initech pilot,2500.00", f"Initech pilot,{amount}"))
    built = run_pipeline(root, warehouse)
    assert [Path(f["file"]).name for f in built["loaded"].files if f["read"] == "read"] == ["deals.csv"]
    rebuilt = _rebuilt(built)
    # deals feed the deal aggregates, customer 360 and attribution; never the identity graph
    assert {"base__crm__deals", "int__deal_aggregates", "mrt__core__customer_360",
            "int__attribution_touchpoints"} <= rebuilt
    assert not rebuilt & {m.name for m in models.plan("identity")}
    assert "base__ga4__events" not in rebuilt and "int__web_sessions" not in rebuilt
    run_pipeline(root, reference, full_refresh="true")
    assert_same(tables(warehouse), tables(reference))


def test_a_parameter_a_python_step_reads_rebuilds_it(tmp_path):
    warehouse = tmp_path / "w.duckdb"
    run_pipeline(FIXTURES, warehouse)
    built = run_pipeline(FIXTURES, warehouse, attribution_models='["first_touch", "markov"]')
    assert "mrt__marketing__channel_attribution" in _rebuilt(built)
    eng = engines.DuckDBEngine(warehouse, read_only=True)
    found = eng.query("SELECT DISTINCT model FROM mrt__marketing__channel_attribution ORDER BY 1")["model"].tolist()
    eng.con.close()
    assert found == ["first_touch", "markov"]


def test_a_python_step_is_rebuilt_when_a_c360_module_it_uses_changes(monkeypatch):
    # the channel table's step lives in c360/steps/channel_models.py, its Markov and Shapley code in c360/attribution.py
    step = models.discover()["mrt__marketing__channel_attribution"]
    params = P.load()
    inputs = {name: "f" for name in step.refs}
    before = models.fingerprint(None, step, params, inputs)
    assert before == models.fingerprint(None, step, params, inputs) and before is not None
    assert models.fingerprint(None, step, {**params, "attribution_models": ["markov"]}, inputs) != before
    assert models.fingerprint(None, step, {**params, "conversion_window_days": 7}, inputs) == before  # not read
    assert models.fingerprint(None, step, params, {**inputs, "int__attribution_paths": "g"}) != before
    from c360.dag import state

    real = state.inspect.getsource

    def edited(obj):
        return real(obj) + ("\n# a changed removal effect\n" if obj.__name__ == "c360.attribution" else "")

    monkeypatch.setattr(state.inspect, "getsource", edited)
    assert models.fingerprint(None, step, params, inputs) != before
