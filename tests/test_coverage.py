"""c360.sources.coverage: the GA4 days without a shard, from the shard names notebook 01 lists."""
from __future__ import annotations

from datetime import date

import pytest

from c360.sources.coverage import days_without_shard, shard_dates

D = date.fromisoformat


@pytest.mark.parametrize("dates, missing", [
    ([], []),
    ([D("2024-03-05")], []),
    ([D("2024-03-05"), D("2024-03-06")], []),
    ([D("2024-03-04"), D("2024-03-07")], [D("2024-03-05"), D("2024-03-06")]),
    ([D("2024-03-07"), D("2024-03-01"), D("2024-03-07"), D("2024-03-03")],  # any order, repeats
     [D("2024-03-02"), D("2024-03-04"), D("2024-03-05"), D("2024-03-06")]),
    ([D("2024-02-27"), D("2024-03-01")], [D("2024-02-28"), D("2024-02-29")]),  # a leap day
    ([D("2023-12-31"), D("2024-01-02")], [D("2024-01-01")]),
], ids=["none", "one day", "contiguous", "a two-day gap", "unordered with repeats", "leap year", "new year"])
def test_days_without_shard(dates, missing):
    assert days_without_shard(dates) == missing


def test_shard_dates_reads_files_and_tables_and_counts_intraday_for_its_day():
    names = ["data/fixtures/ga4/events_20240304.jsonl", "ga4/events_20240305.jsonl.gz", "events_20240306.parquet",
             "events_intraday_20240308.jsonl", "my-project.analytics_123.events_20240309",
             "my-project.analytics_123.events_intraday_20240309", "crm/deals.csv", "marketing/ad_spend.csv (absent)"]
    dates = shard_dates(names)
    assert dates == [D("2024-03-04"), D("2024-03-05"), D("2024-03-06"), D("2024-03-08"), D("2024-03-09")]
    assert days_without_shard(dates) == [D("2024-03-07")]
