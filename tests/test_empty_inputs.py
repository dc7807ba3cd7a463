"""Empty and partial inputs are normal, table-driven: each case removes or alters part of a copy of the fixtures,
runs the whole pipeline (`c360 run`), and the run must finish (exit 0, four HTML reports and a manifest) with the
report that is concerned saying plainly what is absent (docs/data-contract.md, "Empty and partial inputs").

The runs (one `c360 run` subprocess per case, 6-10 s and about 9 CPU-seconds each) are started by a module-scoped
pool, two at a time (C360_TEST_RUNS overrides): on two cores the module took 72 s one at a time, 64 s two and
67 s three at a time. Each test waits for its own run and checks it; `-k` runs only the cases selected."""
from __future__ import annotations

import csv
import gzip
import html
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from c360.paths import PROJ_ROOT

pytestmark = pytest.mark.slow

FIXTURES = PROJ_ROOT / "data" / "fixtures"
NOTEBOOKS = ("01_base_extraction", "02_identity_resolution", "03_customer_360", "04_attribution")
PARALLEL_RUNS = int(os.environ.get("C360_TEST_RUNS", "2"))


# -- how each case alters the copy of the fixtures


def remove(rel: str) -> Callable[[Path], None]:
    return lambda root: (root / rel).unlink()


def rewrite_csv(rel: str, change: Callable[[dict], dict | None]) -> Callable[[Path], None]:
    """Rewrite every row of a CSV with `change` (None drops the row); the header stays."""
    def mutate(root: Path) -> None:
        with (root / rel).open(encoding="utf-8", newline="") as fh:
            reader = csv.DictReader(fh)
            columns, rows = reader.fieldnames, list(reader)
        rows = [r for r in map(change, rows) if r is not None]
        with (root / rel).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    return mutate


def set_fields(**values: str) -> Callable[[dict], dict]:
    return lambda row: {**row, **values}


def deal_stages(won: str) -> Callable[[dict], dict]:
    """Every won deal moved to stage `won` (closedlost, or an open stage with its close date cleared)."""
    def change(row: dict) -> dict:
        if row["stage"] != "closedwon":
            return row
        return {**row, "stage": won, **({} if won == "closedlost" else {"closed_at": ""})}
    return change


def all_open(row: dict) -> dict:
    """Every deal open: no won deal, no lost one (no journey at all for the data-driven models)."""
    return {**row, "stage": "presentationscheduled", "closed_at": ""}


def close_before_ga4(row: dict) -> dict:
    """Deals created and closed a year before the GA4 data: no session can fall in any window."""
    closed = "2023-02-01T10:00:00Z" if row["closed_at"] else ""
    return {**row, "created_at": "2023-01-02T10:00:00Z", "closed_at": closed}


def without_consent(root: Path) -> None:
    """Drop privacy_info from every event of every shard (.jsonl, .jsonl.gz, .parquet)."""
    import pyarrow.parquet as pq

    for shard in sorted((root / "ga4").glob("events_*")):
        if shard.name.endswith(".parquet"):
            table = pq.read_table(shard)
            pq.write_table(table.drop_columns([c for c in ("privacy_info",) if c in table.column_names]), shard)
            continue
        opener = gzip.open if shard.name.endswith(".gz") else open
        with opener(shard, "rt", encoding="utf-8") as fh:
            rows = [json.loads(line) for line in fh if line.strip()]
        for row in rows:
            row.pop("privacy_info", None)
        with opener(shard, "wt", encoding="utf-8") as fh:
            fh.write("".join(json.dumps(r) + "\n" for r in rows))


