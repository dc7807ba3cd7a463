"""Money is exact: decimals parsed from the file's text, one reporting currency, exchange rates applied by date with
half-to-even rounding, and attributed revenue split in cents so that every deal's parts add up to its amount.

Every expected value is worked out by hand in the comments.
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from c360 import money, sources
from c360.money import CurrencyError, allocate
from conftest import DEAL_COLS, SPEND_COLS, write_csv, write_tree
from test_attribution_sql import build, contact, deal, engines_opened, ga4, shards  # noqa: F401 (fixtures)


def D(text: str) -> Decimal:
    return Decimal(text)


# =========================================================================== allocate (pure)
@pytest.mark.parametrize("total, shares, minor, expected", [
    # 10000 cents / 3 = 3333 r 1 each: the one cent left goes to the first of the tied remainders
    ("100.00", [1, 1, 1], 2, ["33.34", "33.33", "33.33"]),
    # yen have no minor unit: 1000 / 3 = 333 r 1
    ("1000", [1, 1, 1], 0, ["334", "333", "333"]),
    # 5 cents in halves: 2.5 each, floors 2 + 2, the cent left to the first
    ("0.05", [0.5, 0.5], 2, ["0.03", "0.02"]),
    # 40/20/40 of 10.00 is exact
    ("10.00", [0.4, 0.2, 0.4], 2, ["4.00", "2.00", "4.00"]),
    # remainders 0.4 / 0.6 (of 1 cent * 0.3 / 0.7 ... ): 0.01 * 0.3 = 0.3 c, 0.7 c: the larger remainder wins
    ("0.01", [0.3, 0.7], 2, ["0.00", "0.01"]),
    # not a whole number of cents: split in the amount's own 9 decimals (1.005 = 1005000000 units / 2)
    ("1.005", [1, 1], 2, ["0.5025", "0.5025"]),
    # a zero share gets nothing, whatever is left over
    ("7.00", [1, 0, 0], 2, ["7.00", "0.00", "0.00"]),
])
def test_allocate_splits_in_minor_units_by_largest_remainder(total, shares, minor, expected):
    parts = allocate(D(total), shares, minor)
    assert parts == [D(e) for e in expected]
    assert sum(parts) == D(total)


def test_allocate_adds_up_exactly_for_awkward_shares():
    shares = [1 / 7, 2 / 7, 4 / 7, 1e-12]
    for cents in (1, 99, 100_003, 123_456_789_012):
        total = Decimal(cents).scaleb(-2)
        assert sum(allocate(total, shares)) == total


# =========================================================================== the CSV text is the value
def _deals_csv(tmp_path, amounts: list[str]):
    root = write_tree(tmp_path / "src", {"events_20240301.jsonl": [ga4("1.1", 1, "2024-03-01 10:00")]},
                      contacts=[contact("C1")])
    write_csv(root / "crm/deals.csv", DEAL_COLS,
              [{**deal(f"D{i}", "C1", 0, "closedwon", "2024-03-01 12:00"), "amount": a, "currency": "USD"}
               for i, a in enumerate(amounts)])
    return root


@pytest.mark.parametrize("bad", ["NaN", "inf", "-Infinity", "1e3", "1.0000000001", "1" + "0" * 29, "12,50", "$5"])
def test_a_money_value_that_is_no_plain_decimal_is_a_bad_row_naming_file_line_column_and_value(tmp_path, bad,
                                                                                               build_base):
    root = _deals_csv(tmp_path, ["10.00", bad])
    with pytest.raises(sources.BadInputError) as e:
        build_base(root)
    message = str(e.value)
    assert "crm/deals.csv" in message and "line 3" in message and "amount" in message and bad in message


def test_money_values_keep_every_digit_of_their_text(tmp_path, build_base):
    # 29 integer digits and 9 decimals: NUMERIC's limits, read without a float in between
    big = "9" * 29 + ".123456789"
    eng, _ = build_base(_deals_csv(tmp_path, ["0.1", "0.2", big, " 12.50 "]))
    got = eng.query("SELECT deal_id, amount FROM base__crm__deals ORDER BY deal_id")
    assert got["amount"].tolist() == [D("0.1"), D("0.2"), D(big), D("12.50")]
    # 0.1 + 0.2 is 0.3 exactly (a float sum is 0.30000000000000004)
    assert eng.query("SELECT SUM(amount) AS s FROM base__crm__deals WHERE deal_id IN ('D0', 'D1')")["s"][0] == D("0.3")


def test_quarantine_sets_a_bad_money_row_aside_and_keeps_the_others(tmp_path, build_base):
    eng, loaded = build_base(_deals_csv(tmp_path, ["10.00", "NaN", "20.00"]), on_bad_rows="quarantine")
    assert eng.query("SELECT SUM(amount) AS s FROM base__crm__deals")["s"][0] == D("30.00")
    assert loaded.quarantine_frame()["rows"].tolist() == [1]


# =========================================================================== currencies
def _tree(tmp_path, deals, rates=None, spend=None):
    events = [ga4("1.1", 1, "2024-03-01 10:00", user_id="C1")]
    root = write_tree(tmp_path / "src", shards(events), contacts=[contact("C1", external_id="C1")], deals=deals,
                      spend=spend)
    if rates is not None:
        write_csv(root / "marketing/fx_rates.csv", ["date", "currency", "rate"],
                  [{"date": d, "currency": c, "rate": r} for d, c, r in rates])
    return root


def _deal(did, amount, currency, closed="2024-03-19 12:00"):
    return {**deal(did, "C1", 0, "closedwon", closed), "amount": amount, "currency": currency}


def test_a_single_currency_is_the_reporting_currency(tmp_path, build_base):
    eng, _ = build_base(_tree(tmp_path, [_deal("D1", "10.00", "EUR"), _deal("D2", "5.00", "")]))
    assert money.reporting_currency(eng) == ("EUR", 2)
    money.check_currencies(eng)
    # a blank currency counts as the reporting currency
    assert eng.query("SELECT SUM(amount) AS s FROM base__crm__deals")["s"][0] == D("15.00")


def test_several_currencies_without_rates_stop_the_run_naming_them_and_their_deal_counts(tmp_path, build_base):
    eng, _ = build_base(_tree(tmp_path, [_deal("D1", "10.00", "EUR"), _deal("D2", "5.00", "USD"),
                                         _deal("D3", "7.00", "USD")]))
    with pytest.raises(CurrencyError, match=r"EUR \(1 deal\), USD \(2 deals\).*reporting_currency"):
        money.check_currencies(eng)


RATES = [("2024-03-01", "EUR", "1.5"), ("2024-03-20", "EUR", "2.0"), ("2024-03-01", "JPY", "0.0067")]


def test_deals_are_converted_at_the_latest_rate_on_or_before_their_close_rounded_half_to_even(tmp_path, build_base):
    deals = [
        _deal("D1", "10.15", "EUR", "2024-03-19 12:00"),  # 10.15 * 1.5 = 15.225: half to even -> 15.22 (not 15.23)
        _deal("D2", "10.05", "EUR", "2024-03-19 12:00"),  # 10.05 * 1.5 = 15.075 -> 15.08 (8 is even)
        _deal("D3", "10.00", "EUR", "2024-03-20 09:00"),  # the 2024-03-20 rate applies on its own day: 20.00
        _deal("D4", "1000", "JPY", "2024-03-25 12:00"),   # 1000 * 0.0067 = 6.70
        _deal("D5", "3.00", "USD", "2024-03-25 12:00"),   # already USD: as it is, rate 1
    ]
    eng, _ = build_base(_tree(tmp_path, deals, RATES), reporting_currency="USD")
    money.check_currencies(eng)
    got = eng.query("SELECT deal_id, amount, currency, original_currency, fx_rate, fx_status FROM base__crm__deals "
                    "ORDER BY deal_id")
    assert got["amount"].tolist() == [D("15.22"), D("15.08"), D("20.00"), D("6.70"), D("3.00")]
    assert set(got["currency"]) == {"USD"}
    assert got["fx_rate"].tolist() == [D("1.5"), D("1.5"), D("2.0"), D("0.0067"), D("1")]
    assert got["fx_status"].tolist() == ["converted"] * 4 + ["same currency"]


def test_a_deal_with_no_rate_on_or_before_its_close_is_an_error_naming_it(tmp_path, build_base):
    eng, _ = build_base(_tree(tmp_path, [_deal("D9", "10.00", "EUR", "2024-02-28 12:00")], RATES),
                        reporting_currency="USD")
    with pytest.raises(CurrencyError, match=r"deal_id D9 \(EUR, 2024-02-28\)"):
        money.check_currencies(eng)


def test_ad_spend_in_another_currency_is_converted_by_its_date(tmp_path, build_base):
    spend = [{"date": "2024-03-01", "source": "google", "medium": "cpc", "campaign": "x", "spend": "100.01",
              "currency": "EUR"},   # 100.01 * 1.5 = 150.015 -> 150.02 (2 is even)
             {"date": "2024-03-02", "source": "google", "medium": "cpc", "campaign": "x", "spend": "4.00"}]
    root = _tree(tmp_path, [_deal("D1", "10.00", "USD")], RATES)
    write_csv(root / "marketing/ad_spend.csv", [*SPEND_COLS, "currency"], spend)
    eng, _ = build_base(root)  # the deals' single currency, USD, is the reporting currency
    money.check_currencies(eng)
    got = eng.query("SELECT spend, currency FROM base__marketing__ad_spend ORDER BY spend_date")
    assert got["spend"].tolist() == [D("150.02"), D("4.00")]
    assert set(got["currency"]) == {"USD"}


# =========================================================================== attributed revenue adds up in cents
@pytest.fixture(scope="module")
def split(build):
    # C1's device 1.1 has five sessions before D1 (won 100.00, closed 2024-03-20); D2 (won 0.10) has four of
    # C2's device 2.1
    events = [ga4("1.1", i, f"2024-03-{10 + i:02d} 12:00", user_id="C1") for i in range(1, 6)]
    events += [ga4("2.1", i, f"2024-03-{10 + i:02d} 13:00", user_id="C2") for i in range(1, 5)]
    deals = [{**deal("D1", "C1", 0, "closedwon", "2024-03-20 15:00"), "amount": "100.00", "currency": "USD"},
             {**deal("D2", "C2", 0, "closedwon", "2024-03-20 15:00"), "amount": "0.10", "currency": "USD"}]
    return build(events, contacts=[contact("C1", external_id="C1"), contact("C2", external_id="C2")], deals=deals,
                 conversion_window_days=30, sensitivity_windows_days="[]")


def revenue(eng, deal_id, model):
    return eng.query("SELECT attributed_revenue FROM mrt__marketing__attributed_touchpoints WHERE deal_id = @d "
                     "AND model = @m ORDER BY touch_order", {"d": deal_id, "m": model})["attributed_revenue"].tolist()


def test_linear_credit_splits_cents_and_gives_the_cent_left_to_the_earliest_touch(split):
    # 10000 cents / 5 = 2000 each: exact
    assert revenue(split, "D1", "linear") == [D("20.00")] * 5
    # 10 cents / 4 = 2.5 each: floors 2 * 4 = 8, 2 cents left to the first two of the tied remainders
    assert revenue(split, "D2", "linear") == [D("0.03"), D("0.03"), D("0.02"), D("0.02")]


def test_position_based_middle_touches_share_the_left_over_cents_in_touch_order(split):
    # 5 touches: 40%, 20%/3 (6.666.. each), 40%: floors 40.00 + 6.66 * 3 + 40.00 = 99.98, 2 cents left to the
    # tied middle remainders in touch order: touches 2 and 3
    assert revenue(split, "D1", "position_based") == [D("40.00"), D("6.67"), D("6.67"), D("6.66"), D("40.00")]


def test_every_deal_and_model_adds_up_to_the_deal_amount_exactly(split):
    sums = split.query("""
        SELECT deal_id, model, SUM(attributed_revenue) AS s, ANY_VALUE(deal_amount) AS amount
        FROM mrt__marketing__attributed_touchpoints GROUP BY 1, 2""")
    assert len(sums) == 2 * 5
    assert (sums["s"] == sums["amount"]).all()
    channel = split.query("SELECT model, SUM(conversion_value) AS v FROM mrt__marketing__channel_attribution "
                          "GROUP BY 1")
    assert set(channel["v"]) == {D("100.10")}


def test_ad_spend_outside_the_ga4_dates_needs_no_rate(tmp_path, build_base):
    # the only GA4 day is 2024-03-01; EUR spend on 2023-06-01 has no rate (the first is 2024-03-01) but is
    # never used, so the run goes on; the same row inside the period stops it
    row = {"date": "2023-06-01", "source": "google", "medium": "cpc", "campaign": "x", "spend": "5.00",
           "currency": "EUR"}
    root = _tree(tmp_path, [_deal("D1", "10.00", "USD")], RATES)
    write_csv(root / "marketing/ad_spend.csv", [*SPEND_COLS, "currency"], [row])
    eng, _ = build_base(root)
    money.check_currencies(eng)
    write_csv(root / "marketing/ad_spend.csv", [*SPEND_COLS, "currency"], [{**row, "date": "2024-03-01"}])
    eng, _ = build_base(root)
    money.check_currencies(eng)  # 2024-03-01 has a rate
    write_csv(root / "marketing/fx_rates.csv", ["date", "currency", "rate"], [{"date": "2024-03-02",
                                                                            "currency": "EUR", "rate": "1.1"}])
    eng, _ = build_base(root)
    with pytest.raises(CurrencyError, match=r"spend_date 2024-03-01 \(EUR, 2024-03-01\)"):
        money.check_currencies(eng)


def test_ad_spend_in_several_currencies_and_no_deal_currency_is_named(tmp_path, build_base):
    root = _tree(tmp_path, [_deal("D1", "10.00", "")], RATES)
    spend = [{"date": "2024-03-01", "source": "g", "medium": "cpc", "campaign": "x", "spend": "1", "currency": c}
             for c in ("EUR", "USD")]
    write_csv(root / "marketing/ad_spend.csv", [*SPEND_COLS, "currency"], spend)
    eng, _ = build_base(root)
    with pytest.raises(CurrencyError, match=r"ad spend \(and no deal names a currency\) in several currencies: EUR, USD"):
        money.check_currencies(eng)


def test_a_bad_value_is_masked_before_it_is_cut_for_the_error(tmp_path, build_base):
    # an address longer than the shown part of the value must not lose its '@' to the cut and show raw
    address = "a.very.long.local.part.of.an.address@example-company.com"
    with pytest.raises(sources.BadInputError) as e:
        build_base(_deals_csv(tmp_path, [address]))
    assert "very.long" not in str(e.value) and "a***@" in str(e.value)
