"""What changed between two runs (c360.report.compare), from hand-built manifests, and its section of the front page
("What changed since the previous run"): escaped, no raw PII, and a first run that says there is none."""
from __future__ import annotations

import html
import re

from c360.dag.datatests import RESULTS_TABLE
from c360.dag.materialize import TIMINGS_TABLE
from c360.params import defaults
from c360.report import compare
from c360.report.index import page
from c360.sources.contract import LOADED_FILES, LOADED_SHARDS, TOUCHED_DATES

SECTION = "<h2>What changed since the previous run</h2>"


def _file(name: str, digest: str, size: int = 100) -> dict:
    return {"file": f"data/export/{name}", "bytes": size, "sha256": digest * 64}


def _headline(revenue: str, customers: int, top: str) -> dict:
    return {"customers": customers, "devices": {"resolved": 13, "total": 23, "rate": 0.5652},
            "data_period": {"first": "2024-02-26", "last": "2024-03-28"},
            "won": {"deals": 7, "revenue": revenue, "currency": "EUR", "minor_unit": 2},
            "attribution": {"window_days": 30, "models": [
                {"model": "last_touch", "channel": top, "value": "1250.5", "share": 0.25}]}}


def _manifest(run_id: str, **extra) -> dict:
    base = {"run_id": run_id, "started_at": "2024-04-01T10:00:00+00:00", "finished_at": "2024-04-01T10:01:00+00:00",
            "parameters": {"conversion_window_days": 90, "won_stages": ["closedwon"]},
            "code": {"git_sha": "a" * 40, "dirty": False, "c360": "0.1.0"},
            "inputs": [_file("crm/contacts.csv", "1"), _file("crm/deals.csv", "2"), _file("ga4/events_1.jsonl", "3")],
            "checksums": {"base__crm__deals": "11:00000000000000aa", "mrt__core__customer_360": "14:00000000000000bb",
                          "int__web_sessions": "40:00000000000000cc", "c360__model_runs": "34:00000000000000dd"},
            "headline": _headline("33500.00", 14, "Paid Search")}
    return {**base, **extra}


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment))


def test_parameter_changes_name_each_changed_added_and_removed_parameter_with_both_values():
    before = {"conversion_window_days": 90, "won_stages": ["closedwon"], "lookback_days": 3}
    after = {"conversion_window_days": 30, "won_stages": ["closedwon"], "half_life_days": 7.0}
    assert compare.parameter_changes(before, after) == [
        ("conversion_window_days", 90, 30), ("half_life_days", compare.ABSENT, 7.0),
        ("lookback_days", 3, compare.ABSENT)]
    assert compare.parameter_changes(before, dict(before)) == []


def test_input_changes_by_fingerprint_added_removed_and_changed_files_and_tables():
    before = [_file("crm/contacts.csv", "1"), _file("crm/deals.csv", "2"), _file("ga4/events_1.jsonl", "3"),
              {"table": "p.crm.deals", "rows": 10, "bytes": 500, "modified": "2024-04-01T00:00:00"}]
    after = [_file("crm/contacts.csv", "1"), _file("crm/deals.csv", "9", size=120), _file("ga4/events_2.jsonl", "4"),
             {"table": "p.crm.deals", "rows": 10, "bytes": 500, "modified": "2024-04-02T00:00:00"}]
    diff = compare.input_changes(before, after)
    assert [compare.input_key(e) for e in diff["added"]] == ["data/export/ga4/events_2.jsonl"]
    assert [compare.input_key(e) for e in diff["removed"]] == ["data/export/ga4/events_1.jsonl"]
    # the table's rows and bytes are the same: only its last-modified time differs
    assert [compare.input_key(new) for _, new in diff["changed"]] == ["data/export/crm/deals.csv", "p.crm.deals"]
    old, new = diff["changed"][0]
    assert (old["sha256"][0], new["sha256"][0], new["bytes"]) == ("2", "9", 120)
    assert compare.input_changes(before, list(reversed(before))) == {"added": [], "removed": [], "changed": []}


def test_table_changes_list_changed_added_and_removed_tables_with_row_counts_and_leave_out_excluded_ones():
    before = {"a": "10:00000000000000aa", "b": "5:00000000000000bb", "gone": "3:0000000000000001",
              "c360__model_runs": "34:0000000000000001"}
    after = {"a": "12:00000000000000ff", "b": "5:00000000000000bb", "new": "7:0000000000000002",
             "c360__model_runs": "34:0000000000000009"}
    assert compare.table_changes(before, after, {"c360__model_runs"}) == [
        {"table": "a", "status": "changed", "rows_before": 10, "rows_after": 12},
        {"table": "gone", "status": "removed", "rows_before": 3, "rows_after": None},
        {"table": "new", "status": "added", "rows_before": None, "rows_after": 7}]
    same_rows = compare.table_changes({"a": "10:00000000000000aa"}, {"a": "10:00000000000000ab"})
    assert same_rows == [{"table": "a", "status": "changed", "rows_before": 10, "rows_after": 10}]


