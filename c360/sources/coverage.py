"""What the GA4 input covers: the days of the loaded range that have no shard (notebook 01 warns about them).

Pure functions, no warehouse: the shard dates come from the names notebook 01 already lists (file paths on DuckDB,
table ids on BigQuery)."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Iterable

from c360.sources.contract import SHARD_FORMATS, SHARD_TABLE

SHARD_NAME = re.compile(rf"{SHARD_TABLE}(?:\.(?:{SHARD_FORMATS}))?$")  # a shard's file (path) or table (id)


def shard_dates(names: Iterable[str]) -> list[date]:
    """The dates of the GA4 shards among `names` (file paths or names, BigQuery table ids), sorted and distinct;
    an intraday shard gives its day, a name that is not a shard is ignored."""
    found = set()
    for name in names:
        m = SHARD_NAME.search(str(name))
        if m:
            found.add(datetime.strptime(m["date"], "%Y%m%d").date())
    return sorted(found)


def days_without_shard(dates: Iterable[date]) -> list[date]:
    """The days strictly between the first and the last of `dates` (the shards' dates, daily or intraday, in any
    order, repeats allowed) that are not among them, in order. No date, or a single one: no gap."""
    present = set(dates)
    if not present:
        return []
    first, last = min(present), max(present)
    between = (first + timedelta(days=i) for i in range(1, (last - first).days))
    return [day for day in between if day not in present]
