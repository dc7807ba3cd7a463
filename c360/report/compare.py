"""What changed between two runs, from their manifests alone (pure functions, no IO): the parameters, the inputs (by
fingerprint), the tables whose checksum changed and the headline figures. The front page shows it against the
previous run (c360.report.index); `python -m c360 reproduce` uses the input and checksum comparisons.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from c360.report import formats

# Bookkeeping tables whose content records when, where or from what warehouse a run loaded and built, not what its
# inputs and parameters make: never compared by checksum (a run's manifest lists them as `checksum_excluded`).
CHECKSUM_EXCLUDED = {
    "c360__model_runs": "the seconds each model took to build",
    "c360__touched_dates": "the event dates this run loaded, which depend on the warehouse it started from",
    "c360__loaded_shards": "the GA4 files' absolute paths and modification times",
    "c360__loaded_files": "the CSV files' absolute paths",
}

ABSENT = object()  # a parameter one of the two runs does not have


def parameter_changes(before: dict[str, Any], after: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(name, before, after) of every parameter whose value differs, by name; ABSENT where a run lacks it."""
    names = sorted(set(before) | set(after))
    return [(n, before.get(n, ABSENT), after.get(n, ABSENT)) for n in names
            if before.get(n, ABSENT) != after.get(n, ABSENT)]


def input_key(entry: dict[str, Any]) -> str:
    """An input's name: its file (as the manifest shows it) or its table id (BigQuery)."""
    return str(entry.get("file") or entry.get("table"))


def input_changes(before: list[dict], after: list[dict]) -> dict[str, list]:
    """The inputs added, removed and changed (same name, different fingerprint: sha256 and size, or a table's rows,
    bytes and last modified), each sorted by name. `changed` holds (before, after) pairs of manifest entries."""
    old = {input_key(e): e for e in before}
    new = {input_key(e): e for e in after}
    return {"added": [new[k] for k in sorted(set(new) - set(old))],
            "removed": [old[k] for k in sorted(set(old) - set(new))],
            "changed": [(old[k], new[k]) for k in sorted(set(old) & set(new)) if old[k] != new[k]]}


def _rows(checksum: str | None) -> int | None:
    return None if checksum is None else int(checksum.split(":", 1)[0])


def table_changes(before: dict[str, str], after: dict[str, str], excluded: Any = ()) -> list[dict[str, Any]]:
    """The tables whose checksum (`rows:hash`, manifest `checksums`) differs, by name, the `excluded` ones left out:
    {table, status: changed|added|removed, rows_before, rows_after} (None where the table is absent)."""
    out = []
    for name in sorted((set(before) | set(after)) - set(excluded)):
        old, new = before.get(name), after.get(name)
        if old == new:
            continue
        status = "added" if old is None else "removed" if new is None else "changed"
        out.append({"table": name, "status": status, "rows_before": _rows(old), "rows_after": _rows(new)})
    return out


def checksum_report(expected: dict[str, str], actual: dict[str, str], excluded: Any = ()) -> list[dict[str, Any]]:
    """Every table of `expected` and `actual`, by name: {table, status: match|differs|missing|extra|excluded,
    rows_expected, rows_actual}. `missing`: in `expected` only; `extra`: in `actual` only."""
    out = []
    for name in sorted(set(expected) | set(actual)):
        old, new = expected.get(name), actual.get(name)
        status = ("excluded" if name in excluded else "missing" if new is None else "extra" if old is None
                  else "match" if old == new else "differs")
        out.append({"table": name, "status": status, "rows_expected": _rows(old), "rows_actual": _rows(new)})
    return out


def excluded_tables(*manifests: dict[str, Any] | None) -> dict[str, str]:
    """The tables left out of checksum comparisons: CHECKSUM_EXCLUDED and those the manifests name."""
    out = dict(CHECKSUM_EXCLUDED)
    for m in manifests:
        excluded = (m or {}).get("checksum_excluded") or {}
        out.update(excluded if isinstance(excluded, dict) else {name: "" for name in excluded})
    return out


# -- the headline figures as text, to set side by side


def _money(amount: Any, won: dict[str, Any]) -> str:
    """As every report writes money (c360.report.formats): `USD 33,500.00`."""
    return formats.money_text(Decimal(str(amount)), won.get("currency") or "(no currency)",
                              int(won.get("minor_unit", 2)))


def _percent(share: Any) -> str:
    return "–" if share is None else formats.percent_text(share)


def headline_figures(headline: dict[str, Any] | None) -> dict[str, str]:
    """A manifest's `headline` as {figure: text}, in reading order: customers, devices resolved, match rate, data
    period, won deals, won revenue, then the conversion window and each model's top channel."""
    h = headline or {}
    out: dict[str, str] = {}
    if h.get("customers") is not None:
        out["customers"] = f"{h['customers']:,}"
    if devices := h.get("devices"):
        out["devices resolved"] = f"{devices['resolved']:,} of {devices['total']:,}"
        out["match rate"] = _percent(devices.get("rate"))
    if (period := h.get("data_period")) and period.get("first"):
        out["data period"] = f"{period['first']} to {period['last']}"
    won = h.get("won")
    if won:
        out["won deals"] = f"{won['deals']:,}"
        out["won revenue"] = _money(won["revenue"], won)
    if attribution := h.get("attribution"):
        out["conversion window"] = f"{attribution.get('window_days')} days"
        for m in attribution.get("models") or []:
            value = f", {_money(m['value'], won)}" if won and m.get("channel") else ""
            out[f"top channel, {m['model']}"] = (f"{m['channel'] or '(none)'}{value}"
                                                 + (f" ({_percent(m['share'])})" if m.get("channel") else ""))
    return out


def headline_changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[tuple[str, str, str, bool]]:
    """(figure, before, after, changed) for every headline figure of either run, in reading order; '–' where a
    run has none."""
    old, new = headline_figures(before), headline_figures(after)
    names = list(dict.fromkeys([*new, *old]))
    return [(n, old.get(n, "–"), new.get(n, "–"), old.get(n) != new.get(n)) for n in names]


def compare(previous: dict[str, Any], current: dict[str, Any]) -> dict[str, Any]:
    """Everything that changed from the `previous` run's manifest to the `current` one's: previous_run,
    parameters, inputs, tables (bookkeeping tables excluded, see `excluded_tables`) and headline."""
    excluded = excluded_tables(previous, current)
    return {"previous_run": previous.get("run_id"),
            "parameters": parameter_changes(previous.get("parameters") or {}, current.get("parameters") or {}),
            "inputs": input_changes(previous.get("inputs") or [], current.get("inputs") or []),
            "tables": table_changes(previous.get("checksums") or {}, current.get("checksums") or {}, excluded),
            "excluded": sorted(n for n in excluded if n in (current.get("checksums") or {})),
            "headline": headline_changes(previous.get("headline"), current.get("headline"))}
