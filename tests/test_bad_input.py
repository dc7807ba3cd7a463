"""Bad input, table-driven: each corruption is applied to a copy of the fixtures, and each has its documented
outcome (docs/data-contract.md, "What bad input does"): an error naming the file and line, a row set aside and counted, a
data-test failure or warning naming the table, or a row dropped with a count — never a silent drop."""
from __future__ import annotations

import gzip
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest

from c360.dag import datatests as checks
from c360 import models, params as P, sources, warehouse as engines
from c360.paths import PROJ_ROOT
from c360.sources.contract import BadInputError

FIXTURES = PROJ_ROOT / "data" / "fixtures"
SHARD = "ga4/events_20240301.jsonl"


def append(rel: str, text: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        with (root / rel).open("a", encoding="utf-8", newline="") as fh:
            fh.write(text)
    return mutate


def append_bytes(rel: str, data: bytes) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        with (root / rel).open("ab") as fh:
            fh.write(data)
    return mutate


def edit_csv_cell(rel: str, row: int, column: str, value: str) -> Callable[[Path], None]:
    """Set one cell of a CSV (row 1 = the first data row, line 2)."""
    def mutate(root: Path) -> None:
        lines = (root / rel).read_text(encoding="utf-8").splitlines()
        cols = lines[0].split(",")
        cells = lines[row].split(",")
        cells[cols.index(column)] = value
        lines[row] = ",".join(cells)
        (root / rel).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return mutate


def drop_csv_column(rel: str, column: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        lines = (root / rel).read_text(encoding="utf-8").splitlines()
        i = lines[0].split(",").index(column)
        (root / rel).write_text("\n".join(",".join(c for j, c in enumerate(line.split(",")) if j != i)
                                          for line in lines) + "\n", encoding="utf-8")
    return mutate


def add_csv_column(rel: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        lines = (root / rel).read_text(encoding="utf-8").splitlines()
        (root / rel).write_text("\n".join([lines[0] + ",hs_extra_field"] + [line + ",x" for line in lines[1:]])
                                + "\n", encoding="utf-8")
    return mutate


def duplicate_csv_row(rel: str, row: int) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        lines = (root / rel).read_text(encoding="utf-8").splitlines()
        (root / rel).write_text("\n".join(lines + [lines[row]]) + "\n", encoding="utf-8")
    return mutate


def bom_and_crlf(rel: str) -> Callable[[Path], None]:
    def mutate(root: Path) -> None:
        text = (root / rel).read_text(encoding="utf-8")
        (root / rel).write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    return mutate


def remove_shards(root: Path) -> None:
    for shard in (root / "ga4").glob("events_*"):
        shard.unlink()


def first_line_with(field: str, value: str) -> Callable[[Path], None]:
    """Rewrite the first event of the 03-01 shard with one field changed (a JSON literal)."""
    def mutate(root: Path) -> None:
        lines = (root / SHARD).read_text(encoding="utf-8").splitlines()
        import json
        row = json.loads(lines[0])
        row[field] = json.loads(value)
        lines[0] = json.dumps(row)
        (root / SHARD).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return mutate


def replace_text(rel: str, old: str, new: str, header: bool = False) -> Callable[[Path], None]:
    """Replace `old` by `new` in a file's text (`header`: in its first line only)."""
    def mutate(root: Path) -> None:
        text = (root / rel).read_text(encoding="utf-8")
        assert old in text
        if header:
            first, rest = text.split("\n", 1)
            text = first.replace(old, new) + "\n" + rest
        else:
            text = text.replace(old, new)
        (root / rel).write_text(text, encoding="utf-8")
    return mutate


def add_shard_path(name: str, kind: str) -> Callable[[Path], None]:
    """Something named like a shard that is not a readable file: a folder, or a link to nothing."""
    def mutate(root: Path) -> None:
        path = root / "ga4" / name
        if kind == "folder":
            path.mkdir()
        else:
            path.symlink_to(root / "nowhere.jsonl")
    return mutate


def extra_comma(rel: str, row: int) -> Callable[[Path], None]:
    """An unquoted comma inside a value of data row `row` (line row + 1): one field too many."""
    def mutate(root: Path) -> None:
        lines = (root / rel).read_text(encoding="utf-8").splitlines()
        cells = lines[row].split(",")
        cells[2] = cells[2] + ",Jr"
        lines[row] = ",".join(cells)
        (root / rel).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return mutate


@dataclass(frozen=True)
class Case:
    name: str
    mutate: Callable[[Path], None]
    outcome: str  # error | quarantined | test_fail | test_warn | dropped | loaded
    expect: str = ""  # error: regex of the message; test_*: the failing test; dropped: model:reason


GOOD_EVENT = ('{"event_date": "20240301", "event_timestamp": "1709290000000000", "event_name": "page_view", '
              '"user_pseudo_id": "9.9", "event_params": [{"key": "ga_session_id", "value": {"int_value": "1"}}]}')

CASES = [
    Case("truncated JSON line", append(SHARD, '{"event_date": "20240301", "event_tim\n'), "error",
         r"events_20240301\.jsonl: line 13: malformed JSON"),
    Case("non-UTF-8 bytes in a shard", append_bytes(SHARD, b'{"event_date": "20240301", "event_name": "\xff"}\n'),
         "error", r"events_20240301\.jsonl: line 13: not UTF-8"),
    Case("an event without event_name", append(SHARD, GOOD_EVENT.replace('"event_name": "page_view", ', "") + "\n"),
         "error", r"events_20240301\.jsonl: line 13: missing required field\(s\) event_name"),
    Case("a non-integer event_timestamp", first_line_with("event_timestamp", '"soon"'), "error",
         r"events_20240301\.jsonl: line 1"),
    Case("an event_date that is not YYYYMMDD", first_line_with("event_date", '"2024-03-01"'), "error",
         r"events_20240301\.jsonl: line 1: event_date is not a YYYYMMDD date"),
    Case("an event_date that is no day", first_line_with("event_date", '"20240230"'), "error",
         r"events_20240301\.jsonl: line 1: event_date is not a YYYYMMDD date: '20240230'"),
    Case("an event_timestamp beyond year 9999", first_line_with("event_timestamp", '"9223372036854775807"'), "error",
         r"events_20240301\.jsonl: line 1: event_timestamp is not in years 0001-9999"),
    Case("an int event param beyond INT64", first_line_with(
        "event_params", '[{"key": "ga_session_id", "value": {"int_value": "1"}}, '
                        '{"key": "engagement_time_msec", "value": {"double_value": 1e300}}]'), "loaded"),
    Case("one shard in two formats", lambda r: shutil.copy(r / SHARD, r / "ga4" / "events_20240301.jsonl.gz"),
         "error", r"events_20240301\.jsonl\.gz: the same shard as events_20240301\.jsonl"),
    Case("a required CSV column missing", drop_csv_column("crm/deals.csv", "stage"), "error",
         r"deals\.csv: missing required column\(s\) stage"),
    Case("a CSV value of the wrong type", edit_csv_cell("crm/deals.csv", 2, "amount", "lots"), "error",
         r"deals\.csv: line 3: unparseable amount \(a decimal number .*\): lots"),
    Case("an unparseable timestamp", edit_csv_cell("crm/contacts.csv", 1, "updated_at", "31/12/2024"), "error",
         r"contacts\.csv: line 2: unparseable updated_at: 31/12/2024"),
    Case("non-UTF-8 bytes in a CSV", append_bytes("crm/contacts.csv", b"9999,\xff@x.com,,,,,,,,,false,\n"), "error",
         r"contacts\.csv: line 18: not UTF-8 \(column email\)"),
    Case("no shards at all", remove_shards, "error", r"no GA4 shards"),
    Case("a misnamed shard", lambda r: (r / "ga4" / "events_2024-03-29.jsonl").write_text(GOOD_EVENT + "\n"),
         "error", r"events_2024-03-29\.jsonl: not a GA4 shard name"),
    Case("an unknown extra column", add_csv_column("crm/contacts.csv"), "loaded"),
    Case("an unknown extra JSON field", first_line_with("brand_new_field", '{"a": [1, 2]}'), "loaded"),
    Case("an empty shard", lambda r: (r / "ga4" / "events_20240329.jsonl").write_text(""), "loaded"),
    Case("a CSV with BOM and CRLF", bom_and_crlf("crm/contacts.csv"), "loaded"),
    Case("an enormous field", first_line_with("page_title_dump", '"' + "x" * 2_000_000 + '"'), "loaded"),
    Case("a duplicate contact_id", duplicate_csv_row("crm/contacts.csv", 1), "dropped",
         "base__crm__contacts:duplicate"),
    Case("a deal for an unknown contact", edit_csv_cell("crm/deals.csv", 1, "contact_id", "9999"), "test_warn",
         "base__crm__deals:relationships(contact_id)"),
    Case("a negative amount", edit_csv_cell("crm/deals.csv", 1, "amount", "-500"), "test_fail",
         "base__crm__deals:expression(amount_not_negative)"),
    Case("a timestamp in the future", edit_csv_cell("crm/deals.csv", 1, "closed_at", "2099-01-01T00:00:00Z"),
         "test_warn", "base__crm__deals:expression(closed_at_not_in_future)"),
    # inputs that lie: caught at load, naming file and line
    Case("an event_timestamp in milliseconds", first_line_with("event_timestamp", '"1709287200000"'), "error",
         r"events_20240301\.jsonl: line 1: event_timestamp 1709287200000 is 1970-01-20 \(UTC\), more than 2 days "
         r"from event_date 20240301.*milliseconds"),
    Case("an event_date far from its shard's date", first_line_with("event_date", '"20240305"'), "error",
         r"events_20240301\.jsonl: line 1: event_date 20240305 is more than 3 days before or 1 day after the "
         r"shard's date 20240301"),
    Case("a late event (event_date 2 days before its shard)", replace_text(
        SHARD, '{"event_date":"20240301","event_timestamp":1709287200000000,',
        '{"event_date":"20240228","event_timestamp":1709114400000000,'), "loaded"),
    Case("a numeric user_pseudo_id", replace_text(SHARD, '"user_pseudo_id":"1013000001.1709287200"',
                                                  '"user_pseudo_id":1013000001.1709287200'), "loaded"),
    Case("an email padded with tab, NBSP and Unicode spaces", edit_csv_cell(
        "crm/contacts.csv", 1, "email", "\t\u00a0ALICE@acme.com\u2003\u3000"), "loaded"),
    Case("a full-width email", edit_csv_cell("product/users.csv", 1, "email", "\uff41lice@acme.com"), "loaded"),
    Case("a won deal without closed_at", edit_csv_cell("crm/deals.csv", 1, "closed_at", ""), "test_fail",
         "base__crm__deals:expression(won_deal_has_closed_at)"),
    Case("a shard named for no date (Feb 30)", lambda r: (r / "ga4" / "events_20240230.jsonl").write_text(
        GOOD_EVENT + "\n"), "error", r"events_20240230\.jsonl: not a GA4 shard name: 20240230 is no date"),
    Case("a folder named like a shard", add_shard_path("events_20240330.jsonl", "folder"), "error",
         r"events_20240330\.jsonl: named like a GA4 shard but not a file"),
    Case("a dangling link named like a shard", add_shard_path("events_20240330.jsonl.gz", "link"), "error",
         r"events_20240330\.jsonl\.gz: named like a GA4 shard but not a file"),
    Case("a CSV row with an extra unquoted comma", extra_comma("crm/contacts.csv", 2), "error",
         r"contacts\.csv: line 3: 13 fields, the header has 12 \(an unquoted comma\?"),
    Case("a NUL byte in a CSV cell", edit_csv_cell("crm/deals.csv", 2, "deal_name", "Init\x00ech"), "error",
         r"deals\.csv: line 3: a NUL byte in deal_name"),
    Case("a duplicated CSV header name", replace_text("crm/contacts.csv", "last_name", "first_name", header=True),
         "error", r"contacts\.csv: line 1: column 'first_name' appears twice \(columns 3 and 4\)"),
    Case("a JSON line of the wrong shape", append(SHARD, GOOD_EVENT.replace('"event_params": [', '"event_params": "x", '
                                                                            '"_": [') + "\n" + GOOD_EVENT + "\n"),
         "error", r"events_20240301\.jsonl: line 13: event_params is not a JSON array"),
    Case("an email in a timestamp column", edit_csv_cell("crm/deals.csv", 1, "closed_at", "john.doe@example.com"),
         "error", r"deals\.csv: line 2: unparseable closed_at: j\*\*\*@example\.com"),
    Case("an unknown consent value", first_line_with("privacy_info", '{"analytics_storage": "Maybe"}'), "test_warn",
         "base__ga4__events:accepted_values(consent__analytics_storage)"),
]


def _exact_pseudo_id(eng) -> None:
    # the JSON number keeps every digit as written, trailing zero included (a float would give 1013000001.1709287)
    ids = eng.native("SELECT DISTINCT user_pseudo_id FROM src__ga4__events WHERE user_pseudo_id LIKE '1013000001.%'"
                     ).fetchall()
    assert ("1013000001.1709287200",) in ids and ("1013000001.1709287",) not in ids
    assert not any("lossy" in i for (i,) in ids)


def _one_alice(eng) -> None:
    # the padded / full-width address is the same person: one normalized email, as written elsewhere
    for table in ("base__crm__contacts", "base__product__users"):
        emails = {e for (e,) in eng.native(f"SELECT email_normalized FROM {table} WHERE email_normalized LIKE "
                                           "'%lice@acme.com%'").fetchall()}
        assert emails == {"alice@acme.com"}, (table, emails)


LOADED_AS_WRITTEN = {"a numeric user_pseudo_id": _exact_pseudo_id,
                     "an email padded with tab, NBSP and Unicode spaces": _one_alice,
                     "a full-width email": _one_alice}


def _build(root: Path, warehouse: Path, on_bad_rows: str = "fail"):
    params = P.load(overrides=[f"source_root={root}", f"warehouse={warehouse}", f"on_bad_rows={on_bad_rows}"])
    eng = engines.connect(params)
    loaded = sources.load_sources(eng, root, on_bad_rows)
    models.build(eng, "base", params)
    return eng, loaded


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_has_its_documented_outcome(case, tmp_path):
    root = tmp_path / "src"
    shutil.copytree(FIXTURES, root)
    case.mutate(root)
    if case.outcome == "error":
        with pytest.raises(BadInputError, match=case.expect) as raised:
            _build(root, tmp_path / "w.duckdb")
        assert not re.search(r"[A-Za-z0-9._%+-]{2,}@", str(raised.value))  # no email address as written
        return
    eng, loaded = _build(root, tmp_path / "w.duckdb")
    try:
        if case.name in LOADED_AS_WRITTEN:
            LOADED_AS_WRITTEN[case.name](eng)
        accounting = models.row_accounting(eng, loaded.rows_read(), layer="base")
        assert accounting["balanced"].all()  # whatever happened was counted
        result = checks.run(eng, "base", raise_on_error=False)
        status = {f"{r.model}:{r.test}": r.status for r in result.itertuples()}
        if case.outcome == "loaded":
            assert set(status.values()) == {"pass"}
        elif case.outcome == "dropped":
            model, reason = case.expect.split(":")
            assert accounting.set_index("model").loc[model, reason] == 1
        else:
            assert status[case.expect] == {"test_fail": "fail", "test_warn": "warn"}[case.outcome]
            assert list(status.values()).count("pass") == len(status) - 1
            if case.outcome == "test_fail":
                with pytest.raises(checks.DataTestError, match=case.expect.split(":")[1].replace("(", r"\(").replace(")", r"\)")):
                    checks.run(eng, "base")
    finally:
        eng.con.close()


REWRITES = ("a non-integer event_timestamp", "an event_timestamp in milliseconds",
            "an event_date far from its shard's date")  # cases that rewrite a line, not add one
ROW_CASES = [c for c in CASES if c.name in ("truncated JSON line", "non-UTF-8 bytes in a shard",
                                             "an event without event_name", *REWRITES)]


@pytest.mark.parametrize("case", ROW_CASES, ids=[c.name for c in ROW_CASES])
def test_quarantine_sets_bad_event_lines_aside_and_counts_them(case, tmp_path):
    root = tmp_path / "src"
    shutil.copytree(FIXTURES, root)
    case.mutate(root)
    eng, loaded = _build(root, tmp_path / "w.duckdb", on_bad_rows="quarantine")
    try:
        assert loaded.quarantine_frame()["rows"].sum() == 1
        acc = models.row_accounting(eng, loaded.rows_read(), layer="base").set_index("model").loc["base__ga4__events"]
        # the fixtures' 264 lines and 242 kept events (data/fixtures/README.md, 01 base)
        lines = 264 + (case.name not in REWRITES)
        kept = 242 - (case.name in REWRITES)
        assert (acc["malformed"], acc["kept"], acc["rows_read"], acc["input"]) == (1, kept, lines, lines)
    finally:
        eng.con.close()




def test_a_gzip_shard_that_is_not_gzip_names_the_file(tmp_path):
    root = tmp_path / "src"
    shutil.copytree(FIXTURES, root)
    (root / "ga4" / "events_20240329.jsonl.gz").write_bytes(b"this is not gzip")
    with pytest.raises(BadInputError, match=r"events_20240329\.jsonl\.gz"):
        _build(root, tmp_path / "w.duckdb")
    good = root / "ga4" / "events_20240329.jsonl.gz"
    with gzip.open(good, "wt") as fh:
        fh.write(GOOD_EVENT.replace("20240301", "20240329").replace("1709290000", "1711710000") + "\n")
    eng, _ = _build(root, tmp_path / "w2.duckdb")
    eng.con.close()


@pytest.mark.parametrize("name", ["truncated JSON line", "a CSV value of the wrong type",
                                  "a CSV row with an extra unquoted comma", "an event_timestamp in milliseconds"])
def test_rows_set_aside_stay_counted_in_later_runs_and_fail_once_on_bad_rows_is_fail(tmp_path, name):
    # a later run keeps the file (its bytes are unchanged) and reports the rows set aside from it as the run
    # that read it did; switching on_bad_rows back to fail stops on that file as a fresh run would
    case = next(c for c in CASES if c.name == name)
    root = tmp_path / "src"
    shutil.copytree(FIXTURES, root)
    case.mutate(root)
    eng, first = _build(root, tmp_path / "w.duckdb", on_bad_rows="quarantine")
    try:
        again = sources.load_sources(eng, root, "quarantine")
        assert [f["file"] for f in again.files if f["read"] == "read"] == []
        assert again.quarantine_frame().to_dict("records") == first.quarantine_frame().to_dict("records")
        assert again.rows_read() == first.rows_read()
        shard = first.quarantine_frame()["file"].iloc[0]
        with pytest.raises(sources.BadInputError, match=re.escape(Path(shard).name)):
            sources.load_sources(eng, root, "fail")
    finally:
        eng.con.close()


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_shard_is_named_before_any_load(tmp_path):
    root = tmp_path / "src"
    shutil.copytree(FIXTURES, root)
    (root / SHARD).chmod(0)
    with pytest.raises(BadInputError, match=r"events_20240301\.jsonl: cannot be read"):
        sources.preflight(root)


def test_a_shard_for_no_date_stops_the_preflight(tmp_path):
    # preflight (before any notebook runs; the CLI exits with 3) names the path, no traceback
    root = tmp_path / "src"
    shutil.copytree(FIXTURES, root)
    (root / "ga4" / "events_20240230.jsonl").write_text(GOOD_EVENT + "\n")
    with pytest.raises(BadInputError, match=r"events_20240230\.jsonl: not a GA4 shard name"):
        sources.preflight(root)


def test_quarantine_sets_aside_a_csv_row_with_an_extra_comma_and_counts_it(tmp_path):
    case = next(c for c in CASES if c.name == "a CSV row with an extra unquoted comma")
    root = tmp_path / "src"
    shutil.copytree(FIXTURES, root)
    case.mutate(root)
    eng, loaded = _build(root, tmp_path / "w.duckdb", on_bad_rows="quarantine")
    try:
        q = loaded.quarantine_frame()
        assert q.to_dict("records") == [{"file": q["file"].iloc[0], "table": "src__crm__contacts",
                                         "reason": "unreadable row (too many columns)", "rows": 1}]
        acc = models.row_accounting(eng, loaded.rows_read(), layer="base")
        assert acc["balanced"].all()
        assert acc.set_index("model").loc["base__crm__contacts", "malformed"] == 1
    finally:
        eng.con.close()


def test_a_bad_value_in_a_file_about_people_shows_only_its_first_character(tmp_path, build_base):
    # a name pasted into a contact's created_at: the error names file, line and column, not the name
    from conftest import event, write_tree

    root = write_tree(tmp_path / "src", {"events_20240301.jsonl": [event("20240301", 1709287200)]},
                      contacts=[{"contact_id": "C1", "created_at": "Jürgen Müller", "_fivetran_deleted": "false"}])
    with pytest.raises(BadInputError) as e:
        build_base(root)
    message = str(e.value)
    assert "contacts.csv: line 2: unparseable created_at: J*** (13 characters)" in message
    assert "Müller" not in message and "ürgen" not in message
