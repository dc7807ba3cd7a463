"""Marketing attribution models as pure functions (DataFrames in, DataFrames out).

Two APIs:

* Path table (the format of R's ChannelAttribution and google/fractribution):
  one row per distinct journey with columns ``path`` (channels joined by
  ``' > '``), ``conversions``, ``conversion_value`` and ``non_conversions``.
  Models: first/last touch, linear, first-order Markov (removal effects) and
  the simplified Shapley value of Zhao et al. (2018).
* Touchpoints: one row per touch of a deal (``deal_id``, ``touch_order``,
  ``days_before``); :func:`credit_touchpoints` adds a per-touch ``credit``
  column that sums to 1 within each deal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

PATH_MODELS: tuple[str, ...] = ("first_touch", "last_touch", "linear", "markov", "shapley")
PER_TOUCH_MODELS: tuple[str, ...] = (
    "first_touch",
    "last_touch",
    "linear",
    "time_decay",
    "position_based",
)

PATH_SEPARATOR = ">"
_COUNT_COLUMNS = ("conversions", "conversion_value", "non_conversions")
_PATH_COLUMNS = ("path", *_COUNT_COLUMNS)
_TOUCH_COLUMNS = ("deal_id", "touch_order", "days_before")


# --------------------------------------------------------------------------- #
# Path table: parsing and validation
# --------------------------------------------------------------------------- #
def parse_path(path: str) -> list[str]:
    """Split a path string into its channels (whitespace-trimmed, blanks dropped).

    Args:
        path: Channels joined by ``' > '``.

    Returns:
        The channels in journey order, repeats kept.

    Example:
        >>> parse_path("email > paid_search >direct")
        ['email', 'paid_search', 'direct']
    """
    return [channel.strip() for channel in path.split(PATH_SEPARATOR) if channel.strip()]


def validate_path_table(df: pd.DataFrame) -> None:
    """Check that ``df`` is a usable path table.

    Args:
        df: Candidate path table.

    Raises:
        ValueError: naming the offending column (and row label) when a column is
            missing, a count/value column is non-numeric, missing or negative,
            ``conversion_value`` is positive on a row without conversions, or a
            path is not a string with at least one channel.
    """
    missing = [column for column in _PATH_COLUMNS if column not in df.columns]
    if missing:
        raise ValueError(f"path table is missing column(s): {missing}")
    for column in _COUNT_COLUMNS:
        values = df[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise ValueError(f"path table column {column!r} must be numeric, got {values.dtype}")
        bad = values.isna() | (values < 0)
        if bad.any():
            raise ValueError(
                f"path table column {column!r} must be non-negative and not missing; "
                f"bad value {values[bad].iloc[0]!r} at row {bad.idxmax()!r}"
            )
    orphan_value = (df["conversion_value"] > 0) & (df["conversions"] == 0)
    if orphan_value.any():
        raise ValueError(
            "path table column 'conversion_value' is positive on a row with zero "
            f"conversions at row {orphan_value.idxmax()!r}"
        )
    empty = ~df["path"].map(lambda p: isinstance(p, str) and bool(parse_path(p))).astype(bool)
    if empty.any():
        raise ValueError(
            f"path table column 'path' has an empty or non-string path at row {empty.idxmax()!r}"
        )


def _touches(paths: pd.DataFrame, collapse_repeats: bool = False) -> pd.DataFrame:
    """Validate ``paths`` and explode it to one row per touch.

    The index is the path's row number; added columns are ``channel``,
    ``position`` (0-based) and ``length`` (touches in the path).
    """
    validate_path_table(paths)
    table = paths.loc[:, list(_PATH_COLUMNS)].reset_index(drop=True)
    touches = table.assign(channel=table["path"].map(parse_path)).explode("channel")
    if collapse_repeats:
        previous = touches.groupby(level=0)["channel"].shift()
        touches = touches[touches["channel"].to_numpy() != previous.to_numpy()]
    by_path = touches.groupby(level=0)
    return touches.assign(
        position=by_path.cumcount(),
        length=by_path["channel"].transform("size"),
    )


def _scale(shares: np.ndarray, total: float) -> np.ndarray:
    """Distribute ``total`` in proportion to ``shares`` (zeros when shares sum to 0)."""
    share_sum = shares.sum()
    if share_sum <= 0:
        return np.zeros_like(shares, dtype=float)
    return total * shares / share_sum


# --------------------------------------------------------------------------- #
# Path table: heuristic models
# --------------------------------------------------------------------------- #
def _heuristic(touches: pd.DataFrame, weight: pd.Series) -> pd.DataFrame:
    """Credit each touch ``weight`` of its path's conversions and value; sum by channel."""
    credited = pd.DataFrame(
        {
            "channel": touches["channel"],
            "conversions": touches["conversions"] * weight,
            "conversion_value": touches["conversion_value"] * weight,
        }
    )
    return (
        credited.groupby("channel", sort=True, as_index=False)[["conversions", "conversion_value"]]
        .sum()
        .astype({"conversions": float, "conversion_value": float})
    )


