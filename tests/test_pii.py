"""Reports never show raw emails, names or full pseudonymous ids (expected values written by hand; the hashes
are `printf %s VALUE | sha256sum | cut -c1-8`)."""
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from c360.dag import datatests as checks
from c360 import report
from c360.pii import (column_kind, is_email_column, mask_email, mask_email_value, mask_frame, mask_name, mask_text,
                      mask_value, pseudonym)

CLIENT_ID = "1013000001.1709287200"
CLIENT_ID_PID = "pid:8e2f5018"
SESSION_KEY = "1013000001.1709287200:1709287200"
SESSION_KEY_PID = "pid:879af398"


def test_emails_keep_initial_and_domain_only():
    assert mask_email("John.Doe+x@Example.co.uk") == "J***@Example.co.uk"
    assert mask_email("contact C1 <ann@acme.com>, bob@b.org") == "contact C1 <a***@acme.com>, b***@b.org"
    assert mask_email(None) is None


def test_unicode_addresses_are_masked_whole():
    assert mask_email("bob@münchen.de") == "b***@münchen.de"
    assert mask_email("jürgen.müller@acme.com") == "j***@acme.com"
    assert mask_email("Ünal@例え.テスト") == "Ü***@例え.テスト"
    assert mask_email("to: élodie.o'neil@xn--mnchen-3ya.de;") == "to: é***@xn--mnchen-3ya.de;"
    assert mask_email("'ann@acme.com'") == "'a***@acme.com'"
    assert mask_email("no address here: a@b, @acme.com") == "no address here: a@b, @acme.com"


def test_every_value_of_an_email_column_is_masked_whatever_it_holds():
    assert mask_email_value("bob@münchen.de") == "b***@münchen.de"
    assert mask_email_value(" Carol@Globex.com ") == "C***@Globex.com"
    assert mask_email_value("not-an-email") == "n***"
    assert mask_email_value("0cc175b9c0f1b6a831c399e269772661") == "0***"
    assert mask_email_value("Bob Brown <bob@initech.com>") == "b***@initech.com"
    assert mask_email_value("a@x.com; jürgen@y.de") == "a***@x.com, j***@y.de"
    assert mask_email_value(["ann@acme.com", "raw"]) == ["a***@acme.com", "r***"]
    assert mask_email_value(np.array(["ann@acme.com"], dtype=object)) == ["a***@acme.com"]
    assert mask_email_value("") == ""
    assert mask_email_value(None) is None
    assert pd.isna(mask_email_value(float("nan")))


def test_names_keep_their_initial():
    assert mask_name("Jürgen") == "J***"
    assert mask_name(" Øyvind Åsen") == "Ø***"
    assert mask_name("") == ""
    assert mask_name(None) is None


def test_pseudonymous_ids_become_a_short_stable_hash():
    assert pseudonym(CLIENT_ID) == CLIENT_ID_PID
    assert pseudonym(SESSION_KEY) == SESSION_KEY_PID
    assert pseudonym("abc") == "pid:ba7816bf"
    assert pseudonym([CLIENT_ID, None]) == [CLIENT_ID_PID, None]
    assert pseudonym(None) is None


def test_free_text_masks_addresses_and_client_ids():
    assert mask_text(f"device {CLIENT_ID} and email:bob@münchen.de") == \
        f"device {CLIENT_ID_PID} and email:b***@münchen.de"
    assert mask_text(f"session {SESSION_KEY}.") == f"session {SESSION_KEY_PID}."
    # numbers that are not client ids stay: amounts, dates, short ids
    assert mask_text("12000.00 on 2024-03-01, deal 1001, 1.5") == "12000.00 on 2024-03-01, deal 1001, 1.5"


@pytest.mark.parametrize("column, kind", [
    ("email", "email"), ("EMAIL", "email"), ("customer__email", "email"), ("product_email", "email"),
    ("emails", "email"), ("email_normalized", "email"), ("email_domain_type", None), ("email_domain", None),
    ("is_personal_email", None), ("email_canonicalization", None), ("first_name", "name"),
    ("customer__last_name", "name"), ("company_name", None), ("user_pseudo_id", "pseudonym"),
    ("ga_client_id", "pseudonym"), ("session_key", "pseudonym"), ("app_instance_id", "pseudonym"),
    ("first_user_pseudo_id", "pseudonym"), ("device_ids", "pseudonym"), ("contact_id", None),
    ("source_contact_ids", None), ("crm_contact_id", None), ("customer_id", None)])
def test_column_kinds_by_name(column, kind):
    assert column_kind(column) == kind
    assert is_email_column(column) == (kind == "email")


def test_mask_value_by_column():
    assert mask_value("customer__email", "not-an-email") == "n***"
    assert mask_value("session_key", SESSION_KEY) == SESSION_KEY_PID
    assert mask_value("contact_id", "1001") == "1001"
    assert mask_value("note", "ann@acme.com") == "a***@acme.com"


def test_frames_mask_name_columns_and_emails_anywhere():
    df = pd.DataFrame({"first_name": ["Ann"], "last_name": ["Lee"], "note": ["from ann@acme.com"], "n": [1]})
    out = mask_frame(df)
    assert out.iloc[0].tolist() == ["A***", "L***", "from a***@acme.com", 1]
    assert df.iloc[0, 0] == "Ann"  # the input is left alone


