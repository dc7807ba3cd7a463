"""`make bench`: the whole pipeline on generated data at three sizes, against the cost of parsing the export.

For each size it measures the floor (DuckDB reading every raw shard once with an explicit schema and
flattening base fields into a table: 12 of them, and, second, every field base extraction needs with the
fingerprint of each event), the full pipeline (`python -m c360 run`, every
notebook, full refresh), per-notebook and per-model wall time, events per second and the peak RSS of the
whole process tree (kernels included). Then: the fixed cost (the pipeline on the fixtures), the scaling
exponent (slope of log time against log events), and an incremental run that adds the last day to a
warehouse holding the others (with the default lookback_days, and with lookback_days=0). Results are printed and saved to bench/results.json. A benchmark, not a test:
nothing here fails on a time.

    BENCH_SIZES=10000x30,30000x30,100000x30 BENCH_SEED=7 python bench/run.py
"""
from __future__ import annotations

import json
import math
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from c360 import synth  # noqa: E402
from c360.sources import GA4_COLUMNS, SHARD  # noqa: E402

OUT = ROOT / "bench" / "out"
SIZES = [tuple(int(x) for x in s.split("x")) for s in os.environ.get("BENCH_SIZES", "10000x30,30000x30,100000x30").split(",")]
SEED = int(os.environ.get("BENCH_SEED", "7"))


class PeakRss:
    """Samples the summed RSS of a process and all its descendants (from /proc) until stopped."""

    def __init__(self, pid: int, every: float = 0.1):
        self.pid, self.every, self.peak = pid, every, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree(self, pid: int) -> list[int]:
        out, todo = [], [pid]
        while todo:
            p = todo.pop()
            out.append(p)
            try:
                for task in os.listdir(f"/proc/{p}/task"):
                    with open(f"/proc/{p}/task/{task}/children") as fh:
                        todo.extend(int(c) for c in fh.read().split())
            except OSError:
                pass
        return out

    def _rss(self, pid: int) -> int:
        try:
            with open(f"/proc/{pid}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) * 1024
        except OSError:
            pass
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(self._rss(p) for p in self._tree(self.pid)))
            time.sleep(self.every)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def dataset(persons: int, days: int) -> Path:
    out = OUT / f"data-{persons}x{days}-s{SEED}"
    done = out / ".complete"
    if not done.exists():
        if out.exists():
            shutil.rmtree(out)
        t0 = time.perf_counter()
        counts = synth.generate(out, persons, days, SEED, "jsonl.gz")
        counts["generate_seconds"] = round(time.perf_counter() - t0, 1)
        done.write_text(json.dumps(counts, default=str))
    return out


def _param(key: str, field: str) -> str:
    """An event parameter's value as the floors read it: the first entry with the key, one typed field."""
    return f"list_filter(event_params, lambda p: p.key = '{key}')[1].value.{field}"


def _timed_flatten(source_root: Path, select_list: str) -> tuple[float, int]:
    """Seconds to read every shard once (explicit schema) and write `select_list` of it as a table; its rows."""
    shards = sorted(str(p) for p in (source_root / "ga4").iterdir() if SHARD.match(p.name))
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in GA4_COLUMNS.items()) + "}"
    db = OUT / "floor.duckdb"
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    t0 = time.perf_counter()
    con.execute(f"CREATE TABLE flat AS SELECT {select_list} FROM read_json({shards!r}, "
                f"format='newline_delimited', columns={columns}, filename=true)")
    seconds = time.perf_counter() - t0
    rows = con.execute("SELECT COUNT(*) FROM flat").fetchone()[0]
    con.close()
    db.unlink(missing_ok=True)
    return seconds, rows


def floor_seconds(source_root: Path) -> tuple[float, int]:
    """The floor: every shard read once and 12 base fields flattened into a table."""
    return _timed_flatten(source_root, f"""
        strptime(event_date, '%Y%m%d')::DATE AS event_date, make_timestamp(event_timestamp) AS event_timestamp,
        event_name, user_pseudo_id, user_id,
        coalesce({_param('ga_session_id', 'int_value')}, TRY_CAST({_param('ga_session_id', 'string_value')} AS BIGINT)) AS ga_session_id,
        {_param('page_location', 'string_value')} AS page_location,
        {_param('source', 'string_value')} AS param_source, {_param('medium', 'string_value')} AS param_medium,
        collected_traffic_source.manual_source AS manual_source, collected_traffic_source.gclid AS gclid,
        privacy_info.analytics_storage AS consent, filename AS shard""")