def first_touch(paths: pd.DataFrame) -> pd.DataFrame:
    """Credit every conversion (and its value) to the first channel of its path.

    Args:
        paths: Path table (see :func:`validate_path_table`).

    Returns:
        ``channel``, ``conversions``, ``conversion_value``; one row per channel seen
        in any path (zeros included), sorted by channel.

    Example:
        >>> t = pd.DataFrame({"path": ["a > b"], "conversions": [1],
        ...                   "conversion_value": [10.0], "non_conversions": [0]})
        >>> first_touch(t)["conversions"].tolist()
        [1.0, 0.0]
    """
    touches = _touches(paths)
    return _heuristic(touches, (touches["position"] == 0).astype(float))


def last_touch(paths: pd.DataFrame) -> pd.DataFrame:
    """Credit every conversion (and its value) to the last channel of its path.

    Args:
        paths: Path table (see :func:`validate_path_table`).

    Returns:
        ``channel``, ``conversions``, ``conversion_value`` sorted by channel.
    """
    touches = _touches(paths)
    return _heuristic(touches, (touches["position"] == touches["length"] - 1).astype(float))


def linear(paths: pd.DataFrame) -> pd.DataFrame:
    """Split each conversion equally over the touches of its path.

    Each touch gets ``1/len(path)``, so a channel repeated in a path gets one
    share per occurrence (``'a > a > b'``: a 2/3, b 1/3).

    Args:
        paths: Path table (see :func:`validate_path_table`).

    Returns:
        ``channel``, ``conversions``, ``conversion_value`` sorted by channel.
    """
    touches = _touches(paths)
    return _heuristic(touches, 1.0 / touches["length"])


# --------------------------------------------------------------------------- #
# Path table: Markov chain
# --------------------------------------------------------------------------- #
def _conversion_probability(q: np.ndarray, r: np.ndarray) -> float:
    """P(absorbed in conversion | start) for transient matrix ``q`` and exit vector ``r``."""
    return float(np.linalg.solve(np.eye(len(q)) - q, r)[0])


def _markov_chain(paths: pd.DataFrame) -> tuple[list[str], np.ndarray, np.ndarray]:
    """The channels, transient transition matrix ``q`` (state 0 is ``start``) and exit-to-conversion vector
    ``r`` of the first-order chain of :func:`markov`."""
    touches = _touches(paths, collapse_repeats=True)
    channels = sorted(touches["channel"].unique())
    n_states = len(channels) + 1
    state = pd.Categorical(touches["channel"], categories=channels).codes.astype(int) + 1
    source = pd.Series(state, index=touches.index).groupby(level=0).shift(fill_value=0).to_numpy()
    conversions = touches["conversions"].to_numpy(dtype=float)
    non_conversions = touches["non_conversions"].to_numpy(dtype=float)
    is_last = (touches["position"] == touches["length"] - 1).to_numpy()

    counts = np.zeros((n_states, n_states))
    np.add.at(counts, (source, state), conversions + non_conversions)
    to_conversion = np.bincount(state[is_last], conversions[is_last], minlength=n_states)
    to_null = np.bincount(state[is_last], non_conversions[is_last], minlength=n_states)
    outgoing = counts.sum(axis=1) + to_conversion + to_null
    denominator = np.where(outgoing > 0, outgoing, 1.0)
    return channels, counts / denominator[:, None], to_conversion / denominator


