"""An estimate of the bytes BigQuery bills per model, a full refresh against an incremental day (docs/bigquery.md).

    PYTHONPATH=. .venv/bin/python tools/bq_scan_estimate.py [--events-per-day 10e6] [--days 400] [--lookback 3]

BigQuery bills a query for the columns it reads, over the partitions or shards it does not prune: bytes = rows x
the summed widths of the columns read. The columns each model reads from the GA4 export or from
base__ga4__events are taken from the model's SQL (every column name in it that the table has: an upper bound);
the widths are assumptions, averages per event of a typical GA4 web property (BigQuery's sizes: INT64, DATE and
TIMESTAMP 8 bytes, BOOL 1, STRING 2 + its UTF-8 length, NULL 0). It is an estimate, not a measurement: the real
numbers are in the dry runs each run prints and the job log.
"""
from __future__ import annotations

import argparse

import sqlglot
from sqlglot import exp

from c360 import models  # noqa: F401  (imports the Python steps, which models refer to)
from c360.dag.render import compiled

# the export's columns base__ga4__events reads (c360/sql/_ga4_events.sql), bytes per event: the fingerprint reads
# the whole event_params, privacy_info, collected_traffic_source, device and geo records
EXPORT_WIDTHS = {
    "event_date": 10, "event_timestamp": 8, "event_name": 14, "user_pseudo_id": 23, "user_id": 1.2,
    "event_params": 480,  # 12 params: key (16) + string_value on half (21) + int_value on 40% (3.2)
    "collected_traffic_source": 5, "traffic_source": 30, "privacy_info": 15, "device": 140, "geo": 70,
    "stream_id": 12,
}
# base__ga4__events' columns, bytes per event (NULLs where GA4 leaves them out, e.g. manual_* off session starts)
BASE_WIDTHS = {
    "event_date": 8, "event_timestamp": 8, "event_name": 14, "user_pseudo_id": 23, "user_id": 1.2,
    "ga_session_id": 8, "ga_session_number": 8, "page_location": 65, "page_referrer": 21, "engagement_time_msec": 5,
    "session_engaged": 1, "manual_source": 2, "manual_medium": 2, "manual_campaign": 2, "gclid": 1,
    "param_source": 1, "param_medium": 1, "param_campaign": 0.5, "param_ignore_referrer": 0.1,
    "user_first_source": 10, "user_first_medium": 10, "user_first_campaign": 10, "consent__analytics_storage": 5,
    "device_category": 9, "country": 12, "stream_id": 12, "shard": 10,
}
EVENTS_PER_SESSION = 14
SESSION_ROW = 200  # bytes per row of int__web_sessions / mrt__marketing__web_sessions (keys, source, channel, dates)
SESSION_KEYS = 79  # session_key, user_pseudo_id, ga_session_id, session_date, session_end_at
SESSION_READERS = ("mrt__marketing__web_sessions", "int__web_analytics_summary", "int__attribution_touchpoints")


def base_columns_read(name: str, incremental: bool = False) -> list[str]:
    """The columns of base__ga4__events that model `name`'s BigQuery SQL names."""
    sql, _ = compiled(name, "bigquery", incremental)
    names = {c.name for tree in sqlglot.parse(sql, read="bigquery") for c in tree.find_all(exp.Column)}
    return sorted(names & set(BASE_WIDTHS))


def estimate(events_per_day: float, days: int, lookback: int, late_days: int = 2) -> list[dict]:
    """One row per model reading GA4 events (or the sessions), bytes read in a full refresh and on a day that
    adds one shard to a table built incrementally."""
    total = events_per_day * days
    export = sum(EXPORT_WIDTHS.values())
    base = sum(BASE_WIDTHS.values())
    window = lookback + 2  # the shards from (newest held - lookback) to the new one, and today's intraday
    rows = [{"model": "base__ga4__events", "reads": f"export: {len(EXPORT_WIDTHS)} columns, {export:.0f} B/event",
             "full": total * export,
             # the window's shards; the DELETE and INSERT read the stage and the target's partitions from the floor on
             # (the window and up to `late_days` before it: late events), every column
             "day": events_per_day * (window * export + window * base + (window + late_days) * base),
             "day_how": f"{window} shards; DELETE + INSERT: stage + {window + late_days} partitions"}]
    sessions_count = total / EVENTS_PER_SESSION
    touched = window + late_days  # the event dates the base build replaced
    for name in ("int__identity_candidate_edges", "int__web_sessions", "mrt__marketing__channel_roi"):
        cols = base_columns_read(name, incremental=(name == "int__web_sessions"))
        width = sum(BASE_WIDTHS[c] for c in cols)
        row = {"model": name, "reads": f"base: {len(cols)} columns, {width:.0f} B/event", "full": total * width,
               "day": total * width, "day_how": "rebuilt in full (its input changed)"}
        if name == "int__web_sessions":
            # the events from the floor on (the touched dates and a day before: sessions across midnight); the
            # sessions' keys on the touched dates, twice (the floor, the stage); the previous sessions' keys and
            # dates, three times (the floor, the stage, the merge's delete)
            keys = sum(BASE_WIDTHS[c] for c in ("event_date", "user_pseudo_id", "ga_session_id"))
            row["day"] = (events_per_day * ((touched + 1) * width + 2 * touched * keys)
                          + 3 * sessions_count * SESSION_KEYS)
            row["day_how"] = f"{touched + 1} partitions; merged on session_key"
        rows.append(row)
    sessions = sessions_count * SESSION_ROW
    for name in SESSION_READERS:
        rows.append({"model": name, "reads": f"sessions: {SESSION_ROW} B/session", "full": sessions, "day": sessions,
                     "day_how": "rebuilt in full"})
    return rows


def _tb(n: float) -> str:
    return f"{n / 1e12:,.2f} TB" if n >= 1e12 else f"{n / 1e9:,.0f} GB"


def markdown(rows: list[dict]) -> str:
    lines = ["| model | reads | full refresh | incremental day | how |", "|---|---|---:|---:|---|"]
    lines += [f"| `{r['model']}` | {r['reads']} | {_tb(r['full'])} | {_tb(r['day'])} | {r['day_how']} |" for r in rows]
    lines.append(f"| **total** | | **{_tb(sum(r['full'] for r in rows))}** | **{_tb(sum(r['day'] for r in rows))}** | |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events-per-day", type=float, default=10e6)
    parser.add_argument("--days", type=int, default=400)
    parser.add_argument("--lookback", type=int, default=3)
    args = parser.parse_args()
    print(markdown(estimate(args.events_per_day, args.days, args.lookback)))


if __name__ == "__main__":
    main()
