"""A run's front page, `reports/<run_id>/index.html`: what ran (run id, dates, code, data period, the parameters
that differ from the defaults), the headline figures, links to the four reports, every stage's data tests in one
table, and the model DAG as a static SVG picture.

`headline(engine)` and `data_test_rows(engine)` read the warehouse (small SQL queries through the engine
interface, so on DuckDB and BigQuery alike); `page(...)` renders from plain values only: every value escaped,
one self-contained file (inline CSS, no JavaScript, nothing fetched).
"""
from __future__ import annotations

import html
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

from c360.dag.project import LAYERS
from c360.paths import stage_title
from c360.pii import mask_text
from c360.report import compare, formats
from c360.report.attribution import LABELS

UNATTRIBUTED = "(unattributed)"
NO_DEFAULT = object()  # a parameter outside the spec
STATUS_ORDER = {"fail": 0, "warn": 1, "pass": 2}


# -- the figures, from the warehouse


def _scalar(engine, sql: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """The one row of `sql` as a dict."""
    return engine.query(sql, params).iloc[0].to_dict()


def _int(value: Any) -> int:
    return 0 if value is None or value != value else int(value)


def _date(value: Any) -> str | None:
    if value is None or value != value:
        return None
    return value.isoformat()[:10] if hasattr(value, "isoformat") else str(value)[:10]


def headline(engine, window_days: int | None = None) -> dict[str, Any]:
    """The run's headline figures from the warehouse, as JSON values (money as an exact decimal string). A figure
    whose table does not exist is None.

    Keys: customers; devices {resolved, total, rate}; data_period {first, last} (the GA4 event dates); won
    {deals, revenue, currency, minor_unit}; attribution {window_days, models: [{model, channel, value, share}]}
    (the top attributed channel of each model at `window_days`, the run's conversion window; the largest window
    built when None; share: of the model's conversion value, the unattributed included)."""
    rel = engine.relation
    out: dict[str, Any] = {"customers": None, "devices": None, "data_period": None, "won": None, "attribution": None}
    if engine.has_table("mrt__core__customer_360"):
        out["customers"] = _int(_scalar(engine, f"SELECT COUNT(*) AS n FROM {rel('mrt__core__customer_360')}")["n"])
    if engine.has_table("base__ga4__events"):
        period = _scalar(engine, f"SELECT MIN(event_date) AS first, MAX(event_date) AS last, "
                                 f"COUNT(DISTINCT user_pseudo_id) AS devices FROM {rel('base__ga4__events')}")
        out["data_period"] = {"first": _date(period["first"]), "last": _date(period["last"])}
        if engine.has_table("int__identity_resolved"):
            total = _int(period["devices"])
            resolved = _int(_scalar(engine, f"SELECT COUNT(*) AS n FROM {rel('int__identity_resolved')}")["n"])
            out["devices"] = {"resolved": resolved, "total": total,
                              "rate": round(resolved / total, 4) if total else None}
    if engine.has_table("base__crm__deals") and engine.has_table("base__reporting_currency"):
        from c360 import money

        code, minor = money.reporting_currency(engine)
        won = _scalar(engine, f"SELECT COUNT(*) AS deals, SUM(amount) AS revenue FROM {rel('base__crm__deals')} "
                              "WHERE deal_status = 'won'")
        revenue = won["revenue"]
        revenue = Decimal(0) if revenue is None or revenue != revenue else Decimal(str(revenue))
        out["won"] = {"deals": _int(won["deals"]), "revenue": f"{revenue.quantize(Decimal(1).scaleb(-minor)):f}",
                      "currency": code, "minor_unit": minor}
    if engine.has_table("mrt__marketing__channel_attribution"):
        out["attribution"] = _top_channels(engine, window_days)
    return out


def _top_channels(engine, window_days: int | None) -> dict[str, Any]:
    table = engine.relation("mrt__marketing__channel_attribution")
    if window_days is None:
        window_days = _scalar(engine, f"SELECT MAX(window_days) AS w FROM {table}")["w"]
        window_days = None if window_days is None or window_days != window_days else int(window_days)
    rows = engine.query(f"SELECT model, channel, conversion_value FROM {table} WHERE window_days = @window_days "
                        "ORDER BY model, conversion_value DESC, channel", {"window_days": window_days or 0})
    models: dict[str, dict[str, Any]] = {}
    totals: dict[str, Decimal] = {}
    for r in rows.to_dict("records"):
        value = Decimal(str(r["conversion_value"] or 0))
        totals[r["model"]] = totals.get(r["model"], Decimal(0)) + value
        if r["channel"] != UNATTRIBUTED and r["model"] not in models and value > 0:
            models[r["model"]] = {"model": r["model"], "channel": r["channel"], "value": value}
    for model in totals:
        models.setdefault(model, {"model": model, "channel": None, "value": Decimal(0)})
    out = []
    for model in sorted(models):
        top = models[model]
        share = float(top["value"] / totals[model]) if totals[model] else None
        out.append({**top, "value": f"{top['value']:f}", "share": None if share is None else round(share, 4)})
    return {"window_days": window_days, "models": out}


def data_test_rows(engine) -> list[dict[str, Any]]:
    """Every stage's last data-test results (c360__data_tests), one dict per test, in stage order; [] before any."""
    from c360.dag.datatests import RESULTS_TABLE

    if not engine.has_table(RESULTS_TABLE):
        return []
    rows = engine.query(f"SELECT layer, model, test, severity, failures, examples, status "
                        f"FROM {engine.relation(RESULTS_TABLE)}").to_dict("records")
    for r in rows:
        r["failures"] = _int(r["failures"])
        r["examples"] = "" if r["examples"] is None or r["examples"] != r["examples"] else str(r["examples"])
    return _in_stage_order(rows)


def facts(engine, params: dict[str, Any]) -> dict[str, Any]:
    """What the front page reads from the warehouse: `headline` (at the run's conversion window) and
    `data_test_rows`."""
    return {"headline": headline(engine, params.get("conversion_window_days")),
            "data_test_rows": data_test_rows(engine)}


def _in_stage_order(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    stage = {layer: i for i, layer in enumerate(LAYERS)}
    return sorted(rows, key=lambda r: (stage.get(r["layer"], len(stage)), str(r["layer"]),
                                       STATUS_ORDER.get(r["status"], -1), str(r["model"]), str(r["test"])))


# -- the page


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def money_text(amount: Any, currency: str | None, minor_unit: int = 2) -> str:
    """An amount as every report writes it (c360.report.formats): `USD 33,500.00`, to the currency's minor unit
    (`(no currency)` when the inputs name none)."""
    return formats.money_text(Decimal(str(amount)), currency or "(no currency)", minor_unit)


def percent(share: float | None) -> str:
    return "–" if share is None else formats.percent_text(share)


def _value_text(value: Any) -> str:
    """A parameter value as a reader types it: lists as [a, b], strings as they are, empty as ''."""
    if isinstance(value, list):
        return "[" + ", ".join(_value_text(v) for v in value) + "]"
    if value == "":
        return "''"
    return str(value)


def changed_parameters(parameters: dict[str, Any], defaults: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(name, default, value) of every parameter whose value differs from its default, by name; a parameter with
    no default (not in the spec) counts as changed."""
    return [(name, defaults.get(name, NO_DEFAULT), value) for name, value in sorted(parameters.items())
            if defaults.get(name, NO_DEFAULT) != value]


def _table(headers: list[str], rows: list[list[str]], cls: str = "") -> str:
    """An HTML table from cells that are already HTML."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table{f" class={cls!r}" if cls else ""}><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>'


def _run_facts(manifest: dict[str, Any], figures: dict[str, Any]) -> str:
    code = manifest.get("code", {})
    version = (f"c360 {_e(code.get('c360', '?'))}, commit <code>{_e(str(code.get('git_sha', ''))[:12])}</code>"
               + (" (uncommitted changes)" if code.get("dirty") else ""))
    period = figures.get("data_period") or {}
    period_text = (f"{_e(period['first'])} to {_e(period['last'])} (GA4 event dates)" if period.get("first")
                   else "no GA4 events")
    inputs = manifest.get("inputs") or []
    fingerprint = str(manifest.get("inputs_fingerprint", ""))[:16]
    backend = manifest.get("backend", {}).get("name") or manifest.get("parameters", {}).get("backend", "")
    facts = [("Run", f"<code>{_e(manifest.get('run_id', ''))}</code>"),
             ("Started", _e(_when(manifest.get("started_at")))),
             ("Finished", _e(_when(manifest.get("finished_at"))) + (
                 f" ({_e(manifest['seconds'])} s)" if manifest.get("seconds") is not None else "")),
             ("Code", version),
             ("Data period", period_text),
             ("Inputs", f"{len(inputs)} files or tables" + (f", fingerprint <code>{_e(fingerprint)}</code>"
                                                            if fingerprint else "")),
             ("Backend", _e(backend))]
    return "<dl class='facts'>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>"


def _when(stamp: Any) -> str:
    """An ISO timestamp as `2026-12-06 10:11:47 UTC`."""
    if not stamp:
        return "–"
    text = str(stamp).replace("T", " ")
    return text.removesuffix("+00:00") + " UTC" if text.endswith("+00:00") else text


def _parameters(manifest: dict[str, Any], defaults: dict[str, Any]) -> str:
    changed = changed_parameters(manifest.get("parameters", {}), defaults)
    if not changed:
        return "<p>Every parameter is at its default (<code>params/default.yaml</code>).</p>"
    rows = [[f"<code>{_e(name)}</code>", f"<code>{_e(mask_text(_value_text(value)))}</code>",
             "<span class='muted'>(none)</span>" if default is NO_DEFAULT
             else f"<code>{_e(mask_text(_value_text(default)))}</code>"] for name, default, value in changed]
    return ("<p>The parameters that differ from the defaults (<code>params/default.yaml</code>); every value is in "
            "<code>manifest.json</code>.</p>" + _table(["parameter", "this run", "default"], rows))


def _figures(figures: dict[str, Any], model_order: list[str] | None = None) -> str:
    cards = []
    customers = figures.get("customers")
    cards.append(("customers", "–" if customers is None else f"{customers:,}", "in mrt__core__customer_360"))
    devices = figures.get("devices")
    if devices:
        cards.append(("devices resolved", f"{devices['resolved']:,} of {devices['total']:,}",
                      f"match rate {percent(devices['rate'])}"))
    else:
        cards.append(("devices resolved", "–", "no GA4 devices"))
    won = figures.get("won")
    if won is None:
        cards.append(("won deals", "–", "no deals table"))
    elif won["deals"] == 0:
        cards.append(("won deals", "none", "no deal is won"))
    else:
        cards.append(("won revenue", money_text(won["revenue"], won["currency"], won["minor_unit"]),
                      f"{won['deals']:,} won deal{'s' if won['deals'] != 1 else ''}"))
    out = "<div class='cards'>" + "".join(
        f"<div class='card'><div class='label'>{_e(label)}</div><div class='figure'>{_e(value)}</div>"
        f"<div class='note'>{_e(note)}</div></div>" for label, value, note in cards) + "</div>"
    return out + _attribution(figures.get("attribution"), won, model_order or [])


def _attribution(attribution: dict[str, Any] | None, won: dict[str, Any] | None, order: list[str]) -> str:
    if not attribution or not attribution["models"]:
        return "<p>No attributed revenue: no won deal has a touchpoint in the conversion window.</p>"
    currency, minor = (won["currency"], won["minor_unit"]) if won else (None, 2)
    ranked = sorted(attribution["models"], key=lambda m: (order.index(m["model"]) if m["model"] in order
                                                          else len(order), m["model"]))
    rows = [[_e(LABELS.get(m["model"], m["model"])), _e(m["channel"] or "(none)"), _num(money_text(m["value"], currency, minor)),
             _num(percent(m["share"]))] for m in ranked]
    return (f"<h3>Top channel per attribution model ({_e(attribution['window_days'])}-day conversion window)</h3>"
            + _table(["model", "top channel", "attributed revenue", "share of won revenue"], rows))


def _num(text: str) -> str:
    return f"<span class='num'>{_e(text)}</span>"


def _reports(reports: list[str], manifest: dict[str, Any]) -> str:
    """The reports, linked, each with its seconds, or the run it was reused from (not executed again: nothing it
    reads changed, c360.run.reuse)."""
    seconds = {Path(n["notebook"]).stem: n.get("seconds") for n in manifest.get("notebooks", [])}
    reused = {Path(n["notebook"]).stem: n["reused_from"] for n in manifest.get("notebooks", []) if n.get("reused_from")}
    items = []
    for name in reports:
        stem = Path(name).stem
        extra = f" <span class='muted'>({_e(seconds[stem])} s)</span>" if seconds.get(stem) is not None else ""
        if stem in reused:
            extra = f" <span class='reused'>reused from run <code>{_e(reused[stem])}</code></span>"
        notebook = f" · <a href='{_e(stem)}.ipynb'>notebook</a>" if f"{stem}.html" == name else ""
        items.append(f"<li><a href='{_e(name)}'>{_e(stage_title(stem))}</a>{notebook}{extra}</li>")
    note = ("<p class='muted'>A reused report was not executed again: its notebook, the parameters it reads, the "
            "code and every model in the warehouse are as they were in that run, so it is copied from it, byte for "
            "byte.</p>") if reused else ""
    return "<ol class='reports'>" + "".join(items) + "</ol>" + note


def _tests(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "<p>No data tests ran.</p>"
    counts = {s: sum(r["status"] == s for r in rows) for s in ("pass", "warn", "fail")}
    stages = list(dict.fromkeys(r["layer"] for r in rows))
    per_stage = "; ".join(f"{_e(stage)} {sum(r['layer'] == stage for r in rows)}" for stage in stages)
    summary = (f"<p>{len(rows)} data tests ({per_stage}): " + ", ".join(f"{n} {s}" for s, n in counts.items())
               + ". Within each stage, failures and warnings come first.</p>")
    body = [[_e(r["layer"]), f"<code>{_e(r['model'])}</code>", _e(r["test"]), _e(r["severity"]),
             f"<span class='status {_e(r['status'])}'>{_e(r['status'])}</span>", _num(f"{r['failures']:,}"),
             _e(mask_text(r["examples"]) if r.get("examples") else "")] for r in rows]
    return summary + _table(["stage", "table", "test", "severity", "result", "count", "examples"], body,
                            cls="tests")


def _short(entry: dict[str, Any]) -> str:
    """An input's fingerprint in brief: its sha256's first 12 digits and size, or a table's rows and bytes."""
    if entry.get("sha256"):
        return f"sha256 {str(entry['sha256'])[:12]}…, {entry.get('bytes') or 0:,} bytes"
    return f"{entry.get('rows') or 0:,} rows, {entry.get('bytes') or 0:,} bytes, modified {entry.get('modified')}"


def _changes(previous: dict[str, Any] | None, manifest: dict[str, Any]) -> str:
    """The section "what changed since the previous run": parameters, inputs, table checksums and headline figures (values
    escaped, parameter values masked)."""
    if not previous:
        return "<p>No previous run: this is the first run published in this reports folder.</p>"
    diff = compare.compare(previous, manifest)
    prev_id = _e(diff["previous_run"])
    out = [f"<p>Compared with run <a href='../{prev_id}/index.html'><code>{prev_id}</code></a> (finished "
           f"{_e(_when(previous.get('finished_at')))}), the run <code>reports/latest</code> showed before this one."
           "</p>", "<h3>Parameters</h3>"]
    if diff["parameters"]:
        def value(v: Any) -> str:
            return "<span class='muted'>(none)</span>" if v is compare.ABSENT else \
                f"<code>{_e(mask_text(_value_text(v)))}</code>"
        out.append(_table(["parameter", "previous run", "this run"],
                          [[f"<code>{_e(n)}</code>", value(old), value(new)] for n, old, new in diff["parameters"]]))
    else:
        out.append("<p>No parameter changed.</p>")
    out.append("<h3>Inputs</h3>")
    inputs = diff["inputs"]
    rows = ([[f"<code>{_e(compare.input_key(e))}</code>", "added", "", _e(_short(e))] for e in inputs["added"]]
            + [[f"<code>{_e(compare.input_key(e))}</code>", "removed", _e(_short(e)), ""] for e in inputs["removed"]]
            + [[f"<code>{_e(compare.input_key(new))}</code>", "changed", _e(_short(old)), _e(_short(new))]
               for old, new in inputs["changed"]])
    out.append(_table(["input", "change", "previous run", "this run"], rows) if rows else
               f"<p>No input changed: the same {len(manifest.get('inputs') or [])} files or tables, with the same "
               "fingerprints.</p>")
    out.append("<h3>Tables</h3>")
    excluded = ", ".join(f"<code>{_e(n)}</code>" for n in diff["excluded"])
    note = f" Bookkeeping tables that record times and paths are not compared: {excluded}." if excluded else ""
    if diff["tables"]:
        def rows_text(n: int | None) -> str:
            return "" if n is None else _num(f"{n:,}")
        count = len(diff["tables"])
        out.append(f"<p>{count} table{'s' if count != 1 else ''} whose content (checksum) changed.{note}</p>"
                   + _table(["table", "change", "rows before", "rows after"],
                            [[f"<code>{_e(t['table'])}</code>", _e(t["status"]), rows_text(t["rows_before"]),
                              rows_text(t["rows_after"])] for t in diff["tables"]]))
    else:
        out.append(f"<p>Every table has the same content (checksum) as in the previous run.{note}</p>")
    out.append("<h3>Headline figures</h3>")
    out.append(_table(["figure", "previous run", "this run"],
                      [[_e(name) + (" <span class='status warn'>changed</span>" if changed else ""), _e(old), _e(new)]
                       for name, old, new, changed in diff["headline"]]) if diff["headline"] else
               "<p>Neither manifest records headline figures.</p>")
    return "\n".join(out)


CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2430; margin: 0;
       background: #f6f7f9; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 12px; }
h1 code { font-size: 22px; }
h2 { font-size: 18px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid #dde1e6; }
h3 { font-size: 15px; margin: 18px 0 8px; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
a { color: #1f5fbf; }
.muted, .note { color: #6b7380; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; margin: 0; }
dl.facts dt { font-weight: 600; color: #454d5a; }
dl.facts dd { margin: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 4px 0 8px; }
.card { flex: 1 1 200px; border: 1px solid #dde1e6; border-radius: 6px; padding: 10px 14px; background: #fafbfc; }
.card .label { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: #6b7380; }
.card .figure { font-size: 22px; font-weight: 600; margin: 2px 0; font-variant-numeric: tabular-nums; }
.card .note { font-size: 12.5px; }
table { border-collapse: collapse; margin: 6px 0; font-size: 13px; }
th, td { border-bottom: 1px solid #e4e7eb; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; }
.num { display: block; text-align: right; font-variant-numeric: tabular-nums; }
table.tests td:nth-child(7) { color: #6b7380; max-width: 320px; overflow-wrap: anywhere; }
.status { padding: 1px 7px; border-radius: 9px; font-size: 12px; font-weight: 600; }
.status.pass { background: #e3f4e8; color: #1e6b34; }
.status.warn { background: #fff3d6; color: #8a5a00; }
.status.fail { background: #fde2e1; color: #a1261e; }
ol.reports li { margin: 3px 0; }
.reused { color: #6b7380; font-style: italic; }
.dag { overflow-x: auto; border: 1px solid #e4e7eb; border-radius: 6px; padding: 8px; }
.dag svg { display: block; max-width: 100%; height: auto; }
"""


def page(manifest: dict[str, Any], reports: list[str], figures: dict[str, Any], tests: Any,
         defaults: dict[str, Any], dag: str = "", previous: dict[str, Any] | None = None) -> str:
    """The front page of a run, as one self-contained HTML document (inline CSS, no script, nothing fetched).

    Args:
        manifest: the run's manifest.json (run_id, started_at, finished_at, parameters, code, inputs, notebooks).
        reports: the report files beside the page, in order (`01_base_extraction.html`, ...): linked.
        figures: `headline(engine)`.
        tests: the data-test rows (`data_test_rows(engine)`, or a DataFrame of c360__data_tests).
        defaults: every parameter's default (c360.params.defaults()): the page lists the ones that differ.
        dag: the model DAG as SVG markup (`dag_svg()`), shown as it is; empty: no picture.
        previous: the manifest of the previous run (the one reports/latest showed before), compared with this one;
            None: there is none.
    """
    rows = tests.to_dict("records") if hasattr(tests, "to_dict") else list(tests or [])
    rows = _in_stage_order({**r, "failures": int(r["failures"] or 0), "examples": r.get("examples") or ""}
                           for r in rows)
    run_id = _e(manifest.get("run_id", ""))
    sections = [
        f"<h1>c360 run <code>{run_id}</code></h1>",
        _run_facts(manifest, figures),
        "<h2>Reports</h2>", _reports(reports, manifest),
        "<h2>Headline figures</h2>", _figures(figures, manifest.get("parameters", {}).get("attribution_models")),
        "<h2>Parameters</h2>", _parameters(manifest, defaults),
        "<h2>What changed since the previous run</h2>", _changes(previous, manifest),
    ]
    if dag:
        sections += ["<h2>Models</h2>",
                     "<p>Every model, in the column of its stage, and the source tables and models it reads (from "
                     "the refs): an arrow points from what is read to what reads it; a double border is a Python "
                     "step. Hover over a box to see what it reads.</p>",
                     f"<div class='dag'>{dag}</div>"]
    sections += ["<h2>Data tests</h2>", _tests(rows),
                 "<p class='muted'>The run's full record: <a href='manifest.json'>manifest.json</a>.</p>"]
    return ("<!DOCTYPE html>\n<html lang='en'>\n<head>\n<meta charset='utf-8'>\n"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>\n"
            f"<title>c360 run {run_id}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(sections) + "\n</main>\n</body>\n</html>\n")


def report_files(folder: Path) -> list[str]:
    """The notebook reports of a run folder, in order: NN_*.html."""
    return sorted(p.name for p in folder.glob("[0-9][0-9]_*.html"))


def write_index(folder: Path, manifest: dict[str, Any], figures: dict[str, Any], tests: Any,
                previous: dict[str, Any] | None = None) -> Path:
    """Write `index.html` into the run's report folder (`previous`: the previous run's manifest); returns its
    path."""
    from c360.params import defaults
    from c360.report.dag import dag_svg

    path = folder / "index.html"
    path.write_text(page(manifest, report_files(folder), figures, tests, defaults(), dag_svg(LAYERS),
                         previous),
                    encoding="utf-8")
    return path