def markov_removal_effects(paths: pd.DataFrame) -> pd.DataFrame:
    """The Markov chain's conversion probability with every channel, without each channel, and the removal
    effect ``1 - without / with`` (see :func:`markov`).

    Returns:
        ``channel``, ``conversion_probability`` (the same on every row), ``probability_without``,
        ``removal_effect``, sorted by channel; removal effects 0 when nothing converts.

    Example:
        >>> t = pd.DataFrame({"path": ["C1 > C2 > C3", "C1", "C2 > C3"],
        ...                   "conversions": [1, 0, 0], "conversion_value": [1.0, 0, 0],
        ...                   "non_conversions": [0, 1, 1]})
        >>> markov_removal_effects(t)["probability_without"].round(6).tolist()
        [0.166667, 0.0, 0.0]
    """
    channels, q, r = _markov_chain(paths)
    base = _conversion_probability(q, r) if channels else 0.0
    without = np.zeros(len(channels))
    for i in range(len(channels)):
        q_removed = q.copy()
        q_removed[:, i + 1] = 0.0  # transitions into the channel now go to null
        without[i] = _conversion_probability(q_removed, r)
    removal = 1.0 - without / base if base > 0 else np.zeros(len(channels))
    return pd.DataFrame({"channel": channels, "conversion_probability": np.full(len(channels), base),
                         "probability_without": without, "removal_effect": removal})


def markov(paths: pd.DataFrame) -> pd.DataFrame:
    """First-order Markov chain attribution by removal effect.

    States are ``start`` (index 0), the channels, and the absorbing ``conversion``
    and ``null``. Each path contributes its journeys (conversions +
    non_conversions) to ``start -> c1 -> ... -> ck``, then ``conversions`` to
    ``ck -> conversion`` and ``non_conversions`` to ``ck -> null``. Consecutive
    repeats of a channel are collapsed. P(conversion) is solved exactly from the
    absorbing chain; the removal effect of ``c`` is ``1 - P_without_c / P`` with
    every transition into ``c`` redirected to ``null``. Total conversions and
    total value are distributed in proportion to removal effects.

    Args:
        paths: Path table (see :func:`validate_path_table`).

    Returns:
        ``channel``, ``removal_effect``, ``conversions``, ``conversion_value``
        sorted by channel; all zeros when nothing converts.

    Example:
        >>> t = pd.DataFrame({"path": ["C1 > C2 > C3", "C1", "C2 > C3"],
        ...                   "conversions": [1, 0, 0], "conversion_value": [1.0, 0, 0],
        ...                   "non_conversions": [0, 1, 1]})
        >>> markov(t)["removal_effect"].round(6).tolist()
        [0.5, 1.0, 1.0]
    """
    effects = markov_removal_effects(paths)
    removal = effects["removal_effect"].to_numpy(dtype=float)
    table = paths.loc[:, list(_COUNT_COLUMNS)]
    return pd.DataFrame(
        {
            "channel": effects["channel"].to_list(),
            "removal_effect": removal,
            "conversions": _scale(removal, float(table["conversions"].sum())),
            "conversion_value": _scale(removal, float(table["conversion_value"].sum())),
        }
    )


