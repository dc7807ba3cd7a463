"""Base models on tiny inline inputs: each quirk of the GA4 export and the CRM, rows in -> rows out."""
from __future__ import annotations

import gzip
import json

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from c360 import models
from c360.sources.contract import BadInputError
from conftest import event, write_tree

CONTACT = {"contact_id": "C1", "email": " Ann@Acme.COM ", "first_name": "Ann", "last_name": "Lee",
           "created_at": "2024-03-01T10:00:00Z", "updated_at": "2024-03-02T10:00:00+01:00",
           "_fivetran_deleted": "false", "external_id": "U1"}


def _events(eng, order="event_timestamp"):
    return eng.query(f"SELECT * FROM base__ga4__events ORDER BY {order}")


def _dropped(eng, model):
    acc = models.row_accounting(eng).set_index("model")
    return acc.loc[model].to_dict()


def test_int64_values_arrive_as_strings_or_numbers(tmp_path, build_base):
    a = event("20240301", 1709287200, session=None,
              params=[{"key": "ga_session_id", "value": {"int_value": "1709287200"}},
                      {"key": "session_engaged", "value": {"string_value": "1"}},
                      {"key": "engagement_time_msec", "value": {"int_value": 1500}}])
    b = event("20240301", 1709287260, session=None,
              params=[{"key": "ga_session_id", "value": {"string_value": "1709287200"}},
                      {"key": "session_engaged", "value": {"int_value": 1}},
                      {"key": "engagement_time_msec", "value": {"int_value": "2500"}}])
    b["event_timestamp"] = 1709287260 * 1_000_000  # a JSON number this time
    eng, _ = build_base(write_tree(tmp_path / "src", {"events_20240301.jsonl": [a, b]}))
    ev = _events(eng)
    assert ev["ga_session_id"].tolist() == [1709287200, 1709287200]
    assert ev["session_engaged"].tolist() == [True, True]
    assert ev["engagement_time_msec"].tolist() == [1500, 2500]
    assert str(ev["event_timestamp"].iloc[1]) == "2024-03-01 10:01:00+00:00"


def test_event_timestamp_is_utc_and_event_date_is_a_date(tmp_path, build_base):
    eng, _ = build_base(write_tree(tmp_path / "src", {"events_20240301.jsonl": [event("20240301", 1709251199)]}))
    types = eng.query("SELECT typeof(event_date) AS d, typeof(event_timestamp) AS t FROM base__ga4__events")
    assert types.iloc[0].tolist() == ["DATE", "TIMESTAMP WITH TIME ZONE"]
    assert str(_events(eng)["event_timestamp"].iloc[0]) == "2024-02-29 23:59:59+00:00"


def test_exact_duplicate_events_are_dropped_and_counted(tmp_path, build_base):
    e = event("20240301", 1709287200)
    distinct_same_time = event("20240301", 1709287200, name="scroll")
    eng, _ = build_base(write_tree(tmp_path / "src", {"events_20240301.jsonl": [e, e, e, distinct_same_time]}))
    assert len(_events(eng)) == 2
    counts = _dropped(eng, "base__ga4__events")
    assert (counts["input"], counts["kept"], counts["duplicate"]) == (4, 2, 2)


def test_daily_shard_supersedes_intraday_of_the_same_date(tmp_path, build_base):
    shards = {
        "events_20240301.jsonl": [event("20240301", 1709287200)],
        "events_intraday_20240301.jsonl": [event("20240301", 1709287200), event("20240301", 1709287300)],
        "events_intraday_20240302.jsonl": [event("20240302", 1709373600)],
    }
    eng, _ = build_base(write_tree(tmp_path / "src", shards))
    ev = _events(eng)
    assert ev["shard"].tolist() == ["20240301", "intraday_20240302"]
    assert _dropped(eng, "base__ga4__events")["superseded_intraday"] == 2


def test_late_event_keeps_its_own_date(tmp_path, build_base):
    late = event("20240301", 1709290000)
    eng, _ = build_base(write_tree(tmp_path / "src", {"events_20240301.jsonl": [event("20240301", 1709287200)],
                                                      "events_20240303.jsonl": [late]}))
    ev = _events(eng)
    assert [str(d) for d in ev["event_date"].dt.date] == ["2024-03-01", "2024-03-01"]
    assert ev["shard"].tolist() == ["20240301", "20240303"]


def test_event_without_session_id_is_dropped_and_counted(tmp_path, build_base):
    eng, _ = build_base(write_tree(tmp_path / "src", {"events_20240301.jsonl": [
        event("20240301", 1709287200), event("20240301", 1709287300, name="first_visit", session=None)]}))
    assert _events(eng)["event_name"].tolist() == ["page_view"]
    assert _dropped(eng, "base__ga4__events")["missing_session_id"] == 1