def floor_all_fields_seconds(source_root: Path) -> float:
    """The floor with every field base extraction needs: the 26 columns of base__ga4__events it reads from the
    export (ten event parameters) and a hash of the nested fields that make an event distinct (duplicates),
    written as a table. Written here by hand, not by c360's loader, so the ratio to it means something."""
    ints = ["ga_session_id", "ga_session_number", "engagement_time_msec", "session_engaged"]
    strings = ["page_location", "page_referrer", "gclid", "source", "medium", "campaign"]
    seconds, _ = _timed_flatten(source_root, f"""
        strptime(event_date, '%Y%m%d')::DATE AS event_date, make_timestamp(event_timestamp) AS event_timestamp,
        event_name, user_pseudo_id, user_id,
        {", ".join(f"{_param(k, 'int_value')} AS {k}" for k in ints)},
        {", ".join(f"{_param(k, 'string_value')} AS p_{k}" for k in strings)},
        collected_traffic_source.manual_source AS manual_source,
        collected_traffic_source.manual_medium AS manual_medium,
        collected_traffic_source.manual_campaign_name AS manual_campaign,
        traffic_source.source AS first_source, traffic_source.medium AS first_medium,
        traffic_source.name AS first_campaign, privacy_info.analytics_storage AS consent,
        device.category AS device_category, geo.country AS country, stream_id, filename AS shard,
        hash(event_params, privacy_info, collected_traffic_source, device, geo) AS fingerprint""")
    return seconds


def run_pipeline(source_root: Path, warehouse: Path, *extra: str) -> dict:
    """`python -m c360 run` as a user runs it; wall time, peak RSS, manifest, per-model seconds."""
    reports = OUT / "reports"
    cmd = [sys.executable, "-m", "c360", "run", "--reports", str(reports), "-p", f"source_root={source_root}",
           "-p", f"warehouse={warehouse}", *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    with PeakRss(proc.pid) as rss:
        out, err = proc.communicate()
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"run failed:\n{out[-2000:]}\n{err[-4000:]}")
    manifest = json.loads((reports / "latest" / "manifest.json").read_text())
    con = duckdb.connect(str(warehouse), read_only=True)
    per_model = dict(con.execute("SELECT model, seconds FROM c360__model_runs ORDER BY seconds DESC").fetchall())
    events = con.execute("SELECT COUNT(*) FROM src__ga4__events").fetchone()[0]
    con.close()
    return {"seconds": round(seconds, 2), "peak_rss_mb": round(rss.peak / 2**20), "events": events,
            "notebooks": {n["notebook"]: n["seconds"] for n in manifest["notebooks"]},
            "models": {k: round(v, 2) for k, v in per_model.items()}}