def test_frames_mask_by_column_name_and_identifier_type():
    df = pd.DataFrame({
        "customer__email": ["jürgen.müller@acme.com", "0cc175b9c0f1b6a831c399e269772661", None],
        "customer__first_name": ["Jürgen", "Zoë", None],
        "user_pseudo_id": [CLIENT_ID, "abc", None],
        "identifier_type": ["email", "user_pseudo_id", "crm_contact_id"],
        "identifier_value": ["bob@münchen.de", CLIENT_ID, "1001"],
        "source_contact_ids": [["1001", "1004"], ["1002"], []],
        "email_domain_type": ["corporate", "personal", None],
        "deals": [1, 2, 3],
    })
    out = mask_frame(df)
    assert out["customer__email"].tolist()[:2] == ["j***@acme.com", "0***"] and pd.isna(out["customer__email"][2])
    assert out["customer__first_name"].tolist()[:2] == ["J***", "Z***"]
    assert out["user_pseudo_id"].tolist()[:2] == [CLIENT_ID_PID, "pid:ba7816bf"]
    assert out["identifier_value"].tolist() == ["b***@münchen.de", CLIENT_ID_PID, "1001"]
    assert out["source_contact_ids"].tolist() == [["1001", "1004"], ["1002"], []]
    assert out["email_domain_type"].tolist()[:2] == ["corporate", "personal"]
    assert out["deals"].tolist() == [1, 2, 3]


def test_data_test_examples_are_masked_by_column():
    unique_email = checks.DataTest("m", "unique", "email", "error", "")
    assert checks.masked_example(unique_email, "0cc175b9c0f1b6a831c399e269772661") == "0***"
    assert checks.masked_example(unique_email, "bob@münchen.de") == "b***@münchen.de"
    relation = checks.DataTest("m", "relationships", "session_key", "error", "")
    assert checks.masked_example(relation, SESSION_KEY) == SESSION_KEY_PID
    shown = checks.DataTest("m", "expression", "rule", "warn", "", show="user_pseudo_id")
    assert checks.masked_example(shown, CLIENT_ID) == CLIENT_ID_PID
    other = checks.DataTest("m", "accepted_values", "status", "error", "")
    assert checks.masked_example(other, f"x jürgen@acme.com {CLIENT_ID}") == f"x j***@acme.com {CLIENT_ID_PID}"
    assert checks.masked_example(other, Decimal("1.5")) == "1.5"


def test_data_test_error_message_holds_no_raw_value():
    recorded = {}

    class Engine:  # one failing unique(email) test, on a raw address
        def query(self, sql):
            if "UNION ALL" in sql or sql.startswith("SELECT 0 AS i"):
                return pd.DataFrame({"i": [0], "n": [1]})
            return pd.DataFrame({"value": ["jürgen.müller@acme.com"]})

        def has_table(self, name):
            return False

        def write_frame(self, name, df):  # the results table (c360__data_tests) holds the masked example too
            recorded[name] = df

    test = checks.DataTest("base__crm__contacts", "unique", "email", "error", "SELECT 1")
    original = checks.declared
    checks.declared = lambda layer: [test]
    try:
        with pytest.raises(checks.DataTestError) as err:
            checks.run(Engine(), "base")
    finally:
        checks.declared = original
    assert "j***@acme.com" in str(err.value) and "jürgen" not in str(err.value)
    assert recorded["c360__data_tests"]["examples"].tolist() == ["j***@acme.com"]


def test_header_escapes_every_value():
    code = {"c360": "0.1", "git_sha": "0123456789abcdef", "dirty": False}
    inputs = {"tables": 0, "files": 2, "bytes": 1000, "fingerprint": "f" * 64}
    attack = "x` <img src=x onerror=alert(1)> `"
    html = report.header_html("04_attribution", code, inputs, {"won_stages": [attack], "conversion_window_days": 30})
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "<tr><td><code>conversion_window_days</code></td><td><code>30</code></td></tr>" in html
    assert "commit <code>0123456789ab</code><br>" in html
    text = report.header_text("04_attribution", code, inputs, {"conversion_window_days": 30})
    assert "\n  conversion_window_days = 30" in text and "fingerprint ffffffffffffffff" in text


def test_header_in_a_run_names_the_run_and_the_published_warehouse_not_the_working_copy():
    code = {"c360": "0.1", "git_sha": "0123456789abcdef", "dirty": False}
    inputs = {"tables": 0, "files": 2, "bytes": 1000, "fingerprint": "f" * 64}
    params = {"warehouse": "build/c360.duckdb.run-20261206T120000-0042", "conversion_window_days": 30}
    run = {"run_id": "20261206T120000-0042", "started_at": "2026-12-06T12:00:00+00:00", "warehouse": "build/c360.duckdb"}
    html = report.header_html("04_attribution", code, inputs, params, run)
    assert html.startswith("<p><b>Run</b> <code>20261206T120000-0042</code>, started 2026-12-06 12:00:00+00:00</p>")
    assert "<td><code>build/c360.duckdb</code></td>" in html and ".run-" not in html.replace("<b>Run</b>", "")
    text = report.header_text("04_attribution", code, inputs, params, run)
    assert text.startswith("Run 20261206T120000-0042, started 2026-12-06 12:00:00+00:00\nStage")
    assert "warehouse = build/c360.duckdb\n" in text
    # outside a run (golden outputs, make lab) there is no run line and the warehouse is the one given
    assert "<b>Run</b>" not in report.header_html("04_attribution", code, inputs, params)