# --------------------------------------------------------------------------- #
# Path table: simplified Shapley value
# --------------------------------------------------------------------------- #
def shapley(paths: pd.DataFrame) -> pd.DataFrame:
    """Simplified Shapley value attribution (Zhao et al. 2018, as used by DP6).

    Journeys are grouped by their set ``T`` of distinct channels (order and
    repeats ignored). With ``CR(T) = conversions(T) / journeys(T)`` and
    ``journeys = conversions + non_conversions``, the worth of a coalition
    ``S`` is the sum of ``CR(T)`` over observed ``T`` subset of ``S``, whose
    Shapley value for channel ``c`` reduces to
    ``shapley_value(c) = sum over observed T containing c of CR(T) / |T|``.
    ``conversions`` scales these values to add up to the total conversions.
    ``conversion_value`` uses the same formula with the value per journey,
    ``value(T) / journeys(T)``, in place of ``CR(T)``, scaled to the total
    value. Sets with no journeys contribute nothing.

    Args:
        paths: Path table (see :func:`validate_path_table`).

    Returns:
        ``channel``, ``shapley_value`` (unscaled, in conversion-rate units),
        ``conversions``, ``conversion_value`` sorted by channel; all zeros when
        nothing converts.

    Example:
        >>> t = pd.DataFrame({"path": ["a", "a > b"], "conversions": [1, 1],
        ...                   "conversion_value": [1.0, 1.0], "non_conversions": [1, 0]})
        >>> shapley(t)["shapley_value"].tolist()
        [1.0, 0.5]
    """
    validate_path_table(paths)
    table = paths.loc[:, list(_COUNT_COLUMNS)]
    channel_set = paths["path"].map(lambda p: tuple(sorted(set(parse_path(p)))))
    by_set = table.groupby(channel_set, sort=True).sum()
    journeys = (by_set["conversions"] + by_set["non_conversions"]).to_numpy(dtype=float)
    has_journeys = journeys > 0
    safe_journeys = np.where(has_journeys, journeys, 1.0)
    size = by_set.index.map(len).to_numpy(dtype=float)
    conversion_rate = np.where(has_journeys, by_set["conversions"] / safe_journeys, 0.0)
    value_per_journey = np.where(has_journeys, by_set["conversion_value"] / safe_journeys, 0.0)
    per_set = pd.DataFrame(
        {
            "channel": list(by_set.index),
            "shapley_value": conversion_rate / size,
            "value_share": value_per_journey / size,
        }
    ).explode("channel")
    per_channel = per_set.groupby("channel", sort=True).sum().astype(float)
    return pd.DataFrame(
        {
            "channel": per_channel.index.to_list(),
            "shapley_value": per_channel["shapley_value"].to_numpy(),
            "conversions": _scale(
                per_channel["shapley_value"].to_numpy(), float(table["conversions"].sum())
            ),
            "conversion_value": _scale(
                per_channel["value_share"].to_numpy(), float(table["conversion_value"].sum())
            ),
        }
    )


# --------------------------------------------------------------------------- #
# Path table: all models
# --------------------------------------------------------------------------- #
_PATH_MODEL_FUNCTIONS = {
    "first_touch": first_touch,
    "last_touch": last_touch,
    "linear": linear,
    "markov": markov,
    "shapley": shapley,
}


def attribute_paths(paths: pd.DataFrame, models: Sequence[str] = PATH_MODELS) -> pd.DataFrame:
    """Run several path-table models and stack their channel credits.

    Args:
        paths: Path table (see :func:`validate_path_table`).
        models: Names from :data:`PATH_MODELS`, output in this order.

    Returns:
        Long table ``model``, ``channel``, ``conversions``, ``conversion_value``,
        channels sorted within each model.

    Raises:
        ValueError: for an unknown model name.
    """
    unknown = [model for model in models if model not in _PATH_MODEL_FUNCTIONS]
    if unknown:
        raise ValueError(f"unknown path model(s) {unknown}; valid models: {list(PATH_MODELS)}")
    frames = [
        _PATH_MODEL_FUNCTIONS[model](paths)
        .loc[:, ["channel", "conversions", "conversion_value"]]
        .assign(model=model)
        for model in models
    ]
    columns = ["model", "channel", "conversions", "conversion_value"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True).loc[:, columns]