def test_traffic_fields_are_read_from_where_ga4_puts_them(tmp_path, build_base):
    e = event("20240301", 1709287200, params=[{"key": "source", "value": {"string_value": "newsletter"}},
                                              {"key": "medium", "value": {"string_value": "email"}},
                                              {"key": "page_location", "value": {"string_value": "https://a.b/?x=1"}}],
              collected_traffic_source={"manual_source": "google", "manual_medium": "cpc",
                                        "manual_campaign_name": "spring", "gclid": "Cj0"},
              traffic_source={"source": "bing", "medium": "organic", "name": "(organic)"},
              privacy_info={"analytics_storage": "No"}, device={"category": "mobile"}, geo={"country": "France"},
              unknown_extra_field={"nested": [1, 2]})
    eng, _ = build_base(write_tree(tmp_path / "src", {"events_20240301.jsonl": [e]}))
    row = _events(eng).iloc[0]
    assert (row.manual_source, row.manual_medium, row.manual_campaign, row.gclid) == ("google", "cpc", "spring", "Cj0")
    assert (row.param_source, row.param_medium) == ("newsletter", "email")
    assert (row.user_first_source, row.user_first_medium) == ("bing", "organic")
    assert (row.consent__analytics_storage, row.device_category, row.country) == ("No", "mobile", "France")
    assert row.page_location == "https://a.b/?x=1"


def test_gzip_and_parquet_shards_load_like_jsonl(tmp_path, build_base):
    root = write_tree(tmp_path / "src", {"events_20240301.jsonl": [event("20240301", 1709287200)]})
    with gzip.open(root / "ga4" / "events_20240302.jsonl.gz", "wt") as fh:
        fh.write(json.dumps(event("20240302", 1709373600)) + "\n")
    param_t = pa.struct([("string_value", pa.string()), ("int_value", pa.int64()),
                         ("float_value", pa.float64()), ("double_value", pa.float64())])
    table = pa.table({
        "event_date": ["20240303"], "event_timestamp": pa.array([1709460000 * 1_000_000], pa.int64()),
        "event_name": ["page_view"], "user_pseudo_id": ["1.1"],
        "event_params": pa.array([[{"key": "ga_session_id", "value": {"int_value": 1000}}]],
                                 pa.list_(pa.struct([("key", pa.string()), ("value", param_t)])))})
    pq.write_table(table, root / "ga4" / "events_20240303.parquet")
    eng, loaded = build_base(root)
    assert [str(d) for d in _events(eng)["event_date"].dt.date] == ["2024-03-01", "2024-03-02", "2024-03-03"]
    assert {"jsonl", "jsonl.gz", "parquet"} <= set(loaded.files_frame()["format"])


def test_broken_json_line_names_file_and_line(tmp_path, build_base):
    root = write_tree(tmp_path / "src", {"events_20240301.jsonl": [
        json.dumps(event("20240301", 1709287200)), '{"event_date": "20240301", "event_timest']})
    with pytest.raises(BadInputError, match=r"events_20240301\.jsonl.*line 2"):
        build_base(root)


def test_event_missing_a_required_field_names_file_and_line(tmp_path, build_base):
    bad = event("20240301", 1709287300)
    del bad["event_name"]
    root = write_tree(tmp_path / "src", {"events_20240301.jsonl": [event("20240301", 1709287200), bad]})
    with pytest.raises(BadInputError, match=r"events_20240301\.jsonl: line 2: missing required field\(s\) event_name"):
        build_base(root)


def test_quarantine_sets_bad_lines_aside_and_counts_them(tmp_path, build_base):
    bad = event("20240301", 1709287300)
    del bad["event_name"]
    root = write_tree(tmp_path / "src", {"events_20240301.jsonl": [
        event("20240301", 1709287200), bad, '{"broken']})
    eng, loaded = build_base(root, on_bad_rows="quarantine")
    assert len(_events(eng)) == 1
    assert loaded.quarantine_frame()["rows"].sum() == 2
    acc = models.row_accounting(eng, loaded.rows_read()).set_index("model").loc["base__ga4__events"]
    assert (acc["input"], acc["kept"], acc["malformed"], acc["rows_read"]) == (3, 1, 2, 3)


def test_misnamed_shard_and_missing_export_are_errors(tmp_path, build_base):
    root = write_tree(tmp_path / "src", {"events_2024-03-01.jsonl": [event("20240301", 1709287200)]})
    with pytest.raises(BadInputError, match=r"events_2024-03-01\.jsonl: not a GA4 shard name"):
        build_base(root)
    empty = write_tree(tmp_path / "empty", {})
    with pytest.raises(BadInputError, match="no GA4 shards"):
        build_base(empty)


