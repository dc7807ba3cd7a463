"""Synthetic source roots: a seeded, realistic, scalable stand-in for a GA4 export plus a CRM.

    python -m c360 synth OUT --persons N --days D --seed S [--format jsonl.gz|jsonl|parquet] [--start YYYY-MM-DD]
                             [--currencies USD,EUR,GBP]

Writes OUT laid out as the data contract (docs/data-contract.md) says, with every quirk the hand-made fixtures show, in
realistic proportions (see distributions.DISTRIBUTIONS). Everything is decided by one numpy Generator(PCG64(seed)),
so the same arguments give byte-identical files (gzip mtime 0, fixed row order).

Each GA4 row carries the export's whole schema, as a real web stream fills it (about 130 gzipped bytes per event,
like a real export): besides the fields the pipeline reads, device and geo details fixed per device, user
properties, first touch and lifetime value, the session's last-click attribution, batch ids, and the other
event_params of a web stream (page_title, entrances, form and login details, ...). That enrichment is drawn from
random streams of its own (Enrichment: seeded from (seed, ENRICH_TAG, day)), never from the main Generator, so the
events, sessions, people, CRM files and every field the pipeline reads are the same with or without it.

Money is written as a CRM writes it: deal amounts and ad spend in cents, as text built from integer cents (never
through float formatting). With several currencies (the first is the reporting currency), each deal is in one of
them (mostly its company's local one) and marketing/fx_rates.csv gives a weekly rate per other currency; ad spend
stays in the reporting currency. Which amounts are list prices and which currency a deal is in come from a money
stream of their own (a jump of the main Generator, never drawn from it), so the rest of the world is the same
whatever the currencies.

How it scales: people, devices and sessions are numpy arrays decided up front (a few per person); events are
never all in memory. Each day, the sessions starting that day are expanded into events column-wise (numpy),
events whose shard is a later day (late arrivals, sessions across midnight) are carried to that day, and the
day's shard is formatted (JSON lines from pre-built string pieces; Parquet as arrow arrays with the export's
types) and handed to a writer thread that compresses and writes it while the next day is generated.

The modules, each importing only those before it: distributions (the knobs and vocabularies), currency (currency
codes, exact amount text), schema (the export's row layout), world (World: people, devices, sessions, CRM, deals),
enrichment (Enrichment: the rest of a row, from its own streams), events (a day's events), writers (the CSVs and the
GA4 shards), and this one (generate).
"""
from __future__ import annotations

import time
from datetime import date
from pathlib import Path

import numpy as np
from numpy.random import PCG64, Generator

from .currency import cents_text, micro_text, parse_currencies
from .distributions import DISTRIBUTIONS, PAID
from .enrichment import ENRICH_TAG, Enrichment
from .schema import export_arrow_schema
from .world import World
from .writers import FORMATS, csv_field, write_ga4, write_tables

__all__ = ["DISTRIBUTIONS", "ENRICH_TAG", "FORMATS", "PAID", "Enrichment", "World", "cents_text", "csv_field",
           "export_arrow_schema", "generate", "micro_text", "parse_currencies"]


# ---------------------------------------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------------------------------------


def generate(out: Path, persons: int, days: int, seed: int, fmt: str = "jsonl.gz",
             start: date = date(2024, 3, 1), currencies="USD") -> dict:
    """Write a synthetic source root that follows the data contract.

    Args:
        out: the folder to write (created; its ga4/events_* files and the CSVs are replaced).
        persons: people in the population (each visits at least once).
        days: days of GA4 export, from `start`; the last day is an intraday shard.
        seed: the same seed gives byte-identical files.
        fmt: daily shard format, 'jsonl.gz', 'jsonl' or 'parquet' (intraday shards are always JSON lines).
        start: the first day (UTC).
        currencies: 'USD,EUR,GBP' or a sequence of codes; the first is the reporting currency (ad spend, rates).
            More than one: deals in several currencies and marketing/fx_rates.csv (date, currency, rate: one unit
            of currency = rate units of the reporting currency, weekly).
    Returns:
        Counts: events (rows written to GA4 files, duplicates and intraday included), daily_rows, intraday_rows,
        sessions, devices, persons, contacts, deals, forms, product_users, files, bytes, seconds.
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {list(FORMATS)}, got {fmt!r}")
    if persons < 1 or days < 1:
        raise ValueError("persons and days must be at least 1")
    currencies = parse_currencies(currencies)
    began = time.perf_counter()
    out = Path(out)
    (out / "ga4").mkdir(parents=True, exist_ok=True)
    for old in (out / "ga4").glob("events_*"):
        old.unlink()
    rng = Generator(PCG64(seed))
    world = World(rng, persons, days, start, currencies)
    table_bytes = write_tables(world, out)
    ga4 = write_ga4(world, rng, out, fmt, seed)
    return {
        "events": ga4["events"], "daily_rows": ga4["daily_rows"], "intraday_rows": ga4["intraday_rows"],
        "sessions": int(world.S), "devices": int(len(np.unique(world.s["dev"]))), "persons": persons,
        "contacts": len(world.c_id), "deals": len(world.k_id), "forms": len(world.f_at),
        "product_users": len(world.u_person), "files": ga4["files"] + 6 + (len(currencies) > 1),
        "bytes": ga4["bytes"] + table_bytes, "seconds": round(time.perf_counter() - began, 2),
    }