# --------------------------------------------------------------------------- #
# Touchpoint-level credits
# --------------------------------------------------------------------------- #
def _validate_touchpoints(touchpoints: pd.DataFrame, half_life_days: float) -> None:
    missing = [column for column in _TOUCH_COLUMNS if column not in touchpoints.columns]
    if missing:
        raise ValueError(f"touchpoints are missing column(s): {missing}")
    for column in ("touch_order", "days_before"):
        values = touchpoints[column]
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            raise ValueError(f"touchpoints column {column!r} must be numeric, got {values.dtype}")
        bad = values.isna() | (values < 0)
        if bad.any():
            raise ValueError(
                f"touchpoints column {column!r} must be non-negative and not missing; "
                f"bad value {values[bad].iloc[0]!r} at row {bad.idxmax()!r}"
            )
    duplicated = touchpoints.duplicated(["deal_id", "touch_order"])
    if duplicated.any():
        raise ValueError(
            f"touchpoints column 'touch_order' repeats within a deal at row {duplicated.idxmax()!r}"
        )
    if not half_life_days > 0:
        raise ValueError(f"half_life_days must be positive, got {half_life_days!r}")


def credit_touchpoints(
    touchpoints: pd.DataFrame, model: str, half_life_days: float = 7.0
) -> pd.DataFrame:
    """Give each touch of a deal a share of the deal's credit.

    Models: ``first_touch`` / ``last_touch`` (all credit to the lowest / highest
    ``touch_order``), ``linear`` (``1/n`` each), ``time_decay`` (weight
    ``2 ** (-days_before / half_life_days)``, normalised per deal) and
    ``position_based`` (40% first, 40% last, 20% split over the middle touches;
    one touch 100%, two touches 50/50).

    Args:
        touchpoints: Columns ``deal_id``, ``touch_order`` (1..n within a deal) and
            ``days_before`` (whole days from the touch to the deal close, >= 0).
        model: One of :data:`PER_TOUCH_MODELS`.
        half_life_days: Half-life of the ``time_decay`` weights, > 0.

    Returns:
        A copy of ``touchpoints`` (same index and row order) with a float
        ``credit`` column; credits sum to 1 within each deal.

    Raises:
        ValueError: for an unknown model or invalid touchpoints.

    Example:
        >>> t = pd.DataFrame({"deal_id": [1, 1], "touch_order": [1, 2],
        ...                   "days_before": [7, 0]})
        >>> credit_touchpoints(t, "time_decay")["credit"].round(4).tolist()
        [0.3333, 0.6667]
    """
    if model not in PER_TOUCH_MODELS:
        raise ValueError(
            f"unknown per-touch model {model!r}; valid models: {list(PER_TOUCH_MODELS)}"
        )
    _validate_touchpoints(touchpoints, half_life_days)

    by_deal = touchpoints.groupby("deal_id", dropna=False, sort=False)
    order = touchpoints["touch_order"]
    n_touches = by_deal["touch_order"].transform("size").astype(float)
    is_first = order == by_deal["touch_order"].transform("min")
    is_last = order == by_deal["touch_order"].transform("max")

    if model == "first_touch":
        credit = is_first.astype(float)
    elif model == "last_touch":
        credit = is_last.astype(float)
    elif model == "linear":
        credit = 1.0 / n_touches
    elif model == "time_decay":
        # Shift by the deal's most recent touch so the largest weight is 1 (no underflow).
        days = touchpoints["days_before"].astype(float)
        weight = np.exp2(-(days - by_deal["days_before"].transform("min")) / half_life_days)
        credit = weight / weight.groupby(touchpoints["deal_id"], dropna=False).transform("sum")
    else:  # position_based
        middle = 0.2 / (n_touches - 2).clip(lower=1)
        credit = middle.where(~(is_first | is_last), 0.4)
        credit = credit.mask(n_touches == 2, 0.5).mask(n_touches == 1, 1.0)

    return touchpoints.assign(credit=credit.astype(float))
