"""Tests for c360.attribution. Expected numbers are derived by hand in the comments."""

from __future__ import annotations

import doctest

import numpy as np
import pandas as pd
import pytest

from c360 import attribution
from c360.attribution import (
    PATH_MODELS,
    PER_TOUCH_MODELS,
    attribute_paths,
    credit_touchpoints,
    first_touch,
    last_touch,
    linear,
    markov,
    parse_path,
    shapley,
    validate_path_table,
)


def path_table(rows: list[tuple[str, float, float, float]]) -> pd.DataFrame:
    """Rows of (path, conversions, conversion_value, non_conversions)."""
    columns = ["path", "conversions", "conversion_value", "non_conversions"]
    return pd.DataFrame(rows, columns=columns)


def by_channel(result: pd.DataFrame, column: str) -> dict[str, float]:
    return dict(zip(result["channel"], result[column]))


def random_path_table(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    channels = ["direct", "display", "email", "organic", "paid_search", "social"]
    rows = []
    for _ in range(rng.integers(5, 40)):
        path = " > ".join(rng.choice(channels, size=rng.integers(1, 7)))
        conversions = int(rng.integers(0, 5))
        value = float(conversions * rng.uniform(10, 500))
        rows.append((path, conversions, value, int(rng.integers(0, 20))))
    rows.append(("email > direct", 1, 100.0, 0))  # at least one conversion
    return path_table(rows)


def touches(deal_orders_days: list[tuple[object, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(deal_orders_days, columns=["deal_id", "touch_order", "days_before"])


# --------------------------------------------------------------------------- #
# Parsing and validation
# --------------------------------------------------------------------------- #
def test_parse_path_splits_on_arrow_and_trims_whitespace():
    assert parse_path("email > paid_search > direct") == ["email", "paid_search", "direct"]
    assert parse_path(" a>b >  a ") == ["a", "b", "a"]
    assert parse_path("") == []


def test_validate_path_table_accepts_well_formed_table():
    validate_path_table(path_table([("a > b", 1, 10.0, 2), ("c", 0, 0.0, 3)]))


@pytest.mark.parametrize(
    ("broken", "column"),
    [
        (lambda t: t.drop(columns="non_conversions"), "non_conversions"),
        (lambda t: t.drop(columns="path"), "path"),
        (lambda t: t.assign(conversions=[1, -1]), "conversions"),
        (lambda t: t.assign(non_conversions=[0, -3]), "non_conversions"),
        (lambda t: t.assign(conversion_value=[10.0, np.nan]), "conversion_value"),
        (lambda t: t.assign(conversions=["1", "0"]), "conversions"),
        (lambda t: t.assign(path=["a > b", "  "]), "path"),
        (lambda t: t.assign(path=["a > b", None]), "path"),
        (lambda t: t.assign(conversion_value=[10.0, 5.0]), "conversion_value"),  # value, 0 conv
    ],
)
def test_validate_path_table_error_names_the_bad_column(broken, column):
    table = path_table([("a > b", 1, 10.0, 2), ("c", 0, 0.0, 3)])
    with pytest.raises(ValueError, match=repr(column)):
        validate_path_table(broken(table))


def test_validate_path_table_error_names_the_bad_row():
    table = path_table([("a", 1, 1.0, 0), ("b", 1, 1.0, -2)]).set_axis(["x", "y"])
    with pytest.raises(ValueError, match="row 'y'"):
        validate_path_table(table)


def test_models_validate_their_input():
    with pytest.raises(ValueError, match="'path'"):
        markov(path_table([("", 1, 1.0, 0)]))


# --------------------------------------------------------------------------- #
# Heuristic models
# --------------------------------------------------------------------------- #
HEURISTIC_TABLE = path_table(
    [
        ("a > b > c", 2, 20.0, 1),
        ("b > a", 1, 10.0, 0),
        ("c", 0, 0.0, 5),
        ("a > a > b", 1, 30.0, 0),
    ]
)


def test_first_touch_credits_first_channel_of_each_path():
    # first channels: a (2 conv, 20), b (1, 10), c (0, 0), a (1, 30)
    result = first_touch(HEURISTIC_TABLE)
    assert result["channel"].tolist() == ["a", "b", "c"]
    assert by_channel(result, "conversions") == pytest.approx({"a": 3, "b": 1, "c": 0})
    assert by_channel(result, "conversion_value") == pytest.approx({"a": 50, "b": 10, "c": 0})


def test_last_touch_credits_last_channel_of_each_path():
    # last channels: c (2, 20), a (1, 10), c (0, 0), b (1, 30)
    result = last_touch(HEURISTIC_TABLE)
    assert result["channel"].tolist() == ["a", "b", "c"]
    assert by_channel(result, "conversions") == pytest.approx({"a": 1, "b": 1, "c": 2})
    assert by_channel(result, "conversion_value") == pytest.approx({"a": 10, "b": 30, "c": 20})


def test_linear_splits_each_path_evenly_over_its_touches():
    # a > b > c: 1/3 each of 2 conv / 20      -> 2/3 conv, 20/3 value each
    # b > a:     1/2 each of 1 conv / 10      -> 1/2, 5 each
    # a > a > b: a gets 2/3, b 1/3 of 1 / 30  -> a 2/3, 20; b 1/3, 10
    # a: 2/3 + 1/2 + 2/3 = 11/6 conv; 20/3 + 5 + 20 = 95/3 value
    # b: 2/3 + 1/2 + 1/3 = 3/2  conv; 20/3 + 5 + 10 = 65/3 value
    # c: 2/3 conv; 20/3 value                 (totals 4 and 60)
    result = linear(HEURISTIC_TABLE)
    assert result["channel"].tolist() == ["a", "b", "c"]
    assert by_channel(result, "conversions") == pytest.approx({"a": 11 / 6, "b": 3 / 2, "c": 2 / 3})
    assert by_channel(result, "conversion_value") == pytest.approx(
        {"a": 95 / 3, "b": 65 / 3, "c": 20 / 3}
    )


# --------------------------------------------------------------------------- #
# Markov
# --------------------------------------------------------------------------- #
BRYL_TABLE = path_table(
    [
        ("C1 > C2 > C3", 1, 100.0, 0),
        ("C1", 0, 0.0, 1),
        ("C2 > C3", 0, 0.0, 1),
    ]
)


def test_markov_reproduces_bryl_worked_example():
    # Transitions: start->C1 2/3, start->C2 1/3; C1->C2 1/2, C1->null 1/2;
    # C2->C3 1; C3->conv 1/2, C3->null 1/2.
    # P(conv) = 2/3 * 1/2 * 1 * 1/2 + 1/3 * 1 * 1/2 = 1/6 + 1/6 = 1/3.
    # Without C1: only start->C2->C3->conv = 1/3 * 1/2 = 1/6 -> RE = 1 - (1/6)/(1/3) = 0.5.
    # Without C2 or C3 every converting route is cut -> RE = 1.
    # Shares 0.5 / 2.5, 1 / 2.5, 1 / 2.5 = 0.2, 0.4, 0.4 of 1 conversion (and of 100 value).
    result = markov(BRYL_TABLE)
    assert result.columns.tolist() == [
        "channel", "removal_effect", "conversions", "conversion_value"
    ]
    assert result["channel"].tolist() == ["C1", "C2", "C3"]
    assert by_channel(result, "removal_effect") == pytest.approx({"C1": 0.5, "C2": 1.0, "C3": 1.0})
    assert by_channel(result, "conversions") == pytest.approx({"C1": 0.2, "C2": 0.4, "C3": 0.4})
    assert by_channel(result, "conversion_value") == pytest.approx({"C1": 20, "C2": 40, "C3": 40})


def test_markov_collapses_consecutive_repeats_of_a_channel():
    # a > a > b collapses to a > b. Transitions: start->a 1/2, start->b 1/2; a->b 1;
    # b->conv 1/2, b->null 1/2. P(conv) = 1/2 * 1/2 + 1/2 * 1/2 = 1/2.
    # Without a: 1/2 * 1/2 = 1/4 -> RE 0.5. Without b: 0 -> RE 1. Shares 1/3, 2/3.
    repeated = path_table([("a > a > a > b", 1, 30.0, 0), ("b > b", 0, 0.0, 1)])
    collapsed = path_table([("a > b", 1, 30.0, 0), ("b", 0, 0.0, 1)])
    result = markov(repeated)
    assert by_channel(result, "removal_effect") == pytest.approx({"a": 0.5, "b": 1.0})
    assert by_channel(result, "conversions") == pytest.approx({"a": 1 / 3, "b": 2 / 3})
    assert by_channel(result, "conversion_value") == pytest.approx({"a": 10, "b": 20})
    pd.testing.assert_frame_equal(result, markov(collapsed))


def test_markov_returns_zeros_when_nothing_converts():
    result = markov(path_table([("a > b", 0, 0.0, 3), ("b", 0, 0.0, 1)]))
    assert result["channel"].tolist() == ["a", "b"]
    assert result[["removal_effect", "conversions", "conversion_value"]].eq(0).all().all()


# --------------------------------------------------------------------------- #
# Simplified Shapley
# --------------------------------------------------------------------------- #
def test_shapley_matches_hand_computed_simplified_shapley_values():
    # Sets T (order and repeats ignored), journeys = conv + non_conv:
    #   {a}:   conv 1, non 1 -> CR 1/2;   value 100 / 2 journeys = 50
    #   {a,b}: 'a > b' (1, 2) + 'b > a > b' (1, 0) -> conv 2, journeys 4 -> CR 1/2;
    #          value (60 + 40) / 4 = 25
    #   {b}:   conv 0, non 4 -> CR 0;     value 0
    #   {c}:   conv 1, non 3 -> CR 1/4;   value 30 / 4 = 7.5
    # phi_a = 1/2 + (1/2)/2 = 3/4; phi_b = 0 + (1/2)/2 = 1/4; phi_c = 1/4; sum 5/4.
    # Total conversions 4 -> a 4 * 3/5 = 2.4, b 4 * 1/5 = 0.8, c 0.8.
    # Value shares: a 50 + 25/2 = 62.5, b 25/2 = 12.5, c 7.5; sum 82.5; total value 230
    #   -> a 230 * 62.5/82.5 = 5750/33, b 230 * 12.5/82.5 = 1150/33, c 230 * 7.5/82.5 = 690/33.
    table = path_table(
        [
            ("a", 1, 100.0, 1),
            ("a > b", 1, 60.0, 2),
            ("b > a > b", 1, 40.0, 0),
            ("b", 0, 0.0, 4),
            ("c", 1, 30.0, 3),
        ]
    )
    result = shapley(table)
    assert result.columns.tolist() == [
        "channel", "shapley_value", "conversions", "conversion_value"
    ]
    assert result["channel"].tolist() == ["a", "b", "c"]
    assert by_channel(result, "shapley_value") == pytest.approx({"a": 0.75, "b": 0.25, "c": 0.25})
    assert by_channel(result, "conversions") == pytest.approx({"a": 2.4, "b": 0.8, "c": 0.8})
    assert by_channel(result, "conversion_value") == pytest.approx(
        {"a": 5750 / 33, "b": 1150 / 33, "c": 690 / 33}
    )


def test_shapley_returns_zeros_not_nan_when_nothing_converts():
    result = shapley(path_table([("a > b", 0, 0.0, 3), ("b", 0, 0.0, 1), ("c", 0, 0.0, 0)]))
    assert result["channel"].tolist() == ["a", "b", "c"]
    values = result[["shapley_value", "conversions", "conversion_value"]]
    assert not values.isna().any().any()
    assert values.eq(0).all().all()


# --------------------------------------------------------------------------- #
# All path models
# --------------------------------------------------------------------------- #
@pytest.mark.parametrize("seed", range(25))
def test_every_path_model_preserves_total_conversions_and_value(seed):
    table = random_path_table(seed)
    result = attribute_paths(table)
    assert not result.isna().any().any()
    assert (result[["conversions", "conversion_value"]] >= -1e-9).all().all()
    totals = result.groupby("model")[["conversions", "conversion_value"]].sum()
    for model in PATH_MODELS:
        assert totals.loc[model, "conversions"] == pytest.approx(table["conversions"].sum())
        assert totals.loc[model, "conversion_value"] == pytest.approx(
            table["conversion_value"].sum()
        )


def test_attribute_paths_stacks_models_in_requested_order():
    result = attribute_paths(BRYL_TABLE, models=("markov", "first_touch"))
    assert result.columns.tolist() == ["model", "channel", "conversions", "conversion_value"]
    assert result["model"].tolist() == ["markov"] * 3 + ["first_touch"] * 3
    assert result["channel"].tolist() == ["C1", "C2", "C3"] * 2
    # first touch of the only converting path C1 > C2 > C3 is C1
    assert result["conversions"].tolist() == pytest.approx([0.2, 0.4, 0.4, 1.0, 0.0, 0.0])


def test_attribute_paths_rejects_unknown_model_listing_valid_ones():
    with pytest.raises(ValueError, match="valid models.*shapley"):
        attribute_paths(BRYL_TABLE, models=("markov", "u_shaped"))


# --------------------------------------------------------------------------- #
# Touchpoint credits
# --------------------------------------------------------------------------- #
def test_time_decay_halves_weight_every_half_life():
    # days 0 and 7, half-life 7 -> weights 1 and 1/2 -> credits 2/3 and 1/3.
    # days 14, 7, 0 -> weights 1/4, 1/2, 1 (sum 7/4) -> 1/7, 2/7, 4/7.
    frame = touches([("x", 1, 7), ("x", 2, 0), ("y", 1, 14), ("y", 2, 7), ("y", 3, 0)])
    result = credit_touchpoints(frame, "time_decay")
    assert result["credit"].tolist() == pytest.approx([1 / 3, 2 / 3, 1 / 7, 2 / 7, 4 / 7])


def test_time_decay_uses_the_given_half_life():
    # half-life 1: days 2, 1, 0 -> weights 1/4, 1/2, 1 -> 1/7, 2/7, 4/7.
    frame = touches([(1, 1, 2), (1, 2, 1), (1, 3, 0)])
    result = credit_touchpoints(frame, "time_decay", half_life_days=1.0)
    assert result["credit"].tolist() == pytest.approx([1 / 7, 2 / 7, 4 / 7])


def test_time_decay_survives_touches_far_in_the_past():
    # 2**(-5000/7) underflows to 0; relative weights 2**(-7/7) : 1 still give 1/3, 2/3.
    frame = touches([(1, 1, 5007), (1, 2, 5000)])
    result = credit_touchpoints(frame, "time_decay")
    assert result["credit"].tolist() == pytest.approx([1 / 3, 2 / 3])


@pytest.mark.parametrize(
    ("n_touches", "expected"),
    [
        (1, [1.0]),  # a single touch takes everything
        (2, [0.5, 0.5]),  # no middle: split evenly
        (3, [0.4, 0.2, 0.4]),  # 40 / 20 / 40
        (5, [0.4, 0.2 / 3, 0.2 / 3, 0.2 / 3, 0.4]),  # 20% over 3 middle touches
    ],
)
def test_position_based_gives_40_percent_to_first_and_last(n_touches, expected):
    frame = touches([(7, order, 10 - order) for order in range(1, n_touches + 1)])
    result = credit_touchpoints(frame, "position_based")
    assert result["credit"].tolist() == pytest.approx(expected)


def test_first_last_and_linear_credits_follow_touch_order_not_row_order():
    # Deal 1 rows listed as orders 3, 1, 2; deal 2 is a single touch.
    frame = touches([(1, 3, 0), (2, 1, 4), (1, 1, 9), (1, 2, 5)]).set_axis([10, 11, 12, 13])
    first = credit_touchpoints(frame, "first_touch")
    last = credit_touchpoints(frame, "last_touch")
    even = credit_touchpoints(frame, "linear")
    assert first["credit"].tolist() == [0.0, 1.0, 1.0, 0.0]
    assert last["credit"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert even["credit"].tolist() == pytest.approx([1 / 3, 1.0, 1 / 3, 1 / 3])
    assert first.index.tolist() == [10, 11, 12, 13]
    pd.testing.assert_frame_equal(first.drop(columns="credit"), frame)


@pytest.mark.parametrize("model", PER_TOUCH_MODELS)
@pytest.mark.parametrize("seed", range(5))
def test_credits_sum_to_one_per_deal(model, seed):
    rng = np.random.default_rng(seed)
    rows = []
    for deal in range(50):
        n = int(rng.integers(1, 9))
        days = np.sort(rng.integers(0, 120, size=n))[::-1]
        rows += [(f"deal-{deal}", order + 1, int(days[order])) for order in range(n)]
    frame = touches(rows).sample(frac=1.0, random_state=seed)
    result = credit_touchpoints(frame, model, half_life_days=float(rng.uniform(0.5, 30)))
    assert result["credit"].dtype == float
    assert (result["credit"] >= 0).all()
    sums = result.groupby("deal_id")["credit"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0, rtol=0, atol=1e-12)


def test_credit_touchpoints_rejects_unknown_model_listing_valid_ones():
    with pytest.raises(ValueError, match="valid models.*position_based"):
        credit_touchpoints(touches([(1, 1, 0)]), "u_shaped")


@pytest.mark.parametrize(
    ("frame", "column"),
    [
        (touches([(1, 1, 0)]).drop(columns="days_before"), "days_before"),
        (touches([(1, 1, 0)]).drop(columns="deal_id"), "deal_id"),
        (touches([(1, 1, -2)]), "days_before"),
        (touches([(1, 1, 0), (1, 1, 3)]), "touch_order"),
    ],
)
def test_credit_touchpoints_error_names_the_bad_column(frame, column):
    with pytest.raises(ValueError, match=repr(column)):
        credit_touchpoints(frame, "linear")


def test_credit_touchpoints_rejects_non_positive_half_life():
    with pytest.raises(ValueError, match="half_life_days"):
        credit_touchpoints(touches([(1, 1, 0)]), "time_decay", half_life_days=0)


def test_docstring_examples_hold():
    failures, _ = doctest.testmod(attribution, raise_on_error=False)
    assert failures == 0