def test_checksum_report_says_for_every_table_whether_it_matches():
    expected = {"a": "1:01", "b": "2:02", "c": "3:03", "c360__model_runs": "4:04"}
    actual = {"a": "1:01", "b": "2:99", "d": "5:05", "c360__model_runs": "4:05"}
    report = {r["table"]: r["status"] for r in compare.checksum_report(expected, actual, {"c360__model_runs"})}
    assert report == {"a": "match", "b": "differs", "c": "missing", "d": "extra", "c360__model_runs": "excluded"}


def test_the_excluded_tables_are_the_bookkeeping_tables_and_those_a_manifest_names():
    assert set(compare.CHECKSUM_EXCLUDED) == {TIMINGS_TABLE, TOUCHED_DATES, LOADED_SHARDS, LOADED_FILES}
    assert RESULTS_TABLE not in compare.CHECKSUM_EXCLUDED  # the data tests' results hold no time: compared
    assert set(compare.excluded_tables({"checksum_excluded": {"x": "why"}}, None)) == {*compare.CHECKSUM_EXCLUDED, "x"}
    assert "y" in compare.excluded_tables({"checksum_excluded": ["y"]})


def test_headline_changes_set_each_figure_side_by_side_with_currency_and_mark_the_changed_ones():
    rows = {name: (old, new, changed) for name, old, new, changed in compare.headline_changes(
        _headline("33500.00", 14, "Paid Search"), _headline("1234567.5", 14, "Referral"))}
    assert rows["won revenue"] == ("EUR 33,500.00", "EUR 1,234,567.50", True)
    assert rows["customers"] == ("14", "14", False)
    assert rows["match rate"] == ("56.5%", "56.5%", False)
    assert rows["top channel, last_touch"] == ("Paid Search, EUR 1,250.50 (25.0%)", "Referral, EUR 1,250.50 (25.0%)",
                                               True)
    no_deals = {n: (old, new) for n, old, new, _ in compare.headline_changes({"customers": 3}, {"customers": 4})}
    assert no_deals == {"customers": ("3", "4")}
    assert compare.headline_changes(None, {"customers": 4}) == [("customers", "–", "4", True)]


def _page(manifest: dict, previous: dict | None) -> str:
    return page(manifest, [], manifest["headline"], [], defaults(), previous=previous)


def test_the_first_run_says_there_is_no_previous_run():
    section = _page(_manifest("r2"), None).split(SECTION, 1)[1].split("<h2>", 1)[0]
    assert "No previous run" in section and "<table" not in section


def test_the_page_names_what_changed_escaped_and_without_raw_email():
    previous = _manifest("20240401T100000-0001")
    current = _manifest(
        "20240402T100000-0002",
        parameters={"conversion_window_days": 30, "won_stages": ["closedwon", "<i>signed</i>"],
                    "identity_blocklist": ["bob.smith@acme.com"]},
        inputs=[_file("crm/contacts.csv", "1"), _file("crm/deals.csv", "7"), _file("ga4/<b>events</b>.jsonl", "5")],
        checksums={**previous["checksums"], "base__crm__deals": "12:00000000000000ee",
                   "c360__model_runs": "34:0000000000000042"},
        headline=_headline("36000.00", 14, "Paid Search"))
    text = _page(current, previous)
    section = text.split(SECTION, 1)[1].split("<h2>", 1)[0]
    assert "<i>signed</i>" not in section and "&lt;i&gt;signed&lt;/i&gt;" in section
    assert "<b>events</b>" not in section
    assert "bob.smith@acme.com" not in section and "b***@acme.com" in section
    words = _text(section)
    assert "20240401T100000-0001" in words and "href='../20240401T100000-0001/index.html'" in section
    assert re.search(r"conversion_window_days\s+90\s+30", words)
    assert re.search(r"identity_blocklist\s+\(none\)\s+\[b\*\*\*@acme\.com\]", words)
    assert re.search(r"data/export/crm/deals\.csv\s+changed\s+sha256 222222222222…", words)
    assert re.search(r"data/export/ga4/<b>events</b>\.jsonl\s+added", words)
    assert re.search(r"data/export/ga4/events_1\.jsonl\s+removed", words)
    # one table changed; c360__model_runs (build seconds) differs too but is named as not compared
    assert re.search(r"1 table whose content \(checksum\) changed", words)
    assert re.search(r"base__crm__deals\s+changed\s+11\s+12", words)
    assert not re.search(r"c360__model_runs\s+changed", words) and "c360__model_runs" in words
    assert re.search(r"won revenue\s+changed\s+EUR 33,500\.00\s+EUR 36,000\.00", words)


def test_nothing_changed_says_so():
    words = _text(_page(_manifest("r2"), _manifest("r1")).split(SECTION, 1)[1].split("<h2>", 1)[0])
    assert "No parameter changed" in words and "No input changed: the same 3 files" in words
    assert "Every table has the same content" in words


def test_a_previous_manifest_without_headline_figures_or_checksums_still_compares():
    old = {"run_id": "r0", "parameters": {"conversion_window_days": 90}, "inputs": []}
    words = _text(_page(_manifest("r1"), old).split(SECTION, 1)[1].split("<h2>", 1)[0])
    assert re.search(r"customers\s+changed\s+–\s+14", words)
    assert re.search(r"base__crm__deals\s+added\s+11", words)
    bare = _manifest("r2", headline={})
    assert "Neither manifest records headline figures" in _page(bare, {**old, "headline": None})
