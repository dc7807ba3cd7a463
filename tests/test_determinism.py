"""Bit-identical results: on the same inputs, every model table is the same to the last bit, however the run goes.

Synthetic data (5,000 people x 20 days, Parquet shards) is built with DuckDB running 4 threads (more than this
machine's cores: C360_DUCKDB_THREADS, read by DuckDBEngine), four ways:

1. a full refresh;
2. a second full refresh, into a fresh warehouse;
3. a re-run on the warehouse of 2, nothing changed;
4. an incremental run: first without the last 3 days' shards, then with them.

Every table named base__*, int__* or mrt__* (models and their helper tables) must have the same exact checksum
(DuckDBEngine.checksums(exact=True): doubles hashed as they are, not rounded as the manifest's are) in all four.
A parallel float SUM, whose order varies from run to run, breaks this; DECIMAL money does not.

The pipeline is driven as the notebooks drive it (sources.load_sources, then models.build per layer), without
kernels. With the multi-currency variant the deals are in USD, EUR and GBP, converted with marketing/fx_rates.csv.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from c360 import demo, models, params as P, sources, warehouse as engines

pytestmark = pytest.mark.slow

PERSONS, DAYS, SEED = 5000, 20, 7
HELD_BACK_DAYS = 3
THREADS = 4
PREFIXES = ("base__", "int__", "mrt__")
RUNS = ("full refresh", "second full refresh", "re-run", "incremental")


def _shard_day(name: str) -> str:
    """events_20240301.parquet, events_intraday_20240301.jsonl -> '20240301'."""
    return name.rsplit("_", 1)[1][:8]


def _link_tree(src: Path, dest: Path, accept=lambda rel: True) -> None:
    """Hard-link the files of `src` that `accept` takes into `dest` (same bytes, same modification time)."""
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if path.is_file() and accept(rel) and not (dest / rel).exists():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            os.link(path, dest / rel)


def _run(root: Path, warehouse: Path, overrides: list[str], full_refresh: bool) -> dict:
    """Load and build every layer as the notebooks do; return the exact and the manifest-style checksums of every
    base__/int__/mrt__ table, and which models the run kept unchanged."""
    params = P.load(overrides=[f"source_root={root}", f"warehouse={warehouse}",
                               f"full_refresh={'true' if full_refresh else 'false'}", *overrides])
    eng = engines.connect(params)
    try:
        assert eng.con.execute("SELECT current_setting('threads')").fetchone()[0] == THREADS
        sources.load_sources(eng, root, params["on_bad_rows"], params["full_refresh"], params["lookback_days"])
        built = {layer: models.build(eng, layer, params) for layer in models.LAYERS}
        names = sorted(n for n in eng.tables() if n.startswith(PREFIXES))
        return {"exact": eng.checksums(names, exact=True), "manifest": eng.checksums(names),
                "columns": {n: _column_hashes(eng, n) for n in names},
                "unchanged": {m for df in built.values() for m, u in zip(df["model"], df["unchanged"]) if u}}
    finally:
        eng.close()


def _column_hashes(eng, name: str) -> dict[str, int]:
    """Per column, an order-independent hash of its values (to say which columns of a differing table differ)."""
    cols = eng.columns(name)
    if not cols:
        return {}
    row = eng.native("SELECT " + ", ".join(f'COALESCE(SUM(hash("{c}")), 0)' for c in cols)
                     + f" FROM {engines.check_identifier(name)}").fetchone()
    return {c: int(h) for c, h in zip(cols, row)}


@pytest.fixture(scope="module", params=["USD", "USD,EUR,GBP"], ids=["one_currency", "three_currencies"])
def runs(request, tmp_path_factory) -> dict[str, dict]:
    currencies = request.param
    overrides = [f"reporting_currency={currencies.split(',')[0]}"]
    tmp = tmp_path_factory.mktemp("determinism")
    root = tmp / "src"
    demo.generate(root, PERSONS, DAYS, SEED, fmt="parquet", currencies=currencies)
    days = sorted({_shard_day(p.name) for p in (root / "ga4").iterdir()})
    held = set(days[-HELD_BACK_DAYS:])
    assert len(days) == DAYS and len(held) == HELD_BACK_DAYS

    before = os.environ.get("C360_DUCKDB_THREADS")
    os.environ["C360_DUCKDB_THREADS"] = str(THREADS)
    try:
        out = {"full refresh": _run(root, tmp / "w1.duckdb", overrides, full_refresh=True),
               "second full refresh": _run(root, tmp / "w2.duckdb", overrides, full_refresh=True),
               "re-run": _run(root, tmp / "w2.duckdb", overrides, full_refresh=False)}
        partial = tmp / "partial"
        _link_tree(root, partial, lambda rel: rel.parts[0] != "ga4" or _shard_day(rel.name) not in held)
        assert len(list((partial / "ga4").iterdir())) < len(list((root / "ga4").iterdir()))
        first = _run(partial, tmp / "w4.duckdb", overrides, full_refresh=True)
        _link_tree(root, partial)
        out["incremental"] = _run(partial, tmp / "w4.duckdb", overrides, full_refresh=False)
        out["incremental"]["first"] = first
    finally:
        if before is None:
            os.environ.pop("C360_DUCKDB_THREADS", None)
        else:
            os.environ["C360_DUCKDB_THREADS"] = before
    return out


def _differing(a: dict[str, str], b: dict[str, str]) -> list[str]:
    return sorted(n for n in a.keys() | b.keys() if a.get(n) != b.get(n))


def test_the_runs_build_the_models_and_the_incremental_one_starts_from_less(runs):
    exact = runs["full refresh"]["exact"]
    for layer in models.LAYERS:  # every model of every layer is there (helper tables too, checked below)
        assert {m.name for m in models.plan(layer)} <= set(exact), layer
    assert int(exact["mrt__core__customer_360"].split(":")[0]) > 1000
    # the first half of the incremental run had fewer events than the whole
    first = runs["incremental"]["first"]["exact"]
    assert int(first["base__ga4__events"].split(":")[0]) < int(exact["base__ga4__events"].split(":")[0])
    # the re-run kept the models as they were
    assert runs["re-run"]["unchanged"], "the re-run rebuilt every model"


@pytest.mark.parametrize("run", RUNS[1:])
def test_every_model_table_is_bit_identical_to_the_full_refresh(runs, run):
    """Exact checksums (and, in the message, the manifest's rounded ones) of every base__/int__/mrt__ table."""
    ref, other = runs["full refresh"], runs[run]
    exact = _differing(ref["exact"], other["exact"])
    rounded = _differing(ref["manifest"], other["manifest"])
    columns = {n: sorted(c for c, h in ref["columns"].get(n, {}).items() if h != other["columns"].get(n, {}).get(c))
               for n in exact}  # which columns of each differing table differ
    assert not exact, (f"{run}: {len(exact)} of {len(ref['exact'])} tables differ from the full refresh: "
                       f"{columns} (by the manifest's rounded checksums: {rounded or 'none'})")
