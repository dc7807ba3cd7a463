"""A run's front page, reports/<run_id>/index.html: one run on the fixtures (30-day conversion window, a won
stage holding markup) checked against the warehouse and the fixture story (data/fixtures/README.md); and the page
rendered from plain values (escaping, no won deal, no changed parameter)."""
from __future__ import annotations

import html
import json
import re
import subprocess
import sys

import duckdb
import pytest

from c360.params import defaults
from c360.paths import PROJ_ROOT
from c360.report.attribution import LABELS
from c360.report.index import changed_parameters, money_text, page
from conftest import fixture_people

MARKUP = "<i>signed</i>"


def _section(page_html: str, title: str) -> str:
    """The HTML between `<h2>title</h2>` and the next <h2> (or the end)."""
    return page_html.split(f"<h2>{title}</h2>", 1)[1].split("<h2>", 1)[0]


def _rows(table_html: str) -> list[list[str]]:
    """The body rows of the first table in `table_html`, each cell as its text."""
    body = table_html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", body)]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One run on the fixtures, shared by the tests below: its folder, manifest, page and warehouse path."""
    tmp = tmp_path_factory.mktemp("index")
    done = subprocess.run(
        [sys.executable, "-m", "c360", "run", "--reports", str(tmp / "reports"), "-p", f"warehouse={tmp / 'c360.duckdb'}",
         "-p", "conversion_window_days=30", "-p", f"won_stages=[closedwon, {MARKUP}]"],
        cwd=PROJ_ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    latest = tmp / "reports" / "latest"
    manifest = json.loads((latest / "manifest.json").read_text())
    return {"latest": latest, "folder": tmp / "reports" / manifest["run_id"], "manifest": manifest,
            "page": (latest / "index.html").read_text(encoding="utf-8"), "warehouse": tmp / "c360.duckdb"}


@pytest.mark.slow
def test_the_page_is_in_the_run_folder_and_latest_with_a_title_the_run_id_and_the_code_version(run):
    assert (run["folder"] / "index.html").read_text(encoding="utf-8") == run["page"]
    manifest, text = run["manifest"], run["page"]
    assert f"<title>c360 run {manifest['run_id']}</title>" in text
    assert f"<h1>c360 run <code>{manifest['run_id']}</code></h1>" in text
    assert manifest["code"]["git_sha"][:12] in text and f"c360 {manifest['code']['c360']}" in text
    assert "2024-02-26 to 2024-03-28" in text  # the fixture GA4 events' dates (late events of 02-26 included)
    assert "<script" not in text.lower() and "http://" not in text.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in text


@pytest.mark.slow
def test_the_page_links_the_four_reports_and_each_report_has_a_real_title(run):
    reports = _section(run["page"], "Reports")
    links = re.findall(r"href='([^']+)'", reports)
    htmls = [link for link in links if link.endswith(".html")]
    assert htmls == ["01_base_extraction.html", "02_identity_resolution.html", "03_customer_360.html",
                     "04_attribution.html"]
    assert all((run["folder"] / link).is_file() for link in links)
    for link, stage in zip(htmls, ("01 Base extraction", "02 Identity resolution", "03 Customer 360",
                                   "04 Attribution")):
        assert f">{stage}</a>" in reports
        title = re.search(r"<title>(.*?)</title>", (run["folder"] / link).read_text(encoding="utf-8")).group(1)
        assert html.unescape(title) == f"c360 · {stage} · run {run['manifest']['run_id']}"


@pytest.mark.slow
def test_the_page_lists_exactly_the_parameters_that_differ_from_the_defaults_escaped(run):
    section = _section(run["page"], "Parameters")
    shown = {row[0]: row[1:] for row in _rows(section)}
    expected = {name for name, value in run["manifest"]["parameters"].items() if defaults().get(name) != value}
    assert set(shown) == expected
    assert shown["conversion_window_days"] == ["30", "90"]
    assert shown["won_stages"] == [f"[closedwon, {MARKUP}]", "[closedwon]"]
    assert MARKUP not in run["page"] and html.escape(MARKUP) in section


@pytest.mark.slow
def test_the_data_tests_table_has_a_row_per_test_of_every_stage(run):
    rows = _rows(_section(run["page"], "Data tests"))
    con = duckdb.connect(str(run["warehouse"]), read_only=True)
    try:
        expected = con.execute("SELECT layer, model, test, status, failures FROM c360__data_tests").fetchall()
    finally:
        con.close()
    assert len(rows) == len(expected) > 100
    assert sorted((r[0], r[1], r[2], r[4], int(r[5])) for r in rows) == sorted(expected)
    assert [r[0] for r in rows] == sorted((r[0] for r in rows), key=["base", "identity", "customer",
                                                                      "attribution"].index)


@pytest.mark.slow
def test_the_headline_figures_match_the_fixture_story_and_the_warehouse(run):
    figures = _section(run["page"], "Headline figures")
    text = html.unescape(re.sub(r"<[^>]+>", " ", figures))
    # data/fixtures/README.md: 14 customers, 13 of 23 devices linked, 7 won deals worth $33,500
    assert re.search(r"customers\s+14\s", text, re.I)
    assert re.search(r"13 of 23\s+match rate 56\.5%", text)
    assert re.search(r"USD 33,500\.00\s+7 won deals", text)
    assert run["manifest"]["headline"]["won"] == {"deals": 7, "revenue": "33500.00", "currency": "USD",
                                                  "minor_unit": 2}
    # the top channel per model at the run's 30-day window, by a query of its own
    con = duckdb.connect(str(run["warehouse"]), read_only=True)
    try:
        top = con.execute("""
            SELECT model, arg_max(channel, conversion_value), max(conversion_value),
                   max(conversion_value) / (SELECT SUM(conversion_value) FROM mrt__marketing__channel_attribution b
                                            WHERE b.window_days = 30 AND b.model = a.model)
            FROM mrt__marketing__channel_attribution a
            WHERE window_days = 30 AND channel <> '(unattributed)' GROUP BY model""").fetchall()
    finally:
        con.close()
    assert "(30-day conversion window)" in figures
    shown = {row[0]: row[1:] for row in _rows(figures)}
    assert set(run["manifest"]["parameters"]["attribution_models"]) == {t[0] for t in top}
    assert set(shown) == {LABELS[t[0]] for t in top}  # models by their titles, as notebook 04 names them
    for model, channel, value, share in top:
        assert shown[LABELS[model]] == [channel, money_text(value, "USD"), f"{float(share) * 100:.1f}%"], model
    assert shown["First touch"][:2] == ["Referral", "USD 14,000.00"]  # data/fixtures/README.md, 30-day window


@pytest.mark.slow
def test_the_page_shows_no_raw_email_or_name_of_a_fixture_person(run):
    emails, names = fixture_people()
    assert len(emails) > 10 and len(names) > 10
    text = html.unescape(run["page"]).lower()
    assert not sorted(e for e in emails if e in text) + sorted(n for n in names if n in text)


MANIFEST = {"run_id": "20240101T000000-0001", "started_at": "2024-01-01T00:00:00+00:00",
            "code": {"c360": "0.1.0", "git_sha": "0123456789abcdef", "dirty": True}, "notebooks": [], "inputs": []}


def test_page_escapes_every_value_and_says_when_no_deal_is_won():
    params = {**defaults(), "unwanted_referrals": ["<script>x</script>.com"], "reporting_currency": "A&B"}
    figures = {"customers": 0, "devices": None, "data_period": None,
               "won": {"deals": 0, "revenue": "0.00", "currency": None, "minor_unit": 2},
               "attribution": {"window_days": 90, "models": []}}
    tests = [{"layer": "base", "model": "<b>m</b>", "test": "unique(x)", "severity": "error", "failures": 2,
              "examples": "ann@example.org, '<img>'", "status": "fail"}]
    text = page({**MANIFEST, "parameters": params}, ["01_base_extraction.html"], figures, tests, defaults())
    assert "<script>x" not in text and "&lt;script&gt;x&lt;/script&gt;.com" in text
    assert "<b>m</b>" not in text and "<img>" not in text and "ann@example.org" not in text
    assert "A&amp;B" in text and "(uncommitted changes)" in text
    assert "no deal is won" in text and "No attributed revenue" in text
    assert [r[0] for r in _rows(_section(text, "Parameters"))] == ["reporting_currency", "unwanted_referrals"]


def test_a_parameter_value_that_names_a_person_is_masked():
    params = {**defaults(), "identity_blocklist": ["jane.doe@example.org"]}
    text = page({**MANIFEST, "parameters": params}, [], {}, [], defaults())
    assert "jane.doe@example.org" not in text and "identity_blocklist" in text


def test_parameters_at_their_defaults_list_none():
    assert changed_parameters(defaults(), defaults()) == []
    text = page({**MANIFEST, "parameters": defaults()}, [], {}, [], defaults())
    assert "Every parameter is at its default" in text


def test_money_is_shown_with_thousands_separators_and_its_currency():
    assert money_text("33500", "USD") == "USD 33,500.00"
    assert money_text("1234567.5", "JPY", 0) == "JPY 1,234,568"
    assert money_text("0", None) == "(no currency) 0.00"
