"""How reports write numbers: the expected texts are written out by hand."""
from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from c360.report import formats


def test_money_has_its_currency_and_thousands_separators_from_the_decimal():
    assert formats.money_text(Decimal("1234567.5"), "USD") == "USD 1,234,567.50"
    assert formats.money_text(Decimal("-80"), "EUR") == "EUR -80.00"
    # a float would turn this into 0.30000000000000004 or round it down; the decimal is exact and rounds half up
    assert formats.money_text(Decimal("0.125"), "USD") == "USD 0.13"
    # 2**53 + 1 is no float: money never passes through one
    assert formats.money_text(Decimal(2**53 + 1), "JPY", places=0) == "JPY 9,007,199,254,740,993"
    assert formats.money_text(None, "USD") == formats.EMPTY


def test_shares_are_percentages():
    assert formats.percent_text(0.28358) == "28.4%"
    assert formats.percent_text(Decimal("1")) == "100.0%"
    assert formats.percent_text(0) == "0.0%"
    assert formats.percent_text(-0.00001, signed=True) == "+0.0%"  # never -0.0%
    assert formats.percent_text(Decimal("-0.623"), signed=True) == "-62.3%"
    assert formats.percent_text(float("nan")) == formats.EMPTY


def test_counts_are_integers_and_fractional_conversions_keep_two_decimals():
    assert formats.count_text(12.0) == "12"
    assert formats.count_text(12000) == "12,000"
    assert formats.count_text(1.0333) == "1.03"
    assert formats.number_text(2.142857) == "2.14"


def test_a_frame_is_written_column_by_column():
    df = pd.DataFrame({"contact_id": [1001, 1002], "deals": [12.0, 1.0], "won": [Decimal("12000.00"), Decimal("5")],
                       "share": [0.2836, 0.7164], "note": ["a", None]})
    got = formats.format_frame(df, money={"won": "USD"})
    assert got.drop(columns="note").to_dict("list") == {
        "contact_id": [1001, 1002], "deals": ["12", "1"], "won": ["USD 12,000.00", "USD 5.00"],
        "share": ["28.4%", "71.6%"]}
    assert got["note"].iloc[0] == "a" and pd.isna(got["note"].iloc[1])
    assert formats.EMPTY in formats.table_html(got)  # a missing cell shows as a dash, not NaN or None


def test_a_table_has_no_index_and_escapes_every_cell():
    df = pd.DataFrame({"channel <b>": ["<script>x</script>", "Total"], "n": ["1", "2"]}, index=[7, 8])
    page = formats.table_html(df, numeric=("n",))
    assert "<script>" not in page and "&lt;script&gt;x&lt;/script&gt;" in page
    assert "channel &lt;b&gt;" in page
    assert ">7<" not in page and ">8<" not in page  # no index column
    assert "<b>Total</b>" in page and 'style="text-align:right;white-space:nowrap"><b>2</b>' in page
    assert formats.table_text(df).splitlines()[1].split() == ["<script>x</script>", "1"]
    assert "<caption" in formats.table_html(df, caption="Revenue & <more>") and "Revenue &amp; &lt;more&gt;" in \
        formats.table_html(df, caption="Revenue & <more>")


def test_paired_columns_get_a_spanning_header():
    df = pd.DataFrame([["Email", "1", "2"]], columns=[("", "channel"), ("linear", "revenue"), ("linear", "ROAS")])
    page = formats.table_html(df)
    assert '<th colspan="2" style="text-align:center">linear</th>' in page and ">ROAS</th>" in page


@pytest.mark.parametrize("value", ["abc", object()])
def test_a_value_that_is_no_number_is_named(value):
    with pytest.raises(ValueError, match="not a number"):
        formats.money_text(value, "USD")


def test_an_empty_table_says_it_has_no_rows():
    empty = pd.DataFrame({"file": [], "rows": []})
    assert "<i>no rows</i>" in formats.table_html(empty)
    assert formats.table_text(empty) == "(no rows) columns: file, rows"
