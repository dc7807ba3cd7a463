"""Attribution as a manager reads it: the model comparison, the ROI table, the data-driven models' numbers and
the charts, on hand-built tables whose expected texts are worked out by hand."""
from __future__ import annotations

from decimal import Decimal

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from c360.report import attribution as ra  # noqa: E402
from c360.report import plots  # noqa: E402

D = Decimal

# one window: last touch gives Paid Search everything; linear splits 3 deals (USD 1,000 + 2,000 + 3,000)
CHANNELS = pd.DataFrame([
    ("last_touch", "Paid Search", 3.0, D("6000.00")),
    ("last_touch", "Email", 0.0, D("0.00")),
    ("linear", "Paid Search", 1.5, D("2500.00")),
    ("linear", "Email", 1.0, D("2000.00")),
    ("linear", "Referral", 0.5, D("1500.00")),
], columns=["model", "channel", "conversions", "conversion_value"])


def test_the_model_comparison_has_channels_as_rows_models_as_columns_and_the_change_from_last_touch():
    got = ra.model_comparison(CHANNELS, ["last_touch", "linear", "markov"], "USD")
    assert list(got.columns) == ["channel", "Last touch", "Linear"]  # a model with no rows is left out
    rows = {r["channel"]: (r["Last touch"], r["Linear"]) for r in got.to_dict("records")}
    # Paid Search: 2,500 against 6,000 is -58.33...%; Email and Referral: no last-touch credit, no change shown
    assert rows == {"Email": ("USD 0.00", "USD 2,000.00"),
                    "Paid Search": ("USD 6,000.00", "USD 2,500.00 (-58.3%)"),
                    "Referral": ("USD 0.00", "USD 1,500.00"),
                    "Total": ("USD 6,000.00", "USD 6,000.00 (+0.0%)")}
    assert list(got["channel"]) == ["Email", "Paid Search", "Referral", "Total"]


def test_the_comparison_of_conversions_writes_counts():
    got = ra.model_comparison(CHANNELS, ["last_touch", "linear"], "USD", measure="conversions")
    rows = dict(zip(got["channel"], got["Linear"]))
    assert rows == {"Email": "1", "Paid Search": "1.50 (-50.0%)", "Referral": "0.50", "Total": "3 (+0.0%)"}


def test_channel_shares_add_up_to_one_per_model():
    shares = ra.channel_shares(CHANNELS, ["last_touch", "linear"])
    assert shares.loc["Referral", "Linear"] == pytest.approx(0.25)  # 1,500 of 6,000
    assert shares.loc["Referral", "Last touch"] == 0
    assert shares.sum().to_list() == pytest.approx([1.0, 1.0])


def test_window_shares_per_model_and_window():
    two = pd.concat([CHANNELS.assign(window_days=30), CHANNELS.assign(window_days=7)])
    got = ra.window_shares(two, ["linear", "last_touch"])
    assert list(dict.fromkeys(got["model"])) == ["Linear", "Last touch"]  # the order of attribution_models
    assert list(dict.fromkeys(got["window_days"])) == [7, 30]
    linear7 = got[(got.window_days == 7) & (got.model == "Linear")].set_index("channel")["share"]
    assert linear7.to_dict() == pytest.approx({"Email": 1 / 3, "Paid Search": 2500 / 6000, "Referral": 0.25})


def roi_rows():
    # Paid Social has spend and no conversion; Direct has conversions and no spend
    return pd.DataFrame([
        ("linear", "Paid Search", 1.5, D("3000.00"), D("1000.00")),
        ("linear", "Paid Social", 0.0, D("0.00"), D("500.00")),
        ("linear", "Direct", 1.5, D("1000.00"), D("0.00")),
        ("last_touch", "Paid Search", 2.0, D("3500.00"), D("1000.00")),
        ("last_touch", "Paid Social", 0.0, D("0.00"), D("500.00")),
        ("last_touch", "Direct", 1.0, D("500.00"), D("0.00")),
    ], columns=["model", "channel", "attributed_conversions", "attributed_revenue", "spend"])


def test_roi_is_one_wide_row_per_channel_with_totals():
    got = ra.roi_table(roi_rows(), ["last_touch", "linear"], "EUR")
    assert list(got.columns[:6]) == [("", "channel"), ("", "spend (EUR)"), ("Last touch", "revenue (EUR)"),
                                     ("Last touch", "conversions"), ("Last touch", "ROAS"),
                                     ("Last touch", "cost per won deal (EUR)")]
    rows = got.set_index(("", "channel"))
    assert list(rows.index) == ["Direct", "Paid Search", "Paid Social", "Total"]
    linear = rows.xs("Linear", axis=1, level=0)
    # Paid Search: 3,000 / 1,000 = 3.00; 1,000 / 1.5 = 666.67
    assert linear.loc["Paid Search"].to_list() == ["3,000.00", "1.50", "3.00", "666.67"]
    # spend and no conversion: kept, ROAS 0, no cost per won deal
    assert linear.loc["Paid Social"].to_list() == ["0.00", "0", "0.00", "—"]
    # conversions and no spend: no ROAS, no cost
    assert linear.loc["Direct"].to_list() == ["1,000.00", "1.50", "—", "—"]
    # totals: revenue 4,000, conversions 3, spend 1,500: ROAS 2.67, cost 500
    assert rows.loc["Total", ("", "spend (EUR)")] == "1,500.00"
    assert linear.loc["Total"].to_list() == ["4,000.00", "3", "2.67", "500.00"]