def keep_shards(*names: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        for shard in (root / "ga4").glob("events_*"):
            if shard.name not in names:
                shard.unlink()
    return mutate


def drop_shards(*names: str) -> Callable[[Path], None]:
    return lambda root: [(root / "ga4" / n).unlink() for n in names]


def header_only(rel: str) -> Callable[[Path], None]:
    return rewrite_csv(rel, lambda row: None)


# -- the cases: what is absent, and what the report concerned says


@dataclass(frozen=True)
class Case:
    name: str
    mutate: Callable[[Path], None]
    says: tuple[tuple[str, str], ...]  # (notebook, a sentence its HTML report shows)
    params: tuple[str, ...] = ()  # key=value parameters of the run


PERIOD = "2024-02-26 to 2024-03-28"  # first to last event date of the fixtures' GA4 events
NO_WON = ("04_attribution", "No won deals: nothing to attribute.")

CASES = [
    Case("no ad_spend.csv", remove("marketing/ad_spend.csv"), (
        ("01_base_extraction", "No ad spend: marketing/ad_spend.csv is absent."),
        ("04_attribution", f"No ad spend in the analysis period ({PERIOD}): ROI is not computed."))),
    Case("ad spend only outside the GA4 dates",
         rewrite_csv("marketing/ad_spend.csv", lambda r: {**r, "date": r["date"].replace("2024-", "2025-")}), (
             # a year after the GA4 data: every row still has an exchange rate on or before its date
             ("04_attribution", f"No ad spend in the analysis period ({PERIOD}): ROI is not computed."),
             ("04_attribution", "ad spend has 84 rows, dated 2025-03-01 to 2025-03-28, all outside the analysis "
                                "period."))),
    Case("no form_submissions.csv", remove("crm/form_submissions.csv"), (
        ("01_base_extraction", "No form submissions: crm/form_submissions.csv is absent."),)),
    Case("no product users.csv", remove("product/users.csv"), (
        ("01_base_extraction", "No product users: product/users.csv is absent."),)),
    Case("no won deals, all open", rewrite_csv("crm/deals.csv", all_open), (
        NO_WON, ("01_base_extraction", "No won deals (11 deals: 0 won, 0 lost, 11 open)."))),
    Case("won deals without any session", rewrite_csv("crm/deals.csv", close_before_ga4), (
        ("04_attribution", "No won deal has a session in its 90-day conversion window: all 7 won deals are "
                           "'(unattributed)'."),)),
    Case("every deal lost or open", rewrite_csv("crm/deals.csv", deal_stages("closedlost")), (
        NO_WON, ("01_base_extraction", "No won deals (11 deals: 0 won, 8 lost, 3 open)."))),
    # no deal to take the reporting currency from, and the fixtures' ad spend is in USD and EUR: it is given
    Case("no deals rows at all", header_only("crm/deals.csv"), (
        NO_WON, ("01_base_extraction", "No deals: crm/deals.csv has no rows.")), ("reporting_currency=USD",)),
    Case("GA4 without consent fields", without_consent, (
        ("01_base_extraction", "No GA4 event has consent fields (privacy_info)"),)),
    Case("a single GA4 day", keep_shards("events_20240313.jsonl"), (
        ("01_base_extraction", "GA4 data covers a single day: 2024-03-13."),)),
    Case("GA4 days with gaps", drop_shards("events_20240305.jsonl.gz", "events_20240306.jsonl"), (
        ("01_base_extraction", "GA4 days without a shard: 2024-02-28, 2024-02-29, 2024-03-05, 2024-03-06."),)),
]


def _run(workdir: Path, root: Path, params: tuple[str, ...]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "c360", "run", "--reports", str(workdir / "reports"),
         "-p", f"warehouse={workdir / 'c360.duckdb'}", "-p", f"source_root={root}",
         *(arg for p in params for arg in ("-p", p))],
        cwd=PROJ_ROOT, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def runs(request, tmp_path_factory) -> dict[str, tuple[Path, Future]]:
    """The source tree of every case selected (-k), and its run started (PARALLEL_RUNS at a time): name ->
    (folder, run)."""
    selected = {item.callspec.params["case"].name for item in request.session.items
                if getattr(item, "module", None) is request.module and hasattr(item, "callspec")}
    with ThreadPoolExecutor(max_workers=PARALLEL_RUNS) as pool:
        started = {}
        for case in (c for c in CASES if c.name in selected):
            workdir = tmp_path_factory.mktemp(re.sub(r"\W+", "_", case.name))
            root = workdir / "src"
            shutil.copytree(FIXTURES, root)
            case.mutate(root)
            started[case.name] = (workdir, pool.submit(_run, workdir, root, case.params))
        yield started
        for _, run in started.values():
            run.cancel()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_partial_input_runs_to_the_end_and_says_what_is_absent(case, runs):
    workdir, run = runs[case.name]
    result = run.result()
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    latest = workdir / "reports" / "latest"
    assert (latest / "manifest.json").is_file()
    reports = {nb: html.unescape((latest / f"{nb}.html").read_text(encoding="utf-8")) for nb in NOTEBOOKS}
    for notebook, sentence in case.says:
        assert sentence in reports[notebook], f"{notebook}.html does not say: {sentence}"
    for notebook in NOTEBOOKS:  # said in a sentence: no error, no warning printed to stderr
        cells = json.loads((latest / f"{notebook}.ipynb").read_text(encoding="utf-8"))["cells"]
        noise = [out for cell in cells for out in cell.get("outputs", [])
                 if out["output_type"] == "error" or out.get("name") == "stderr"]
        assert not noise, f"{notebook}: {noise[0]}"