def test_contacts_drop_deleted_rows_and_normalize_email(tmp_path, build_base):
    deleted = {**CONTACT, "contact_id": "C2", "_fivetran_deleted": "true"}
    eng, _ = build_base(write_tree(tmp_path / "src", {"events_20240301.jsonl": [event("20240301", 1709287200)]},
                                   contacts=[CONTACT, deleted]))
    c = eng.query("SELECT * FROM base__crm__contacts")
    assert c["contact_id"].tolist() == ["C1"]
    assert c["email_normalized"].iloc[0] == "ann@acme.com"
    assert str(c["updated_at"].iloc[0]) == "2024-03-02 09:00:00+00:00"  # the +01:00 offset honoured
    assert _dropped(eng, "base__crm__contacts")["deleted"] == 1


def test_deal_status_follows_the_won_stages_parameter(tmp_path, build_base):
    deals = [{"deal_id": "D1", "contact_id": "C1", "amount": "100", "stage": "closedwon", "closed_at": "2024-03-05T00:00:00Z"},
             {"deal_id": "D2", "contact_id": "C1", "amount": "50", "stage": "contractsigned", "closed_at": "2024-03-06T00:00:00Z"},
             {"deal_id": "D3", "contact_id": "C1", "amount": "70", "stage": "closedlost", "closed_at": "2024-03-06T00:00:00Z"},
             {"deal_id": "D4", "contact_id": "C1", "amount": "10", "stage": "closedwon", "_fivetran_deleted": "true"}]
    root = write_tree(tmp_path / "src", {"events_20240301.jsonl": [event("20240301", 1709287200)]},
                      contacts=[CONTACT], deals=deals)
    eng, _ = build_base(root)
    status = dict(eng.query("SELECT deal_id, deal_status FROM base__crm__deals").values.tolist())
    assert status == {"D1": "won", "D2": "open", "D3": "lost"}
    eng.con.close()
    eng, _ = build_base(root, won_stages="[closedwon, contractsigned]")
    status = dict(eng.query("SELECT deal_id, deal_status FROM base__crm__deals").values.tolist())
    assert status == {"D1": "won", "D2": "won", "D3": "lost"}


def test_form_client_id_bare_or_cookie_names_the_device(tmp_path, build_base):
    forms = [{"submission_id": "S1", "email": "a@b.com", "ga_client_id": "1234567890.1709251200", "submitted_at": "2024-03-01T10:00:00Z"},
             {"submission_id": "S2", "email": "a@b.com", "ga_client_id": "GA1.1.1234567890.1709251200", "submitted_at": "2024-03-01T10:00:00Z"},
             {"submission_id": "S3", "email": "a@b.com", "ga_client_id": " GA1.2.987.654 ", "submitted_at": "2024-03-01T10:00:00Z"},
             {"submission_id": "S4", "email": "a@b.com", "ga_client_id": "undefined", "submitted_at": "2024-03-01T10:00:00Z"}]
    eng, _ = build_base(write_tree(tmp_path / "src", {"events_20240301.jsonl": [event("20240301", 1709287200)]},
                                   forms=forms))
    got = {k: (None if pd.isna(v) else v) for k, v in
           eng.query("SELECT submission_id, user_pseudo_id FROM base__form_submissions").values.tolist()}
    assert got == {"S1": "1234567890.1709251200", "S2": "1234567890.1709251200", "S3": "987.654", "S4": None}


def test_unparseable_timestamp_names_file_line_and_column(tmp_path, build_base):
    bad = {**CONTACT, "contact_id": "C2", "created_at": "yesterday"}
    root = write_tree(tmp_path / "src", {"events_20240301.jsonl": [event("20240301", 1709287200)]},
                      contacts=[CONTACT, bad])
    # a value with letters from a file about people shows as its first character and length (it may be a name)
    with pytest.raises(BadInputError, match=r"contacts\.csv: line 3: unparseable created_at: y\*\*\* \(9 characters\)"):
        build_base(root)


def test_missing_required_column_names_the_file_and_column(tmp_path, build_base):
    root = write_tree(tmp_path / "src", {"events_20240301.jsonl": [event("20240301", 1709287200)]})
    (root / "crm/deals.csv").write_text("deal_id,contact_id\nD1,C1\n")
    with pytest.raises(BadInputError, match=r"deals\.csv: missing required column\(s\) deal_name, amount"):
        build_base(root)


def test_csv_with_bom_and_crlf_loads(tmp_path, build_base):
    root = write_tree(tmp_path / "src", {"events_20240301.jsonl": [event("20240301", 1709287200)]})
    (root / "crm/contacts.csv").write_bytes(
        ("\ufeffcontact_id,email,first_name,last_name,company_name,job_title,lifecycle_stage,external_id,"
         "created_at,updated_at,_fivetran_deleted\r\nC1,a@b.com,A,B,,,lead,,2024-03-01T00:00:00Z,"
         "2024-03-01T00:00:00Z,false\r\n").encode("utf-8"))
    eng, _ = build_base(root)
    assert eng.query("SELECT contact_id, lifecycle_stage FROM base__crm__contacts").values.tolist() == [["C1", "lead"]]