def test_markov_effects_by_hand():
    # P(convert) = 2/3 * 1/2 * 1 * 1/2 + 1/3 * 1 * 1/2 = 1/3; without C1 only C2 > C3 is left: 1/3 * 1/2 = 1/6
    paths = pd.DataFrame({"path": ["C1 > C2 > C3", "C1", "C2 > C3"], "conversions": [1, 0, 0],
                          "conversion_value": [1.0, 0, 0], "non_conversions": [0, 1, 1]})
    got = ra.markov_effects(paths).set_index("channel")
    assert got["conversion probability"].to_list() == pytest.approx([1 / 3] * 3)
    assert got["probability without the channel"].to_list() == pytest.approx([1 / 6, 0, 0])
    assert got["removal effect"].to_list() == pytest.approx([0.5, 1, 1])
    assert got["share of credit"].to_list() == pytest.approx([0.2, 0.4, 0.4])


def test_markov_effects_of_the_worked_example_in_the_docs():
    # docs/reports.md: P(conv) = 0.4; without A 2/15 (removal 2/3), without B 1/5 (removal 1/2)
    paths = pd.DataFrame({"path": ["A", "A > B", "B"], "conversions": [1, 1, 0],
                          "conversion_value": [D("100"), D("300"), D("0")], "non_conversions": [1, 0, 2]})
    got = ra.markov_effects(paths).set_index("channel")
    assert got["conversion probability"].to_list() == pytest.approx([0.4, 0.4])
    assert got["probability without the channel"].to_list() == pytest.approx([2 / 15, 1 / 5])
    assert got["removal effect"].to_list() == pytest.approx([2 / 3, 1 / 2])
    assert got["share of credit"].to_list() == pytest.approx([4 / 7, 3 / 7])


def test_shapley_values_by_hand():
    # {a}: 1 won of 2 journeys, CR 1/2; {a, b}: 1 of 1, CR 1, split in two: a 1/2 + 1/2 = 1, b 1/2
    paths = pd.DataFrame({"path": ["a", "a > b"], "conversions": [1, 1], "conversion_value": [1.0, 1.0],
                          "non_conversions": [1, 0]})
    got = ra.shapley_values(paths).set_index("channel")
    assert got["Shapley value"].to_list() == pytest.approx([1.0, 0.5])
    assert got["share of won deals"].to_list() == pytest.approx([2 / 3, 1 / 3])


def test_every_model_has_a_plain_words_note():
    notes = ra.model_notes(["first_touch", "last_touch", "linear", "time_decay", "position_based", "markov",
                            "shapley"]).splitlines()
    assert len(notes) == 7 and all(" gives " in n and "reward" in n for n in notes)


def test_small_multiples_label_every_axis_with_its_unit():
    linear = CHANNELS[CHANNELS["model"] == "linear"]
    models = ["first_touch", "last_touch", "linear", "time_decay", "markov"]  # two rows: 4 panels, then 1
    by_model = pd.concat([linear.assign(model=m) for m in models])
    shares = ra.window_shares(pd.concat([by_model.assign(window_days=7), by_model.assign(window_days=30)]), models)
    fig = plots.small_multiples(shares, "model", "window_days", "channel", "share", "Share by window",
                                "conversion window (days)", "share of revenue (%)", percent=True)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["First touch", "Last touch", "Linear", "Time decay", "Markov"]
    assert all(ax.get_xlabel() == "conversion window (days)" for ax in visible)
    fig.canvas.draw()
    assert all(any(t.get_text() for t in ax.get_xticklabels()) for ax in visible)  # every panel has its scale
    assert any(t.get_text().endswith("%") for t in visible[0].get_yticklabels())


def test_bars_label_the_category_axis_with_the_index_name_and_count_in_whole_numbers():
    ax = plots.bars(pd.DataFrame({"won deals": [1, 3]}, index=pd.Index([1, 2], name="touchpoints")), "t", "deals")
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("touchpoints", "deals")
    ax.figure.canvas.draw()
    assert all(float(t.get_text()).is_integer() for t in ax.get_yticklabels() if t.get_text())


def test_the_window_table_has_a_row_per_channel_and_percentages_per_model_and_window():
    shares = ra.window_shares(pd.concat([CHANNELS.assign(window_days=30), CHANNELS.assign(window_days=7)]),
                              ["linear", "last_touch"])
    got = ra.window_table(shares).set_index(("", "channel"))
    assert list(got.columns) == [("Linear", "7 d"), ("Linear", "30 d"), ("Last touch", "7 d"),
                                 ("Last touch", "30 d")]
    assert got.loc["Paid Search"].to_list() == ["41.7%", "41.7%", "100.0%", "100.0%"]  # 2,500 of 6,000
    assert got.loc["Referral"].to_list() == ["25.0%", "25.0%", "0.0%", "0.0%"]  # no last-touch row: 0


def test_a_wide_table_is_cut_into_even_parts_that_repeat_the_channel():
    models = ["first_touch", "last_touch", "linear", "time_decay", "position_based", "markov", "shapley"]
    linear = roi_rows()[roi_rows()["model"] == "linear"]
    roi = pd.concat([linear.assign(model=m) for m in models])
    parts = ra.in_parts(ra.roi_table(roi, models, "USD"), 4)
    assert [len({c[0] for c in p.columns}) - 1 for p in parts] == [4, 3]
    assert all(list(p.columns[:2]) == [("", "channel"), ("", "spend (USD)")] for p in parts)
    assert [p.shape[1] for p in parts] == [2 + 4 * 4, 2 + 3 * 4]
    assert ra.in_parts(ra.roi_table(roi_rows(), ["linear"], "USD"), 4)[0].shape[1] == 6