def incremental(source_root: Path, persons: int, days: int) -> dict:
    """A warehouse holding all days but the last; then the last day arrives (an incremental run)."""
    root = OUT / f"inc-{persons}x{days}"
    if root.exists():
        shutil.rmtree(root)
    shutil.copytree(source_root, root, ignore=shutil.ignore_patterns("events_*"))
    shards = sorted((source_root / "ga4").iterdir())
    last = max(SHARD.match(p.name)["date"] for p in shards if SHARD.match(p.name))
    for p in shards:
        if SHARD.match(p.name) and SHARD.match(p.name)["date"] != last:
            shutil.copy2(p, root / "ga4" / p.name)
    warehouse = OUT / f"w-inc-{persons}x{days}.duckdb"
    warehouse.unlink(missing_ok=True)
    before = run_pipeline(root, warehouse)
    no_lookback = OUT / f"w-inc-lookback0-{persons}x{days}.duckdb"
    shutil.copy2(warehouse, no_lookback)
    for p in shards:
        if SHARD.match(p.name) and SHARD.match(p.name)["date"] == last:
            shutil.copy2(p, root / "ga4" / p.name)
    after = run_pipeline(root, warehouse)
    # the same day added with lookback_days=0: only the new shards are read (the default re-reads the 3 days
    # before the newest, which GA4 may still be updating): how much of the increment is that lookback
    only_new = run_pipeline(root, no_lookback, "-p", "lookback_days=0")
    full = run_pipeline(root, OUT / f"w-inc-full-{persons}x{days}.duckdb", "-p", "full_refresh=true")
    return {"first_days_seconds": before["seconds"], "add_one_day_seconds": after["seconds"],
            "add_one_day_lookback0_seconds": only_new["seconds"],
            "full_refresh_seconds": full["seconds"], "ratio": round(after["seconds"] / full["seconds"], 3),
            "ratio_lookback0": round(only_new["seconds"] / full["seconds"], 3),
            "notebooks_incremental": after["notebooks"], "notebooks_incremental_lookback0": only_new["notebooks"],
            "notebooks_full_refresh": full["notebooks"],
            "models_incremental": after["models"], "models_incremental_lookback0": only_new["models"]}


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    results = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "duckdb": duckdb.__version__},
               "seed": SEED, "sizes": []}
    fixtures = run_pipeline(ROOT / "data" / "fixtures", OUT / "w-fixtures.duckdb", "-p", "full_refresh=true")
    results["fixtures"] = fixtures
    print(f"fixed cost (whole pipeline on data/fixtures): {fixtures['seconds']:.1f} s")
    for persons, days in SIZES:
        root = dataset(persons, days)
        generated = json.loads((root / ".complete").read_text())
        floor, rows = floor_seconds(root)
        floor_all = floor_all_fields_seconds(root)
        full = run_pipeline(root, OUT / f"w-{persons}x{days}.duckdb", "-p", "full_refresh=true")
        data_cost = full["seconds"] - fixtures["seconds"]
        size = {"persons": persons, "days": days, "raw_rows": rows, "generated": generated,
                "floor_seconds": round(floor, 2), "floor_all_fields_seconds": round(floor_all, 2), "full": full,
                "events_per_second": round(rows / full["seconds"]),
                "data_cost_over_floor": round(data_cost / floor, 2),
                "data_cost_over_floor_all_fields": round(data_cost / floor_all, 2)}
        results["sizes"].append(size)
        print(f"{persons:>7} persons x {days} days: {rows:,} raw events, floor {floor:.1f} s (every base field: "
              f"{floor_all:.1f} s), full run {full['seconds']:.1f} s ({size['events_per_second']:,} events/s), "
              f"(run - fixtures) / floor {size['data_cost_over_floor']:.2f} "
              f"({size['data_cost_over_floor_all_fields']:.2f}), peak RSS {full['peak_rss_mb']} MB")
        print("    notebooks: " + ", ".join(f"{k.split('_')[0]} {v:.1f}s" for k, v in full["notebooks"].items()))
        print("    slowest models: " + ", ".join(f"{k} {v:.2f}s" for k, v in list(full["models"].items())[:5]))
    small, large = results["sizes"][0], results["sizes"][-1]
    if large["raw_rows"] > small["raw_rows"]:
        exponent = math.log(large["full"]["seconds"] / small["full"]["seconds"]) / math.log(large["raw_rows"] / small["raw_rows"])
        data_exponent = math.log((large["full"]["seconds"] - fixtures["seconds"]) / max(small["full"]["seconds"] - fixtures["seconds"], 1e-9)) \
            / math.log(large["raw_rows"] / small["raw_rows"])
        results["scaling_exponent"] = round(exponent, 3)
        results["scaling_exponent_data_dependent"] = round(data_exponent, 3)
        print(f"scaling exponent (log time / log events, smallest to largest): {exponent:.3f} "
              f"(data-dependent part only: {data_exponent:.3f})")
        print("peak RSS by size: " + ", ".join(f"{s['full']['peak_rss_mb']} MB" for s in results["sizes"]))
    inc = incremental(dataset(*SIZES[-1]), *SIZES[-1])
    fixed = fixtures["seconds"]
    net = max(inc["full_refresh_seconds"] - fixed, 1e-9)
    inc["ratio_net_of_fixed_cost"] = round((inc["add_one_day_seconds"] - fixed) / net, 3)
    inc["ratio_lookback0_net_of_fixed_cost"] = round((inc["add_one_day_lookback0_seconds"] - fixed) / net, 3)
    results["incremental"] = inc
    print(f"incremental: adding the last day costs {inc['add_one_day_seconds']:.1f} s vs a full refresh "
          f"{inc['full_refresh_seconds']:.1f} s (ratio {inc['ratio']:.2f}; "
          f"{inc['ratio_net_of_fixed_cost']:.2f} once the fixed cost is taken off both); with lookback_days=0 "
          f"{inc['add_one_day_lookback0_seconds']:.1f} s (ratio {inc['ratio_lookback0']:.2f}; "
          f"{inc['ratio_lookback0_net_of_fixed_cost']:.2f} net)")
    for label, key in (("full refresh", "notebooks_full_refresh"), ("add one day", "notebooks_incremental"),
                       ("add one day, lookback 0", "notebooks_incremental_lookback0")):
        print(f"    {label}: " + ", ".join(f"{k.split('_')[0]} {v:.1f}s" for k, v in inc[key].items()))
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print("saved bench/results.json")


if __name__ == "__main__":
    main()
